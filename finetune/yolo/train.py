"""`wood finetune yolo`: fine-tune Ultralytics YOLO (detect or segment) on a `wood prep` folder.

``train(cfg) -> run_dir`` writes one run folder (named and replaced as wood.runs says)::

    <out>/<name>/      (<name>-2, -3... when <name> is taken, unless exist_ok)
      config.yaml      the resolved YoloConfig
      data.yaml        the data.yaml given to Ultralytics (no `path:`; splits relative to the run folder)
      images/<split>/, labels/<split>/   links to the prep's files; Ultralytics' label caches go here
      train_list.txt   only with --balance: the repeated train images (./images/train/<name>)
      args.yaml, results.csv, *.png     Ultralytics' own outputs
      weights/best.pt, weights/last.pt
      metrics.json     kind "yolo", schema; final val metrics of best.pt, classes, dataset (absolute), timing

YOLO-World (``cfg.world``) plugs in through ``wood.finetune.yolo.world.train_world(cfg,
data_yaml, run_dir)``, which trains and returns the Ultralytics model (with ``.trainer``);
``train_kwargs`` and ``write_metrics`` here are shared with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from wood.config import config_to_dict, write_config
from wood.console import console
from wood.device import check_device
from wood.errors import ConfigError, DataError
from wood.finetune.yolo.config import YoloConfig
from wood.finetune.yolo.data import (
    check_prep_folder,
    tiled_imgsz_warning,
    write_run_data_yaml,
)
from wood.finetune.yolo.model import check_train_args, load_model, resolve_model, train_kwargs
from wood.prep.dataset import manifest_sha256
from wood.prep.tiling.full_images import read_prep_tiling
from wood.runs import absolute_path, create_run_dir, finish_run_dir, write_metrics_json
from wood.torchutil import param_counts


# ---------------------------------------------------------------- run folder
def make_run_dir(cfg: YoloConfig) -> Path:
    """Create (or, with --resume, reopen) the run folder by wood.runs' policy; two trainings never mix."""
    name = cfg.name or ("world" if cfg.world else cfg.task)
    if cfg.resume and not (cfg.out / name / "weights" / "last.pt").is_file():
        raise ConfigError("nothing to resume: no weights/last.pt in the run folder", cfg.out / name)
    run_dir = create_run_dir(cfg.out, name, exist_ok=cfg.exist_ok, resume=cfg.resume, inputs=[cfg.data])
    return run_dir.resolve()


# ---------------------------------------------------------------- metrics
def _clean(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _param_counts(model: Any) -> dict[str, int] | None:
    """Total and trainable parameters of the trained model (the report's cost column)."""
    return None if model is None else param_counts(model)


def write_metrics(cfg: YoloConfig, run_dir: Path, trainer: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Write ``run_dir/metrics.json`` from an Ultralytics trainer after ``train()``."""
    import ultralytics

    raw = {k: _clean(v) for k, v in (trainer.metrics or {}).items()}
    suffix = "(M)" if cfg.task == "segment" else "(B)"
    metrics = {
        "task": cfg.task,
        "world": cfg.world,
        "model": str(cfg.model),
        "epochs": cfg.epochs,
        "epochs_run": int(trainer.epoch) + 1,
        "best_fitness": _clean(trainer.best_fitness) if trainer.best_fitness is not None else None,
        "val": {
            "precision": raw.get(f"metrics/precision{suffix}"),
            "recall": raw.get(f"metrics/recall{suffix}"),
            "mAP50": raw.get(f"metrics/mAP50{suffix}"),
            "mAP50-95": raw.get(f"metrics/mAP50-95{suffix}"),
        },
        "val_raw": raw,
        "weights": "weights/best.pt",
        "device": str(trainer.device),
        "params": _param_counts(trainer.model),
        "ultralytics": ultralytics.__version__,
        **extra,
    }
    return write_metrics_json(run_dir, "yolo", metrics)


# ---------------------------------------------------------------- train
def train(cfg: YoloConfig) -> Path:
    """Train YOLO (or YOLO-World with ``cfg.world``) and return the run folder."""
    from wood.offline import setup_ultralytics

    cfg = replace(cfg, data=Path(absolute_path(cfg.data)))  # the run records where its data is, from any cwd
    # Everything a user can get wrong fails here, before the run folder exists.
    names = check_prep_folder(cfg.data, cfg.data_subdir)["names"]
    warning = tiled_imgsz_warning(read_prep_tiling(cfg.data), cfg.imgsz)
    check_device(cfg.device, multi=True)
    setup_ultralytics()
    check_train_args(cfg)
    if cfg.world and not cfg.resume:
        _check_world(cfg, names)
    model = None if cfg.resume or cfg.world else load_model(cfg, resolve_model(cfg))
    run_dir = make_run_dir(cfg)
    if warning:  # once every check passed: an error before training stays the only line
        console.print(warning)
    started = time.perf_counter()
    if cfg.resume:
        from ultralytics import YOLO

        if cfg.world:  # resume with the same offline text encoder (Ultralytics' own would call CLIP)
            model = _train_world(cfg, run_dir / "data.yaml", run_dir)
        else:
            model = YOLO(str(run_dir / "weights" / "last.pt"))
            try:
                model.train(resume=True)
            except AssertionError as exc:  # Ultralytics: "training to N epochs is finished, nothing to resume"
                first = str(exc).splitlines()[0]
                raise ConfigError(f"cannot resume: {first} Use --exist-ok to start clean", run_dir) from exc
        saved = run_dir / "run_info.json"
        info = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    else:
        data_yaml, data_info = write_run_data_yaml(cfg, run_dir)
        write_config(cfg, run_dir / "config.yaml")
        info = {
            "classes": data_info["names"],
            "data": str(cfg.data),
            "manifest_sha256": manifest_sha256(cfg.data),
            "balance": data_info["balance"] or None,
        }
        (run_dir / "run_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        if cfg.world:
            model = _train_world(cfg, data_yaml, run_dir)
        else:
            model.train(**train_kwargs(cfg, data_yaml, run_dir))
    trainer = model.trainer
    if trainer is None or Path(trainer.save_dir).resolve() != run_dir:
        raise ConfigError(
            f"Ultralytics wrote its run to {getattr(trainer, 'save_dir', None)}, not the run folder", run_dir
        )
    if not (run_dir / "weights" / "best.pt").is_file():
        raise DataError("training ended without weights/best.pt (no epoch finished?)", run_dir)
    extra = {**info, "train_seconds": round(time.perf_counter() - started, 2), "config": config_to_dict(cfg)}
    write_metrics(cfg, run_dir, trainer, extra)
    finish_run_dir(run_dir)  # from now on only these entries are the run's to replace
    return run_dir


def _check_world(cfg: YoloConfig, names: list[str]) -> None:
    """The YOLO-World model name and a --prompts file, checked before the run folder exists."""
    try:
        from wood.finetune.yolo.world import read_prompts_file, world_model_arg
    except ImportError:
        return  # _train_world says so
    world_model_arg(cfg)
    if cfg.prompts is not None:
        read_prompts_file(cfg.prompts, names)


def _train_world(cfg: YoloConfig, data_yaml: Path, run_dir: Path):
    try:
        from wood.finetune.yolo.world import train_world
    except ImportError as exc:
        raise ConfigError(
            "YOLO-World training is not available in this install (wood.finetune.yolo.world is missing)"
        ) from exc
    return train_world(cfg, data_yaml, run_dir)
