"""Overlay PNGs of the written annotation (mask fill, box, class name) for checking by eye."""

from __future__ import annotations

import cv2
import numpy as np

from wood.dataset_config import DatasetConfig
from wood.prep.formats.coco_masks import segmentation_to_mask

ALPHA = 0.45


def draw_overlay(image_rgb: np.ndarray, record: dict, dataset: DatasetConfig, classes: list[str]) -> np.ndarray:
    """Draw every instance of ``record`` on a copy of ``image_rgb`` (H, W, 3 uint8 RGB).

    The mask is rasterised back from the COCO segmentation that prep writes, so the preview
    shows the annotation itself, not the source mask.
    """
    height, width = image_rgb.shape[:2]
    out = image_rgb.astype(np.float32)
    thickness = max(1, round(max(height, width) / 400))
    labels = []
    for inst in record["instances"]:
        colour = np.array(dataset.colour_rgb(inst["class"], inst["class_id"]), np.float32)
        mask = segmentation_to_mask(inst["segmentation"], height, width)
        out[mask] = out[mask] * (1 - ALPHA) + colour * ALPHA
        labels.append((inst, tuple(int(c) for c in colour)))
    canvas = np.ascontiguousarray(out.round().clip(0, 255).astype(np.uint8))
    scale = max(0.35, max(height, width) / 900)
    for inst, colour in labels:
        x0, y0, x1, y1 = inst["bbox_xyxy"]
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
        text = f"{inst['class']} {inst['area']}px"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness + 2)
        origin = label_origin(inst["bbox_xyxy"], (tw, th, base), (width, height))
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return canvas


def label_origin(box_xyxy: list[int], text_size: tuple[int, int, int], image_size: tuple[int, int]) -> tuple[int, int]:
    """Bottom-left corner for a label of ``text_size`` (width, height, baseline; outline included)
    above the box, or below it where there is no room, shifted so the whole text stays inside an
    image of ``image_size`` (width, height) as far as it fits."""
    x0, y0, _, y1 = box_xyxy
    tw, th, base = text_size
    width, height = image_size
    y = y0 - 3 if y0 - 3 - th >= 0 else y1 + th + 3
    y = min(max(y, th), height - 1 - base)
    x = min(max(x0, 0), width - tw)
    return max(x, 0), max(y, th)


def pick_preview_records(records: list[dict], n: int) -> list[dict]:
    """Up to ``n`` records with instances: first each class is shown at least once (greedily, the image
    showing the most classes not yet shown, ties by a defect type not yet shown, then by name), as far
    as ``n`` allows; the rest round-robin over defect types."""
    remaining = sorted((r for r in records if r["instances"]), key=lambda r: r["name"])
    picked: list[dict] = []
    shown: set[str] = set()
    types: set[str] = set()
    while len(picked) < n and remaining:
        best = max(remaining, key=lambda r: (len(_classes(r) - shown), r["defect"] not in types))
        if not _classes(best) - shown:
            break
        picked.append(best)
        remaining.remove(best)
        shown |= _classes(best)
        types.add(best["defect"])
    by_type: dict[str, list[dict]] = {}
    for r in remaining:
        by_type.setdefault(r["defect"], []).append(r)
    queues = [by_type[k] for k in sorted(by_type, key=lambda t: (t in types, t))]
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def _classes(record: dict) -> set[str]:
    return {inst["class"] for inst in record["instances"]}
