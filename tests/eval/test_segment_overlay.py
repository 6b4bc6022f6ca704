"""eval/segment/overlay.py: the overlay `wood eval segment` writes: predictions filled red at 45%, ground-truth
outlines green, prompt boxes yellow, exact pixel colours."""

from __future__ import annotations

import numpy as np

from wood.eval.segment.overlay import draw_overlay
from wood.eval.segment.scores import ImageResult


def result(gt: np.ndarray, pred: np.ndarray) -> ImageResult:
    return ImageResult(
        image_id=1,
        file_name="a.png",
        gt_masks=gt,
        gt_classes=[1] * len(gt),
        pred_masks=pred,
        pred_classes=[1] * len(pred),
        pred_scores=[0.9] * len(pred),
    )


def masks(*boxes, shape=(16, 16)) -> np.ndarray:
    out = np.zeros((len(boxes), *shape), bool)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        out[k, y0:y1, x0:x1] = True
    return out


def test_overlay_colours():
    rgb = np.full((16, 16, 3), 100, np.uint8)
    r = result(masks((2, 2, 8, 8)), masks((4, 4, 6, 6)))
    out = draw_overlay(rgb, r, np.array([[10, 10, 14, 14]], np.float32))
    assert tuple(out[5, 5]) == (169, 55, 55)  # predicted: 0.55 * 100 + 0.45 * (255, 0, 0), truncated
    assert tuple(out[2, 2]) == (0, 255, 0) and tuple(out[7, 5]) == (0, 255, 0)  # GT outline
    assert tuple(out[3, 3]) == (100, 100, 100)  # inside GT, not predicted: untouched
    assert tuple(out[10, 10]) == (255, 255, 0) and tuple(out[13, 13]) == (255, 255, 0)  # box corners (x1 - 1)
    assert tuple(out[14, 14]) == (100, 100, 100) and tuple(out[12, 12]) == (100, 100, 100)  # outside, inside
    assert np.array_equal(rgb, np.full((16, 16, 3), 100, np.uint8))  # the input is not drawn on


def test_overlay_without_predictions_or_boxes_only_outlines():
    rgb = np.zeros((16, 16, 3), np.uint8)
    r = result(masks((2, 2, 8, 8)), np.zeros((0, 16, 16), bool))
    out = draw_overlay(rgb, r, np.zeros((0, 4)))
    assert set(map(tuple, out.reshape(-1, 3))) == {(0, 0, 0), (0, 255, 0)}
    assert int((out[..., 1] == 255).sum()) == 6 * 4 - 4  # the 6x6 square's border: 20 pixels
