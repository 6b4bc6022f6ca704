"""Heat-map overlays for `wood eval anomaly`: the anomaly map in colour (cv2 JET) over the image, half and
half, the ground-truth outline in green. Every overlay of one evaluation shares one colour scale, from the
lowest map value of the split (blue) to its highest image score (red), so overlays compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GREEN = (0, 255, 0)


def overlay(rgb: np.ndarray, amap: np.ndarray, mask: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """BGR uint8 image: ``amap`` (same H, W as ``rgb``) coloured on [lo, hi], blended, GT outlined."""
    import cv2

    scaled = np.clip((amap - lo) / max(hi - lo, 1e-12), 0, 1)
    heat = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    out = cv2.addWeighted(bgr, 0.5, heat, 0.5, 0)
    if mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, GREEN, max(1, rgb.shape[0] // 256))
    return out


def write_overlay(path: Path, rgb: np.ndarray, amap: np.ndarray, mask: np.ndarray, lo: float, hi: float) -> None:
    import cv2

    ok, data = cv2.imencode(".png", overlay(rgb, amap, mask, lo, hi))
    if not ok:
        raise OSError(f"cannot encode overlay {path}")
    path.write_bytes(data.tobytes())
