"""Loading a SAM run folder (`wood finetune sam`): the one place that rebuilds a trained SAM.

- :func:`read_run`: the run's :class:`SamTrainConfig` (config.yaml), after :func:`wood.runs.load_run`
  said the folder is a SAM run (a run of another family, or a zero-shot evaluation folder, is one
  ConfigError line);
- :func:`load_base`: the frozen base SAM with the trained decoder (and prompt encoder), no adapters;
- :func:`load`: the trained SAM ready for inference, ``(sam, config)``; ``merged``: one plain SAM with
  LoRA merged into its weights (:func:`merged_state_dict`), as `wood export` ships it.

The files of a run's ``weights/`` folder are named here (written by finetune/sam/io.py, which
describes them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from wood.config import build_config
from wood.errors import ConfigError, WeightsError
from wood.finetune.sam.adapters import add_bottleneck_adapters, import_peft
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.models import build_sam, load_sam, load_weights
from wood.runs import CONFIG_FILE
from wood.runs import load_run as read_folder
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


class LoadedSam(NamedTuple):
    """:func:`load`'s result, unpacked as ``sam, cfg = load(run_dir)``."""

    model: Any  # segment_anything Sam (LoRA or bottleneck adapters inside), eval mode, no grad
    config: SamTrainConfig


def read_run(run_dir: str | Path) -> SamTrainConfig:
    """The SamTrainConfig saved in ``run_dir/config.yaml`` (the run read by wood.runs.load_run)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError("not a SAM run folder (no config.yaml); pass the folder `wood finetune sam` wrote", run_dir)
    run = read_folder(run_dir)
    if run.config.get("zero_shot"):
        raise ConfigError(
            "this is a zero-shot evaluation folder (`wood eval segment --model`), not a trained SAM run", run_dir
        )
    if run.kind not in ("sam", "unknown"):
        raise ConfigError(
            f"this is a {run.kind} run, not a SAM run; pass the folder `wood finetune sam` wrote", run_dir
        )
    return build_config(SamTrainConfig, path)


def plain_state(module: Any) -> dict[str, Any]:
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


def _load_part(module: Any, path: Path) -> None:
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


def load(run_dir: str | Path, device: str = "cpu", merged: bool = False) -> LoadedSam:
    """Rebuild a trained SAM from a run folder, ready for inference (eval mode, no grad needed).

    LoRA is injected in place by peft (the returned object is the plain ``Sam`` with LoRA
    layers inside), so ``sam.image_encoder`` etc. work as usual. ``merged``: a plain ``Sam`` holding
    :func:`merged_state_dict` instead (lora and decoder runs; bottleneck adapters cannot be merged).
    """
    run_dir = Path(run_dir)
    cfg = read_run(run_dir)
    if merged:
        sam = build_sam(cfg.model, cfg.imgsz, cfg.patch_size)
        load_weights(sam, merged_state_dict(run_dir), run_dir / "weights")
        for p in sam.parameters():
            p.requires_grad_(False)
        return LoadedSam(sam.to(device).eval(), cfg)
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
    return LoadedSam(sam.to(device).eval(), cfg)


def wood_adapter_path(weights: Path) -> Path:
    """The bottleneck adapters' file: ``wood_adapters.safetensors``, or peft's file name in runs written
    before it had its own."""
    for name in (WOOD_ADAPTER_FILE, ADAPTER_FILE):
        if (weights / name).is_file():
            return weights / name
    raise WeightsError(f"run has no {WOOD_ADAPTER_FILE} (bottleneck adapters)", weights)


def merged_state_dict(run_dir: str | Path) -> dict[str, Any]:
    """One plain segment-anything state dict with LoRA merged into the weights (lora) or the
    trained decoder in place (decoder). Bottleneck adapters are extra nonlinear layers and
    cannot be merged: that is a ConfigError."""
    run_dir = Path(run_dir)
    cfg = read_run(run_dir)
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
