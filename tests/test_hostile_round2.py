"""Hostile inputs, round two: every command, one `error:` line, exit 2, nothing lost, nothing half-written.

Rows as in tests/test_hostile_inputs.py (same shared inputs, same check): names in a manifest or COCO
file that are paths, edited boxes, options given without the option they belong to, export sizes,
over-long output paths, symbolic links that point nowhere or at a user's folder, configs whose error
spans lines. The case folder and the shared folder are hashed before and after each row: both must
be byte-identical (no user file touched, no output or run folder created). No row trains a model.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _hostile_world import (  # noqa: F401 (world, yolo_checkpoint: fixtures)
    World,
    assert_refused_and_unchanged,
    dangling_link,
    edited_prep,
    first,
    link_to_file,
    link_to_user_folder,
    long_name,
    long_path,
    png,
    prep_copy,
    set_field,
    set_instance,
    snapshot,
    src_copy,
    user_folder,
    world,
    write_file,
    yolo_checkpoint,
)


def _images0_string(m: dict) -> None:
    m["images"][0] = "color_000.png"


def _duplicate(m: dict) -> None:
    m["images"].append(dict(first("test")(m)))


def _coco_name(value):
    return lambda coco: coco["images"][0].__setitem__("file_name", value)


def _coco_images_dir(coco: dict) -> None:
    coco["info"]["images_dir"] = "../../../elsewhere"


def _paste(prep: Callable[[World, Path], Path], *extra):
    return lambda w, t: ["paste", prep(w, t), "--out", t / "out" / "pasted", "--images", "2", "--workers", "1", *extra]


def _victim(w: World, tmp: Path) -> Path:
    """The prep copy whose test record is named `../../../../victim.png`, and a victim file there."""
    prep = edited_prep(set_field("test", "name", "../../../../victim.png"))(w, tmp)
    write_file(tmp / "victim.png", "the user's picture\n")
    return prep


# ---------------------------------------------------------------- synth, prep, paste
SYNTH = {
    "synth-out-name-300-bytes": lambda w, t: ["synth", long_name(t)],
    "synth-out-path-4k": lambda w, t: ["synth", long_path(t)],
    "synth-size-0": lambda w, t: ["synth", t / "out" / "s", "--size", "0"],
    "synth-out-symlink-to-nothing": lambda w, t: ["synth", dangling_link(t)],
}


def _prep_warning_then_error(w, tmp):
    """An unknown defect folder (a warning) and a corrupt image (the error): the error is the only line."""
    src = src_copy(w, tmp)
    (src / "test" / "hole").rename(src / "test" / "hol")
    (src / "ground_truth" / "hole").rename(src / "ground_truth" / "hol")
    image = src / "test" / "scratch" / "000.png"
    image.write_bytes(image.read_bytes()[:120])
    return ["prep", src, "--out", t_out(tmp)]


def t_out(tmp: Path) -> Path:
    return tmp / "out" / "prep"


PREP = {
    "prep-tile-overlap-without-tile": lambda w, t: ["prep", w.src, "--out", t_out(t), "--tile-overlap", "0.5"],
    "prep-tile-min-visible-without-tile": lambda w, t: ["prep", w.src, "--out", t_out(t), "--tile-min-visible", "0.9"],
    "prep-tile-keep-full-without-tile": lambda w, t: ["prep", w.src, "--out", t_out(t), "--tile-keep-full"],
    "prep-tile-background-without-tile": lambda w, t: ["prep", w.src, "--out", t_out(t), "--tile-background", "3"],
    "prep-tile-options-in-config-without-tile": lambda w, t: [
        "prep",
        w.src,
        "--out",
        t_out(t),
        "--config",
        write_file(t / "p.yaml", "tile_overlap: 0.4\n"),
    ],
    "prep-tile-not-a-multiple-of-32": lambda w, t: ["prep", w.src, "--out", t_out(t), "--tile", "40"],
    "prep-out-name-300-bytes": lambda w, t: ["prep", w.src, "--out", long_name(t)],
    "prep-out-path-4k": lambda w, t: ["prep", w.src, "--out", long_path(t)],
    "prep-out-symlink-to-nothing": lambda w, t: ["prep", w.src, "--out", dangling_link(t)],
    "prep-out-symlink-to-a-user-folder": lambda w, t: ["prep", w.src, "--out", link_to_user_folder(t)],
    "prep-out-symlink-to-a-file": lambda w, t: ["prep", w.src, "--out", link_to_file(t)],
    "prep-source-path-4k": lambda w, t: ["prep", long_path(t), "--out", t_out(t)],
    "prep-config-error-on-two-lines": lambda w, t: [
        "prep",
        w.src,
        "--out",
        t_out(t),
        "--config",
        write_file(t / "p.yaml", "seed: [1\nval_fraction: 0.2\n"),
    ],
    "prep-warning-then-error": _prep_warning_then_error,
}


PASTE = {
    "paste-name-escapes-the-folder": lambda w, t: ["paste", _victim(w, t), "--out", t / "out" / "p", "--workers", "1"],
    "paste-name-absolute": _paste(edited_prep(set_field("test", "name", "/etc/hostname"))),
    "paste-name-dot-dot": _paste(edited_prep(set_field("val", "name", ".."))),
    "paste-name-not-a-string": _paste(edited_prep(set_field("train", "name", 7))),
    "paste-name-with-nul": _paste(edited_prep(set_field("test", "name", "a\0b.png"))),
    "paste-name-listed-twice": _paste(edited_prep(_duplicate)),
    "paste-images-0-is-a-string": _paste(edited_prep(_images0_string)),
    "paste-split-bogus": _paste(edited_prep(set_field("test", "split", "holdout"))),
    "paste-defect-is-a-path": _paste(edited_prep(set_field("test", "defect", "../../x"))),
    "paste-sha256-not-hex": _paste(edited_prep(set_field("test", "sha256", "abc"))),
    "paste-height-0": _paste(edited_prep(set_field("test", "height", 0))),
    "paste-instances-not-a-list": _paste(edited_prep(set_field("train", "instances", "many", True))),
    "paste-bbox-edited": _paste(edited_prep(set_instance("bbox_xyxy", [0, 0, 5, 5]))),
    "paste-area-edited": _paste(edited_prep(set_instance("area", 1))),
    "paste-class-id-edited": _paste(edited_prep(set_instance("class_id", 3))),
    "paste-instance-removed": _paste(edited_prep(lambda m: first("train", True)(m)["instances"].pop())),
    "paste-coco-bbox-edited": _paste(
        edited_prep(lambda c: c["annotations"][0].__setitem__("bbox", [0, 0, 1, 1]), coco="train")
    ),
    "paste-coco-file-name-escapes": _paste(edited_prep(_coco_name("../../../victim.png"), coco="val")),
    "paste-out-name-300-bytes": lambda w, t: ["paste", w.prep, "--out", long_name(t)],
    "paste-out-path-4k": lambda w, t: ["paste", w.prep, "--out", long_path(t)],
    "paste-out-symlink-to-a-user-folder": lambda w, t: ["paste", w.prep, "--out", link_to_user_folder(t)],
    "paste-images-0": lambda w, t: ["paste", w.prep, "--out", t / "out" / "p", "--images", "0"],
}


# ---------------------------------------------------------------- finetune, experiments
def _yolo(data, *extra):
    base = ["finetune", "yolo", "--data", data, "--model", "yolov8n.yaml", "--imgsz", "64", "--epochs", "1"]
    return [*base, "--device", "cpu", *extra]


def _sam(data, *extra):
    return ["finetune", "sam", "--data", data, "--model", "tiny", "--epochs", "1", "--device", "cpu", *extra]


def _classify(data, *extra):
    return ["finetune", "classify", "--data", data, "--epochs", "1", "--imgsz", "16", "--batch", "4", *extra]


def _experiments(data):
    return ["experiments", "classify", "--data", data, "--epochs", "1", "--imgsz", "16"]


FINETUNE = {
    "yolo-run-name-300-bytes": lambda w, t: _yolo(w.prep, "--out", t / "out", "--name", "r" * 300),
    "yolo-out-path-4k": lambda w, t: _yolo(w.prep, "--out", long_path(t)),
    "yolo-config-error-on-two-lines": lambda w, t: _yolo(
        w.prep, "--out", t / "out", "--config", write_file(t / "y.yaml", "epochs: [1\nbatch: 2\n")
    ),
    "sam-run-name-300-bytes": lambda w, t: _sam(w.prep, "--out", t / "out", "--name", "r" * 300),
    "sam-out-path-4k": lambda w, t: _sam(w.prep, "--out", long_path(t)),
    "sam-coco-file-name-escapes": lambda w, t: _sam(
        edited_prep(_coco_name("../../../victim.png"), coco="train")(w, t), "--out", t / "out"
    ),
    "sam-coco-images-dir-outside": lambda w, t: _sam(
        edited_prep(_coco_images_dir, coco="train")(w, t), "--out", t / "out"
    ),
    "classify-run-name-300-bytes": lambda w, t: _classify(w.prep, "--out", t / "out", "--name", "r" * 300),
    "classify-out-path-4k": lambda w, t: _classify(w.prep, "--out", long_path(t)),
    "experiments-classify-out-path-4k": lambda w, t: [
        "experiments",
        "classify",
        "--data",
        w.prep,
        "--out",
        long_path(t),
    ],
    "experiments-classify-missing-data": lambda w, t: [
        "experiments",
        "classify",
        "--data",
        t / "nope",
        "--out",
        t / "o",
    ],
}


# ---------------------------------------------------------------- eval, predict, export
def _detect(w, *extra):
    return ["eval", "detect", "--run", w.yolo_run, "--device", "cpu", *extra]


def _segment(w, *extra):
    return ["eval", "segment", "--run", w.sam_run, "--device", "cpu", *extra]


def _predict(w, t, *extra):
    return ["predict", w.image, "--run", w.yolo_run, "--device", "cpu", "--out", t / "out" / "pred", *extra]


def _broken_run(w: World, tmp: Path) -> Path:
    run = tmp / "run"
    run.mkdir()
    write_file(run / "config.yaml", "data: [oops\ntask: detect\n")
    return run


def _run_with_metrics(w: World, tmp: Path, **metrics) -> Path:
    run = tmp / "run"
    run.mkdir()
    write_file(run / "config.yaml", f"data: {w.prep}\narch: small_cnn\nstrategy: scratch\n")
    write_file(run / "metrics.json", json.dumps({"kind": "classify", "schema": 1, **metrics}))
    return run


EVAL = {
    "eval-detect-slice-overlap-without-slice": lambda w, t: _detect(w, "--slice-overlap", "0.5"),
    "eval-detect-slice-merge-without-slice": lambda w, t: _detect(w, "--slice-merge", "nmm"),
    "eval-detect-no-slice-full-without-slice": lambda w, t: _detect(w, "--no-slice-full"),
    "eval-detect-slice-drop-cut-without-slice": lambda w, t: _detect(w, "--slice-drop-cut"),
    "eval-detect-out-name-300-bytes": lambda w, t: _detect(w, "--out", long_name(t)),
    "eval-detect-out-path-4k": lambda w, t: _detect(w, "--out", long_path(t)),
    "eval-detect-coco-file-name-escapes": lambda w, t: _detect(
        w, "--data", edited_prep(_coco_name("../../../../victim.png"), coco="test")(w, t), "--out", t / "out" / "e"
    ),
    "eval-detect-coco-images-dir-outside": lambda w, t: _detect(
        w, "--data", edited_prep(_coco_images_dir, coco="test")(w, t), "--out", t / "out" / "e"
    ),
    "eval-detect-manifest-images-0-string": lambda w, t: _detect(
        w, "--data", edited_prep(_images0_string)(w, t), "--out", t / "out" / "e"
    ),
    "eval-detect-run-config-error-on-two-lines": lambda w, t: [
        "eval",
        "detect",
        "--run",
        _broken_run(w, t),
    ],
    "eval-segment-slice-overlap-without-slice": lambda w, t: _segment(w, "--slice-overlap", "0.1"),
    "eval-segment-slice-merge-without-slice": lambda w, t: _segment(w, "--slice-merge", "nmm"),
    "eval-segment-out-name-300-bytes": lambda w, t: _segment(w, "--out", long_name(t)),
    "eval-segment-coco-file-name-escapes": lambda w, t: _segment(
        w, "--data", edited_prep(_coco_name("../victim.png"), coco="test")(w, t), "--out", t / "out" / "e"
    ),
    "eval-classify-run-config-not-yaml": lambda w, t: ["eval", "classify", _classify_broken_config(w, t)],
    "predict-slice-overlap-without-slice": lambda w, t: _predict(w, t, "--slice-overlap", "0.3"),
    "predict-slice-merge-without-slice": lambda w, t: _predict(w, t, "--slice-merge", "nmm"),
    "predict-no-slice-full-without-slice": lambda w, t: _predict(w, t, "--no-slice-full"),
    "predict-slice-drop-cut-without-slice": lambda w, t: _predict(w, t, "--slice-drop-cut"),
    "predict-out-name-300-bytes": lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", long_name(t)],
    "predict-out-path-4k": lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", long_path(t)],
    "export-imgsz-0": lambda w, t: ["export", "--run", w.yolo_run, "--imgsz", "0", "--out", t / "out" / "x"],
    "export-imgsz-63": lambda w, t: ["export", "--run", w.yolo_run, "--imgsz", "63", "--out", t / "out" / "x"],
    "export-imgsz-negative": lambda w, t: ["export", "--run", w.yolo_run, "--imgsz", "-64", "--out", t / "out" / "x"],
    "export-imgsz-100": lambda w, t: ["export", "--run", w.yolo_run, "--imgsz", "100", "--out", t / "out" / "x"],
    "export-out-name-300-bytes": lambda w, t: ["export", "--run", w.yolo_run, "--out", long_name(t)],
    "export-out-path-4k": lambda w, t: ["export", "--run", w.yolo_run, "--out", long_path(t)],
}


def _classify_broken_config(w: World, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(w.classify_run, run)
    write_file(run / "config.yaml", "data: [oops\narch: small_cnn\n")
    return run


def _unknown_schema_run(w: World, tmp: Path) -> Path:
    """A classify run (weights.pt too) whose metrics.json has a layout this wood does not know."""
    run = _run_with_metrics(w, tmp, schema=99, test="a newer layout")
    shutil.copy(w.classify_run / "weights.pt", run / "weights.pt")
    return run


# ---------------------------------------------------------------- report, demo
REPORT = {
    "report-metrics-unknown-schema": lambda w, t: ["report", _unknown_schema_run(w, t), "--out", t / "out" / "r"],
    "report-run-config-error-on-two-lines": lambda w, t: [
        "report",
        _broken_run(w, t),
        "--out",
        t / "out" / "r",
    ],
    "report-out-name-300-bytes": lambda w, t: ["report", w.classify_run, "--out", long_name(t)],
    "report-out-path-4k": lambda w, t: ["report", w.classify_run, "--out", long_path(t)],
    "report-out-symlink-to-nothing": lambda w, t: ["report", w.classify_run, "--out", dangling_link(t)],
    "report-out-symlink-to-a-user-folder": lambda w, t: ["report", w.classify_run, "--out", link_to_user_folder(t)],
    "demo-out-name-300-bytes": lambda w, t: ["demo", "--out", long_name(t)],
    "demo-out-path-4k": lambda w, t: ["demo", "--out", long_path(t)],
    "demo-out-symlink-to-a-user-folder": lambda w, t: ["demo", "--out", link_to_user_folder(t)],
}

NEEDLES = {  # rows whose line must also say this (the rest: any one `error:` line)
    "paste-name-escapes-the-folder": "images[1].name '../../../../victim.png' is a path, not a plain file name",
    "paste-name-absolute": "is a path, not a plain file name",
    "paste-name-dot-dot": "'..' is not a file name",
    "paste-name-not-a-string": "is int 7, not a string",
    "paste-name-with-nul": "is a path",
    "paste-name-listed-twice": "is listed twice",
    "paste-images-0-is-a-string": "images[0] is a str, not a JSON object",
    "paste-split-bogus": "split is 'holdout'",
    "paste-defect-is-a-path": "defect '../../x' is a path",
    "paste-sha256-not-hex": "not a sha256 hex digest",
    "paste-height-0": "height is 0",
    "paste-instances-not-a-list": "instances is not a list",
    "paste-bbox-edited": "bbox_xyxy is [0, 0, 5, 5], its mask in coco/train.json gives",
    "paste-area-edited": "area is 1, its mask",
    "paste-class-id-edited": "class_id is 3, its mask",
    "paste-instance-removed": "lists 2 instance(s), train.json holds 3",
    "paste-coco-bbox-edited": "has bbox [0, 0, 1, 1], its mask gives",
    "paste-coco-file-name-escapes": "val.json: images[0].file_name '../../../victim.png' is a path",
    "sam-coco-file-name-escapes": "train.json: images[0].file_name '../../../victim.png' is a path",
    "sam-coco-images-dir-outside": "info.images_dir '../../../elsewhere' points outside",
    "eval-detect-coco-file-name-escapes": "test.json: images[0].file_name '../../../../victim.png' is a path",
    "eval-detect-coco-images-dir-outside": "points outside",
    "eval-detect-manifest-images-0-string": "manifest.json: images[0] is a str",
    "eval-detect-run-config-error-on-two-lines": "config.yaml is not readable YAML",
    "eval-segment-coco-file-name-escapes": "file_name '../victim.png' is a path",
    "report-metrics-unknown-schema": "metrics.json has schema 99; this wood reads schema 1",
    "report-run-config-error-on-two-lines": "config.yaml is not readable YAML",
    "prep-warning-then-error": "not a readable image",
    "experiments-classify-missing-data": "no classify/ folder",
    "synth-out-symlink-to-nothing": "which does not exist",
    "prep-out-symlink-to-nothing": "which does not exist",
    "report-out-symlink-to-nothing": "which does not exist",
    "prep-out-symlink-to-a-file": "which is not a folder",
    "prep-out-symlink-to-a-user-folder": "mine: folder exists and is not a wood prep output",
    "paste-out-symlink-to-a-user-folder": "mine: folder exists and is not a wood prep output",
    "report-out-symlink-to-a-user-folder": "mine: folder exists and is not a wood report output",
    "demo-out-symlink-to-a-user-folder": "output path is a symbolic link",
}
ROWS = {**SYNTH, **PREP, **PASTE, **FINETUNE, **EVAL, **REPORT}
CLASSES = {  # the same problem in every command says the same thing
    "-without-slice": "needs --slice SIZE",
    "-without-tile": "needs --tile SIZE",
    "-name-300-bytes": "a part of 300 bytes",
    "-out-path-4k": "the limit is 3584 (PATH_MAX 4096",
    "export-imgsz-": "--imgsz must be a positive multiple of 32",
}
for _row in ROWS:
    for _key, _needle in CLASSES.items():
        if _key in _row:
            NEEDLES.setdefault(_row, _needle)
TABLE = [pytest.param(case, id=name) for name, case in ROWS.items()]


@pytest.mark.parametrize("case", TABLE)
def test_hostile_input(case: Callable[[World, Path], list], world: World, tmp_path: Path, capsys, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    write_file(tmp_path / "out" / "user.txt", "the user's own file\n")
    png(tmp_path / "out" / "user.png", np.full((8, 8, 3), 7, np.uint8))
    argv = case(world, tmp_path)
    assert_refused_and_unchanged(argv, (world.root, tmp_path), capsys, NEEDLES.get(request.node.callspec.id, ""))


def test_table_size():
    assert len(TABLE) >= 60
