"""The SAM training step: one model, its optimizer and schedule, the per-image loss and the epoch loop.

`SamTrainer` holds a SAM with its adapters applied and predicts through the same
`SamPredictor` that `wood eval segment` uses, with gradients. Gradient accumulation: the
micro-batches of an epoch are taken in groups of ``accumulate``, one optimizer update per group;
every update is the mean over its group's micro-batches (each micro-batch the mean over its
images), so the last, shorter group of an epoch is a full step too, as is `SamTrainer.train_step`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from wood.console import progress_bar
from wood.errors import MisMatchError
from wood.finetune.sam.adapters import trainable_state_dict
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import ImageCache, SamImage, build_prompts, flip_sample
from wood.finetune.sam.loss import LossParts, hard_iou, sam_loss
from wood.finetune.sam.predictor import SamPredictor

T = TypeVar("T")


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


def batches(images: list[SamImage], size: int, rng: np.random.Generator) -> list[list[SamImage]]:
    """The micro-batches of one epoch: ``images`` shuffled by ``rng``, ``size`` at a time (the last may be shorter)."""
    order = rng.permutation(len(images))
    return [[images[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


def accumulation_groups(micro: list[T], accumulate: int) -> list[list[T]]:
    """Micro-batches in groups of ``accumulate``, one optimizer update each; the last group may be shorter."""
    return [micro[k : k + accumulate] for k in range(0, len(micro), accumulate)]


def updates_per_epoch(images: int, batch: int, accumulate: int) -> int:
    return math.ceil(math.ceil(images / batch) / accumulate)


class SamTrainer:
    """One SAM (adapters applied), its optimizer and schedule, and the per-image loss."""

    def __init__(self, cfg: SamTrainConfig, sam: Any, device: str, total_updates: int, cache_dir: Path | None = None):
        self.cfg = cfg
        self.sam = sam.to(device)
        self.device = device
        self.predictor = SamPredictor(self.sam, device, box_mask=cfg.box_mask_prompt)
        self.target = self.predictor.target
        self.params = [p for p in sam.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        schedule = warmup_cosine(cfg.warmup_steps, total_updates)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.images = ImageCache(self.target)
        self.frozen_encoder = cfg.adapter == "decoder"
        self.embeddings = EmbeddingCache(cfg.embedding_cache if self.frozen_encoder else "none", cache_dir)
        self.rng = np.random.default_rng(cfg.seed)
        self.updates = 0

    def embed(self, image: SamImage, grad: bool, resized: np.ndarray | None = None) -> torch.Tensor:
        """(1, C, h, w) embedding; through the cache (no grad) when the encoder is frozen.
        ``resized``: an augmented view of the image to encode instead (never cached)."""

        def compute() -> torch.Tensor:
            with torch.set_grad_enabled(grad and not self.frozen_encoder):
                return self.predictor.encode(self.images.get(image) if resized is None else resized)

        if self.frozen_encoder and resized is None:
            return self.embeddings.get(image.image_id, compute).to(self.device)
        return compute()

    def predict(
        self,
        image: SamImage,
        instances: list,
        rng: np.random.Generator | None,
        grad: bool,
        resized: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits (N, 1, H, W) at the original size and IoU predictions (N, 1) for ``instances``."""
        cfg = self.cfg
        prompts = build_prompts(
            instances, image.original_size, self.target, cfg.prompt, cfg.n_points, cfg.box_jitter, rng
        )
        view = self.images.get(image) if resized is None else resized
        with torch.set_grad_enabled(grad):
            self.predictor.set_resized_image(view, image.original_size, self.embed(image, grad, resized))
            return self.predictor.predict(prompts)

    def image_loss(self, image: SamImage, rng: np.random.Generator | None, grad: bool) -> LossParts:
        instances = image.instances
        if len(instances) > self.cfg.max_instances:
            pick = (rng or np.random.default_rng(0)).choice(len(instances), self.cfg.max_instances, replace=False)
            instances = [instances[i] for i in sorted(pick)]
        resized = None
        if rng is not None and grad and self.cfg.flip and not self.frozen_encoder:
            horizontal, vertical = bool(rng.integers(2)), bool(rng.integers(2))
            if horizontal or vertical:
                resized, instances = flip_sample(
                    self.images.get(image), instances, image.original_size, horizontal, vertical
                )
        logits, iou_pred = self.predict(image, instances, rng, grad, resized)
        target = torch.from_numpy(np.stack([inst.mask for inst in instances])).to(self.device)
        return sam_loss(logits, iou_pred, target)

    def backward_batch(self, batch: list[SamImage], group_size: int = 1) -> float:
        """Forward + backward over ``batch``, one of the ``group_size`` micro-batches of an update: the
        gradients add up to the mean over the group. Returns the batch's mean loss."""
        self.sam.train()
        total = 0.0
        for image in batch:
            parts = self.image_loss(image, self.rng, grad=True)
            (parts.total / (len(batch) * group_size)).backward()
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

    def train_epoch(self, images: list[SamImage], epoch: int) -> list[float]:
        """One epoch of updates (seeded by ``cfg.seed`` and ``epoch``), stopping at ``cfg.max_steps``
        updates; returns the loss of every micro-batch."""
        cfg = self.cfg
        micro = batches(images, cfg.batch, np.random.default_rng([cfg.seed, epoch]))
        losses: list[float] = []
        with progress_bar() as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(micro), info="")
            for group in accumulation_groups(micro, cfg.accumulate):
                for batch in group:
                    losses.append(self.backward_batch(batch, len(group)))
                    lr = self.scheduler.get_last_lr()[0]
                    bar.update(task, advance=1, info=f"loss {np.mean(losses[-10:]):.4f} lr {lr:.2e}")
                self.optimizer_step()
                if self.done():
                    break
        return losses

    def done(self) -> bool:
        """Whether ``cfg.max_steps`` updates are made."""
        return self.cfg.max_steps is not None and self.updates >= self.cfg.max_steps

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
