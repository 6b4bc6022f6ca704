"""A SAM training batch: the per-image samples (prompts, augmentation), the module DDP wraps, the loss.

A micro-batch of B images is ONE image-encoder pass over a (B, 3, S, S) stack (SAM pads every
image to the same square) and then the prompt encoder + mask decoder once per image, with that
image's own number of prompts. The loss of a micro-batch is the mean over its images of each
image's loss (which is itself the mean over its instances, `loss.sam_loss`): the definition the
per-image loop had, so ``--batch 1`` runs the same operations as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import SamImage, SamInstance, build_prompts, flip_sample
from wood.finetune.sam.predictor import decode_prompts


@dataclass
class Sample:
    """One image of a micro-batch, ready for the model: ``view`` the resized uint8 RGB (H, W, 3) the encoder
    sees (flipped when augmented), ``prompts`` in the model frame, ``instances`` (masks at the original size)
    in the same orientation as ``view``."""

    image: SamImage
    view: np.ndarray
    instances: list[SamInstance]
    prompts: dict[str, np.ndarray]
    augmented: bool

    @property
    def target(self) -> torch.Tensor:
        """(N, H, W) bool masks of the instances at the original size."""
        return torch.from_numpy(np.stack([inst.mask for inst in self.instances]))


def make_sample(
    image: SamImage,
    view: np.ndarray,
    cfg: SamTrainConfig,
    target: int,
    rng: np.random.Generator | None,
    flip: bool,
) -> Sample:
    """``image`` (resized to ``view``) with at most ``cfg.max_instances`` instances, maybe flipped (``flip``
    and ``rng``), and its prompts. Draws from ``rng`` in the per-image loop's order: the instance pick,
    the flips, then the prompt noise. ``rng`` None: deterministic (no flips, no jitter, the first pick of
    seed 0 when there are too many instances)."""
    instances = image.instances
    if len(instances) > cfg.max_instances:
        pick = (rng or np.random.default_rng(0)).choice(len(instances), cfg.max_instances, replace=False)
        instances = [instances[i] for i in sorted(pick)]
    augmented = False
    if rng is not None and flip:
        horizontal, vertical = bool(rng.integers(2)), bool(rng.integers(2))
        if horizontal or vertical:
            view, instances = flip_sample(view, instances, image.original_size, horizontal, vertical)
            augmented = True
    prompts = build_prompts(instances, image.original_size, target, cfg.prompt, cfg.n_points, cfg.box_jitter, rng)
    return Sample(image, view, instances, prompts, augmented)


class SamStep(torch.nn.Module):
    """What ``accelerator.prepare`` wraps (DDP, autocast): ``sam`` from a stacked batch to masks.

    ``forward(pixels, embeddings, samples)``: ``pixels`` (B, 3, S, S) from `predictor.encode_batch`, encoded
    in one pass, unless ``embeddings`` (B, C, h, w) are given (a frozen encoder's, from the cache). Returns
    per sample (mask logits (N, 1, H, W) at the original size, predicted IoU (N, 1)).
    """

    def __init__(self, sam: Any, box_mask: bool = False) -> None:
        super().__init__()
        self.sam = sam
        self.box_mask = box_mask

    def forward(
        self, pixels: torch.Tensor | None, embeddings: torch.Tensor | None, samples: list[Sample]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if embeddings is None:
            embeddings = self.sam.image_encoder(pixels)
        out = []
        for i, sample in enumerate(samples):
            input_size = (int(sample.view.shape[0]), int(sample.view.shape[1]))
            embedding = embeddings if len(samples) == 1 else embeddings[i : i + 1]
            out.append(
                decode_prompts(
                    self.sam, embedding, sample.prompts, input_size, sample.image.original_size, self.box_mask
                )
            )
        return out


def checkpoint_blocks(image_encoder: Any) -> int:
    """Recompute each ViT block of ``image_encoder`` in backward (torch.utils.checkpoint, non-reentrant)
    while training with gradients; a plain call otherwise. Changes no parameter names. Returns the count."""
    from torch.utils.checkpoint import checkpoint

    blocks = list(getattr(image_encoder, "blocks", []))
    for block in blocks:
        if getattr(block, "_wood_checkpointed", False):
            continue
        plain = block.forward

        def forward(x: torch.Tensor, _plain: Any = plain, _block: Any = block) -> torch.Tensor:
            if _block.training and torch.is_grad_enabled():
                return checkpoint(_plain, x, use_reentrant=False)
            return _plain(x)

        block.forward = forward
        block._wood_checkpointed = True
    return len(blocks)
