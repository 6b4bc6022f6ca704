"""One anomaly scale for detection, segmentation and classification runs (wood.eval.anomaly.scale)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from wood.eval.anomaly.scale import box_map, coco_scale, image_scale, mask_map


def test_box_and_mask_maps_take_the_highest_covering_score():
    m = box_map((4, 6), [[0, 0, 3, 2], [2, 1, 2, 3]], [0.5, 0.8])
    assert m[0, 0] == pytest.approx(0.5) and m[1, 2] == pytest.approx(0.8) and m[3, 3] == pytest.approx(0.8)
    assert m[0, 5] == 0 and m[3, 0] == 0
    masks = np.zeros((2, 3, 3), bool)
    masks[0, 0, :2] = masks[1, 0, 1:] = True
    np.testing.assert_allclose(mask_map((3, 3), masks, [0.9, 0.4])[0], [0.9, 0.9, 0.4])


def test_coco_scale_of_a_detector():
    gt = {
        "images": [
            {"id": 1, "file_name": "hole_000.png", "height": 8, "width": 8},
            {"id": 2, "file_name": "good_000.png", "height": 8, "width": 8},
            {"id": 3, "file_name": "good_001.png", "height": 8, "width": 8},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [2, 2, 2, 2],
                "segmentation": [[2, 2, 4, 2, 4, 4, 2, 4]],
                "area": 4,
                "iscrowd": 0,
            }
        ],
    }
    manifest = {
        "hole_000.png": {"defect": "hole"},
        "good_000.png": {"defect": "good"},
        "good_001.png": {"defect": "good"},
    }
    boxes = [
        {"image_id": 1, "bbox": [2, 2, 2, 2], "score": 0.7},
        {"image_id": 2, "bbox": [0, 0, 1, 1], "score": 0.3},
    ]
    s = coco_scale(gt, manifest, boxes)
    assert s["image_auroc"] == pytest.approx(1.0) and s["anomalous"] == 1 and s["images"] == 3
    assert s["pixel_auroc"] == pytest.approx(1.0) and s["aupro"] == pytest.approx(1.0)
    boxes[1]["score"] = 0.9  # a false alarm scored above the defect
    s = coco_scale(gt, manifest, boxes)
    assert s["image_auroc"] == pytest.approx(roc_auc_score([1, 0, 0], [0.7, 0.9, 0.0]))
    assert s["pixel_auroc"] < 1.0


def test_image_scale_degenerate_is_none():
    assert image_scale([0, 0], [0.1, 0.2], "x")["image_auroc"] is None
    assert image_scale([1, 0], [0.1, 0.2], "x")["image_auroc"] == pytest.approx(0.0)
