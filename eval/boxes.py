"""Box overlap in one place: the IoU of XYXY boxes (pixel edges), as every matcher in wood uses it.

Pure numpy. ``a`` and ``b`` are (N, 4) and (M, 4) arrays (or anything numpy reads as such) of
``[x0, y0, x1, y1]`` in pixels, x0 <= x1 and y0 <= y1; a box with no area overlaps nothing.
"""

from __future__ import annotations

import numpy as np


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of boxes ``a`` (N, 4) and ``b`` (M, 4), both in XYXY pixel-edge format
    (float64; 0 where the union is empty)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
