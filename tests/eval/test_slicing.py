"""Sliced inference (`--slice`): slices map back to full-image pixels, merging, the eval record, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _cli import run_cli
from _yolo_fixtures import tiny_cfg

from wood.errors import ConfigError
from wood.eval.slicing import (
    SliceSettings,
    check_fits,
    check_sliceable,
    cut_by_inner_border,
    slice_settings,
    slice_windows,
    sliced_predictor,
)


class BrightBoxModel:
    """A stand-in for an Ultralytics model: in every image it is given (BGR, as Ultralytics gets them) it
    detects the pixels brighter than 200 as one box of class 0 (score 0.9), in that image's own pixels."""

    task = "detect"
    names = {0: "hole", 1: "scratch"}

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, images: list[np.ndarray], **kwargs) -> list[SimpleNamespace]:
        import torch

        out = []
        for bgr in images:
            self.calls.append(bgr.shape[:2])
            ys, xs = np.nonzero(bgr.max(axis=2) > 200)
            rows = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.9, 0]] if len(xs) else []
            out.append(SimpleNamespace(boxes=SimpleNamespace(data=torch.tensor(rows, dtype=torch.float32).view(-1, 6))))
        return out


def image_with_square(x0: int, y0: int, side: int, size: int = 256) -> np.ndarray:
    rgb = np.full((size, size, 3), 40, np.uint8)
    rgb[y0 : y0 + side, x0 : x0 + side] = 255
    return rgb


def test_a_small_object_comes_back_in_full_image_pixels():
    model = BrightBoxModel()
    settings = SliceSettings(64, overlap=0.25, full=False, merge="nms")
    predict = sliced_predictor(model, settings, imgsz=64, device="cpu", conf=0.001, max_det=100)
    # slices start at 0, 48, 96, 144, 192: the square lies whole in two slices (y 96 and 144), cut by none
    found = predict(image_with_square(120, 150, 10))
    assert found.xyxy.tolist() == [[120.0, 150.0, 130.0, 160.0]]  # one box after NMS, in full-image pixels
    assert found.class_ids.tolist() == [0] and found.scores.tolist() == pytest.approx([0.9])
    assert set(model.calls) == {(64, 64)} and len(model.calls) == len(slice_windows(256, 256, settings))


def test_full_image_pass_adds_one_whole_image_prediction():
    model = BrightBoxModel()
    settings = SliceSettings(128, overlap=0.0, full=True)
    found = sliced_predictor(model, settings, 128, "cpu", 0.001, 100)(image_with_square(10, 20, 8))
    assert found.xyxy.tolist() == [[10.0, 20.0, 18.0, 28.0]]
    assert model.calls.count((256, 256)) == 1 and model.calls.count((128, 128)) == 4


def test_nmm_joins_an_object_cut_by_a_slice_border_nms_does_not():
    # slices of 64 with overlap 0.25 start at 0, 48, 96, ...: a square at x 56..76 (y 20..40, in the first
    # row only) is cut by the first slice (x < 64: a part 8 px wide, IoU 0.4) and whole in the second (48..112)
    image = image_with_square(56, 20, 20)
    nms = sliced_predictor(BrightBoxModel(), SliceSettings(64, 0.25, False, "nms"), 64, "cpu", 0.001, 100)(image).xyxy
    nmm = sliced_predictor(BrightBoxModel(), SliceSettings(64, 0.25, False, "nmm"), 64, "cpu", 0.001, 100)(image).xyxy
    assert sorted(nms.tolist()) == [[56.0, 20.0, 64.0, 40.0], [56.0, 20.0, 76.0, 40.0]]  # the cut part survives NMS
    assert nmm.tolist() == [[56.0, 20.0, 76.0, 40.0]]


def test_drop_cut_keeps_the_whole_object_and_drops_its_fragments():
    # slices of 64 (overlap 0.25) start at 0, 48, 96, ...; a bar 100 px long (x 70..170, y 20..30) is cut
    # by every slice that holds it: with the whole-image pass as well, nms keeps the fragments as boxes
    # of their own, --slice-drop-cut leaves only the whole-image box
    image = np.full((256, 256, 3), 40, np.uint8)
    image[20:30, 70:170] = 255
    plain = SliceSettings(64, 0.25, True, "nms")
    kept = sliced_predictor(BrightBoxModel(), plain, 64, "cpu", 0.001, 100)(image).xyxy.tolist()
    dropped = SliceSettings(64, 0.25, True, "nms", drop_cut=True)
    model = BrightBoxModel()
    only = sliced_predictor(model, dropped, 64, "cpu", 0.001, 100)(image).xyxy.tolist()
    assert [70.0, 20.0, 170.0, 30.0] in kept and len(kept) > 1
    assert only == [[70.0, 20.0, 170.0, 30.0]] and model.calls.count((256, 256)) == 1
    # a small object lying whole in a slice, away from its inner borders, is kept as before
    small = image_with_square(120, 150, 10)
    assert sliced_predictor(BrightBoxModel(), dropped, 64, "cpu", 0.001, 100)(small).xyxy.tolist() == [
        [120.0, 150.0, 130.0, 160.0]
    ]


def test_drop_cut_defaults_to_the_whole_image_pass():
    assert slice_settings(64).drop_cut is True
    assert slice_settings(64, full=False).drop_cut is False
    assert slice_settings(64, drop_cut=False).drop_cut is False


def test_cut_by_inner_border_ignores_the_image_edges():
    image = (256, 256)
    assert not cut_by_inner_border((0, 0, 10, 10), (0, 0, 64, 64), image)  # touches the image edge only
    assert cut_by_inner_border((50, 10, 64, 20), (0, 0, 64, 64), image)  # right side of the slice, x 64 < 256
    assert cut_by_inner_border((49, 10, 60, 20), (48, 0, 112, 64), image)  # left side at x 48 > 0, within 2 px
    assert not cut_by_inner_border((51, 10, 60, 20), (48, 0, 112, 64), image)  # 3 px in: not touching
    assert not cut_by_inner_border((200, 200, 256, 256), (192, 192, 256, 256), image)  # last slice, image corner
    assert cut_by_inner_border((200, 193, 250, 250), (192, 192, 256, 256), image)  # its top side is inside


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"size": 64, "full": False, "drop_cut": True}, "needs --slice-full"),
        ({"size": 16}, "at least 32"),
        ({"size": 0}, "at least 32"),
        ({"size": 64, "overlap": 0.9}, "[0, 0.9)"),
        ({"size": 64, "overlap": -0.1}, "[0, 0.9)"),
        ({"size": 64, "merge": "wbf"}, "--slice-merge"),
    ],
)
def test_bad_slice_options_are_config_errors(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace(")", r"\)")):
        slice_settings(**kwargs)


def test_slice_larger_than_an_image_and_segment_runs_are_refused():
    assert slice_settings(None) is None
    settings = slice_settings(128)
    check_fits(settings, [(256, 256), (128, 300)], "test.json")
    with pytest.raises(ConfigError, match="larger than an image"):
        check_fits(settings, [(256, 256), (300, 100)], "test.json")
    check_sliceable(settings, "detect", "eval detect")
    with pytest.raises(ConfigError, match="boxes only"):
        check_sliceable(settings, "segment", "eval detect")


# ------------------------------------------------------------------ end to end on a tiny trained YOLO


@pytest.fixture(scope="module")
def tiny_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch yolov8n.yaml detect run at 64 px (the prepared images are 128 px)."""
    from wood.finetune.yolo.train import train

    mp = pytest.MonkeyPatch()
    mp.setenv("WOOD_HOME", str(tmp_path_factory.getbasetemp() / "wood-home"))
    try:
        return train(tiny_cfg(prepared, tmp_path_factory.mktemp("slice-runs"), name="det"))
    finally:
        mp.undo()


@pytest.mark.slow
def test_eval_detect_with_slice_writes_the_same_keys_plus_the_slice_record(tiny_run: Path, capsys):
    code, err = run_cli(["eval", "detect", "--run", tiny_run, "--no-ultralytics-val", "--device", "cpu"], capsys)
    assert code == 0, err
    argv = ["eval", "detect", "--run", tiny_run, "--device", "cpu", "--slice", 64, "--slice-overlap", 0.25]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    plain = json.loads((tiny_run / "eval-test" / "eval_detect.json").read_text())
    sliced = json.loads((tiny_run / "eval-test-slice64" / "eval_detect.json").read_text())
    assert set(plain) == set(sliced) and plain["slice"] is None
    assert sliced["slice"] == {
        "size": 64,
        "overlap": 0.25,
        "full_image_pass": True,
        "merge": "nms",
        "drop_cut": True,  # on by default with the whole-image pass
        "match_threshold": 0.5,
        "engine": "sahi",
    }
    for res in (plain, sliced):
        assert res["inference_ms_per_image"] > 0
        assert {"mAP50", "mAP50-95", "APs", "APm"} <= set(res["coco"]["bbox"])
    assert sliced["ultralytics"] == {} and any("cannot slice" in n for n in sliced["notes"])
    md = (tiny_run / "eval-test-slice64" / "eval_detect.md").read_text()
    assert "sliced (64 px, overlap 0.25, + full image, nms, cut boxes dropped)" in md and "| APs |" in md
    gt = {im["id"]: im for im in json.loads((Path(plain["data"]) / "coco" / "test.json").read_text())["images"]}
    boxes = json.loads((tiny_run / "eval-test-slice64" / "predictions_bbox.json").read_text())
    assert boxes, "a 1-epoch model still gives low-score boxes at conf 0.001"
    for b in boxes:  # merged back into full-image pixels: inside the 128 px image, not the 64 px slice
        x, y, w, h = b["bbox"]
        im = gt[b["image_id"]]
        assert 0 <= x and 0 <= y and x + w <= im["width"] + 0.01 and y + h <= im["height"] + 0.01
    assert max(b["bbox"][0] + b["bbox"][2] for b in boxes) > 64


@pytest.mark.slow
def test_predict_with_slice_records_it(tiny_run: Path, prepared: Path, tmp_path: Path, capsys):
    image = sorted((prepared / "yolo" / "images" / "test").iterdir())[0]
    argv = ["predict", image, "--run", tiny_run, "--out", tmp_path / "p", "--slice", 64, "--conf", 0.01]
    code, err = run_cli(argv + ["--device", "cpu", "--slice-merge", "nmm", "--no-slice-full"], capsys)
    assert code == 0, err
    pred = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert pred["slice"]["merge"] == "nmm" and pred["slice"]["full_image_pass"] is False
    assert pred["slice"]["drop_cut"] is False  # the default without the whole-image pass
    assert pred["inference_ms_per_image"] > 0 and (tmp_path / "p" / "predictions_coco.json").is_file()
    argv = ["predict", image, "--run", tiny_run, "--out", tmp_path / "q", "--slice", 64, "--no-slice-drop-cut"]
    code, err = run_cli(argv + ["--device", "cpu"], capsys)
    assert code == 0, err
    pred = json.loads((tmp_path / "q" / "predictions.json").read_text())
    assert pred["slice"]["drop_cut"] is False and pred["slice"]["full_image_pass"] is True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--slice", 256], "larger than an image"),
        (["--slice", 16], "at least 32"),
        (["--slice", 64, "--slice-overlap", 0.95], "--slice-overlap"),
        (["--slice", 64, "--no-slice-full", "--slice-drop-cut"], "needs --slice-full"),
    ],
)
def test_bad_slices_exit_2_and_write_nothing(tiny_run: Path, tmp_path: Path, capsys, extra, words):
    code, err = run_cli(["eval", "detect", "--run", tiny_run, "--out", tmp_path / "e", *extra], capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e").exists()


def test_eval_segment_slice_needs_a_detector(tmp_path: Path, capsys):
    code, err = run_cli(["eval", "segment", "--run", tmp_path, "--boxes", "gt", "--slice", 64], capsys)
    assert code == 2 and "--boxes" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_eval_segment_with_sliced_detector_boxes(tiny_run: Path, prepared: Path, tmp_path: Path, capsys):
    from _sam_fixtures import train_tiny_sam

    sam = train_tiny_sam(prepared, tmp_path)
    argv = ["eval", "segment", "--run", sam, "--boxes", tiny_run, "--slice", 64, "--device", "cpu", "--overlays", 0]
    code, err = run_cli(argv + ["--conf", 0.01], capsys)
    assert code == 0, err
    metrics = json.loads((sam / "eval-test-yolo-slice64" / "segment_metrics.json").read_text())
    assert metrics["slice"]["size"] == 64 and metrics["boxes"] == str(tiny_run)
    assert 0.0 <= metrics["segm"]["mAP50"] <= 1.0
    code, err = run_cli(argv[:-2] + ["--overlays", 0, "--slice", 200], capsys)
    assert code == 2 and "larger than an image" in err
