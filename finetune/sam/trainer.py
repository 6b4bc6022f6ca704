"""The SAM training loop on Hugging Face Accelerate: one model, its optimizer and schedule, the epoch loop.

`SamTrainer` holds a SAM with its adapters applied (all three modes), wrapped by
``accelerator.prepare`` (DDP across processes, bf16/fp16 autocast, fp16 loss scaling).

Batches: an epoch's images are shuffled by (seed, epoch), the same on every process, and cut into
global micro-batches of ``batch x processes`` images; each process takes its slice
(`engine.shard`) and runs it as ONE image-encoder pass (`step.SamStep`). A process whose slice is
empty (a short last batch) runs the first image with weight 0, so every process joins every
gradient all-reduce. Every process's loss is divided so that DDP's mean over processes gives the
mean over the global micro-batch's images: one process with ``--batch 2`` and two processes with
``--batch 1`` make the same update.

Gradient accumulation: the micro-batches of an epoch are taken in groups of ``accumulate``, one
optimizer update per group; every update is the mean over its group's micro-batches (each
micro-batch the mean over its images), so the last, shorter group of an epoch is a full step too,
as is `SamTrainer.train_step`. Gradients of all but a group's last micro-batch stay local
(``accelerator.no_sync``).

Randomness: prompt jitter, instance picks and flips draw from one numpy Generator per process,
seeded ``seed + rank`` (`engine.process_seed`): a single process draws what the per-image loop drew.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from wood.console import progress_bar
from wood.errors import MisMatchError
from wood.finetune.engine import make_accelerator, process_seed, shard
from wood.finetune.sam.adapters import trainable_state_dict
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import ImageCache, SamImage, build_prompts
from wood.finetune.sam.loss import hard_iou, sam_loss
from wood.finetune.sam.predictor import SamPredictor, encode_batch
from wood.finetune.sam.step import Sample, SamStep, checkpoint_blocks, make_sample

T = TypeVar("T")


class EmbeddingCache:
    """Image embeddings of a frozen encoder, computed once: in memory, on disk, or not kept."""

    def __init__(self, mode: str, folder: Path | None = None) -> None:
        self.mode = mode
        self.folder = folder
        self._memory: dict[int, torch.Tensor] = {}

    def lookup(self, image_id: int) -> torch.Tensor | None:
        if self.mode == "memory":
            return self._memory.get(image_id)
        if self.mode == "disk" and self.folder is not None:
            path = self.folder / f"{image_id}.pt"
            if path.is_file():
                return torch.load(path, map_location="cpu", weights_only=True)
        return None

    def store(self, image_id: int, value: torch.Tensor) -> None:
        if self.mode == "memory":
            self._memory[image_id] = value.detach()
        elif self.mode == "disk" and self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"{image_id}.{os.getpid()}.tmp"  # processes of one run may compute the same image
            torch.save(value.detach().cpu(), tmp)
            tmp.replace(self.folder / f"{image_id}.pt")

    def get_many(self, image_ids: list[int], compute: Any) -> torch.Tensor:
        """(B, C, h, w) embeddings of ``image_ids``; the missing ones from ``compute(positions)`` in one call."""
        found = [self.lookup(i) for i in image_ids]
        missing = [k for k, value in enumerate(found) if value is None]
        if missing:
            computed = compute(missing).detach()
            for j, k in enumerate(missing):
                found[k] = computed[j : j + 1]
                self.store(image_ids[k], found[k])
        return torch.cat([value.reshape(1, *value.shape[-3:]) for value in found])


def frozen_batchnorm(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The BatchNorm layers of ``model`` whose parameters do not train. Training keeps them in eval mode, normalising
    with their pretrained running statistics as evaluation does: in train mode they would normalise each image by
    its own statistics (LiteMedSAM's encoder then gives embeddings about 100% away from its eval-mode ones) and
    overwrite the running statistics with those of the few training images."""
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters())
    ]


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
    """Optimizer updates of an epoch; ``batch`` is the global micro-batch (batch x processes)."""
    return math.ceil(math.ceil(images / batch) / accumulate)


class SamTrainer:
    """One SAM (adapters applied), its optimizer and schedule, on ``accelerator`` (an ``accelerate.Accelerator``,
    or a device string: a one-process accelerator made from ``cfg``'s precision and seed)."""

    def __init__(
        self, cfg: SamTrainConfig, sam: Any, accelerator: Any, total_updates: int, cache_dir: Path | None = None
    ):
        if isinstance(accelerator, str):
            accelerator = make_accelerator(precision=cfg.precision, accumulate=1, device=accelerator, seed=cfg.seed)
        self.accelerator = acc = accelerator
        self.cfg = cfg
        self.device = acc.device
        self.sam = sam.to(acc.device)
        if cfg.grad_checkpoint:
            checkpoint_blocks(self.sam.image_encoder)
        self.predictor = SamPredictor(self.sam, self.device, box_mask=cfg.box_mask_prompt)
        self.target = self.predictor.target
        self.params = [p for p in sam.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(cfg.warmup_steps, total_updates))
        self.step_module = SamStep(self.sam, cfg.box_mask_prompt)
        self.model, self.optimizer, self.scheduler = acc.prepare(self.step_module, optimizer, scheduler)
        acc.register_save_state_pre_hook(self._save_hook)
        acc.register_load_state_pre_hook(self._load_hook)
        self.images = ImageCache(self.target)
        self.frozen_encoder = cfg.adapter == "decoder"
        self.embeddings = EmbeddingCache(cfg.embedding_cache if self.frozen_encoder else "none", cache_dir)
        self.rng = np.random.default_rng(process_seed(cfg.seed, acc))
        self.updates = 0

    # ------------------------------------------------------------------ forward and loss
    def encode_frozen(self, samples: list[Sample]) -> torch.Tensor:
        """(B, C, h, w) embeddings of a frozen encoder, through the cache; misses in one no-grad pass."""

        def compute(positions: list[int]) -> torch.Tensor:
            pixels = encode_batch(self.sam, [samples[k].view for k in positions], self.device)
            with torch.no_grad(), self.accelerator.autocast():
                return self.sam.image_encoder(pixels).float()

        return self.embeddings.get_many([s.image.image_id for s in samples], compute).to(self.device)

    def forward(self, samples: list[Sample], grad: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(mask logits (N, 1, H, W), IoU predictions (N, 1)) per sample: one encoder pass for the batch. With
        ``grad`` through the prepared (DDP, autocast) model; without it through the plain module under autocast."""
        embeddings = self.encode_frozen(samples) if self.frozen_encoder else None
        pixels = None if self.frozen_encoder else encode_batch(self.sam, [s.view for s in samples], self.device)
        if grad:
            return self.model(pixels, embeddings, samples)
        with torch.no_grad(), self.accelerator.autocast():
            out = self.step_module(pixels, embeddings, samples)
        return [(logits.float(), iou.float()) for logits, iou in out]

    def batch_losses(self, batch: list[SamImage], rng: np.random.Generator | None, grad: bool) -> list[torch.Tensor]:
        """The loss of every image of a micro-batch (each the mean over its instances, `loss.sam_loss`)."""
        cfg = self.cfg
        flip = grad and cfg.flip and not self.frozen_encoder
        samples = [make_sample(im, self.images.get(im), cfg, self.target, rng, flip) for im in batch]
        with torch.set_grad_enabled(grad):
            outputs = self.forward(samples, grad)
            return [
                sam_loss(logits, iou, s.target.to(self.device)).total
                for s, (logits, iou) in zip(samples, outputs, strict=True)
            ]

    # ------------------------------------------------------------------ steps
    def local_share(self, batch: list[SamImage]) -> tuple[list[SamImage], float]:
        """(this process's images of the global micro-batch ``batch``, their loss weight: 1, or 0 for the
        stand-in image of an empty share)."""
        acc = self.accelerator
        local = shard(batch, acc.process_index, acc.num_processes)
        return (local, 1.0) if local else (batch[:1], 0.0)

    def train_mode(self) -> None:
        """Training mode, except `frozen_batchnorm` layers (LiteMedSAM's TinyViT has 27), which stay in eval mode."""
        self.model.train()
        for module in frozen_batchnorm(self.sam):
            module.eval()

    def backward_step(self, batch: list[SamImage], group_size: int = 1) -> tuple[float, int]:
        """Forward + backward of this process's share of the global micro-batch ``batch``, one of the
        ``group_size`` micro-batches of an update. Returns (sum of its image losses, images)."""
        self.train_mode()
        local, weight = self.local_share(batch)
        losses = self.batch_losses(local, self.rng, grad=True)
        divisor = len(batch) * group_size / self.accelerator.num_processes
        total = (losses[0] if len(losses) == 1 else sum(losses)) / divisor
        self.accelerator.backward(total if weight else total * 0.0)
        values = [float(loss.detach()) for loss in losses]
        return (sum(values), len(values)) if weight else (0.0, 0)

    def backward_batch(self, batch: list[SamImage], group_size: int = 1) -> float:
        """`backward_step`; returns this process's mean image loss."""
        total, count = self.backward_step(batch, group_size)
        return total / max(1, count)

    def optimizer_step(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not self.optimizer.step_was_skipped:  # fp16: an overflowing step is skipped, the schedule waits
            self.scheduler.step()
        self.updates += 1

    def train_step(self, batch: list[SamImage]) -> float:
        """One full update on ``batch`` (no accumulation): returns the batch loss before the update."""
        loss = self.backward_batch(batch)
        self.optimizer_step()
        return loss

    def train_epoch(self, images: list[SamImage], epoch: int) -> list[float]:
        """One epoch of updates (seeded by ``cfg.seed`` and ``epoch``), stopping at ``cfg.max_steps``
        updates; returns the mean loss of every global micro-batch (gathered from all processes)."""
        cfg, acc = self.cfg, self.accelerator
        micro = batches(images, cfg.batch * acc.num_processes, np.random.default_rng([cfg.seed, epoch]))
        stats: list[tuple[float, int]] = []
        bar = progress_bar()
        bar.disable = bar.disable or not acc.is_main_process
        with bar:
            task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(micro), info="")
            for group in accumulation_groups(micro, cfg.accumulate):
                for k, batch in enumerate(group):
                    last = k == len(group) - 1
                    with contextlib.nullcontext() if last else acc.no_sync(self.model):
                        stats.append(self.backward_step(batch, len(group)))
                    lr = self.scheduler.get_last_lr()[0]
                    recent = [s / max(1, c) for s, c in stats[-10:]]
                    bar.update(task, advance=1, info=f"loss {np.mean(recent):.4f} lr {lr:.2e}")
                self.optimizer_step()
                if self.done():
                    break
        return self.global_losses(stats)

    def global_losses(self, stats: list[tuple[float, int]]) -> list[float]:
        """Per micro-batch: the mean over all processes' images, from each process's (sum, count)."""
        from accelerate.utils import gather_object

        per_process = gather_object([stats])
        return [
            sum(p[i][0] for p in per_process) / max(1, sum(p[i][1] for p in per_process)) for i in range(len(stats))
        ]

    def done(self) -> bool:
        """Whether ``cfg.max_steps`` updates are made."""
        return self.cfg.max_steps is not None and self.updates >= self.cfg.max_steps

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def loss_on(self, images: list[SamImage]) -> float:
        """Mean loss on ``images`` (this process) with deterministic prompts (no jitter), without updating."""
        self.model.eval()
        losses = [float(loss) for im in images for loss in self.batch_losses([im], None, grad=False)]
        return float(np.mean(losses))

    @torch.no_grad()
    def instance_iou(self, images: list[SamImage]) -> float:
        """Mean IoU over all instances of ``images`` with deterministic prompts (validation): every process
        scores its share of the images, the IoUs are gathered from all processes."""
        from accelerate.utils import gather_object

        self.model.eval()
        acc = self.accelerator
        ious: list[float] = []
        for image in shard(images, acc.process_index, acc.num_processes):
            if not image.instances:
                continue
            view = self.images.get(image)
            embedding = None
            if self.frozen_encoder:
                sample = Sample(image, view, image.instances, {}, False)
                embedding = self.encode_frozen([sample])
            prompts = build_prompts(
                image.instances, image.original_size, self.target, self.cfg.prompt, self.cfg.n_points
            )
            with acc.autocast():
                self.predictor.set_resized_image(view, image.original_size, embedding)
                logits, _ = self.predictor.predict(prompts)
            target = torch.from_numpy(np.stack([i.mask for i in image.instances])).to(self.device)
            ious.extend(hard_iou(logits.float()[:, 0], target).tolist())
        ious = gather_object(ious)
        return float(np.mean(ious)) if ious else float("nan")

    # ------------------------------------------------------------------ checkpoint state
    def _save_hook(self, models: list, weights: list, output_dir: str) -> None:
        """accelerator.save_state keeps the trainable parameters only (LoRA on vit_h: kB, not GB)."""
        for i in range(len(weights)):
            weights[i] = {n: t.contiguous() for n, t in trainable_state_dict(self.sam).items()}

    def _load_hook(self, models: list, input_dir: str) -> None:
        """accelerator.load_state: the trainable parameters of `_save_hook` into ``sam`` (not a full state dict)."""
        from safetensors.torch import load_file

        state = load_file(str(Path(input_dir) / "model.safetensors"))
        names = {n for n, p in self.sam.named_parameters() if p.requires_grad}
        if set(state) != names:
            raise MisMatchError("the checkpoint's trainable parameters differ from this model's; start a new run")
        self.sam.load_state_dict(state, strict=False)
        models.clear()

    def rng_state(self) -> dict[str, Any]:
        return self.rng.bit_generator.state

    def set_rng_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state
