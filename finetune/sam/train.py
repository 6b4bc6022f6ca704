"""`wood finetune sam`: a run from start to finish (data, model, run folder, epochs, checkpoints, resume).

Entry point: `train(cfg) -> Path` (the run folder). The training step itself (AdamW + warmup/cosine,
gradient accumulation, the loss, on Hugging Face Accelerate) is `SamTrainer` in finetune/sam/trainer.py;
tests drive it directly on hand-made data. Checkpoints for ``--resume`` are finetune/sam/checkpoint.py.

Several processes: ``accelerate launch --multi_gpu --num_processes N --no_python wood finetune sam ...``
(without a GPU this is DDP over gloo; ``--cpu`` would start one process only) or
``torchrun --nproc_per_node N --no-python wood finetune sam ...``: every process runs `train`, the
main process alone writes the run folder (config, metrics, weights, checkpoints).
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
from wood.errors import ConfigError, DataError, MisMatchError, WoodError
from wood.finetune.engine import make_accelerator
from wood.finetune.sam.adapters import apply_adapters, format_report, trainable_report
from wood.finetune.sam.architecture import sam_architecture
from wood.finetune.sam.checkpoint import check_world_size, load_checkpoint, save_checkpoint
from wood.finetune.sam.config import RESUME_FIXED, SamTrainConfig
from wood.finetune.sam.data import SamImage, coco_path, load_split
from wood.finetune.sam.io import save_base, save_weights
from wood.finetune.sam.models import PACKAGED, load_sam, random_init_warning
from wood.finetune.sam.trainer import SamTrainer, updates_per_epoch
from wood.runs import absolute_path, create_run_dir, finish_run_dir, write_metrics_json
from wood.torchutil import read_state_dict

PATH_KEYS = ("data", "checkpoint")
"""RESUME_FIXED keys that hold paths: a run stores them absolute, so they are compared as absolute paths."""
ADDED_LATER = {"zoom": 0.0}
"""RESUME_FIXED keys newer than some runs: their value in a run whose config.yaml lacks them."""


def resume_mismatch(saved: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """The RESUME_FIXED keys on which the config ``ours`` differs from a run's ``saved`` config.

    Paths are compared as absolute paths (``--checkpoint sam.pth`` is the run's ``/abs/sam.pth``);
    no checkpoint in ``ours`` means the run's own.
    """

    def norm(key: str, value: Any) -> Any:
        return absolute_path(value) if key in PATH_KEYS and isinstance(value, str) and value else value

    return [
        k
        for k in RESUME_FIXED
        if not (k == "checkpoint" and ours.get(k) is None)
        and norm(k, saved.get(k, ADDED_LATER.get(k))) != norm(k, ours.get(k))
    ]


def check_resume(cfg: SamTrainConfig) -> Path:
    """The run ``--resume`` continues: it must hold checkpoints/last.pt and a config that agrees on RESUME_FIXED.
    Creates and changes nothing."""
    base = Path(cfg.out) / cfg.run_name
    if not (base / "checkpoints" / "last.pt").is_file():
        raise ConfigError("--resume: no checkpoints/last.pt in this run; drop --resume to start it", base)
    differ = resume_mismatch(read_yaml(base / "config.yaml"), config_to_dict(cfg))
    if differ:
        raise MisMatchError(
            f"--resume with different settings {differ} than the run was started with", base / "config.yaml"
        )
    return base


def prepare_run_dir(cfg: SamTrainConfig) -> Path:
    """The run folder of ``cfg`` by wood.runs' policy: reopened with ``resume`` (call :func:`check_resume`
    first), replaced with ``exist_ok`` (a wood run only), else new: ``name``, or ``name-2``, ``-3``... when taken."""
    inputs = [Path(cfg.data)] if cfg.data else []
    return create_run_dir(cfg.out, cfg.run_name, exist_ok=cfg.exist_ok, resume=cfg.resume, inputs=inputs)


def train(cfg: SamTrainConfig) -> Path:
    """Fine-tune SAM as ``cfg`` says. Returns the run folder (config.yaml, metrics.json, weights/).

    ``cfg`` itself is not changed: the run records a copy with the dataset and checkpoint as absolute paths.
    Under a launcher every process calls this; the main process alone writes the run folder.
    """
    if cfg.data:
        cfg = replace(cfg, data=absolute_path(cfg.data))  # eval and report find it from any working folder
    acc = setup_accelerator(cfg)
    main = acc.is_main_process
    train_images, val_images = load_images(cfg)
    sam, source, cfg, run_dir = open_run(cfg, acc)
    peft_model = apply_adapters(sam, cfg.adapter_settings())
    report = trainable_report(sam)
    if main:
        console.print(format_report(report, cfg.adapter))
        write_config(cfg, run_dir / "config.yaml")
    trainer = SamTrainer(
        cfg, sam, acc, total_updates(cfg, len(train_images), acc.num_processes), run_dir / "embeddings"
    )
    metrics = {
        "params": report,
        "source": source,
        "device": str(acc.device),
        "processes": acc.num_processes,
        "precision": cfg.precision,
        "data": cfg.data,
        "history": [],
        "best": None,
    }
    metrics, start_epoch = resume_state(cfg, acc, trainer, run_dir, metrics)
    for epoch in range(start_epoch, cfg.epochs):
        if trainer.done():
            break
        entry = fit_epoch(trainer, train_images, val_images, epoch)
        if record_epoch(metrics, entry) and main:
            save_weights(sam, peft_model, cfg, run_dir / "weights")
        if main:
            console.print(epoch_line(entry))
        save_checkpoint(acc, run_dir, trainer, epoch, metrics)
    if main:
        finish(cfg, run_dir, metrics)
    acc.wait_for_everyone()
    return run_dir


def setup_accelerator(cfg: SamTrainConfig) -> Any:
    """torch's CPU threads and the Accelerator of the run (device, precision, every process seeded)."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)  # process-wide: eval in the same process keeps it
    # accumulation is the trainer's own (a short last group is a full update), so Accelerate's stays 1
    return make_accelerator(
        precision=cfg.precision,
        accumulate=1,
        device=cfg.device,
        seed=cfg.seed,
        find_unused_parameters=cfg.train_prompt_encoder,  # box prompts leave the point embeddings unused
    )


def load_images(cfg: SamTrainConfig) -> tuple[list[SamImage], list[SamImage]]:
    """The train and val images that have instances (val: none without a val split); with ``cfg.zoom``, one
    crop per instance (`zoom.zoomed_images`)."""
    where = coco_path(cfg.data, cfg.train_split)
    if not where.is_file():
        raise DataError(f"no coco/{cfg.train_split}.json here; pass --data <folder written by `wood prep`>", cfg.data)
    train_images = [im for im in load_split(cfg.data, cfg.train_split)[0] if im.instances]
    if not train_images:
        raise DataError(f"split {cfg.train_split!r} has no annotated instances to train on", where)
    val_images: list[SamImage] = []
    if cfg.val_split and coco_path(cfg.data, cfg.val_split).is_file():
        val_images = [im for im in load_split(cfg.data, cfg.val_split)[0] if im.instances]
    if cfg.zoom:  # every instance its own crop: the trainer sees them as images
        from wood.finetune.sam.zoom import zoomed_images

        return zoomed_images(train_images, cfg.zoom), zoomed_images(val_images, cfg.zoom)
    return train_images, val_images


def open_run(cfg: SamTrainConfig, acc: Any) -> tuple[Any, str, SamTrainConfig, Path]:
    """(SAM with its starting weights, their source, the config as the run records it, the run folder).

    The main process makes (or reopens) the run folder and tells the others its path, so a launch of N
    processes writes ONE run folder; an error there stops every process with the same one line."""
    # A missing or unfitting checkpoint fails here, before a new run folder exists (--resume
    # checks its run first, creating nothing, so a wrong --name says so before any model loads).
    if cfg.resume:
        check_world_size(check_resume(cfg), acc.num_processes)
    sam, source = load_sam(cfg.model, cfg.checkpoint, cfg.random_init, cfg.imgsz, cfg.patch_size, warn=False)
    if source != "random" and not (cfg.checkpoint is None and cfg.model in PACKAGED):
        cfg = replace(cfg, checkpoint=absolute_path(source))  # packaged weights: found again by the variant
    cfg = replace(cfg, architecture=sam_architecture(cfg.model, cfg.imgsz, cfg.patch_size))
    run_dir = on_main(acc, lambda: main_run_dir(cfg, sam, source))
    if source == "random" and acc.is_main_process:  # after the run folder: an error before it is the only line
        console.print(random_init_warning(cfg.model))
    if source == "random" and cfg.resume:
        from wood.finetune.sam.io import BASE_FILE
        from wood.finetune.sam.models import load_weights

        load_weights(sam, read_state_dict(run_dir / "weights" / BASE_FILE), run_dir / "weights" / BASE_FILE)
    return sam, source, cfg, run_dir


def main_run_dir(cfg: SamTrainConfig, sam: Any, source: str) -> Path:
    """The run folder (main process): made or reopened, with the random base weights of a new run saved."""
    run_dir = prepare_run_dir(cfg)
    if source == "random" and not cfg.resume:
        save_base(sam, run_dir / "weights")
    return run_dir


def on_main(acc: Any, make: Any) -> Any:
    """``make()`` on the main process, its result (or its WoodError, raised everywhere) on every process."""
    if acc.num_processes == 1:
        return make()
    from accelerate.utils import broadcast_object_list

    box: list[Any] = [None]
    if acc.is_main_process:
        try:
            box = [("ok", make())]
        except WoodError as exc:  # sent as its parts: a pickled WoodError would lose its path
            box = [("error", (type(exc), exc.message, exc.path))]
    broadcast_object_list(box, from_process=0)
    status, value = box[0]
    if status == "error":
        kind, message, path = value
        raise kind(message, path)
    return value


def total_updates(cfg: SamTrainConfig, images: int, processes: int = 1) -> int:
    """Optimizer updates of the whole run (the LR schedule's length); a global batch is batch x processes."""
    per_epoch = updates_per_epoch(images, cfg.batch * processes, cfg.accumulate)
    return per_epoch * cfg.epochs if cfg.max_steps is None else min(per_epoch * cfg.epochs, cfg.max_steps)


def resume_state(
    cfg: SamTrainConfig, acc: Any, trainer: SamTrainer, run_dir: Path, metrics: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """(metrics, first epoch): ``metrics`` and 0 for a new run; with ``resume`` the trainer's state, the
    metrics and the next epoch from the run's last checkpoint."""
    if not cfg.resume:
        return metrics, 0
    metrics, start_epoch = load_checkpoint(acc, run_dir, trainer)
    if acc.is_main_process:
        console.print(f"resuming {run_dir} at epoch {start_epoch + 1}")
    return metrics, start_epoch


def fit_epoch(
    trainer: SamTrainer, train_images: list[SamImage], val_images: list[SamImage], epoch: int
) -> dict[str, Any]:
    """Train one epoch and validate: the epoch's history entry."""
    started = time.perf_counter()
    losses = trainer.train_epoch(train_images, epoch)
    entry = {
        "epoch": epoch + 1,
        "loss": float(np.mean(losses)),
        "seconds": round(time.perf_counter() - started, 3),
        "updates": trainer.updates,
    }
    if val_images:
        entry["val_instance_iou"] = trainer.instance_iou(val_images)
    return entry


def record_epoch(metrics: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Append ``entry`` to the history; True when it is the best epoch so far (by val instance IoU, or by
    train loss without a val split; a tie goes to the later epoch)."""
    metrics["history"].append(entry)
    by = "val_instance_iou" if "val_instance_iou" in entry else "-train_loss"
    score = entry.get("val_instance_iou", -entry["loss"])
    if metrics["best"] is None or score >= metrics["best"]["score"]:
        metrics["best"] = {"epoch": entry["epoch"], "score": score, "by": by}
        return True
    return False


def epoch_line(entry: dict[str, Any]) -> str:
    val = f", val instance IoU {entry['val_instance_iou']:.4f}" if "val_instance_iou" in entry else ""
    return f"epoch {entry['epoch']}: loss {entry['loss']:.4f}{val} ({entry['seconds']:.1f} s)"


def finish(cfg: SamTrainConfig, run_dir: Path, metrics: dict[str, Any]) -> None:
    """The merged export (``--merge``), and the run folder closed."""
    if cfg.merge:
        from wood.finetune.sam.io import export_merged

        metrics["merged"] = str(export_merged(run_dir))
        write_metrics_json(run_dir, "sam", metrics)
    finish_run_dir(run_dir)
    console.print(f"run saved to {run_dir}")
