"""One image's annotations -> its defect type and its (H, W) bool mask (the union of its annotations).

Crowd or not, polygons and RLE are rasterised as pycocotools does (the convention of COCO, CVAT and
datumaro: COCO edge polygons come back exact); YOLO-seg polygons as Ultralytics does (coordinates
truncated, ``cv2.fillPoly``; prep writes them through pixel centres). A box-only annotation (no
segmentation, or a YOLO box line) has no mask: it is refused, or with ``box_masks`` written as the pixels
whose centre lies inside the box.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from wood.errors import DataError
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.importers.rle import check_segmentation

BOX_ONLY = (
    "has a box but no mask (no segmentation); MVTec masks need masks: correct it in the labelling tool, or pass "
    "--box-masks to write each box as a filled rectangle mask"
)


def box_mask_xyxy(box: list[float], height: int, width: int) -> np.ndarray:
    """Pixels whose centre lies inside a pixel-edge XYXY box."""
    x0, y0, x1, y1 = box
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    return (ys[:, None] >= y0) & (ys[:, None] < y1) & (xs[None] >= x0) & (xs[None] < x1)


def annotation_mask(ann: dict[str, Any], height: int, width: int, where: str, box_masks: bool) -> np.ndarray:
    """The (H, W) bool mask of one COCO-like annotation (see the module doc)."""
    label = f"{where}: annotation {ann.get('id')}"
    if "yolo" in ann:
        coords = ann["yolo"]
        if len(coords) == 4:
            if not box_masks:
                raise DataError(f"annotation {BOX_ONLY}", ann["id"])
            cx, cy, w, h = coords[0] * width, coords[1] * height, coords[2] * width, coords[3] * height
            return box_mask_xyxy([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], height, width)
        points = (np.asarray(coords, np.float64).reshape(-1, 2) * [width, height]).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [points], 1)
        return mask.astype(bool)
    segmentation = ann.get("segmentation")
    if segmentation in (None, [], {}):
        bbox = ann.get("bbox")
        if not box_masks:
            raise DataError(BOX_ONLY, label)
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise DataError("has neither a segmentation nor a bbox [x, y, w, h]", label)
        x, y, w, h = (float(v) for v in bbox)
        return box_mask_xyxy([x, y, x + w, y + h], height, width)
    if isinstance(segmentation, list) and segmentation and not isinstance(segmentation[0], list):
        segmentation = [segmentation]  # one flat polygon, as some tools write it
    check_segmentation(segmentation, height, width, label)
    return segmentation_to_mask(segmentation, height, width, label)


def image_defect(names: list[str], file_name: str, mixed: str | None) -> str:
    """The defect type of an image whose annotations have the category ``names`` (MVTec: one per image)."""
    kinds = sorted(set(names))
    if len(kinds) == 1:
        return kinds[0]
    if mixed is not None:
        return mixed
    raise DataError(
        f"annotations of {len(kinds)} categories ({', '.join(kinds)}): an MVTec image has one defect type; "
        "relabel it, or pass --mixed NAME (e.g. combined) to file such images under that type",
        file_name,
    )
