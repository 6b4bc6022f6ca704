"""prep/importers/masks.py: one imported annotation -> its (H, W) mask, the way its tool rasterises it, and the
defect type of an image from its annotations' categories."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from wood.errors import DataError
from wood.prep.importers.masks import annotation_mask, image_defect


def rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_coco_edge_polygon_flat_or_nested_is_exact():
    poly = [2, 1, 6, 1, 6, 4, 2, 4]  # pixel edges: columns 2..5, rows 1..3
    for segmentation in (poly, [poly]):
        mask = annotation_mask({"id": 1, "segmentation": segmentation}, 6, 8, "a.json", False)
        assert np.array_equal(mask, rect(6, 8, 2, 1, 6, 4))


def test_coco_rle_is_decoded():
    want = rect(5, 7, 1, 1, 4, 3)
    rle = mask_utils.encode(np.asfortranarray(want.astype(np.uint8)))
    ann = {"id": 2, "segmentation": {"size": [5, 7], "counts": rle["counts"].decode()}}
    assert np.array_equal(annotation_mask(ann, 5, 7, "a.json", False), want)


def test_box_only_is_refused_unless_box_masks():
    ann = {"id": 3, "bbox": [1, 1, 2, 3]}
    with pytest.raises(DataError, match="a.json: annotation 3: has a box but no mask"):
        annotation_mask(ann, 6, 6, "a.json", False)
    assert np.array_equal(annotation_mask(ann, 6, 6, "a.json", True), rect(6, 6, 1, 1, 3, 4))
    with pytest.raises(DataError, match="has neither a segmentation nor a bbox"):
        annotation_mask({"id": 4, "segmentation": []}, 6, 6, "a.json", True)


def test_yolo_box_and_polygon():
    box = {"id": "labels/a.txt line 1", "yolo": [0.5, 0.5, 0.5, 0.5]}  # centre, w, h normalised
    with pytest.raises(DataError, match="has a box but no mask"):
        annotation_mask(box, 8, 8, "a", False)
    assert np.array_equal(annotation_mask(box, 8, 8, "a", True), rect(8, 8, 2, 2, 6, 6))
    # through pixel centres 2.5 .. 5.5 (what prep writes): truncated to 2..5 and filled inclusive, as Ultralytics
    poly = {"id": 5, "yolo": [2.5 / 8, 2.5 / 8, 5.5 / 8, 2.5 / 8, 5.5 / 8, 5.5 / 8, 2.5 / 8, 5.5 / 8]}
    assert np.array_equal(annotation_mask(poly, 8, 8, "a", False), rect(8, 8, 2, 2, 6, 6))


def test_image_defect():
    assert image_defect(["hole", "hole"], "a.png", None) == "hole"
    assert image_defect(["hole", "scratch"], "a.png", "combined") == "combined"
    with pytest.raises(DataError, match=r"a.png: annotations of 2 categories \(hole, scratch\)"):
        image_defect(["scratch", "hole"], "a.png", None)
