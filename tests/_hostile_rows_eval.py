"""Hostile-input rows for `wood eval detect|segment|classify`, `wood predict`, `wood export`, `wood report` and
`wood demo` (the table is tests/cli/test_hostile.py; a row is (id, build, needles) as in tests/_hostile_rows_prep.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from _hostile_rows_train import coco_images_dir, coco_name, images0_string
from _hostile_world import (
    World,
    dangling_link,
    edited_prep,
    link_to_user_folder,
    long_name,
    long_path,
    user_folder,
    write_file,
)


def _detect(w, *extra):
    return ["eval", "detect", "--run", w.yolo_run, "--device", "cpu", *extra]


def _detect_data(edit, coco: str | None = None):
    return lambda w, t: _detect(w, "--data", edited_prep(edit, coco)(w, t), "--out", t / "out" / "e")


def _segment_out(w, tmp, *extra):
    return ["eval", "segment", "--run", w.sam_run, "--out", tmp / "out" / "eval", *extra]


def _segment(w, *extra):
    return ["eval", "segment", "--run", w.sam_run, "--device", "cpu", *extra]


def _predict(w, t, *extra):
    return ["predict", w.image, "--run", w.yolo_run, "--device", "cpu", "--out", t / "out" / "pred", *extra]


def _export(w, *extra):
    return ["export", "--run", w.yolo_run, *extra]


def _sam_run_without_weights(w, tmp):
    run = tmp / "sam-run"
    shutil.copytree(w.sam_run, run)
    shutil.rmtree(run / "weights")
    return ["eval", "segment", "--run", run]


def _corrupt_yolo_run(w, tmp):
    run = tmp / "yolo-run"
    shutil.copytree(w.yolo_run, run)
    (run / "weights" / "best.pt").write_bytes(b"not a checkpoint")
    return run


def _broken_run(w: World, tmp: Path) -> Path:
    run = tmp / "run"
    run.mkdir()
    write_file(run / "config.yaml", "data: [oops\ntask: detect\n")
    return run


def _classify_broken_config(w: World, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(w.classify_run, run)
    write_file(run / "config.yaml", "data: [oops\narch: small_cnn\n")
    return run


def _unknown_schema_run(w: World, tmp: Path) -> Path:
    """A classify run (weights.pt too) whose metrics.json has a layout this wood does not know."""
    run = tmp / "run"
    run.mkdir()
    write_file(run / "config.yaml", f"data: {w.prep}\narch: small_cnn\nstrategy: scratch\n")
    write_file(run / "metrics.json", json.dumps({"kind": "classify", "schema": 99, "test": "a newer layout"}))
    shutil.copy(w.classify_run / "weights.pt", run / "weights.pt")
    return run


def _predict_corrupt(w, tmp):
    folder = tmp / "images"
    folder.mkdir()
    shutil.copy(w.image, folder / "a_good.png")
    (folder / "b_bad.png").write_bytes(w.image.read_bytes()[:100])
    return ["predict", folder, "--run", w.yolo_run, "--out", tmp / "out"]


def _predict_empty(w, tmp):
    (tmp / "empty").mkdir()
    return ["predict", tmp / "empty", "--run", w.yolo_run, "--out", tmp / "out"]


DETECT = [
    ("eval-detect-missing-run", lambda w, t: ["eval", "detect", "--run", t / "nope"]),
    ("eval-detect-run-without-weights", lambda w, t: ["eval", "detect", "--run", user_folder(t)]),
    ("eval-detect-split-bogus", lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--split", "bogus"]),
    ("eval-detect-conf-2", lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--conf", "2"]),
    ("eval-detect-device-cuda-7", lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--device", "cuda:7"]),
    ("eval-detect-data-not-prep", lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--data", user_folder(t)]),
    (
        "eval-detect-out-is-a-file",
        lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--out", t / "out" / "user.txt"],
    ),
    ("eval-detect-weights-txt", lambda w, t: ["eval", "detect", "--weights", w.text, "--data", w.prep]),
    ("eval-detect-corrupt-checkpoint", lambda w, t: ["eval", "detect", "--run", _corrupt_yolo_run(w, t)]),
    ("eval-detect-classes-differ", lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--out", t / "out" / "e"]),
    ("eval-detect-slice-overlap-without-slice", lambda w, t: _detect(w, "--slice-overlap", "0.5")),
    ("eval-detect-slice-merge-without-slice", lambda w, t: _detect(w, "--slice-merge", "nmm")),
    ("eval-detect-no-slice-full-without-slice", lambda w, t: _detect(w, "--no-slice-full")),
    ("eval-detect-slice-drop-cut-without-slice", lambda w, t: _detect(w, "--slice-drop-cut")),
    ("eval-detect-out-name-300-bytes", lambda w, t: _detect(w, "--out", long_name(t))),
    ("eval-detect-out-path-4k", lambda w, t: _detect(w, "--out", long_path(t))),
    (
        "eval-detect-coco-file-name-escapes",
        _detect_data(coco_name("../../../../victim.png"), coco="test"),
        "test.json: images[0].file_name '../../../../victim.png' is a path",
    ),
    ("eval-detect-coco-images-dir-outside", _detect_data(coco_images_dir, coco="test"), "points outside"),
    ("eval-detect-manifest-images-0-string", _detect_data(images0_string), "manifest.json: images[0] is a str"),
    (
        "eval-detect-run-config-error-on-two-lines",
        lambda w, t: ["eval", "detect", "--run", _broken_run(w, t)],
        "config.yaml is not readable YAML",
    ),
]

SEGMENT = [
    ("eval-segment-missing-run", lambda w, t: ["eval", "segment", "--run", t / "nope"]),
    ("eval-segment-not-a-sam-run", lambda w, t: ["eval", "segment", "--run", user_folder(t)]),
    ("eval-segment-run-without-weights", _sam_run_without_weights, "run has no weights/mask_decoder.safetensors"),
    ("eval-segment-split-bogus", lambda w, t: _segment_out(w, t, "--split", "bogus")),
    (
        "eval-segment-boxes-not-a-run",
        lambda w, t: _segment_out(w, t, "--boxes", user_folder(t)),
        "run folder has no weights/best.pt",
    ),
    (
        "eval-segment-boxes-missing",
        lambda w, t: _segment_out(w, t, "--boxes", t / "nope"),
        "nope: run folder does not exist",
    ),
    ("eval-segment-device-cuda-7", lambda w, t: _segment_out(w, t, "--device", "cuda:7")),
    (
        "eval-segment-map-conf-above-conf",
        lambda w, t: _segment_out(w, t, "--map-conf", "0.5"),
        "map-conf must be in (0, conf=0.25], but got 0.5",
    ),
    ("eval-segment-zoom-below-1", lambda w, t: _segment_out(w, t, "--zoom", "0.5"), "zoom must be 0 (off) or >= 1"),
    ("eval-segment-slice-overlap-without-slice", lambda w, t: _segment(w, "--slice-overlap", "0.1")),
    ("eval-segment-slice-merge-without-slice", lambda w, t: _segment(w, "--slice-merge", "nmm")),
    ("eval-segment-out-name-300-bytes", lambda w, t: _segment(w, "--out", long_name(t))),
    (
        "eval-segment-coco-file-name-escapes",
        lambda w, t: _segment(
            w, "--data", edited_prep(coco_name("../victim.png"), coco="test")(w, t), "--out", t / "out" / "e"
        ),
        "file_name '../victim.png' is a path",
    ),
    ("eval-classify-missing-run", lambda w, t: ["eval", "classify", t / "nope"]),
    ("eval-classify-split-bogus", lambda w, t: ["eval", "classify", w.classify_run, "--split", "bogus"]),
    ("eval-classify-device-cuda-7", lambda w, t: ["eval", "classify", w.classify_run, "--device", "cuda:7"]),
    ("eval-classify-data-missing", lambda w, t: ["eval", "classify", w.classify_run, "--data", t / "nope"]),
    ("eval-classify-run-config-not-yaml", lambda w, t: ["eval", "classify", _classify_broken_config(w, t)]),
]

PREDICT = [
    ("predict-missing-image", lambda w, t: ["predict", t / "nope.png", "--run", w.yolo_run, "--out", t / "out"]),
    ("predict-corrupt-image", _predict_corrupt, "b_bad.png: not a readable image"),
    ("predict-text-file", lambda w, t: ["predict", w.text, "--run", w.yolo_run, "--out", t / "out"]),
    ("predict-no-images-in-folder", _predict_empty),
    (
        "predict-conf-2",
        lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--conf", "2", "--out", t / "out"],
    ),
    ("predict-missing-run", lambda w, t: ["predict", w.image, "--run", t / "nope", "--out", t / "out"]),
    (
        "predict-out-is-a-file",
        lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", t / "out" / "user.txt"],
    ),
    ("predict-device-cuda-7", lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--device", "cuda:7"]),
    ("predict-corrupt-checkpoint", lambda w, t: ["predict", w.image, "--run", _corrupt_yolo_run(w, t)]),
    ("predict-slice-overlap-without-slice", lambda w, t: _predict(w, t, "--slice-overlap", "0.3")),
    ("predict-slice-merge-without-slice", lambda w, t: _predict(w, t, "--slice-merge", "nmm")),
    ("predict-no-slice-full-without-slice", lambda w, t: _predict(w, t, "--no-slice-full")),
    ("predict-slice-drop-cut-without-slice", lambda w, t: _predict(w, t, "--slice-drop-cut")),
    ("predict-out-name-300-bytes", lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", long_name(t)]),
    ("predict-out-path-4k", lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", long_path(t)]),
    ("export-imgsz-0", lambda w, t: _export(w, "--imgsz", "0", "--out", t / "out" / "x")),
    ("export-imgsz-63", lambda w, t: _export(w, "--imgsz", "63", "--out", t / "out" / "x")),
    ("export-imgsz-negative", lambda w, t: _export(w, "--imgsz", "-64", "--out", t / "out" / "x")),
    ("export-imgsz-100", lambda w, t: _export(w, "--imgsz", "100", "--out", t / "out" / "x")),
    ("export-out-name-300-bytes", lambda w, t: _export(w, "--out", long_name(t))),
    ("export-out-path-4k", lambda w, t: _export(w, "--out", long_path(t))),
]

REPORT = [
    ("report-no-runs", lambda w, t: ["report", "--out", t / "out" / "report"]),
    ("report-missing-run", lambda w, t: ["report", t / "nope", "--out", t / "out" / "report"]),
    ("report-folder-without-runs", lambda w, t: ["report", user_folder(t), "--out", t / "out" / "report"]),
    ("report-out-is-a-file", lambda w, t: ["report", w.classify_run, "--out", t / "out" / "user.txt"]),
    ("report-out-under-a-file", lambda w, t: ["report", w.classify_run, "--out", t / "out" / "user.txt" / "r"]),
    ("report-out-is-a-user-folder", lambda w, t: ["report", w.classify_run, "--out", t / "out"]),
    (
        "report-samples-negative",
        lambda w, t: ["report", w.classify_run, "--out", t / "out" / "r", "--samples", "-1"],
    ),
    (
        "report-metrics-unknown-schema",
        lambda w, t: ["report", _unknown_schema_run(w, t), "--out", t / "out" / "r"],
        "metrics.json has schema 99; this wood reads schema 1",
    ),
    (
        "report-run-config-error-on-two-lines",
        lambda w, t: ["report", _broken_run(w, t), "--out", t / "out" / "r"],
        "config.yaml is not readable YAML",
    ),
    ("report-out-name-300-bytes", lambda w, t: ["report", w.classify_run, "--out", long_name(t)]),
    ("report-out-path-4k", lambda w, t: ["report", w.classify_run, "--out", long_path(t)]),
    (
        "report-out-symlink-to-nothing",
        lambda w, t: ["report", w.classify_run, "--out", dangling_link(t)],
        "which does not exist",
    ),
    (
        "report-out-symlink-to-a-user-folder",
        lambda w, t: ["report", w.classify_run, "--out", link_to_user_folder(t)],
        "mine: folder exists and is not a wood report output",
    ),
    ("demo-out-is-a-file", lambda w, t: ["demo", "--out", t / "out" / "user.txt"]),
    ("demo-out-is-a-user-folder", lambda w, t: ["demo", "--out", t / "out"]),
    ("demo-out-is-a-user-folder-force", lambda w, t: ["demo", "--out", t / "out", "--force"]),
    ("demo-out-name-300-bytes", lambda w, t: ["demo", "--out", long_name(t)]),
    ("demo-out-path-4k", lambda w, t: ["demo", "--out", long_path(t)]),
    (
        "demo-out-symlink-to-a-user-folder",
        lambda w, t: ["demo", "--out", link_to_user_folder(t)],
        "output path is a symbolic link",
    ),
]

ROWS = DETECT + SEGMENT + PREDICT + REPORT
