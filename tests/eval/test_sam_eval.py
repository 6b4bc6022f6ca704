"""`wood eval segment`: exact metrics on hand-built masks, and the full path on a tiny SAM run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _sam_fixtures import make_prep_dataset

from wood.eval.detections import Detections
from wood.eval.mask_metrics import dice, iou, pixel_counts, precision_recall_f1, union_of
from wood.eval.segment.scores import ImageResult, SegmentScorer, rle_results

H = W = 20


def _box(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_mask_metrics_exact():
    gt = _box(0, 4, 0, 4)
    pred = _box(0, 4, 2, 6)
    assert pixel_counts(pred, gt) == (8, 8, 8)
    assert iou(pred, gt) == 8 / 24
    assert dice(pred, gt) == 0.5
    assert iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert precision_recall_f1(0, 0, 0) == {"precision": None, "recall": None, "f1": None}
    assert union_of(np.stack([gt, pred]), (H, W), [False, True]).sum() == 16
    with pytest.raises(ValueError, match="same shape"):
        iou(np.zeros((2, 2)), np.zeros((3, 3)))


def test_scorer_gives_exactly_known_iou():
    cats = {1: "color", 2: "hole", 3: "scratch"}
    s = SegmentScorer(cats)
    gt1, pred1 = _box(0, 10, 0, 10), _box(0, 10, 0, 5)  # IoU 50/100
    gt2, pred2 = _box(12, 16, 12, 16), _box(12, 16, 14, 18)  # IoU 8/24
    s.add(
        ImageResult(1, "a.png", np.stack([gt1, gt2]), [1, 2], np.stack([pred1, pred2]), [1, 2], [0.9, 0.8], paired=True)
    )
    alarm = _box(0, 2, 0, 5)  # 10 false-alarm pixels on a good image
    s.add(ImageResult(2, "good.png", np.zeros((0, H, W), bool), [], alarm[None], [1], [0.5]))
    out = s.summary()
    assert out["per_class"]["color"]["iou"] == 50 / 110
    assert out["per_class"]["hole"]["iou"] == 8 / 24
    assert out["per_class"]["hole"]["dice"] == 16 / 32
    assert out["per_class"]["scratch"]["iou"] is None  # never present: left out of the mean
    assert out["mIoU"] == pytest.approx((50 / 110 + 8 / 24) / 2, abs=0, rel=1e-15)
    assert out["per_class"]["color"]["instance_iou"] == 0.5
    assert out["instance_mIoU"] == pytest.approx((0.5 + 8 / 24) / 2, rel=1e-15)
    assert [p["iou"] for p in out["per_image"]] == [58 / 124, 0.0]
    assert out["per_image"][1]["classes"] == ["good"]
    assert out["pixel"]["f1"] == 2 * 58 / (2 * 58 + 18 + 58)
    assert out["pixel"]["good_images_with_false_alarm"] == 1


def test_perfect_rle_predictions_give_segm_ap_1():
    from wood.eval.coco_metrics import coco_eval

    gt_masks = np.stack([_box(0, 10, 0, 10), _box(12, 16, 12, 16)])
    r = ImageResult(1, "a.png", gt_masks, [1, 2], gt_masks, [1, 2], [0.9, 0.8], paired=True)
    gt = {
        "images": [{"id": 1, "file_name": "a.png", "height": H, "width": W}],
        "categories": [{"id": 1, "name": "color"}, {"id": 2, "name": "hole"}],
        "annotations": [
            {**res, "id": k + 1, "area": int(m.sum()), "bbox": [0, 0, 1, 1], "iscrowd": 0}
            for k, (res, m) in enumerate(zip(rle_results(r), gt_masks, strict=True))
        ],
    }
    for a in gt["annotations"]:
        a.pop("score")
    assert coco_eval(gt, rle_results(r), "segm")["mAP50-95"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import train

    root = tmp_path_factory.mktemp("sameval")
    prep = make_prep_dataset(root / "prep", size=96, counts={"train": (1, 0), "test": (1, 1)})
    cfg = SamTrainConfig(
        data=str(prep), model="tiny", imgsz=64, epochs=1, max_steps=1, out=str(root / "runs"), device="cpu"
    )
    return train(cfg)


@pytest.mark.slow
def test_evaluate_gt_boxes_writes_metrics_and_overlays(tiny_run, capsys):
    from wood.cli import main

    with pytest.raises(SystemExit) as done:  # typer exits after the command
        main(["eval", "segment", "--run", str(tiny_run), "--split", "test", "--overlays", "1", "--device", "cpu"])
    assert done.value.code == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(open(path).read())
    assert result["boxes"] == "gt" and result["images"] == 4
    assert len(result["per_image"]) == 4 and len(result["instances"]) == 3
    assert result["pixel"]["good_images"] == 1 and result["pixel"]["good_images_with_false_alarm"] == 0
    assert set(result["per_class"]) == {"color", "hole", "scratch"}
    assert result["segm"]["mAP50-95"] is not None
    scale = result["anomaly_scale"]
    assert scale["images"] == 4 and scale["anomalous"] == 3 and "oracle" in scale["image_score"]
    assert scale["image_auroc"] is not None and 0.0 <= scale["pixel_auroc"] <= 1.0
    overlays = sorted(p.name for p in (tiny_run / "eval-test" / "overlays").iterdir())
    assert overlays == ["color_000.png", "good_000.png", "hole_000.png", "scratch_000.png"]


@pytest.mark.slow
def test_evaluate_with_detector_boxes_counts_false_alarms(tiny_run, tmp_path, monkeypatch):
    """detect -> segment plumbing with a stand-in detector (a box on every image, class 1)."""
    import wood.eval.segment.evaluate as seg

    def fake_predictor(run, categories, device, conf):
        assert run == "yolo-run" and categories[1] == "color"
        return lambda rgb: Detections(
            np.array([[0, 0, rgb.shape[1], rgb.shape[0]]], np.float32), np.array([0.7]), np.array([0])
        )

    monkeypatch.setattr(seg, "yolo_predictor", fake_predictor)
    out = seg.evaluate(tiny_run, "test", boxes="yolo-run", out=tmp_path / "ev", overlays=0, device="cpu")
    assert out["instances"] == [] and out["instance_mIoU"] is None
    assert all(p["n_pred"] == 1 for p in out["per_image"])
    assert out["pixel"]["good_images"] == 1
    assert (tmp_path / "ev" / "segment_metrics.json").is_file()


def test_cli_missing_weights_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from wood.cli import main

    prep = make_prep_dataset(tmp_path / "prep", size=32, counts={"train": (1, 0)})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WOOD_WEIGHTS", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as err:
        main(["finetune", "sam", "--data", str(prep), "--model", "vit_b", "--out", str(tmp_path / "runs")])
    assert err.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "sam_vit_b_01ec64.pth" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.yaml"))


def test_crop_masks_to_boxes_keeps_the_grown_box_only():
    from wood.eval.segment.masks import crop_masks_to_boxes

    masks = np.ones((2, H, W), bool)
    out = crop_masks_to_boxes(masks, np.array([[5, 5, 10, 10], [0, 0, 20, 20]], np.float32), margin=0.0)
    assert out[0].sum() == 7 * 7 and out[0, 4:11, 4:11].all()  # box grown by 1 px each side
    assert out[1].all()
    assert crop_masks_to_boxes(masks[:1], np.array([[5, 5, 10, 10]]), margin=0.2)[0].sum() == 9 * 9
