"""Overlay PNGs of the written annotation (mask fill, box, class name) for checking by eye."""

from __future__ import annotations

import cv2
import numpy as np

from wood.dataset_config import DatasetConfig
from wood.prep.coco_masks import segmentation_to_mask

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
        origin = (x0, max(y0 - 3, int(12 * scale)))
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return canvas


def pick_preview_records(records: list[dict], n: int) -> list[dict]:
    """Up to ``n`` records, taken round-robin over defect types so every type is shown."""
    by_type: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: r["name"]):
        if r["instances"]:
            by_type.setdefault(r["defect"], []).append(r)
    picked: list[dict] = []
    queues = [by_type[k] for k in sorted(by_type)]
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked
