"""Parity of two detectors' outputs on the same images (pure numpy): exported vs PyTorch.

Boxes of one image are matched greedily by the reference's score: each reference box takes the
unmatched exported box of the same class with the highest IoU, if that IoU is >= ``MATCH_IOU``.
The check fails when a box scored >= ``CONF`` (by either runtime) finds no partner, or when a
matched pair's scores differ by more than the score tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wood.eval.boxes import box_iou_xyxy
from wood.eval.detections import Detections

MATCH_IOU = 0.99
"""Two boxes are the same detection when their IoU is at least this (and their class is equal)."""
CONF = 0.25
"""An unmatched box scored at least this (wood predict's default threshold) is a mismatch."""
SCORE_TOL = 0.01
"""Largest allowed score difference of a matched pair (FP32 export)."""
SCORE_TOL_HALF = 0.05
"""Largest allowed score difference of a matched pair for an FP16 (--half) export."""


def match_image(ref: Detections, other: Detections, iou: float = MATCH_IOU) -> dict[str, Any]:
    """Match one image's detections (the reference's and the other runtime's).

    Returns matched count, the score differences of the matched pairs and the scores of the
    unmatched boxes of either side.
    """
    ious = box_iou_xyxy(ref.xyxy, other.xyxy)
    same = ref.class_ids[:, None] == other.class_ids[None, :]
    ious = np.where(same, ious, 0.0)
    taken = np.zeros(len(other), dtype=bool)
    diffs: list[float] = []
    unmatched_ref: list[float] = []
    for i in np.argsort(-ref.scores, kind="stable"):
        row = np.where(taken, -1.0, ious[i]) if len(taken) else np.zeros(0)
        j = int(np.argmax(row)) if len(row) else -1
        if j >= 0 and row[j] >= iou:
            taken[j] = True
            diffs.append(abs(float(ref.scores[i]) - float(other.scores[j])))
        else:
            unmatched_ref.append(float(ref.scores[i]))
    unmatched_other = [float(s) for s, t in zip(other.scores, taken, strict=True) if not t]
    return {"matched": len(diffs), "diffs": diffs, "unmatched_ref": unmatched_ref, "unmatched_other": unmatched_other}


def parity_summary(
    per_image: list[dict[str, Any]], *, score_tol: float = SCORE_TOL, conf: float = CONF
) -> dict[str, Any]:
    """Sum :func:`match_image` over images: the numbers export.json records, ``ok`` and ``problems``."""
    diffs = [d for m in per_image for d in m["diffs"]]
    un_ref = [s for m in per_image for s in m["unmatched_ref"]]
    un_other = [s for m in per_image for s in m["unmatched_other"]]
    summary = {
        "images": len(per_image),
        "matched": len(diffs),
        "max_score_diff": round(max(diffs), 6) if diffs else 0.0,
        "unmatched_pytorch": len(un_ref),
        "unmatched_export": len(un_other),
        "unmatched_pytorch_above_conf": sum(s >= conf for s in un_ref),
        "unmatched_export_above_conf": sum(s >= conf for s in un_other),
        "tolerances": {"match_iou": MATCH_IOU, "conf": conf, "score_diff": score_tol},
    }
    problems = []
    if summary["max_score_diff"] > score_tol:
        problems.append(f"max score difference {summary['max_score_diff']:.4g} > {score_tol}")
    for side in ("pytorch", "export"):
        n = summary[f"unmatched_{side}_above_conf"]
        if n:
            problems.append(f"{n} {side} box(es) scored >= {conf} have no partner at IoU >= {MATCH_IOU}")
    summary["ok"] = not problems
    summary["problems"] = problems
    return summary
