"""Small torch helpers every stage shares (torch is imported by the caller, not here)."""

from __future__ import annotations

from typing import Any


def count_params(module: Any, trainable_only: bool = False) -> int:
    """Number of parameters of ``module``; with ``trainable_only`` only those with requires_grad."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))


def param_counts(module: Any) -> dict[str, int]:
    """``{"total": N, "trainable": M}`` of ``module`` (the cost columns of metrics.json and the report)."""
    return {"total": count_params(module), "trainable": count_params(module, trainable_only=True)}
