"""`wood finetune sam`: the training loop (AdamW + warmup/cosine, gradient accumulation, resume).

Entry point: `train(cfg) -> Path` (the run folder). `SamTrainer` holds one model and does the
per-image work; tests drive it directly on hand-made data.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wood.config import config_to_dict, read_yaml, write_config
from wood.console import console, progress_bar
from wood.device import resolve_device
from wood.errors import ConfigError, DataError, MisMatchError
from wood.finetune.sam.adapters import apply_adapters, format_report, trainable_report, trainable_state_dict
from wood.finetune.sam.config import RESUME_FIXED, SamTrainConfig
from wood.finetune.sam.data import ImageCache, SamImage, build_prompts, coco_path, flip_sample, image_tensor, load_split
from wood.finetune.sam.io import save_base, save_weights
from wood.finetune.sam.loss import LossParts, hard_iou, sam_loss
from wood.finetune.sam.models import decode_masks, load_sam


class EmbeddingCache:
    """Image embeddings of a frozen encoder, computed once: in memory, on disk, or not kept."""

    def __init__(self, mode: str, folder: Path | None = None) -> None:
        self.mode = mode
        self.folder = folder
        self._memory: dict[int, torch.Tensor] = {}

    def get(self, image_id: int, compute: Any) -> torch.Tensor:
        if self.mode == "memory":
            if image_id not in self._memory:
                self._memory[image_id] = compute().detach()
            return self._memory[image_id]
        if self.mode == "disk" and self.folder is not None:
            path = self.folder / f"{image_id}.pt"
            if path.is_file():
                return torch.load(path, map_location="cpu", weights_only=True)
            value = compute().detach().cpu()
            self.folder.mkdir(parents=True, exist_ok=True)
            torch.save(value, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            return value
        return compute().detach()


def warmup_cosine(warmup: int, total: int) -> Any:
    """LR factor per optimizer update: linear 0→1 over ``warmup``, then cosine 1→0 until ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class SamTrainer:
    """One SAM (adapters applied), its optimizer and schedule, and the per-image loss."""

    def __init__(self, cfg: SamTrainConfig, sam: Any, device: str, total_updates: int, cache_dir: Path | None = None):
        self.cfg = cfg
        self.sam = sam.to(device)
        self.device = device
        self.target = sam.image_encoder.img_size
        self.params = [p for p in sam.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_cosine(cfg.warmup_steps, total_updates))
        self.images = ImageCache(self.target)
        frozen_encoder = cfg.adapter == "decoder"
        self.embeddings = EmbeddingCache(cfg.embedding_cache if frozen_encoder else "none", cache_dir)
        self.frozen_encoder = frozen_encoder
        self.rng = np.random.default_rng(cfg.seed)
        self.updates = 0

    def embed(self, image: SamImage, grad: bool, resized: np.ndarray | None = None) -> torch.Tensor:
        """(1, C, h, w) embedding; through the cache (no grad) when the encoder is frozen.
        ``resized``: an augmented view of the image to encode instead (never cached)."""

        def compute() -> torch.Tensor:
            x = image_tensor(self.sam, self.images.get(image) if resized is None else resized, self.device)
            with torch.set_grad_enabled(grad and not self.frozen_encoder):
                return self.sam.image_encoder(x)

        if self.frozen_encoder and resized is None:
            return self.embeddings.get(image.image_id, compute).to(self.device)
        return compute()

    def predict(
        self, image: SamImage, instances: list, rng: np.random.Generator | None, grad: bool, resized: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits (N, 1, H, W) at the original size and IoU predictions (N, 1) for ``instances``."""
        embedding = self.embed(image, grad, resized)
        prompts = build_prompts(instances, image.original_size, self.target, self.cfg.prompt, self.cfg.n_points, self.cfg.box_jitter, rng)
        h, w = self.images.get(image).shape[:2]
        with torch.set_grad_enabled(grad):
            if "boxes" in prompts:
                boxes = torch.from_numpy(prompts["boxes"]).to(self.device)
                return decode_masks(self.sam, embedding, (h, w), image.original_size, boxes_xyxy=boxes, box_mask=self.cfg.box_mask_prompt)
            points = torch.from_numpy(prompts["points"]).to(self.device)
            labels = torch.from_numpy(prompts["labels"]).to(self.device)
            return decode_masks(self.sam, embedding, (h, w), image.original_size, points_xy=points, point_labels=labels)

    def image_loss(self, image: SamImage, rng: np.random.Generator | None, grad: bool) -> LossParts:
        instances = image.instances
        if len(instances) > self.cfg.max_instances:
            pick = (rng or np.random.default_rng(0)).choice(len(instances), self.cfg.max_instances, replace=False)
            instances = [instances[i] for i in sorted(pick)]
        resized = None
        if rng is not None and grad and self.cfg.flip and not self.frozen_encoder:
            horizontal, vertical = bool(rng.integers(2)), bool(rng.integers(2))
            if horizontal or vertical:
                resized, instances = flip_sample(self.images.get(image), instances, image.original_size, horizontal, vertical)
        logits, iou_pred = self.predict(image, instances, rng, grad, resized)
        target = torch.from_numpy(np.stack([inst.mask for inst in instances])).to(self.device)
        return sam_loss(logits, iou_pred, target)

    def backward_batch(self, batch: list[SamImage]) -> float:
        """Forward + backward over ``batch`` (one micro-step); gradients are scaled for accumulation."""
        self.sam.train()
        total = 0.0
        for image in batch:
            parts = self.image_loss(image, self.rng, grad=True)
            (parts.total / (len(batch) * self.cfg.accumulate)).backward()
            total += float(parts.total.detach())
        return total / len(batch)

    def optimizer_step(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.updates += 1

    def train_step(self, batch: list[SamImage]) -> float:
        """One full update on ``batch`` (no accumulation): returns the batch loss before the update."""
        loss = self.backward_batch(batch)
        self.optimizer_step()
        return loss

    @torch.no_grad()
    def loss_on(self, images: list[SamImage]) -> float:
        """Mean loss on ``images`` with deterministic prompts (no jitter), without updating."""
        self.sam.eval()
        return float(np.mean([float(self.image_loss(im, None, grad=False).total) for im in images]))

    @torch.no_grad()
    def instance_iou(self, images: list[SamImage]) -> float:
        """Mean IoU over all instances of ``images`` with deterministic prompts (validation)."""
        self.sam.eval()
        ious = []
        for image in images:
            if not image.instances:
                continue
            logits, _ = self.predict(image, image.instances, None, grad=False)
            target = torch.from_numpy(np.stack([i.mask for i in image.instances])).to(self.device)
            ious.extend(hard_iou(logits[:, 0], target).tolist())
        return float(np.mean(ious)) if ious else float("nan")

    def state(self) -> dict[str, Any]:
        return {
            "trainable": trainable_state_dict(self.sam),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.rng.bit_generator.state,
            "updates": self.updates,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        names = {n for n, p in self.sam.named_parameters() if p.requires_grad}
        if set(state["trainable"]) != names:
            raise MisMatchError("the checkpoint's trainable parameters differ from this model's; start a new run")
        self.sam.load_state_dict(state["trainable"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng.bit_generator.state = state["rng"]
        self.updates = int(state["updates"])


def prepare_run_dir(cfg: SamTrainConfig) -> Path:
    """``out/name``; with ``resume`` it must exist with a checkpoint and a matching config, otherwise
    an existing name gets a number (name2, name3, ...) so runs never mix."""
    base = Path(cfg.out) / cfg.run_name
    if cfg.resume:
        if not (base / "checkpoints" / "last.pt").is_file():
            raise ConfigError("--resume: no checkpoints/last.pt in this run; drop --resume to start it", base)
        saved = read_yaml(base / "config.yaml")
        ours = config_to_dict(cfg)
        differ = [k for k in RESUME_FIXED if saved.get(k) != ours.get(k) and not (k == "checkpoint" and ours.get(k) is None)]
        if differ:
            raise MisMatchError(f"--resume with different settings {differ} than the run was started with", base / "config.yaml")
        return base
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}{n}")
    run_dir.mkdir(parents=True)
    return run_dir


def batches(images: list[SamImage], size: int, rng: np.random.Generator) -> list[list[SamImage]]:
    order = rng.permutation(len(images))
    return [[images[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    tmp = run_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    tmp.replace(run_dir / "metrics.json")


def train(cfg: SamTrainConfig) -> Path:
    """Fine-tune SAM as ``cfg`` says. Returns the run folder (config.yaml, metrics.json, weights/)."""
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
    resume_dir = prepare_run_dir(cfg) if cfg.resume else None
    sam, source = load_sam(cfg.model, cfg.checkpoint, cfg.random_init, cfg.imgsz, cfg.patch_size)
    run_dir = resume_dir if resume_dir is not None else prepare_run_dir(cfg)
    if source != "random":
        cfg.checkpoint = str(Path(source).resolve())
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

    per_epoch = math.ceil(math.ceil(len(train_images) / cfg.batch) / cfg.accumulate)
    total_updates = per_epoch * cfg.epochs if cfg.max_steps is None else min(per_epoch * cfg.epochs, cfg.max_steps)
    trainer = SamTrainer(cfg, sam, device, total_updates, run_dir / "embeddings")
    metrics: dict[str, Any] = {"params": report, "source": source, "device": device, "history": [], "best": None}
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
        losses: list[float] = []
        epoch_rng = np.random.default_rng([cfg.seed, epoch])
        micro = batches(train_images, cfg.batch, epoch_rng)
        with progress_bar() as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(micro), info="")
            for i, batch in enumerate(micro):
                losses.append(trainer.backward_batch(batch))
                if (i + 1) % cfg.accumulate == 0 or i + 1 == len(micro):
                    trainer.optimizer_step()
                bar.update(task, advance=1, info=f"loss {np.mean(losses[-10:]):.4f} lr {trainer.scheduler.get_last_lr()[0]:.2e}")
                if cfg.max_steps is not None and trainer.updates >= cfg.max_steps:
                    break
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
        write_metrics(run_dir, metrics)

    if cfg.merge:
        from wood.finetune.sam.io import export_merged

        metrics["merged"] = str(export_merged(run_dir))
        write_metrics(run_dir, metrics)
    console.print(f"run saved to {run_dir}")
    return run_dir
