"""The review order of a pre-labelled batch: the least certain images first.

An image's uncertainty is the largest of
- closeness to the threshold of any candidate it has (labels and candidates scored in [near, conf)):
  ``1 - |score - conf| / conf`` clipped to [0, 1] (1 at the threshold, 0 at score 0 or 2 x conf);
- disagreement between the detector and SAM on a label: ``1 - IoU(SAM mask, the detector's mask, or its box
  where it has no mask)``.
Ties keep the images' file name order. Pure functions.
"""

from __future__ import annotations

from typing import Any


def closeness(score: float, conf: float) -> float:
    return max(0.0, 1.0 - abs(float(score) - conf) / conf)


def uncertainty(record: dict[str, Any], conf: float) -> tuple[float, str]:
    """(uncertainty in [0, 1], why) of one image record (``labels`` with ``score`` and optional
    ``agreement``; ``near``: the scores of candidates below conf)."""
    best, why = 0.0, "no candidate near the threshold"
    for label in record["labels"]:
        if closeness(label["score"], conf) > best:
            best, why = closeness(label["score"], conf), f"label {label['class']} scored {label['score']:.3f}"
        agreement = label.get("agreement")
        if agreement is not None and 1.0 - agreement > best:
            best, why = 1.0 - agreement, f"SAM and detector disagree on a {label['class']} (IoU {agreement:.2f})"
    for near in record["near"]:
        if closeness(near["score"], conf) > best:
            best, why = closeness(near["score"], conf), f"{near['class']} candidate scored {near['score']:.3f}"
    return round(best, 4), why


def review_order(records: list[dict[str, Any]], conf: float) -> list[dict[str, Any]]:
    """One row per image, least certain first: ``{"rank", "file_name", "uncertainty", "why", "labels"}``."""
    rows = []
    for record in records:
        value, why = uncertainty(record, conf)
        rows.append(
            {"file_name": record["file_name"], "uncertainty": value, "why": why, "labels": len(record["labels"])}
        )
    rows.sort(key=lambda r: (-r["uncertainty"], r["file_name"]))
    return [{"rank": k, **row} for k, row in enumerate(rows, 1)]
