"""`wood finetune sam`: the training loop (AdamW + warmup/cosine, gradient accumulation, resume).

Entry point: `train(cfg) -> Path` (the run folder). `SamTrainer` holds one model and does the
per-image work; tests drive it directly on hand-made data.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wood.config import config_to_dict, read_yaml, write_config
from wood.console import console
from wood.device import resolve_device
from wood.errors import ConfigError, DataError, MisMatchError
from wood.finetune.sam.adapters import apply_adapters, format_report, trainable_report
from wood.finetune.sam.config import RESUME_FIXED, SamTrainConfig
from wood.finetune.sam.data import SamImage, coco_path, load_split
from wood.finetune.sam.io import save_base, save_weights
from wood.finetune.sam.models import load_sam
from wood.finetune.sam.trainer import SamTrainer, updates_per_epoch
from wood.runs import absolute_path, create_run_dir, finish_run_dir, write_metrics_json


PATH_KEYS = ("data", "checkpoint")
"""RESUME_FIXED keys that hold paths: a run stores them absolute, so they are compared as absolute paths."""


def resume_mismatch(saved: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """The RESUME_FIXED keys on which the config ``ours`` differs from a run's ``saved`` config.

    Paths are compared as absolute paths (``--checkpoint sam.pth`` is the run's ``/abs/sam.pth``);
    no checkpoint in ``ours`` means the run's own.
    """

    def norm(key: str, value: Any) -> Any:
        return absolute_path(value) if key in PATH_KEYS and isinstance(value, str) and value else value

    return [k for k in RESUME_FIXED
            if not (k == "checkpoint" and ours.get(k) is None) and norm(k, saved.get(k)) != norm(k, ours.get(k))]


def check_resume(cfg: SamTrainConfig) -> Path:
    """The run ``--resume`` continues: it must hold checkpoints/last.pt and a config that agrees on RESUME_FIXED.
    Creates and changes nothing."""
    base = Path(cfg.out) / cfg.run_name
    if not (base / "checkpoints" / "last.pt").is_file():
        raise ConfigError("--resume: no checkpoints/last.pt in this run; drop --resume to start it", base)
    differ = resume_mismatch(read_yaml(base / "config.yaml"), config_to_dict(cfg))
    if differ:
        raise MisMatchError(f"--resume with different settings {differ} than the run was started with",
                            base / "config.yaml")
    return base


def prepare_run_dir(cfg: SamTrainConfig) -> Path:
    """The run folder of ``cfg`` by wood.runs' policy: reopened with ``resume`` (call :func:`check_resume`
    first), replaced with ``exist_ok`` (a wood run only), else new: ``name``, or ``name-2``, ``-3``... when taken."""
    inputs = [Path(cfg.data)] if cfg.data else []
    return create_run_dir(cfg.out, cfg.run_name, exist_ok=cfg.exist_ok, resume=cfg.resume, inputs=inputs)


def train(cfg: SamTrainConfig) -> Path:
    """Fine-tune SAM as ``cfg`` says. Returns the run folder (config.yaml, metrics.json, weights/).

    ``cfg`` itself is not changed: the run records a copy with the dataset and checkpoint as absolute paths.
    """
    if cfg.data:
        cfg = replace(cfg, data=absolute_path(cfg.data))  # eval and report find it from any working folder
    device = resolve_device(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)  # process-wide: eval in the same process keeps it
    torch.manual_seed(cfg.seed)
    if not coco_path(cfg.data, cfg.train_split).is_file():
        raise DataError(f"no coco/{cfg.train_split}.json here; pass --data <folder written by `wood prep`>", cfg.data)
    train_images, categories = load_split(cfg.data, cfg.train_split)
    train_images = [im for im in train_images if im.instances]
    if not train_images:
        raise DataError(f"split {cfg.train_split!r} has no annotated instances to train on", coco_path(cfg.data, cfg.train_split))
    val_images: list[SamImage] = []
    if cfg.val_split and coco_path(cfg.data, cfg.val_split).is_file():
        val_images = [im for im in load_split(cfg.data, cfg.val_split)[0] if im.instances]

    # A missing or unfitting checkpoint fails here, before a new run folder exists (--resume
    # checks its run first, creating nothing, so a wrong --name says so before any model loads).
    if cfg.resume:
        check_resume(cfg)
    sam, source = load_sam(cfg.model, cfg.checkpoint, cfg.random_init, cfg.imgsz, cfg.patch_size)
    if source != "random":
        cfg = replace(cfg, checkpoint=absolute_path(source))
    run_dir = prepare_run_dir(cfg)
    if source == "random" and not cfg.resume:
        save_base(sam, run_dir / "weights")
    elif source == "random" and cfg.resume:
        from wood.finetune.sam.io import BASE_FILE
        from wood.finetune.sam.models import load_state_dict_file, load_weights

        load_weights(sam, load_state_dict_file(run_dir / "weights" / BASE_FILE), run_dir / "weights" / BASE_FILE)
    peft_model = apply_adapters(sam, cfg.adapter_settings())
    report = trainable_report(sam)
    console.print(format_report(report, cfg.adapter))
    write_config(cfg, run_dir / "config.yaml")

    per_epoch = updates_per_epoch(len(train_images), cfg.batch, cfg.accumulate)
    total_updates = per_epoch * cfg.epochs if cfg.max_steps is None else min(per_epoch * cfg.epochs, cfg.max_steps)
    trainer = SamTrainer(cfg, sam, device, total_updates, run_dir / "embeddings")
    metrics: dict[str, Any] = {"params": report, "source": source, "device": device, "data": cfg.data, "history": [],
                               "best": None}
    start_epoch = 0
    if cfg.resume:
        state = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
        trainer.load_state(state)
        metrics = state["metrics"]
        start_epoch = int(state["epoch"]) + 1
        console.print(f"resuming {run_dir} at epoch {start_epoch + 1}")

    for epoch in range(start_epoch, cfg.epochs):
        if cfg.max_steps is not None and trainer.updates >= cfg.max_steps:
            break
        started = time.perf_counter()
        losses = trainer.train_epoch(train_images, epoch)
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - started, 3), "updates": trainer.updates}
        if val_images:
            entry["val_instance_iou"] = trainer.instance_iou(val_images)
        metrics["history"].append(entry)
        score = entry.get("val_instance_iou", -entry["loss"])
        if metrics["best"] is None or score >= metrics["best"]["score"]:
            metrics["best"] = {"epoch": epoch + 1, "score": score, "by": "val_instance_iou" if val_images else "-train_loss"}
            save_weights(sam, peft_model, cfg, run_dir / "weights")
        console.print(
            f"epoch {epoch + 1}: loss {entry['loss']:.4f}"
            + (f", val instance IoU {entry['val_instance_iou']:.4f}" if val_images else "")
            + f" ({entry['seconds']:.1f} s)"
        )
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        state = trainer.state() | {"epoch": epoch, "metrics": metrics}
        torch.save(state, run_dir / "checkpoints" / "last.tmp")
        (run_dir / "checkpoints" / "last.tmp").replace(run_dir / "checkpoints" / "last.pt")
        write_metrics_json(run_dir, "sam", metrics)

    if cfg.merge:
        from wood.finetune.sam.io import export_merged

        metrics["merged"] = str(export_merged(run_dir))
        write_metrics_json(run_dir, "sam", metrics)
    finish_run_dir(run_dir)
    console.print(f"run saved to {run_dir}")
    return run_dir
