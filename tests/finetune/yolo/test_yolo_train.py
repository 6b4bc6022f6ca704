"""Offline from-scratch YOLO training (1 epoch, 64 px), then eval detect and predict on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _yolo_fixtures import no_network, tiny_cfg, wood_home  # noqa: F401 - pytest fixtures

from wood.errors import ConfigError


@pytest.fixture(scope="module")
def detect_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 1-epoch detect training with --balance, shared by the tests below (sockets and DNS blocked)."""
    from wood.finetune.yolo.train import train

    mp = pytest.MonkeyPatch()
    mp.setenv("WOOD_HOME", str(tmp_path_factory.getbasetemp() / "wood-home"))
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network attempt {args[:2]}")

    for name in ("getaddrinfo", "gethostbyname", "create_connection"):
        mp.setattr(socket, name, refuse)
    try:
        return train(tiny_cfg(prepared, tmp_path_factory.mktemp("runs"), name="det", balance=True))
    finally:
        mp.undo()


@pytest.mark.slow
def test_training_writes_the_run_folder(detect_run: Path, prepared: Path):
    for name in ("config.yaml", "data.yaml", "metrics.json", "weights/best.pt", "results.csv", "train_list.txt"):
        assert (detect_run / name).is_file(), name
    data = yaml.safe_load((detect_run / "data.yaml").read_text())
    assert "path" not in data and data["train"] == "train_list.txt" and data["val"] == "images/val"
    metrics = json.loads((detect_run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["task"] == "detect"
    assert (metrics["kind"], metrics["schema"]) == ("yolo", 1) and metrics["data"] == str(prepared.resolve())
    assert metrics["classes"] == json.loads((prepared / "manifest.json").read_text())["classes"]
    assert 0.0 <= metrics["val"]["mAP50"] <= 1.0
    assert metrics["device"] == "cpu"  # the resolved device, for the report's cost column
    assert 2_500_000 < metrics["params"]["trainable"] <= metrics["params"]["total"] < 3_500_000  # yolov8n
    config = yaml.safe_load((detect_run / "config.yaml").read_text())
    assert config["imgsz"] == 64 and config["balance"] is True and config["data"] == str(prepared.resolve())
    train_list = (detect_run / "train_list.txt").read_text().split()
    n_train = len(list((prepared / "yolo" / "images" / "train").iterdir()))
    assert len(train_list) >= n_train and {(detect_run / p).resolve() for p in train_list} == {
        p.resolve() for p in (prepared / "yolo" / "images" / "train").iterdir()
    }  # ./images/train/<name> in the run folder: links to the prep's images


@pytest.mark.slow
def test_eval_detect_on_the_run(detect_run: Path, no_network, wood_home):  # noqa: F811
    from wood.eval.detect.evaluate import evaluate

    result = evaluate(detect_run, "test", conf=0.25)
    out = detect_run / "eval-test"
    for name in ("eval_detect.json", "eval_detect.md", "pr_curve.png", "confusion_matrix.png", "predictions_bbox.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "eval_detect.json").read_text())
    assert saved["coco"]["bbox"]["mAP50"] == result["coco"]["bbox"]["mAP50"]
    comparison = saved["comparison"]["bbox mAP50"]
    assert comparison["ultralytics"] is not None
    assert comparison["difference"] == pytest.approx(comparison["coco"] - comparison["ultralytics"])
    assert saved["inspection"]["good_images"] >= 1 and saved["inspection"]["defective_images"] >= 1
    scale = saved["anomaly_scale"]  # the scale anomaly runs are scored on
    assert scale["images"] == saved["inspection"]["good_images"] + saved["inspection"]["defective_images"]
    assert 0.0 <= scale["image_auroc"] <= 1.0 and 0.0 <= scale["pixel_auroc"] <= 1.0
    assert "| bbox mAP50 |" in (out / "eval_detect.md").read_text()
    again = evaluate(detect_run, "test", conf=0.25)  # into the same folder: its links are reused
    assert again["coco"]["bbox"]["mAP50"] == result["coco"]["bbox"]["mAP50"]
    prepared = Path(json.loads((detect_run / "metrics.json").read_text())["data"])
    assert not list(prepared.rglob("*.cache")), "Ultralytics' val wrote its label cache into the prepared folder"


@pytest.mark.slow
def test_eval_on_a_dataset_with_other_classes_is_a_mismatch(
    detect_run: Path, prepared: Path, tmp_path: Path, wood_home
):  # noqa: F811
    import shutil

    from wood.errors import MisMatchError
    from wood.eval.detect.evaluate import evaluate

    other = tmp_path / "other"
    shutil.copytree(prepared / "coco", other / "coco")
    gt = json.loads((other / "coco" / "test.json").read_text())
    gt["categories"][0]["name"] = "knot"
    (other / "coco" / "test.json").write_text(json.dumps(gt))
    with pytest.raises(MisMatchError, match="trained on classes"):
        evaluate(detect_run, "test", data=other, ultralytics_val=False)


@pytest.mark.slow
def test_predict_writes_overlays_and_json(detect_run: Path, prepared: Path, no_network, wood_home):  # noqa: F811
    from wood.deploy.predict import predict_images

    images = sorted((prepared / "yolo" / "images" / "test").iterdir())[:2]
    out_json = predict_images(detect_run, images, conf=0.001)
    data = json.loads(out_json.read_text())
    assert [Path(r["file"]).name for r in data["images"]] == [p.name for p in images]
    assert all(Path(r["overlay"]).is_file() for r in data["images"])


def test_existing_run_folder_is_not_mixed(detect_run: Path, prepared: Path):
    from wood.finetune.yolo.train import make_run_dir

    again = make_run_dir(tiny_cfg(prepared, detect_run.parent, name=detect_run.name))
    assert again.name == f"{detect_run.name}-2" and (detect_run / "weights" / "best.pt").is_file()


@pytest.mark.slow
def test_segment_training_and_segm_eval(prepared: Path, tmp_path: Path, no_network, wood_home):  # noqa: F811
    from wood.eval.detect.evaluate import evaluate
    from wood.finetune.yolo.train import train

    run = train(tiny_cfg(prepared, tmp_path, task="segment", model="yolov8n-seg.yaml"))
    assert (run / "weights" / "best.pt").is_file()
    result = evaluate(run, "val", conf=0.25, ultralytics_val=False)
    assert set(result["coco"]) == {"bbox", "segm"}
    assert (run / "eval-val" / "predictions_segm.json").is_file()
    assert "masks covering" in result["anomaly_scale"]["map_score"]


def test_detect_model_with_segment_task_is_refused(prepared: Path, tmp_path: Path, wood_home):  # noqa: F811
    from wood.finetune.yolo.train import train

    with pytest.raises(ConfigError, match="detect model but --task is segment"):
        train(tiny_cfg(prepared, tmp_path, task="segment", model="yolov8n.yaml"))
