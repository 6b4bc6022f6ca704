"""The overlay PNGs of `wood eval segment`: predictions filled red, GT contours green, prompt boxes yellow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wood.errors import DataError
from wood.eval.mask_metrics import union_of
from wood.eval.segment.scores import ImageResult


def draw_overlay(rgb: np.ndarray, r: ImageResult, boxes: np.ndarray) -> np.ndarray:
    """RGB overlay: predictions filled red (45%), GT contours green, prompt boxes yellow."""
    import cv2

    out = rgb.copy()
    pred = union_of(r.pred_masks, r.shape)
    out[pred] = (0.55 * out[pred] + 0.45 * np.array([255, 0, 0])).astype(np.uint8)
    thick = max(1, max(r.shape) // 256)
    for gt in r.gt_masks:
        contours, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), thick)
    for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4).round().astype(int):
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), (255, 255, 0), thick)
    return out


def _write_png(rgb: np.ndarray, path: Path) -> None:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError("cannot encode overlay PNG", path)
    path.write_bytes(buf.tobytes())
