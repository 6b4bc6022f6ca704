"""Binarised mask -> instances: one per 8-connected component, with box, area and shape.

Pure functions on arrays; no file I/O. Coordinates:
- ``bbox_xyxy`` is in pixel-edge coordinates: the component covers x0 <= x < x1, y0 <= y < y1.
- COCO polygons are lists of pixel corners in XY order; YOLO-seg polygons go through pixel
  centres (see prep/formats/polygons.py for why each reader needs its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from wood.prep.formats.coco_masks import encode_rle
from wood.prep.formats.polygons import centre_ring, edge_rings, ring_to_flat

CONNECTIVITY = 8
"""Pixels touching at a corner belong to the same defect (a thin diagonal scratch stays one)."""


@dataclass
class Instance:
    """One connected component of a defect mask."""

    bbox_xyxy: tuple[int, int, int, int]
    area: int
    outer: list[float]
    """Outer ring as a flat [x1, y1, ...] polygon on pixel corners, full-image coordinates (COCO)."""
    centre: list[float] = field(default_factory=list)
    """Outer boundary through pixel centres, flat, full-image coordinates (YOLO-seg; holes filled)."""
    holes: list[list[float]] = field(default_factory=list)
    rle: dict | None = None
    """COCO RLE (counts as str) of the component, set only when it has holes."""

    @property
    def has_hole(self) -> bool:
        return bool(self.holes)

    def coco_segmentation(self) -> list[list[float]] | dict:
        """Polygon where exact, RLE where the component has a hole (COCO polygons cannot)."""
        return self.rle if self.rle is not None else [self.outer]

    def annotation(self) -> dict:
        """The record fields of this instance that prep's writers read (COCO, YOLO, YOLO-seg)."""
        return {
            "bbox_xyxy": list(self.bbox_xyxy),
            "area": self.area,
            "has_hole": self.has_hole,
            "segmentation": self.coco_segmentation(),
            "outer": self.outer,
            "centre": self.centre,
        }

    def bbox_xywh(self) -> list[int]:
        x0, y0, x1, y1 = self.bbox_xyxy
        return [x0, y0, x1 - x0, y1 - y0]


def find_instances(mask: np.ndarray, min_area: int = 1) -> tuple[list[Instance], int]:
    """Split a binarised mask into instances.

    Args:
        mask: (H, W) bool array.
        min_area: components with fewer pixels are left out.

    Returns:
        (instances, dropped): instances sorted by (y0, x0), and how many components were
        below ``min_area``.
    """
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be a 2D bool array with shape (H, W), but got {mask.dtype} {mask.shape}")
    instances: list[Instance] = []
    dropped = 0
    mask_u8 = mask.view(np.uint8)
    # label only the bounding box of all defect pixels: masks are mostly background
    bx, by, bw, bh = cv2.boundingRect(mask_u8)
    if bw == 0 or bh == 0:
        return instances, dropped
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(mask_u8[by : by + bh, bx : bx + bw]), connectivity=CONNECTIVITY
    )
    for k in range(1, count):
        cx, cy, w, h, area = (int(v) for v in stats[k])
        x, y = bx + cx, by + cy
        if area < min_area:
            dropped += 1
            continue
        crop = labels[cy : cy + h, cx : cx + w] == k
        outer, holes = edge_rings(crop)
        inst = Instance(
            bbox_xyxy=(x, y, x + w, y + h),
            area=area,
            outer=ring_to_flat(outer, (x, y)),
            centre=ring_to_flat(centre_ring(crop), (x, y)),
            holes=[ring_to_flat(r, (x, y)) for r in holes],
        )
        if inst.holes:
            full = np.zeros(mask.shape, bool)
            full[y : y + h, x : x + w] = crop
            inst.rle = encode_rle(full)
        instances.append(inst)
    instances.sort(key=lambda i: (i.bbox_xyxy[1], i.bbox_xyxy[0]))
    return instances, dropped
