"""COCO results files (predict, eval segment) load in pycocotools and faster-coco-eval; eval segment
scores mask mAP at conf 0.001 with a detector and calls images good from the manifest."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from _sam_fixtures import make_prep_dataset

from wood.eval.coco_results import detection_results, images_table, mask_results
from wood.eval.detections import Detections
from wood.eval.segment.scores import ImageResult, SegmentScorer, keep_confident


def _gt(masks_per_image: list[list[np.ndarray]]) -> dict:
    from wood.prep.formats.coco_masks import encode_rle

    images, anns = [], []
    for i, masks in enumerate(masks_per_image, 1):
        images.append({"id": i, "file_name": f"{i}.png", "height": 32, "width": 32})
        for m in masks:
            ys, xs = np.nonzero(m)
            box = [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
            anns.append(
                {"id": len(anns) + 1, "image_id": i, "category_id": 1, "iscrowd": 0, "bbox": box}
                | {"area": int(m.sum()), "segmentation": encode_rle(m)}
            )
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "knot"}]}


def _mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((32, 32), bool)
    m[y0:y1, x0:x1] = True
    return m


def load_both(gt: dict, results: list[dict], iou_type: str) -> list[float]:
    """mAP50-95 of ``results`` read by pycocotools' loadRes and by faster-coco-eval's (when installed)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    readers = [(COCO, COCOeval)]
    with contextlib.suppress(ImportError):
        from faster_coco_eval import COCO as FCOCO
        from faster_coco_eval import COCOeval_faster

        readers.append((FCOCO, COCOeval_faster))
    aps = []
    for coco_cls, eval_cls in readers:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = coco_cls()
            coco_gt.dataset = copy.deepcopy(gt)
            coco_gt.createIndex()
            dt = coco_gt.loadRes(json.loads(json.dumps(results)))  # through JSON, as a file is read
            ev = eval_cls(coco_gt, dt, iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        aps.append(float(ev.stats[0]))
    return aps


def test_detection_and_mask_results_load_in_pycocotools_and_faster_coco_eval():
    gt = _gt([[_mask(2, 2, 12, 12)], [_mask(10, 5, 30, 20)]])
    masks = np.stack([_mask(2, 2, 12, 12)])
    first = Detections(np.array([[2, 2, 12, 12]], float), np.array([0.9]), np.array([0]), masks)
    second = Detections(np.array([[10, 5, 30, 20]], float), np.array([0.8]), np.array([0]))
    det = detection_results(1, first) + detection_results(2, second)
    assert det[0]["bbox"] == [2.0, 2.0, 10.0, 10.0] and det[0]["category_id"] == 1
    assert isinstance(det[0]["segmentation"]["counts"], str) and "segmentation" not in det[1]
    assert load_both(gt, det, "bbox") == pytest.approx([1.0] * len(load_both(gt, det, "bbox")))
    segm = mask_results(1, masks, [1], [0.9]) + mask_results(2, np.stack([_mask(10, 5, 30, 20)]), [1], [0.8])
    assert segm[1]["bbox"] == [10.0, 5.0, 20.0, 15.0] and isinstance(segm[1]["segmentation"]["counts"], str)
    aps = load_both(gt, segm, "segm")
    assert aps == pytest.approx([1.0] * len(aps))


def test_faster_coco_eval_reads_the_results():
    gt = _gt([[_mask(2, 2, 12, 12)]])
    assert len(load_both(gt, mask_results(1, np.stack([_mask(2, 2, 12, 12)]), [1], [0.9]), "segm")) == 2


def test_images_table_numbers_files_from_1_in_order():
    table = images_table(
        [{"file": "b.png", "width": 4, "height": 3}, {"file": "a.png", "width": 5, "height": 6}], ["knot", "crack"]
    )
    assert table["images"] == [
        {"id": 1, "file_name": "b.png", "width": 4, "height": 3},
        {"id": 2, "file_name": "a.png", "width": 5, "height": 6},
    ]
    assert table["categories"] == [{"id": 1, "name": "knot"}, {"id": 2, "name": "crack"}]


def test_keep_confident_drops_low_detector_scores_only_for_the_view():
    masks = np.stack([_mask(0, 0, 4, 4), _mask(8, 8, 12, 12)])
    r = ImageResult(1, "a.png", np.zeros((0, 32, 32), bool), [], masks, [1, 1], [0.6, 0.05])
    boxes = np.array([[0, 0, 4, 4], [8, 8, 12, 12]], np.float32)
    kept, kept_boxes = keep_confident(r, boxes, [0.7, 0.1], 0.25)
    assert kept.pred_classes == [1] and kept.pred_scores == [0.6] and len(kept.pred_masks) == 1
    assert kept_boxes.tolist() == [[0, 0, 4, 4]] and len(r.pred_masks) == 2
    assert keep_confident(r, boxes, [0.7, 0.1], None)[0] is r


def test_a_defective_image_without_instances_is_not_good():
    empty = np.zeros((0, 32, 32), bool)
    scorer = SegmentScorer({1: "knot"})
    scorer.add(ImageResult(1, "min_area.png", empty, [], empty, [], defect="knot"))
    scorer.add(ImageResult(2, "good.png", empty, [], empty, [], defect="good"))
    scorer.add(ImageResult(3, "no_manifest.png", empty, [], empty, []))
    summary = scorer.summary()
    assert summary["pixel"]["good_images"] == 2
    assert [p["classes"] for p in summary["per_image"]] == [[], ["good"], ["good"]]
    assert summary["per_image"][0]["defect"] == "knot"


class _Arr:
    def __init__(self, a):
        self.a = np.asarray(a)

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def test_predict_writes_coco_results_beside_predictions_json(tmp_path, monkeypatch):
    """predict's wiring with a stand-in segment model: one box + mask per image."""
    import wood.deploy.predict as pred

    for name in ("b.png", "a.png"):
        cv2.imwrite(str(tmp_path / name), np.full((32, 40, 3), 120, np.uint8))
    mask = np.zeros((1, 32, 40), np.float32)
    mask[0, 4:10, 6:16] = 1
    result = SimpleNamespace(
        # float boxes and float class ids, as Ultralytics' Boxes give them
        boxes=SimpleNamespace(xyxy=_Arr([[6.0, 4.0, 16.0, 10.0]]), conf=_Arr([0.9]), cls=_Arr([1.0])),
        masks=SimpleNamespace(data=_Arr(mask)),
    )
    model = SimpleNamespace(names={0: "knot", 1: "crack"}, predict=lambda *a, **k: [result])
    run = SimpleNamespace(run_dir=None, weights=tmp_path / "best.pt", imgsz=32, data=None, info={})
    monkeypatch.setattr(pred, "read_run", lambda run_dir, weights: run)
    monkeypatch.setattr(pred, "load_yolo", lambda weights, device: model)
    out_json = pred.predict_images(None, [tmp_path / "b.png", tmp_path / "a.png"], out=tmp_path / "out")
    coco = json.loads((tmp_path / "out" / "predictions_coco.json").read_text())
    table = json.loads((tmp_path / "out" / "predictions_coco_images.json").read_text())
    files = [Path(r["file"]).name for r in json.loads(out_json.read_text())["images"]]
    assert [Path(im["file_name"]).name for im in table["images"]] == files == ["b.png", "a.png"]
    assert [r["image_id"] for r in coco] == [1, 2] and {r["category_id"] for r in coco} == {2}
    assert coco[0]["bbox"] == [6.0, 4.0, 10.0, 6.0] and isinstance(coco[0]["segmentation"]["counts"], str)
    gt = {"images": table["images"], "categories": table["categories"], "annotations": []}
    for k, im in enumerate(table["images"], 1):
        ann = {"id": k, "image_id": im["id"], "category_id": 2, "iscrowd": 0, "bbox": [6, 4, 10, 6], "area": 60}
        gt["annotations"].append(ann | {"segmentation": coco[0]["segmentation"]})
    assert load_both(gt, coco, "segm")[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    """A 1-step SAM tiny run on a prep whose scratch image lost its instance (as `--min-area` does), with a
    manifest that still calls it scratch."""
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import train

    root = tmp_path_factory.mktemp("samcoco")
    prep = make_prep_dataset(root / "prep", size=64, counts={"train": (1, 0), "test": (1, 1)})
    test_json = prep / "coco" / "test.json"
    gt = json.loads(test_json.read_text())
    scratch = next(im["id"] for im in gt["images"] if im["file_name"].startswith("scratch"))
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] != scratch]
    test_json.write_text(json.dumps(gt))
    names = [im["file_name"] for im in gt["images"]]
    manifest = {"images": [{"name": n, "split": "test", "defect": n.split("_")[0]} for n in names]}
    (prep / "manifest.json").write_text(json.dumps(manifest))
    cfg = SamTrainConfig(
        data=str(prep), model="tiny", imgsz=64, epochs=1, max_steps=1, out=str(root / "runs"), device="cpu"
    )
    return train(cfg), prep


@pytest.fixture
def fake_detector(monkeypatch):
    """`eval segment`'s detector replaced by two fixed boxes (scores 0.7 and 0.1); returns the confidence it was
    built with (``seen["conf"]``)."""
    import wood.eval.segment.evaluate as seg

    seen = {}

    def fake_predictor(yolo_run, categories, device, conf):
        seen["conf"] = conf
        boxes = np.array([[0, 0, 32, 32], [16, 16, 64, 64]], np.float32)
        return lambda rgb: Detections(boxes, np.array([0.7, 0.1]), np.array([0, 1]))

    monkeypatch.setattr(seg, "yolo_predictor", fake_predictor)
    return seen


@pytest.mark.slow
def test_eval_segment_scores_map_at_0001_views_at_conf_and_writes_coco(tiny_sam, tmp_path, fake_detector):
    import wood.eval.segment.evaluate as seg

    run, prep = tiny_sam
    seen = fake_detector
    out = seg.evaluate(run, "test", boxes="yolo-run", out=tmp_path / "ev", overlays=0, device="cpu")
    assert seen["conf"] == 0.001 and out["map_conf"] == 0.001 and out["conf"] == 0.25
    assert all(p["n_pred"] == 1 for p in out["per_image"])  # the 0.1 box is left out of the view
    results = json.loads((tmp_path / "ev" / "predictions_segm.json").read_text())
    assert len(results) == 2 * 4 and {r["category_id"] for r in results} == {1, 2}  # ... but scored
    assert out["pixel"]["good_images"] == 1  # the scratch image without instances is not good
    gt = json.loads((prep / "coco" / "test.json").read_text())
    load_both(gt, results, "segm")


@pytest.mark.slow
def test_eval_segment_map_conf_sets_the_detector_floor_and_says_so(tiny_sam, tmp_path, fake_detector):
    import wood.eval.segment.evaluate as seg

    run, _ = tiny_sam
    seen = fake_detector
    out = seg.evaluate(run, "test", boxes="yolo-run", out=tmp_path / "ev", overlays=0, device="cpu", map_conf=0.05)
    assert seen["conf"] == 0.05 and out["map_conf"] == 0.05 and out["conf"] == 0.25
    assert "confidence >= 0.05 (above COCO's 0.001: a truncated PR curve" in out["notes"][0]
    default = seg.evaluate(run, "test", boxes="yolo-run", out=tmp_path / "ev2", overlays=0, device="cpu")
    assert "confidence >= 0.001 (COCO's protocol, as eval detect)" in default["notes"][0]
