"""PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022) on torch.

Fit: the 3x3-pooled patch features of every good image (wood.finetune.anomaly.features) form a pool; a
greedy k-center coreset of it becomes the memory bank. Score: each patch's Euclidean distance to its
nearest bank entry.

The bank is bounded two ways, so memory, fit time and inference time stop growing with the images:
- ``max_pool``: the coreset is picked from at most this many patches, the same number drawn at random
  from every image (all of them while the images have fewer);
- the bank keeps ``ceil(coreset x all patches)`` entries, at most ``max_bank`` (and at most the pool).
With the defaults (imgsz 256: 1024 patches per image, coreset 0.1, max_bank 4096, max_pool 65536) the bank
holds 2,560 patches at 25 images and 4,096 from 40 images on (400 images: 4,096 x 128 floats = 2 MB for
mobilenet_v2), picked from at most 65,536 patches: fitting time, too, stops growing after about 64 images
but for reading them.

The greedy selection measures distances after a seeded Gaussian random projection to ``projection``
dimensions (the paper's Johnson-Lindenstrauss step); the bank stores the full features.
"""

from __future__ import annotations

import math
from typing import Any

NN_CHUNK = 2048
"""Patches scored at once against the bank (a chunk x bank distance matrix)."""


def sample_pool(features, per_image: int, generator):
    """(per_image x B, C) patches drawn without replacement from each of the (B, C, h, w) feature maps."""
    import torch

    b, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(b, h * w, c)
    if per_image >= h * w:
        return flat.reshape(-1, c)
    picks = [flat[i, torch.randperm(h * w, generator=generator)[:per_image]] for i in range(b)]
    return torch.cat(picks)


def greedy_coreset(pool, size: int, projection: int, generator) -> Any:
    """Indices of ``size`` pool rows chosen by greedy k-center selection (farthest point first), distances
    measured after a random projection to ``projection`` dims (0 or >= C: none). Starts at a random row."""
    import torch

    n, c = pool.shape
    if size >= n:
        return torch.arange(n)
    points = pool
    if 0 < projection < c:
        matrix = torch.randn(c, projection, generator=generator, dtype=pool.dtype) / math.sqrt(projection)
        points = pool @ matrix.to(pool.device)
    chosen = torch.empty(size, dtype=torch.long)
    current = int(torch.randint(n, (1,), generator=generator))
    min_dist = torch.full((n,), float("inf"), dtype=points.dtype, device=points.device)
    sq = points.pow(2).sum(dim=1)
    for k in range(size):  # |p - c|^2 = |p|^2 - 2 p.c + |c|^2: one matrix-vector product per pick
        chosen[k] = current
        d = torch.addmv(sq + sq[current], points, points[current], alpha=-2.0)
        torch.minimum(min_dist, d, out=min_dist)
        current = int(torch.argmax(min_dist))
    return chosen


def bank_size(total_patches: int, pool: int, coreset: float, max_bank: int) -> int:
    return max(1, min(math.ceil(coreset * total_patches), max_bank, pool))


def bank_operands(bank):
    """(bank.T contiguous float32, squared row norms): what :func:`nearest_distance` multiplies with, computed
    once per model rather than per image."""
    bank = bank.float()
    return bank.T.contiguous(), bank.pow(2).sum(dim=1)


def nearest_distance(features, bank, operands=None):
    """(B, h, w) Euclidean distance of each patch of (B, C, h, w) ``features`` to its nearest bank row.

    One fused matrix product per chunk: min_j |x - b_j|^2 = |x|^2 + min_j (|b_j|^2 - 2 x.b_j) (torch.addmm),
    clamped at 0 against rounding; equal to ``torch.cdist(x, bank).amin(1)`` to float tolerance.
    ``operands``: :func:`bank_operands` of ``bank``, when the caller keeps them."""
    import torch

    bank_t, bank_sq = operands if operands is not None else bank_operands(bank)
    b, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(-1, c)
    out = torch.empty(flat.shape[0], dtype=flat.dtype, device=flat.device)
    with torch.inference_mode():
        for i in range(0, flat.shape[0], NN_CHUNK):
            x = flat[i : i + NN_CHUNK]
            d = torch.addmm(bank_sq, x, bank_t, alpha=-2.0).amin(dim=1)
            out[i : i + NN_CHUNK] = d.add_(x.pow(2).sum(dim=1)).clamp_(min=0).sqrt_()
    return out.view(b, h, w)
