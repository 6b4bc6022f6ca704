"""Saving, loading and merging SAM runs.

A run's ``weights/`` folder holds:
- ``adapter_model.safetensors`` + ``adapter_config.json`` (``lora``): a plain peft LoRA adapter whose
  ``modules_to_save`` hold the trained decoder (and prompt encoder), so ``PeftModel.from_pretrained``
  alone gives the trained model; ``base_model_name_or_path`` is the variant or the checkpoint.
- ``wood_adapters.safetensors`` + ``wood_adapters.json`` (``adapter``): our bottleneck adapters, which
  are not a peft format (runs from before these names used peft's two file names; they still load).
- ``mask_decoder.safetensors``: the trained decoder with plain segment-anything key names.
- ``prompt_encoder.safetensors``: only when the prompt encoder was trained.
- ``base_model.safetensors``: only when the run started from random initialisation (the
  frozen base cannot be rebuilt from an official checkpoint).
- ``README.md``: the model card (finetune/sam/card.py): how to load the run without wood.
- ``sam_merged.pth``: with ``--merge``: one plain SAM state dict (lora and decoder modes),
  loadable by ``segment_anything.sam_model_registry[...](checkpoint=...)``.
The run config (``config.yaml``) says which base checkpoint and settings were used, and its
``architecture`` the resolved model (finetune/sam/architecture.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from wood.config import build_config
from wood.errors import ConfigError, WeightsError
from wood.finetune.sam.adapters import add_bottleneck_adapters, import_peft
from wood.finetune.sam.card import model_card
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.models import build_sam, load_sam, load_weights
from wood.runs import load_run as read_run
from wood.torchutil import read_state_dict

ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
DECODER_FILE = "mask_decoder.safetensors"
PROMPT_FILE = "prompt_encoder.safetensors"
BASE_FILE = "base_model.safetensors"
MERGED_FILE = "sam_merged.pth"
WOOD_ADAPTER_FILE = "wood_adapters.safetensors"
WOOD_ADAPTER_CONFIG = "wood_adapters.json"
WOOD_ADAPTER_FORMAT = "wood-sam-adapter/1"
CARD_FILE = "README.md"


def plain_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` with peft wrapping undone: LoRA matrices and the frozen originals of
    ``modules_to_save`` dropped, ``.base_layer.`` and ``.modules_to_save.<adapter>.`` removed, so the
    keys are segment-anything's own (CPU, contiguous)."""
    out = {}
    for key, value in module.state_dict().items():
        dotted = "." + key
        if "lora_" in key or ".original_module." in dotted:
            continue
        dotted = re.sub(r"\.modules_to_save\.[^.]+\.", ".", dotted.replace(".base_layer.", "."))
        out[dotted[1:]] = value.detach().cpu().contiguous()
    return out


def save_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(path)


def save_base(sam: Any, weights_dir: Path) -> None:
    """Store the randomly initialised base SAM (before adapters) so the run can be reloaded."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    save_safetensors(plain_state(sam), weights_dir / BASE_FILE)


def save_weights(sam: Any, peft_model: Any, cfg: SamTrainConfig, weights_dir: Path) -> None:
    """Write the trained parts of ``sam`` (see the module docstring) into ``weights_dir``."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    if cfg.adapter == "lora":
        peft_model.peft_config["default"].base_model_name_or_path = base_model_name(cfg)
        # no embedding layers here: False also spares peft's Hub lookup of base_model_name_or_path (offline)
        peft_model.save_pretrained(str(weights_dir), save_embedding_layers=False)  # ours replaces peft's card below
    elif cfg.adapter == "adapter":
        state = {n: p for n, p in sam.named_parameters() if ".adapter." in n}
        save_safetensors(state, weights_dir / WOOD_ADAPTER_FILE)
        write_text(weights_dir / WOOD_ADAPTER_CONFIG, json.dumps(wood_adapter_config(cfg), indent=2))
    save_safetensors(plain_state(sam.mask_decoder), weights_dir / DECODER_FILE)
    if cfg.train_prompt_encoder:
        save_safetensors(plain_state(sam.prompt_encoder), weights_dir / PROMPT_FILE)
    write_text(weights_dir / CARD_FILE, model_card(cfg, base_model_name(cfg), (weights_dir / BASE_FILE).is_file()))


def base_model_name(cfg: SamTrainConfig) -> str:
    """What the adapter was trained on: the checkpoint path, else the variant name (random initialisation,
    whose weights are the run's base_model.safetensors)."""
    return cfg.checkpoint or cfg.model


def wood_adapter_config(cfg: SamTrainConfig) -> dict[str, Any]:
    """The record beside our bottleneck adapters (not a peft config: no ``peft_type``)."""
    return {
        "format": WOOD_ADAPTER_FORMAT,
        "adapter_type": "houlsby_bottleneck",
        "adapter_dim": cfg.adapter_dim,
        "positions": list(cfg.adapter_positions),
        "target": "image_encoder.blocks",
        "load_with": "wood.finetune.sam.io.load_run(<run folder>)",
    }


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_run_config(run_dir: str | Path) -> SamTrainConfig:
    """The SamTrainConfig saved in ``run_dir/config.yaml`` (the run read by wood.runs.load_run)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError("not a SAM run folder (no config.yaml); pass the folder `wood finetune sam` wrote", run_dir)
    run = read_run(run_dir)
    if run.config.get("zero_shot"):
        raise ConfigError(
            "this is a zero-shot evaluation folder (`wood eval segment --model`), not a trained SAM run", run_dir
        )
    if run.kind not in ("sam", "unknown"):
        raise ConfigError(
            f"this is a {run.kind} run, not a SAM run; pass the folder `wood finetune sam` wrote", run_dir
        )
    return build_config(SamTrainConfig, path)


def _load_part(module: torch.nn.Module, path: Path) -> None:
    state = read_state_dict(path)
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsError(f"weights do not fit: missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}", path)


def load_base(run_dir: Path, cfg: SamTrainConfig) -> Any:
    """The run's frozen base SAM with its trained decoder (and prompt encoder), no adapters yet."""
    weights = run_dir / "weights"
    if (weights / BASE_FILE).is_file():
        sam = build_sam(cfg.model, cfg.imgsz, cfg.patch_size)
        load_weights(sam, read_state_dict(weights / BASE_FILE), weights / BASE_FILE)
    else:
        sam, _ = load_sam(cfg.model, cfg.checkpoint, random_init=False, image_size=cfg.imgsz, patch_size=cfg.patch_size)
    if not (weights / DECODER_FILE).is_file():
        raise WeightsError(
            f"run has no {DECODER_FILE}; was the training interrupted before the first epoch ended?", weights
        )
    _load_part(sam.mask_decoder, weights / DECODER_FILE)
    if (weights / PROMPT_FILE).is_file():
        _load_part(sam.prompt_encoder, weights / PROMPT_FILE)
    return sam


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[Any, SamTrainConfig]:
    """Rebuild a trained SAM from a run folder, ready for inference (eval mode, no grad needed).

    LoRA is injected in place by peft (the returned object is the plain ``Sam`` with LoRA
    layers inside), so ``sam.image_encoder`` etc. work as usual.
    """
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    sam = load_base(run_dir, cfg)
    weights = run_dir / "weights"
    if cfg.adapter == "lora":
        PeftModel = import_peft().PeftModel
        if not (weights / ADAPTER_CONFIG).is_file():
            raise WeightsError(f"run has no {ADAPTER_CONFIG} (peft LoRA)", weights)
        PeftModel.from_pretrained(sam, str(weights))
    elif cfg.adapter == "adapter":
        add_bottleneck_adapters(sam, cfg.adapter_dim, list(cfg.adapter_positions))
        path = wood_adapter_path(weights)
        missing, unexpected = sam.load_state_dict(read_state_dict(path), strict=False)
        if unexpected or any(".adapter." in k for k in missing):
            raise WeightsError("adapter weights do not fit the run's model", path)
    for p in sam.parameters():
        p.requires_grad_(False)
    return sam.to(device).eval(), cfg


def wood_adapter_path(weights: Path) -> Path:
    """The bottleneck adapters' file: ``wood_adapters.safetensors``, or peft's file name in runs written
    before it had its own."""
    for name in (WOOD_ADAPTER_FILE, ADAPTER_FILE):
        if (weights / name).is_file():
            return weights / name
    raise WeightsError(f"run has no {WOOD_ADAPTER_FILE} (bottleneck adapters)", weights)


def merged_state_dict(run_dir: str | Path) -> dict[str, torch.Tensor]:
    """One plain segment-anything state dict with LoRA merged into the weights (lora) or the
    trained decoder in place (decoder). Bottleneck adapters are extra nonlinear layers and
    cannot be merged: that is a ConfigError."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    if cfg.adapter == "adapter":
        raise ConfigError(
            "bottleneck adapters add layers that plain SAM does not have, so they cannot be merged; "
            "load the run with wood.finetune.sam.io.load_run instead",
            run_dir,
        )
    sam = load_base(run_dir, cfg)
    if cfg.adapter == "lora":
        PeftModel = import_peft().PeftModel
        merged = PeftModel.from_pretrained(sam, str(run_dir / "weights")).merge_and_unload()
        return plain_state(merged)
    return plain_state(sam)


def export_merged(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write `merged_state_dict` with torch.save (default ``run/weights/sam_merged.pth``)."""
    run_dir = Path(run_dir)
    target = Path(path) if path is not None else run_dir / "weights" / MERGED_FILE
    state = merged_state_dict(run_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(target)
    return target
