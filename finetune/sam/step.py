"""A SAM training batch: the per-image samples (prompts, augmentation), the module DDP wraps, the loss.

A micro-batch of B images is ONE image-encoder pass over a (B, 3, S, S) stack (SAM pads every
image to the same square) and ONE prompt-encoder + mask-decoder pass over all their prompts, each
image with its own number of prompts (`decode_batch`). The loss of a micro-batch is the mean over its images of each
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
        if len(samples) > 1:
            return decode_batch(self.sam, embeddings, samples, self.box_mask)
        sample = samples[0]  # one image: exactly the operations of `predictor.decode_prompts`
        input_size = (int(sample.view.shape[0]), int(sample.view.shape[1]))
        return [
            decode_prompts(self.sam, embeddings, sample.prompts, input_size, sample.image.original_size, self.box_mask)
        ]


def decode_batch(
    sam: Any, embeddings: torch.Tensor, samples: list[Sample], box_mask: bool = False
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The prompt encoder and mask decoder ONCE for the prompts of all ``samples`` (N = sum of their prompts),
    ``embeddings`` (B, C, h, w) one per sample. Returns per sample (mask logits (N_i, 1, H, W) at its original
    size, predicted IoU (N_i, 1)).

    SAM's decoder takes one image embedding and repeats it per prompt, adding the dense prompt embedding
    (``src = repeat(embedding) + dense``). Here every prompt's own image embedding goes into the dense term
    and the image embedding is zero: ``0 + (dense + embedding)`` is the same sum, bit for bit, for images
    with different numbers of prompts, without touching segment-anything's code.
    """
    from wood.finetune.sam.models import box_mask_logits

    device = embeddings.device
    counts = [len(next(iter(s.prompts.values()))) for s in samples]
    if "boxes" in samples[0].prompts:
        boxes = torch.cat([torch.as_tensor(s.prompts["boxes"], device=device) for s in samples])
        masks = box_mask_logits(sam, boxes) if box_mask else None
        sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=masks)
    else:
        points = torch.cat([torch.as_tensor(s.prompts["points"], device=device) for s in samples])
        labels = torch.cat([torch.as_tensor(s.prompts["labels"], device=device) for s in samples])
        sparse, dense = sam.prompt_encoder(points=(points, labels), boxes=None, masks=None)
    owner = torch.repeat_interleave(torch.arange(len(samples), device=device), torch.tensor(counts, device=device))
    low_res, iou_pred = sam.mask_decoder(
        image_embeddings=torch.zeros_like(embeddings[:1]),
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense + embeddings.index_select(0, owner),
        multimask_output=False,
    )
    frames = [((int(s.view.shape[0]), int(s.view.shape[1])), s.image.original_size) for s in samples]
    starts = [sum(counts[:i]) for i in range(len(samples))]
    if len(set(frames)) == 1:  # one size (a dataset of one MVTec category): upsample all masks at once
        logits = sam.postprocess_masks(low_res, input_size=frames[0][0], original_size=frames[0][1])
        return [(logits[a : a + n], iou_pred[a : a + n]) for a, n in zip(starts, counts, strict=True)]
    return [
        (sam.postprocess_masks(low_res[a : a + n], input_size=f[0], original_size=f[1]), iou_pred[a : a + n])
        for a, n, f in zip(starts, counts, frames, strict=True)
    ]


def checkpoint_blocks(image_encoder: Any) -> int:
    """Recompute each transformer block (`adapters.encoder_blocks`) of ``image_encoder`` in backward
    (torch.utils.checkpoint, non-reentrant)
    while training with gradients; a plain call otherwise. Changes no parameter names. Returns the count."""
    from torch.utils.checkpoint import checkpoint

    from wood.finetune.sam.adapters import encoder_blocks

    blocks = encoder_blocks(image_encoder)
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
