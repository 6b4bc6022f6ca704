"""`wood export` for YOLO runs: a 1-epoch 64 px run exported to ONNX passes the parity check, `wood predict`
runs the .onnx like the .pt, and bad inputs stop with one line (exit 2). Everything offline, on CPU.

Tolerances (the command's own, wood.deploy.export.parity): boxes match at IoU >= 0.99 with the same class,
matched scores differ by <= 0.01, and no box scored >= 0.25 by either runtime is left unmatched.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from _cli import run_cli
from _yolo_fixtures import no_network, tiny_cfg, wood_home  # noqa: F401 - pytest fixtures

from wood.deploy.export.parity import CONF, MATCH_IOU, SCORE_TOL, SCORE_TOL_HALF, match_image, parity_summary
from wood.eval.detections import Detections

PREDICT_IOU = 0.9
"""predictions.json rounds boxes to 0.1 px; on 64 px images that alone can cost a few IoU points."""
PREDICT_SCORE_TOL = SCORE_TOL + 1e-4
"""predictions.json rounds scores to 4 decimals."""


@pytest.fixture(scope="module")
def tiny_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch yolov8n.yaml detect run at 64 px."""
    from wood.finetune.yolo.train import train

    return train(tiny_cfg(prepared, tmp_path_factory.mktemp("export-runs"), name="det"))


@pytest.fixture(scope="module")
def exported(tiny_run: Path) -> dict:
    from wood.deploy.export import export_run

    return export_run(tiny_run, n_images=3)


@pytest.mark.slow
def test_export_passes_parity_and_writes_export_json(tiny_run: Path, exported: dict):
    assert exported["ok"], exported["problems"]
    model = Path(exported["files"]["model"])
    assert model == tiny_run / "export" / "model.onnx" and model.is_file()
    written = json.loads((tiny_run / "export" / "export.json").read_text())
    assert written["parity"]["images"] == 3 and written["imgsz"] == 64
    assert written["parity"]["tolerances"] == {"match_iou": MATCH_IOU, "conf": CONF, "score_diff": SCORE_TOL}
    assert written["parity"]["max_score_diff"] <= SCORE_TOL
    assert written["parity"]["unmatched_pytorch_above_conf"] == written["parity"]["unmatched_export_above_conf"] == 0
    assert written["parity"]["raw_max_abs_diff"]["score"] <= SCORE_TOL  # before NMS, on a random input
    assert set(written["latency_ms"]) == {"pytorch", "onnxruntime"}
    assert sorted(p.name for p in (tiny_run / "weights").iterdir()) == ["best.pt", "last.pt"]  # run left as it was
    assert not [p for p in (tiny_run / "export").iterdir() if p.name.startswith(".staging")]


@pytest.mark.slow
def test_export_command_offline(tiny_run: Path, tmp_path: Path, capsys, no_network, wood_home):  # noqa: F811
    code, err = run_cli(["export", "--run", tiny_run, "--out", tmp_path / "x", "--images", 2], capsys)
    assert code == 0, err
    assert "parity OK" in err and (tmp_path / "x" / "model.onnx").is_file()
    assert not no_network


@pytest.mark.slow
def test_export_without_onnxslim_skips_simplify_offline(tiny_run: Path, tmp_path: Path, monkeypatch, no_network):  # noqa: F811
    import wood.extras as extras
    from wood.deploy.export import export_run

    found = extras.has_module
    monkeypatch.setattr(extras, "has_module", lambda name: name != "onnxslim" and found(name))
    monkeypatch.setitem(sys.modules, "onnxslim", None)  # Ultralytics would pip-install it for simplify=True
    result = export_run(tiny_run, out=tmp_path / "plain", n_images=1)
    assert result["ok"], result["problems"]
    assert not no_network


@pytest.mark.slow
def test_half_export_passes_parity_at_its_own_tolerance(tiny_run: Path, tmp_path: Path):
    from wood.deploy.export import export_run

    result = export_run(tiny_run, half=True, out=tmp_path / "half", n_images=2)
    assert result["ok"], result["problems"]
    assert result["half"] and result["parity"]["tolerances"]["score_diff"] == SCORE_TOL_HALF


@pytest.mark.slow
def test_parity_beyond_tolerance_exits_1_naming_it(tiny_run: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr("wood.deploy.export.yolo.SCORE_TOL", -1.0)  # any score difference, even 0, is too much
    code, err = run_cli(["export", "--run", tiny_run, "--out", tmp_path / "x", "--images", 1], capsys)
    assert code == 1 and "PARITY FAILED" in err and "score difference" in err
    written = json.loads((tmp_path / "x" / "export.json").read_text())
    assert not written["ok"] and written["problems"]


def detections(pred_json: Path) -> list[Detections]:
    images = json.loads(pred_json.read_text())["images"]
    return [
        Detections(
            np.array([d["bbox_xyxy"] for d in im["detections"]], float).reshape(-1, 4),
            np.array([d["score"] for d in im["detections"]], float),
            np.array([d["class_id"] for d in im["detections"]], dtype=int),
        )
        for im in images
    ]


@pytest.mark.slow
def test_predict_with_onnx_gives_the_pt_boxes(tiny_run: Path, exported: dict, prepared: Path, tmp_path: Path):
    from wood.deploy.predict import predict_images

    images = [prepared / "yolo" / "images" / "test"]
    by_pt = predict_images(None, images, weights=tiny_run / "weights" / "best.pt", out=tmp_path / "pt", conf=0.001)
    by_onnx = predict_images(None, images, weights=Path(exported["files"]["model"]), out=tmp_path / "onnx", conf=0.001)
    a, b = detections(by_pt), detections(by_onnx)
    assert sum(len(d) for d in a) > 0
    pairs = zip(a, b, strict=True)
    summary = parity_summary([match_image(x, y, iou=PREDICT_IOU) for x, y in pairs], score_tol=PREDICT_SCORE_TOL)
    assert summary["ok"], summary["problems"]
    for name in ("predictions_coco.json", "predictions_coco_images.json"):
        assert (tmp_path / "onnx" / name).is_file()
    names = json.loads((tmp_path / "onnx" / "predictions_coco_images.json").read_text())["categories"]
    assert names == json.loads((tmp_path / "pt" / "predictions_coco_images.json").read_text())["categories"]


# ---------------------------------------------------------------- parity, pure
def test_parity_matches_same_boxes_and_flags_differences():
    ref = Detections(np.array([[0, 0, 10, 10], [20, 20, 40, 40.0]]), np.array([0.9, 0.3]), np.array([0, 1]))
    same = parity_summary([match_image(ref, replace(ref, scores=ref.scores + 0.005))])
    assert same["ok"] and same["matched"] == 2 and same["max_score_diff"] == pytest.approx(0.005)
    moved = replace(ref, xyxy=ref.xyxy + np.array([[0, 0, 0, 0], [1, 0, 1, 0]]))
    bad = parity_summary([match_image(ref, moved)])
    assert not bad["ok"] and bad["unmatched_pytorch_above_conf"] == 1 and bad["unmatched_export_above_conf"] == 1
    other_class = parity_summary([match_image(ref, replace(ref, class_ids=np.array([1, 1])))])
    assert not other_class["ok"] and other_class["matched"] == 1
    scores = parity_summary([match_image(ref, replace(ref, scores=ref.scores - 0.02))])
    assert not scores["ok"] and "score difference" in scores["problems"][0]
    low = Detections(np.array([[0, 0, 5, 5.0]]), np.array([0.1]), np.array([0]))
    empty = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    assert parity_summary([match_image(low, empty)])["ok"]  # an unmatched box under CONF is tolerated


# ---------------------------------------------------------------- bad inputs
def fake_yolo_run(folder: Path, data: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": str(data), "task": "detect", "imgsz": 64}))
    (folder / "metrics.json").write_text(json.dumps({"kind": "yolo", "schema": 1}))
    return folder


def test_run_without_weights_is_one_line(prepared: Path, tmp_path: Path, capsys):
    run = fake_yolo_run(tmp_path / "r", prepared)
    code, err = run_cli(["export", "--run", run], capsys)
    assert code == 2 and "no weights/best.pt" in err and len(err.strip().splitlines()) == 1
    assert not (run / "export").exists()


def test_unknown_format_is_one_line(prepared: Path, tmp_path: Path, capsys):
    run = fake_yolo_run(tmp_path / "r", prepared)
    code, err = run_cli(["export", "--run", run, "--format", "tflite"], capsys)
    assert code == 2 and "--format must be one of" in err and len(err.strip().splitlines()) == 1


def test_missing_onnx_names_the_extra(prepared: Path, tmp_path: Path, capsys, monkeypatch):
    run = fake_yolo_run(tmp_path / "r", prepared)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    code, err = run_cli(["export", "--run", run], capsys)
    assert code == 2 and "pip install 'wood[export]'" in err and len(err.strip().splitlines()) == 1
    model = tmp_path / "m.onnx"
    model.write_bytes(b"\x08\x07")
    image = next((prepared / "yolo" / "images" / "test").iterdir())
    code, err = run_cli(["predict", image, "--weights", model, "--out", tmp_path / "p"], capsys)
    assert code == 2 and "pip install 'wood[export]'" in err


def test_openvino_without_the_package_says_what_to_install(prepared: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr("wood.deploy.export.has_module", lambda name: name != "openvino")  # as if not installed
    run = fake_yolo_run(tmp_path / "r", prepared)
    code, err = run_cli(["export", "--run", run, "--format", "openvino"], capsys)
    assert code == 2 and "pip install openvino" in err


def test_corrupt_onnx_given_to_predict(prepared: Path, tmp_path: Path, capsys):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not a protobuf" * 10)
    image = next((prepared / "yolo" / "images" / "test").iterdir())
    code, err = run_cli(["predict", image, "--weights", model, "--out", tmp_path / "p"], capsys)
    assert code == 2 and "cannot load ONNX model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------- SAM runs through the command
@pytest.mark.slow
def test_export_command_on_a_tiny_sam_run(tmp_path: Path, capsys):
    import torch
    from _sam_fixtures import make_prep_dataset

    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import train

    prep = make_prep_dataset(tmp_path / "prep", size=96, counts={"train": (1, 0), "test": (1, 1)})
    torch.manual_seed(0)
    run = train(
        SamTrainConfig(
            data=str(prep), model="tiny", imgsz=64, lr=3e-3, warmup_steps=0, box_jitter=0.0, out=str(tmp_path / "runs"),
            device="cpu", val_split="none", epochs=1, max_steps=2, threads=1,
        )
    )  # fmt: skip
    code, err = run_cli(["export", "--run", run, "--half"], capsys)
    assert code == 2 and "SAM runs export to ONNX only" in err
    code, err = run_cli(["export", "--run", run, "--images", 1], capsys)
    assert code == 0, err
    written = json.loads((Path(run) / "export" / "export.json").read_text())
    assert written["kind"] == "sam" and written["ok"] and {"encoder", "decoder"} <= set(written["files"])
    assert (Path(run) / "export" / "encoder.onnx").is_file() and "parity OK" in err


@pytest.mark.slow
def test_predict_uses_the_exports_own_input_size(tiny_run: Path, prepared: Path, tmp_path: Path):
    from wood.deploy.export import export_run
    from wood.deploy.predict import predict_images

    result = export_run(tiny_run, imgsz=96, out=tmp_path / "e96", n_images=1)
    assert result["ok"], result["problems"]
    image = sorted((prepared / "yolo" / "images" / "test").iterdir())[:1]
    out = predict_images(tiny_run, image, weights=Path(result["files"]["model"]), out=tmp_path / "p", conf=0.01)
    assert json.loads(out.read_text())["imgsz"] == 96  # not the run's 64
