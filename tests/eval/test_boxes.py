"""wood.eval.boxes: the IoU of XYXY pixel-edge boxes, on hand-built boxes with exact expected values."""

from __future__ import annotations

import numpy as np

from wood.eval.boxes import box_iou_xyxy


def test_iou_of_hand_built_boxes_is_exact():
    a = [[0, 0, 10, 10], [0, 0, 4, 4]]
    b = [
        [0, 0, 10, 10],  # the same box
        [5, 0, 15, 10],  # half of each: 50 / 150
        [2, 2, 6, 6],  # 4 x 4 inside the first, 2 x 2 of the second
        [10, 0, 20, 10],  # touches along an edge: no area in common
        [30, 30, 40, 40],  # far away
    ]
    ious = box_iou_xyxy(a, b)
    assert ious.shape == (2, 5) and ious.dtype == np.float64
    assert ious[0].tolist() == [1.0, 50 / 150, 16 / 100, 0.0, 0.0]
    assert ious[1].tolist() == [16 / 100, 0.0, 4 / 28, 0.0, 0.0]


def test_iou_is_symmetric_and_takes_float32_and_fractional_pixels():
    a = np.array([[0.5, 0.5, 2.5, 2.5]], np.float32)
    b = np.array([[1.5, 0.5, 3.5, 2.5]], np.float32)
    assert box_iou_xyxy(a, b)[0, 0] == 2 / 6 == box_iou_xyxy(b, a)[0, 0]


def test_boxes_without_area_and_empty_sets_give_zero_or_nothing():
    assert box_iou_xyxy([[3, 3, 3, 8]], [[3, 3, 3, 8]]).tolist() == [[0.0]]  # a line: no union, IoU 0
    assert box_iou_xyxy([[5, 5, 2, 2]], [[0, 0, 10, 10]]).tolist() == [[0.0]]  # inverted: no area
    assert box_iou_xyxy(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert box_iou_xyxy([[0, 0, 1, 1]], np.zeros((0, 4))).shape == (1, 0)
