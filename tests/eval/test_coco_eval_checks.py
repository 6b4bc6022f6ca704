"""coco_eval refuses results it cannot score, and reports AP by object size (APs, APm)."""

from __future__ import annotations

import pytest
from _yolo_fixtures import box_gt, det

from wood.errors import MisMatchError
from wood.eval.coco_metrics import coco_eval


def test_results_with_an_unknown_image_id_are_refused_by_name():
    gt = box_gt([[(1, [10, 10, 20, 20])]], ["knot"])
    results = [det(1, 1, [10, 10, 20, 20], 0.9), det(7, 1, [10, 10, 20, 20], 0.8)]
    with pytest.raises(MisMatchError, match=r"image ids \[7\]"):
        coco_eval(gt, results)


def test_results_with_an_unknown_category_id_are_refused_by_name():
    gt = box_gt([[(1, [10, 10, 20, 20])]], ["knot"])
    with pytest.raises(MisMatchError, match=r"category ids \[3\]"):
        coco_eval(gt, [det(1, 3, [10, 10, 20, 20], 0.9)])


def test_small_and_medium_ap_beside_the_mean():
    gt = box_gt([[(1, [0, 0, 10, 10]), (1, [40, 40, 50, 50])]], ["knot"])  # 100 px small, 2500 px medium
    res = coco_eval(gt, [det(1, 1, [0, 0, 10, 10], 0.9)])
    assert res["APs"] == pytest.approx(1.0) and res["APm"] == pytest.approx(0.0)
    only_small = box_gt([[(1, [0, 0, 10, 10])]], ["knot"])
    res = coco_eval(only_small, [det(1, 1, [0, 0, 10, 10], 0.9)])
    assert res["APs"] == pytest.approx(1.0) and res["APm"] is None
    assert coco_eval(only_small, [])["APs"] == 0.0 and coco_eval(only_small, [])["APm"] is None


def test_eval_detect_markdown_shows_aps_and_apm():
    from wood.eval.detect.text import format_summary, markdown

    gt = box_gt([[(1, [0, 0, 10, 10]), (1, [40, 40, 50, 50])]], ["knot"])
    bbox = coco_eval(gt, [det(1, 1, [0, 0, 10, 10], 0.9)])
    result = {
        "split": "test",
        "images": 1,
        "instances": 2,
        "weights": "best.pt",
        "imgsz": 64,
        "task": "detect",
        "comparison": {},
        "coco": {"bbox": bbox},
        "inspection": {
            "conf": 0.25,
            "defective_images": 1,
            "good_images": 0,
            "defect_recall": 1.0,
            "false_alarm_rate": None,
            "defect_recall_by_type": {},
        },
        "notes": [],
        "files": {"json": "eval/eval_detect.json"},
    }
    assert "| kind | mAP50 | mAP50-95 | APs | APm |" in markdown(result)
    assert f"| bbox | {bbox['mAP50']:.4f} | {bbox['mAP50-95']:.4f} | 1.0000 | 0.0000 |" in markdown(result)
    assert "bbox APs 1.0000  APm 0.0000" in format_summary(result)
