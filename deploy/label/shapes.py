"""A predicted mask as each format holds it: COCO polygons where they are exact, RLE where not; YOLO lines.

COCO polygons follow pixel EDGES (wood.prep.formats.polygons.edge_rings), so pycocotools, datumaro and CVAT
rasterise them back to exactly the mask's pixels; a polygon cannot hold a hole (COCO unions the rings),
so a mask with a hole in any component is written as RLE. YOLO-seg polygons go through pixel CENTRES
(what Ultralytics reads back exactly), one line per connected component (holes filled: YOLO-seg has none).
Pure functions on arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wood.prep.formats.coco_masks import encode_rle
from wood.prep.formats.convert import yolo_box_line, yolo_seg_line
from wood.prep.instances import find_instances


def mask_bbox_xyxy(mask: np.ndarray) -> list[int]:
    """Pixel-edge XYXY box of a non-empty (H, W) bool mask."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def coco_segmentation(mask: np.ndarray) -> tuple[list[list[float]] | dict[str, Any], bool]:
    """(segmentation, is_rle): edge polygons, one ring per 8-connected component, when no component has a
    hole (exact); else the mask's RLE (``counts`` a str)."""
    instances, _ = find_instances(mask, min_area=1)
    if not instances or any(i.has_hole for i in instances):
        return encode_rle(mask), True
    return [i.outer for i in instances], False


def yolo_seg_lines(class_id: int, mask: np.ndarray) -> list[str]:
    """YOLO-seg lines of a mask: one per connected component, through pixel centres, normalised."""
    h, w = mask.shape
    instances, _ = find_instances(mask, min_area=1)
    return [yolo_seg_line(class_id, i.centre, w, h) for i in instances]


def yolo_box(class_id: int, box_xyxy: list[float], width: int, height: int) -> str:
    return yolo_box_line(class_id, box_xyxy, width, height)


def box_mask(box_xyxy: list[float], height: int, width: int) -> np.ndarray:
    """The (H, W) bool mask of the pixels whose centre lies inside a pixel-edge XYXY box."""
    x0, y0, x1, y1 = box_xyxy
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    return (ys[:, None] >= y0) & (ys[:, None] < y1) & (xs[None] >= x0) & (xs[None] < x1)
