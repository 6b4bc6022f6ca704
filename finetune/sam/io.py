"""Saving and merging SAM runs (loading one: finetune/sam/run.py).

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
from pathlib import Path
from typing import Any

import torch

from wood.finetune.sam.card import model_card
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.run import (
    BASE_FILE,
    CARD_FILE,
    DECODER_FILE,
    MERGED_FILE,
    PROMPT_FILE,
    WOOD_ADAPTER_CONFIG,
    WOOD_ADAPTER_FILE,
    WOOD_ADAPTER_FORMAT,
    merged_state_dict,
    plain_state,
)
from wood.finetune.sam.run import load as load_run  # noqa: F401 - the name run cards and wood_adapters.json cite


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
