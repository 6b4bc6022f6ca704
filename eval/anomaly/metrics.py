"""Anomaly-detection metrics on plain arrays (no I/O): the scale MVTec AD results are reported on.

- :func:`auroc`: area under the ROC curve of binary ``labels`` (1 = anomalous) against ``scores``
  (higher = more anomalous); ties count half, as ``sklearn.metrics.roc_auc_score``. Image AUROC takes
  one score per image, pixel AUROC every pixel of every image (good images included).
- :func:`aupro`: the MVTec AD protocol (Bergmann et al., IJCV 2021, and its evaluation code): the
  per-region overlap (PRO) of each connected component of the ground truth (8-connectivity), averaged
  over every component of every image, as a function of the false-positive rate over the good pixels
  (pixels outside every ground-truth region, good images included), integrated from FPR 0 to
  ``fpr_limit`` (0.3) with the trapezoid rule (the curve interpolated linearly at the limit) and
  divided by ``fpr_limit``, so a perfect map scores 1 and a random one about ``fpr_limit / 2``.
- :func:`f1_max`: the best F1 over every threshold of the scores (pixel F1-max with pixel arrays).
- :func:`false_alarm_threshold` / :func:`rates_at`: a threshold that keeps the share of good images
  flagged at or under a limit, and the recall / false-alarm rate it gives (an image is flagged when its
  score is strictly above the threshold).

A metric that needs both classes and does not get them raises :class:`DegenerateMetricError` (a
ValueError) saying which class is missing, rather than returning a number that means nothing.
"""

from __future__ import annotations

import numpy as np

FPR_LIMIT = 0.3
"""AUPRO integrates the PRO curve up to this false-positive rate (MVTec AD's protocol)."""


class DegenerateMetricError(ValueError):
    """The inputs cannot define the metric (e.g. no anomalous or no good sample)."""


def _binary(labels, scores, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{what}: labels and scores must have the same size, but got {y.size} and {s.size}")
    if not np.isfinite(s).all():
        raise ValueError(f"{what}: scores hold NaN or infinite values")
    if not y.any():
        raise DegenerateMetricError(f"{what} needs at least one anomalous sample, but got none")
    if y.all():
        raise DegenerateMetricError(f"{what} needs at least one good sample, but got none")
    return y, s


def _cumulative(y: np.ndarray, s: np.ndarray, weight_pos=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives and negatives scored >= each distinct threshold, from the highest score down:
    (true positives, false positives, thresholds), one entry per distinct score."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    pos = y_sorted.astype(np.float64) if weight_pos is None else np.where(y_sorted, weight_pos[order], 0.0)
    tp = np.cumsum(pos)
    fp = np.cumsum(~y_sorted, dtype=np.float64)
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]  # last index of each tie group
    return tp[last], fp[last], s_sorted[last]


def roc_curve(labels, scores, what: str = "ROC") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf; a sample is positive at threshold t
    when its score >= t."""
    y, s = _binary(labels, scores, what)
    tp, fp, thr = _cumulative(y, s)
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]], np.r_[np.inf, thr]


def auroc(labels, scores, what: str = "AUROC") -> float:
    """Area under the ROC curve (trapezoids between distinct thresholds: ties count half)."""
    fpr, tpr, _ = roc_curve(labels, scores, what)
    return float(_trapezoid(tpr, fpr))


def f1_max(labels, scores, what: str = "F1-max") -> tuple[float, float]:
    """(best F1 over all thresholds, the threshold giving it: positive when score >= threshold)."""
    y, s = _binary(labels, scores, what)
    tp, fp, thr = _cumulative(y, s)
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(thr[best])


def region_weights(masks) -> tuple[np.ndarray, int]:
    """For ground-truth masks ((N, H, W) or a list of (H, W) of any sizes, boolean): the flat float array
    (all images' pixels in order) giving each anomalous pixel 1 / (its region's size x the number of
    regions) (8-connected components per image), and the number of regions. Summed over the pixels above
    a threshold it is the mean per-region overlap (PRO)."""
    import cv2

    parts, regions = [], 0
    for mask in masks:
        mask = np.asarray(mask).astype(bool)
        if mask.ndim != 2:
            raise ValueError(f"each mask must be (H, W), but got shape {mask.shape}")
        weights = np.zeros(mask.size, np.float64)
        if mask.any():
            count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
            sizes = np.bincount(labels.ravel(), minlength=count).astype(np.float64)
            sizes[0] = np.inf
            weights = (1.0 / sizes)[labels.ravel()]
            regions += count - 1
        parts.append(weights)
    weights = np.concatenate(parts) if parts else np.zeros(0)
    return (weights / regions if regions else weights), regions


def pro_curve(masks, maps) -> tuple[np.ndarray, np.ndarray]:
    """(fpr over good pixels, mean per-region overlap) at every distinct score, from (0, 0) up to (1, 1).
    ``masks`` and ``maps``: (N, H, W) arrays or lists of (H, W) arrays, each map the size of its mask."""
    masks = [np.asarray(m).astype(bool) for m in masks]
    maps = [np.asarray(a, dtype=np.float64) for a in maps]
    if len(masks) != len(maps) or any(m.shape != a.shape for m, a in zip(masks, maps, strict=True)):
        shapes = ([m.shape for m in masks][:3], [a.shape for a in maps][:3])
        raise ValueError(f"masks and maps must have the same shape, but got {shapes[0]} and {shapes[1]}")
    weights, regions = region_weights(masks)
    if regions == 0:
        raise DegenerateMetricError("AUPRO needs at least one ground-truth region, but every mask is empty")
    flat_masks = np.concatenate([m.ravel() for m in masks])
    flat_maps = np.concatenate([a.ravel() for a in maps])
    if flat_masks.all():
        raise DegenerateMetricError("AUPRO needs good pixels, but every pixel is anomalous")
    if not np.isfinite(flat_maps).all():
        raise ValueError("AUPRO: maps hold NaN or infinite values")
    pro, fp, _ = _cumulative(flat_masks, flat_maps, weights)
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, pro]


def aupro(masks, maps, fpr_limit: float = FPR_LIMIT) -> float:
    """Normalised area under the PRO curve up to ``fpr_limit`` (see the module docstring)."""
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], but got {fpr_limit}")
    fpr, pro = pro_curve(masks, maps)
    return float(integrate_to(fpr, pro, fpr_limit) / fpr_limit)


def integrate_to(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoid area under y(x) (x non-decreasing, from 0) from 0 to ``x_max``, y interpolated at ``x_max``."""
    inside = x <= x_max
    xs, ys = x[inside], y[inside]
    if xs[-1] < x_max:
        j = int(np.flatnonzero(~inside)[0])  # first point beyond the limit
        y_at = y[j - 1] + (y[j] - y[j - 1]) * (x_max - x[j - 1]) / (x[j] - x[j - 1])
        xs, ys = np.r_[xs, x_max], np.r_[ys, y_at]
    return _trapezoid(ys, xs)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule (numpy's name for it changed between 1.x and 2.x)."""
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def false_alarm_threshold(good_scores, max_false_alarm: float) -> float:
    """The lowest threshold among the good scores that flags (score > threshold) at most
    ``max_false_alarm`` of them: the (k+1)-th highest good score with k = floor(limit x n)."""
    good = np.sort(np.asarray(good_scores, dtype=np.float64).ravel())[::-1]
    if good.size == 0:
        raise DegenerateMetricError("a false-alarm threshold needs good images, but got none")
    if not 0.0 <= max_false_alarm < 1.0:
        raise ValueError(f"max_false_alarm must be in [0, 1), but got {max_false_alarm}")
    k = int(np.floor(max_false_alarm * good.size + 1e-9))
    return float(good[min(k, good.size - 1)])


def rates_at(labels, scores, threshold: float) -> dict[str, float | int | None]:
    """Recall (anomalous flagged) and false-alarm rate (good flagged) with flagged = score > threshold;
    None for a rate with no sample of its class."""
    y = np.asarray(labels).astype(bool).ravel()
    flagged = np.asarray(scores, dtype=np.float64).ravel() > threshold
    n_bad, n_good = int(y.sum()), int((~y).sum())
    return {
        "recall": float(flagged[y].mean()) if n_bad else None,
        "false_alarm": float(flagged[~y].mean()) if n_good else None,
        "anomalous": n_bad,
        "good": n_good,
    }
