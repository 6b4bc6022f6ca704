"""deploy/label/shapes.py: a predicted mask as COCO (exact edge polygons, RLE where a hole makes polygons wrong)
and YOLO lines, checked by rasterising the COCO result back with pycocotools."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from wood.deploy.label.shapes import box_mask, coco_segmentation, mask_bbox_xyxy, yolo_box, yolo_seg_lines
from wood.eval.mask_metrics import iou as mask_iou


def rasterise(segmentation, is_rle: bool, h: int, w: int) -> np.ndarray:
    rle = segmentation if is_rle else mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
    if is_rle:
        rle = {"size": rle["size"], "counts": rle["counts"].encode()}
    return mask_utils.decode(rle).astype(bool)


def test_mask_bbox_is_pixel_edges():
    mask = np.zeros((8, 10), bool)
    mask[2:5, 3:7] = True
    assert mask_bbox_xyxy(mask) == [3, 2, 7, 5]


def test_two_blobs_are_two_exact_polygons():
    mask = np.zeros((12, 12), bool)
    mask[1:4, 1:5] = True
    mask[7:11, 6:9] = True
    seg, is_rle = coco_segmentation(mask)
    assert not is_rle and len(seg) == 2
    assert np.array_equal(rasterise(seg, False, 12, 12), mask)


def test_a_mask_with_a_hole_is_rle_and_exact():
    mask = np.zeros((9, 9), bool)
    mask[1:8, 1:8] = True
    mask[3:6, 3:6] = False  # a ring: a polygon would fill it
    seg, is_rle = coco_segmentation(mask)
    assert is_rle and isinstance(seg["counts"], str) and seg["size"] == [9, 9]
    assert np.array_equal(rasterise(seg, True, 9, 9), mask)


def test_yolo_seg_lines_one_per_component_normalised():
    mask = np.zeros((10, 20), bool)
    mask[0:2, 0:2] = True
    mask[6:9, 14:18] = True
    lines = yolo_seg_lines(3, mask)
    assert len(lines) == 2 and all(line.startswith("3 ") for line in lines)
    for line in lines:
        values = [float(v) for v in line.split()[1:]]
        assert len(values) % 2 == 0 and len(values) >= 6 and all(0.0 <= v <= 1.0 for v in values)
    xs = [float(v) for v in lines[0].split()[1::2]] + [float(v) for v in lines[1].split()[1::2]]
    assert min(xs) == 0.5 / 20 and max(xs) == 17.5 / 20  # through pixel centres


def test_yolo_box_line():
    assert yolo_box(1, [2, 4, 6, 8], 10, 20).split() == ["1", "0.400000", "0.300000", "0.400000", "0.200000"]


def test_box_mask_takes_pixels_whose_centre_is_inside():
    m = box_mask([1.0, 0.4, 3.6, 2.0], 4, 5)
    expected = np.zeros((4, 5), bool)
    expected[0:2, 1:4] = True  # centre rows 0.5, 1.5 in [0.4, 2.0); centre columns 1.5, 2.5, 3.5 in [1.0, 3.6)
    assert np.array_equal(m, expected)


def test_mask_iou_as_label_uses_it():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert mask_iou(a, b) == 1.0
    a[0, :2] = True
    b[0, 1:4] = True
    assert mask_iou(a, b) == 0.25
