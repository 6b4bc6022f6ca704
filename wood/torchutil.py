"""Small torch helpers every stage shares (torch and safetensors are imported lazily, when called)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import WeightsError


def count_params(module: Any, trainable_only: bool = False) -> int:
    """Number of parameters of ``module``; with ``trainable_only`` only those with requires_grad."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))


def param_counts(module: Any) -> dict[str, int]:
    """``{"total": N, "trainable": M}`` of ``module`` (the cost columns of metrics.json and the report)."""
    return {"total": count_params(module), "trainable": count_params(module, trainable_only=True)}


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state dict from a .pth/.pt (torch, on the CPU, weights only) or .safetensors file.

    A dict wrapping the weights under "model" or "state_dict" is unwrapped. A missing, unreadable
    or other file is a WeightsError naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError("weights file does not exist", path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip, safetensors and torch errors: not a usable weights file
        raise WeightsError(
            f"cannot read weights ({exc.__class__.__name__}: {str(exc)[:120]}); expected a state "
            "dict (.pth, .pt or .safetensors)",
            path,
        ) from exc
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(k, str) and hasattr(v, "shape") for k, v in state.items()):
        raise WeightsError("not a state dict (expected a mapping of parameter names to tensors)", path)
    return state
