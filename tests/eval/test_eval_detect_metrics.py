"""Exact COCO AP on hand-built cases, the confusion matrix and the inspection view."""

from __future__ import annotations

import numpy as np
import pytest
from _yolo_fixtures import box_gt, det

from wood.errors import DataError, MisMatchError
from wood.eval.boxes import box_iou_xyxy
from wood.eval.coco_metrics import check_gt, coco_eval, confusion_matrix, image_level

A, B = [10, 10, 20, 20], [60, 60, 20, 20]


def test_perfect_predictions_give_ap_1():
    gt = box_gt([[(1, A), (1, B)], [(2, A)]], ["hole", "scratch"])
    res = coco_eval(gt, [det(1, 1, A, 0.9), det(1, 1, B, 0.8), det(2, 2, A, 0.7)])
    assert res["mAP50"] == 1.0 and res["mAP50-95"] == 1.0
    assert res["per_class"]["hole"] == {"AP50": 1.0, "AP50-95": 1.0, "instances": 2}


def test_one_of_two_instances_missed_gives_51_over_101():
    """COCO AP samples precision at 101 recall thresholds 0, 0.01, ..., 1.

    One exact detection of two instances: recall 0.5 at precision 1. Thresholds 0..0.50 (51 of
    them) get precision 1, thresholds 0.51..1 (50) get 0, so AP = 51/101 at every IoU threshold.
    """
    gt = box_gt([[(1, A), (1, B)]], ["hole"])
    res = coco_eval(gt, [det(1, 1, A, 0.9)])
    assert res["mAP50"] == pytest.approx(51 / 101, abs=1e-12)
    assert res["mAP50-95"] == pytest.approx(51 / 101, abs=1e-12)


def test_false_positive_ranked_first_halves_precision():
    """A wrong box scored above the right one: precision 1/2 at recall 1 for the single instance."""
    gt = box_gt([[(1, A)]], ["hole"])
    res = coco_eval(gt, [det(1, 1, B, 0.9), det(1, 1, A, 0.8)])
    assert res["mAP50"] == pytest.approx(0.5, abs=1e-12)


def test_empty_predictions_give_zero_not_indexerror():
    gt = box_gt([[(1, A)]], ["hole", "scratch"])
    res = coco_eval(gt, [])
    assert res["mAP50"] == 0.0 and res["note"] == "no predictions"
    assert res["per_class"]["hole"]["AP50"] == 0.0
    assert res["per_class"]["scratch"]["AP50"] is None  # no instance of scratch in the split


def test_class_missing_from_split_is_none_and_left_out_of_the_mean():
    gt = box_gt([[(1, A)]], ["hole", "scratch"])
    res = coco_eval(gt, [det(1, 1, A, 0.9), det(1, 2, B, 0.9)])
    assert res["per_class"]["scratch"] == {"AP50": None, "AP50-95": None, "instances": 0}
    assert res["mAP50"] == pytest.approx(1.0, abs=1e-12)  # the scratch false positive has no class AP to lower


def test_split_without_ground_truth_gives_none():
    gt = box_gt([[]], ["hole"])
    res = coco_eval(gt, [det(1, 1, A, 0.9)])
    assert res["mAP50"] is None and "no ground-truth" in res["note"]


def test_segm_rle_perfect_is_1():
    from pycocotools import mask as mask_utils

    m = np.zeros((100, 100), np.uint8)
    m[20:40, 30:70] = 1
    m[25:30, 40:50] = 0  # a hole: RLE, not a polygon
    rle = mask_utils.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode()
    gt = box_gt([[(1, [30, 20, 40, 20])]], ["hole"])
    gt["annotations"][0].update(segmentation=rle, area=float(mask_utils.area(rle)))
    res = coco_eval(gt, [{"image_id": 1, "category_id": 1, "segmentation": rle, "score": 0.9}], "segm")
    assert res["mAP50-95"] == pytest.approx(1.0, abs=1e-12)


def test_annotation_id_zero_is_refused():
    gt = box_gt([[(1, A)]], ["hole"])
    gt["annotations"][0]["id"] = 0
    with pytest.raises(DataError, match="start at 1"):
        check_gt(gt)


def test_confusion_matrix_counts_confusions_misses_and_false_alarms():
    gt = box_gt([[(1, A), (2, B)], [(1, A)]], ["hole", "scratch"])
    preds = [det(1, 1, A, 0.9), det(1, 1, B, 0.8), det(2, 2, B, 0.9), det(2, 1, A, 0.1)]
    matrix, names = confusion_matrix(gt, preds, conf=0.25)
    assert names == ["hole", "scratch", "background"]
    # rows true, columns predicted: hole->hole, scratch->hole, image 2: hole missed, false scratch
    assert matrix.tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_image_level_recall_and_false_alarms():
    defective = {1: True, 2: True, 3: False, 4: False}
    out = image_level(defective, {1: 0.9, 2: 0.1, 3: 0.5}, conf=0.25)
    assert out["defect_recall"] == 0.5 and out["false_alarm_rate"] == 0.5
    assert image_level({1: True}, {}, 0.25)["false_alarm_rate"] is None


def test_box_iou():
    assert box_iou_xyxy([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(1 / 3)


def test_model_and_dataset_classes_must_match():
    from wood.eval.detect.evaluate import check_classes

    gt = box_gt([[(1, A)]], ["hole", "scratch"])
    assert check_classes(["hole", "scratch"], gt, "x.json") == ["hole", "scratch"]
    with pytest.raises(MisMatchError, match="trained on classes"):
        check_classes(["color", "hole"], gt, "x.json")
