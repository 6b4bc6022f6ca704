"""wood.eval.detections: construction checks (exact messages), from Ultralytics and sahi, and the COCO
results written from them read back by pycocotools."""

from __future__ import annotations

import contextlib
import inspect
import io
import json

import numpy as np
import pytest

from wood.eval.coco_results import detection_results, segm_results
from wood.eval.detections import COCO_MIN_CONF, Detections

BOXES = np.array([[1, 2, 11, 12], [20, 20, 30, 28], [4, 4, 8, 8]], np.float32)
SCORES = np.array([0.9, 0.5, 0.7], np.float32)
CLASSES = np.array([0, 1, 0])


def _masks(n: int = 3, h: int = 32, w: int = 40) -> np.ndarray:
    masks = np.zeros((n, h, w), bool)
    for k, (x0, y0, x1, y1) in enumerate(BOXES[:n].astype(int)):
        masks[k, y0:y1, x0:x1] = True
    return masks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": BOXES[0]}, "xyxy must be a 2D np.ndarray with shape (N, 4), but got shape (4,)"),
        ({"xyxy": np.zeros(3)}, "xyxy must be a 2D np.ndarray with shape (N, 4), but got shape (3,)"),
        ({"xyxy": BOXES[:, :3]}, "xyxy must be a 2D np.ndarray with shape (N, 4), but got shape (3, 3)"),
        ({"xyxy": BOXES.tolist()}, "xyxy must be a 2D np.ndarray with shape (N, 4), but got list"),
        ({"xyxy": BOXES.astype(int)}, f"xyxy must hold floats, but got dtype {BOXES.astype(int).dtype}"),
        ({"scores": SCORES[:2]}, "scores must be a 1D np.ndarray with shape (3,), but got shape (2,)"),
        ({"scores": SCORES[:, None]}, "scores must be a 1D np.ndarray with shape (3,), but got shape (3, 1)"),
        ({"scores": np.array([1, 0, 1])}, f"scores must hold floats, but got dtype {np.array([1]).dtype}"),
        ({"class_ids": CLASSES[:1]}, "class_ids must be a 1D np.ndarray with shape (3,), but got shape (1,)"),
        ({"class_ids": CLASSES.astype(np.float32)}, "class_ids must hold integers, but got dtype float32"),
        ({"masks": _masks()[:2]}, "masks must be a 3D np.ndarray with shape (3, H, W), but got shape (2, 32, 40)"),
        ({"masks": _masks()[0]}, "masks must be a 3D np.ndarray with shape (3, H, W), but got shape (32, 40)"),
        ({"masks": _masks().astype(np.uint8)}, "masks must hold bools, but got dtype uint8"),
    ],
)
def test_construction_says_what_was_expected_and_what_came(kwargs, message):
    fields = {"xyxy": BOXES, "scores": SCORES, "class_ids": CLASSES, "masks": None} | kwargs
    with pytest.raises(ValueError) as err:
        Detections(**fields)
    assert str(err.value) == message


def test_selection_keeps_boxes_scores_classes_and_masks_together():
    found = Detections(BOXES, SCORES, CLASSES, _masks())
    kept = found[found.scores >= 0.6]
    assert len(found) == 3 and len(kept) == 2
    assert kept.xyxy.tolist() == [[1, 2, 11, 12], [4, 4, 8, 8]] and kept.class_ids.tolist() == [0, 0]
    assert kept.masks.shape == (2, 32, 40) and kept.masks[1].sum() == 16
    assert kept.category_ids() == [1, 1] and found.category_ids() == [1, 2, 1]
    assert found.xyxy is BOXES  # kept as given: what is written is what the engine returned
    none = Detections.empty()
    assert len(none) == 0 and none.xyxy.shape == (0, 4) and none[none.scores > 0].masks is None


def _ultralytics_result(with_masks: bool):
    import torch

    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics.engine.results import Results

    rows = torch.tensor([[1.0, 2.0, 11.0, 12.0, 0.9, 1.0], [20.0, 20.0, 30.0, 28.0, 0.25, 0.0]])
    masks = None
    if with_masks:
        masks = torch.zeros(2, 32, 40)
        masks[0, 2:12, 1:11] = 0.8
        masks[1, 20:28, 20:30] = 0.4  # under the 0.5 threshold: an empty mask
    return Results(np.zeros((32, 40, 3), np.uint8), "a.png", {0: "hole", 1: "scratch"}, boxes=rows, masks=masks)


def test_from_ultralytics_reads_boxes_scores_classes_and_binarised_masks():
    found = Detections.from_ultralytics(_ultralytics_result(with_masks=True))
    assert found.xyxy.tolist() == [[1, 2, 11, 12], [20, 20, 30, 28]] and found.xyxy.dtype == np.float32
    assert found.scores.tolist() == pytest.approx([0.9, 0.25]) and found.scores.dtype == np.float32
    assert found.class_ids.tolist() == [1, 0] and found.class_ids.dtype.kind == "i"
    assert found.masks.dtype == bool and found.masks.shape == (2, 32, 40)
    assert found.masks[0].sum() == 100 and not found.masks[1].any()
    assert Detections.from_ultralytics(_ultralytics_result(with_masks=True), masks=False).masks is None
    assert Detections.from_ultralytics(_ultralytics_result(with_masks=False)).masks is None


def test_from_sahi_merges_slices_best_first_in_full_image_pixels():
    from sahi.prediction import ObjectPrediction

    def pred(box, score, cls, shift):  # a box in slice pixels, shifted as sahi does after its merge
        p = ObjectPrediction(box, cls, str(cls), score=score, shift_amount=shift, full_shape=[256, 256])
        return p.get_shifted_object_prediction()

    predictions = [
        pred([4, 4, 20, 20], 0.3, 0, [0, 0]),
        pred([10, 12, 30, 40], 0.8, 1, [128, 64]),  # from the slice at x 128, y 64
        pred([0, 0, 8, 8], 0.3, 1, [64, 0]),  # the same score as the first: sahi's order kept
        pred([1, 1, 2, 2], 0.05, 0, [0, 0]),
    ]
    merged = Detections.from_sahi(predictions, max_det=3)
    assert merged.xyxy.tolist() == [[138, 76, 158, 104], [4, 4, 20, 20], [64, 0, 72, 8]]
    assert merged.scores.tolist() == pytest.approx([0.8, 0.3, 0.3]) and merged.class_ids.tolist() == [1, 0, 1]
    assert (merged.xyxy.dtype, merged.scores.dtype, merged.class_ids.dtype) == (np.float32, np.float32, np.int64)
    assert merged.masks is None
    empty = Detections.from_sahi([], max_det=3)
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4)


def _coco_eval(gt: dict, results: list[dict], iou_type: str) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(json.loads(json.dumps(results))), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def test_coco_results_round_trip_through_pycocotools():
    from wood.prep.formats.coco_masks import encode_rle

    masks = _masks()
    anns = [
        {"id": k + 1, "image_id": 7, "category_id": int(c) + 1, "iscrowd": 0, "area": int(m.sum())}
        | {"bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "segmentation": encode_rle(m)}
        for k, ((x0, y0, x1, y1), c, m) in enumerate(zip(BOXES.tolist(), CLASSES, masks, strict=True))
    ]
    gt = {
        "images": [{"id": 7, "file_name": "a.png", "height": 32, "width": 40}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "hole"}, {"id": 2, "name": "scratch"}],
    }
    found = Detections(BOXES, SCORES, CLASSES, masks)
    boxes = detection_results(7, found, score_digits=5, with_masks=False)
    assert boxes[1] == {"image_id": 7, "category_id": 2, "bbox": [20.0, 20.0, 10.0, 8.0], "score": 0.5}
    assert _coco_eval(gt, boxes, "bbox") == pytest.approx(1.0)
    inline = detection_results(7, found)  # wood predict's: each box with its mask
    assert [r["score"] for r in inline] == SCORES.tolist() and all("segmentation" in r for r in inline)
    assert _coco_eval(gt, inline, "segm") == pytest.approx(1.0)
    segm = segm_results(7, found, score_digits=5)
    assert list(segm[0]) == ["image_id", "category_id", "segmentation", "score"]
    assert _coco_eval(gt, segm, "segm") == pytest.approx(1.0)
    assert segm_results(7, Detections(BOXES, SCORES, CLASSES)) == []


def test_the_cli_help_states_the_coco_score_floor():
    from wood.cli.commands.sam import eval_segment
    from wood.cli.commands.yolo import eval_detect

    detect_help = inspect.signature(eval_detect).parameters["conf"].default.help
    segment_help = inspect.signature(eval_segment).parameters["conf"].default.help
    assert f"scores >= {COCO_MIN_CONF})" in detect_help and f"every box >= {COCO_MIN_CONF})" in segment_help
