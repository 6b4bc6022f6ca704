"""Pixel metrics on boolean mask arrays: IoU, Dice, precision, recall and F1. Pure functions.

Conventions: ``pred`` and ``gt`` are bool arrays of the same shape. Counts are
(tp, fp, fn) pixels. When both masks are empty the score is ``empty`` (default 1.0 for a
single image: nothing to find and nothing found is right; accumulated class scores use None
instead, because a class that never occurs has no score).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred).astype(bool)
    gt = np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, but got {pred.shape} and {gt.shape}")
    return pred, gt


def pixel_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn) pixel counts of ``pred`` against ``gt``."""
    pred, gt = _check(pred, gt)
    tp = int(np.count_nonzero(pred & gt))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(gt)) - tp


def iou_from_counts(tp: int, fp: int, fn: int, empty: float | None = 1.0) -> float | None:
    """tp / (tp + fp + fn); ``empty`` when the union is empty."""
    union = tp + fp + fn
    return empty if union == 0 else tp / union


def dice_from_counts(tp: int, fp: int, fn: int, empty: float | None = 1.0) -> float | None:
    """2 tp / (2 tp + fp + fn) (= F1); ``empty`` when both masks are empty."""
    denom = 2 * tp + fp + fn
    return empty if denom == 0 else 2 * tp / denom


def iou(pred: np.ndarray, gt: np.ndarray, empty: float = 1.0) -> float:
    """Intersection over union of two masks."""
    return iou_from_counts(*pixel_counts(pred, gt), empty=empty)  # type: ignore[return-value]


def dice(pred: np.ndarray, gt: np.ndarray, empty: float = 1.0) -> float:
    """Dice coefficient of two masks."""
    return dice_from_counts(*pixel_counts(pred, gt), empty=empty)  # type: ignore[return-value]


def precision_recall_f1(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    """Precision, recall and F1 from pixel counts; a ratio with a zero denominator is None."""
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = dice_from_counts(tp, fp, fn, empty=None)
    return {"precision": precision, "recall": recall, "f1": f1}


def union_of(masks: np.ndarray, shape: tuple[int, int], select: Iterable[bool] | None = None) -> np.ndarray:
    """Union of the (N, H, W) ``masks`` (only those where ``select`` is True) as one (H, W) mask."""
    masks = np.asarray(masks, dtype=bool).reshape((-1, *shape))
    if select is not None:
        masks = masks[np.asarray(list(select), dtype=bool)]
    return masks.any(axis=0) if len(masks) else np.zeros(shape, bool)


def mean_of(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None
