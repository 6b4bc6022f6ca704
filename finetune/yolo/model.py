"""Ultralytics models for a YoloConfig: the weights offline, the loaded model, its train() arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import ConfigError, WeightsError
from wood.finetune.yolo.config import RESERVED_TRAIN_ARGS, YoloConfig

SCRATCH_HINT = "use --model yolov8n.yaml to train from scratch, or --download on a machine with network"


def resolve_model(cfg: YoloConfig) -> str:
    """The model argument for ``YOLO(...)``: a .yaml name/path, or a resolved local .pt path."""
    from wood.offline import default_weights_dir
    from wood.weights import resolve_weights, ultralytics_user_weights_dir

    model = str(cfg.model)
    if model.endswith((".yaml", ".yml")):
        return model
    if not model.endswith(".pt"):
        raise ConfigError(f"model must be a .pt weights file or a .yaml model config, but got {model!r}")
    dirs = [cfg.weights_dir or default_weights_dir(), ultralytics_user_weights_dir()]
    download = _ultralytics_download if cfg.download else None
    return str(resolve_weights(model, [d for d in dirs if d], hint=SCRATCH_HINT, download=download))


def _ultralytics_download(name: str, folder: Path) -> Path | None:
    from ultralytics.utils.downloads import attempt_download_asset

    try:
        return Path(attempt_download_asset(folder / name))
    except Exception as exc:  # noqa: BLE001 - any download failure becomes one WeightsError line
        raise WeightsError(f"download of {name} failed ({exc.__class__.__name__}); {SCRATCH_HINT}") from exc


def load_model(cfg: YoloConfig, model_arg: str):
    """``YOLO(model_arg)`` with its task checked against ``cfg.task``."""
    from ultralytics import YOLO

    try:
        model = YOLO(model_arg)  # task from the model itself: passing task= would mislabel a detect head
    except FileNotFoundError as exc:
        raise ConfigError(
            f"model {model_arg} not found: use a model yaml such as yolov8n.yaml or yolov8n-seg.yaml"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a corrupt .pt raises many things inside torch
        raise WeightsError(f"cannot load model ({exc.__class__.__name__}: {str(exc)[:120]})", model_arg) from exc
    if model.task != cfg.task:
        fix = "yolov8n-seg.yaml" if cfg.task == "segment" else "yolov8n.yaml"
        raise ConfigError(f"model {model_arg} is a {model.task} model but --task is {cfg.task}; use e.g. --model {fix}")
    return model


def check_train_args(cfg: YoloConfig) -> None:
    """``train_args`` may only hold Ultralytics arguments that no config field sets."""
    bad = sorted(set(cfg.train_args) & RESERVED_TRAIN_ARGS)
    if bad:
        raise ConfigError(f"train_args may not set {bad}: use the config fields of the same name")
    from ultralytics.cfg import DEFAULT_CFG_DICT

    unknown = sorted(set(cfg.train_args) - set(DEFAULT_CFG_DICT))
    if unknown:
        raise ConfigError(f"train_args has unknown Ultralytics argument(s) {unknown}")


def train_kwargs(cfg: YoloConfig, data_yaml: Path, run_dir: Path) -> dict[str, Any]:
    """Ultralytics ``train()`` arguments for this config, writing into ``run_dir``."""
    check_train_args(cfg)
    kwargs: dict[str, Any] = dict(
        data=str(data_yaml),
        epochs=cfg.epochs,
        imgsz=cfg.imgsz,
        batch=cfg.batch,
        seed=cfg.seed,
        deterministic=True,
        workers=cfg.workers,
        patience=cfg.patience,
        nbs=cfg.nbs or (cfg.batch if cfg.batch > 0 else 64),
        project=str(run_dir.parent),
        name=run_dir.name,
        exist_ok=True,
        plots=cfg.plots,
        amp=cfg.amp,
        **cfg.train_args,
    )
    if cfg.device not in (None, "auto"):  # auto: Ultralytics' own choice (the first GPU, else cpu)
        kwargs["device"] = cfg.device
    return kwargs
