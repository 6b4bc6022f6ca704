"""Hostile inputs to every command: one `error:` line, exit 2, nothing lost, nothing half-written.

ONE TABLE (the rows are in tests/_hostile_rows_{prep,train,eval}.py): each row is (id, build, needles).
The test runs `wood ...` in-process (wood.cli.main) on tiny synthetic data. Each row gets a fresh case
folder (the working directory, holding a user's text file and picture in ``out/``) and a shared module
folder (two source categories, a `wood prep` output, run folders: tests/_hostile_world.py). Every file
in both is hashed before and after: a row passes only if the exit code is 2, stderr is exactly one
``error: ...`` line (no traceback) holding each of the row's needles, and both folders are byte-identical
afterwards (no user file touched, no run folder or other output created). No row trains a model: each
fails before training would start.

Below the table, the checks that need the shared run folders (YOLO prep-folder check, predict reading
every image first).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _cli import run_cli
from _hostile_rows_eval import ROWS as EVAL_ROWS
from _hostile_rows_prep import ROWS as PREP_ROWS
from _hostile_rows_train import ROWS as TRAIN_ROWS
from _hostile_rows_train import yolo_out
from _hostile_world import (  # noqa: F401 (world, yolo_checkpoint: fixtures)
    World,
    assert_refused_and_unchanged,
    png,
    prep_copy,
    world,
    write_file,
    yolo_checkpoint,
)

ROWS = PREP_ROWS + TRAIN_ROWS + EVAL_ROWS

CLASSES = {  # the same problem in every command says the same thing (for rows that name no needle)
    "-without-slice": "needs --slice SIZE",
    "-without-tile": "needs --tile SIZE",
    "-name-300-bytes": "a part of 300 bytes",
    "-out-path-4k": "the limit is 3584 (PATH_MAX 4096",
    "export-imgsz-": "--imgsz must be a positive multiple of 32",
}


def needles_of(row: tuple) -> tuple[str, ...]:
    name, _build, *needles = row
    return tuple(needles) or tuple(needle for key, needle in CLASSES.items() if key in name)


TABLE = [pytest.param(row[1], needles_of(row), id=row[0]) for row in ROWS]


@pytest.mark.parametrize("build, needles", TABLE)
def test_hostile_input(build, needles: tuple[str, ...], world: World, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd lands in the snapshot too
    write_file(tmp_path / "out" / "user.txt", "the user's own file\n")
    png(tmp_path / "out" / "user.png", np.full((8, 8, 3), 7, np.uint8))
    argv = build(world, tmp_path)
    needles = tuple(n.replace("<tmp>", str(tmp_path)) for n in needles)
    assert_refused_and_unchanged(argv, (world.root, tmp_path), capsys, needles)


def test_table_rows_are_distinct_and_many():
    ids = Counter(row[0] for row in ROWS)
    assert [name for name, n in ids.items() if n > 1] == []
    assert len(ROWS) >= 218
    commands = {name.split("-")[0] for name in ids}
    assert commands == {"synth", "prep", "paste", "yolo", "sam", "classify", "experiments", "eval", "predict"} | {
        "export",
        "report",
        "demo",
    }


# ---------------------------------------------------------------- checks on the shared run folders
def test_yolo_prep_missing_labels_fails_before_the_run_folder(world, tmp_path, capsys):
    """A prep output without yolo/labels is one line naming the folder, and the same --name can be used
    again (no half run folder was left)."""
    data = prep_copy(world, tmp_path, "yolo/labels")
    for _ in range(2):
        code, err = run_cli(yolo_out(data, tmp_path, "--name", "first"), capsys)
        assert code == 2, err
        labels = data / "yolo" / "labels" / "train"
        assert err.strip() == f"error: {labels}: label folder is missing; re-run `wood prep`"
        assert not (tmp_path / "out").exists()


def test_predict_reads_every_image_before_writing(world, yolo_checkpoint, tmp_path, capsys):
    """One good and one corrupt image: one line, no overlay and no predictions.json."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(world.image, folder / "a_good.png")
    (folder / "b_bad.png").write_bytes(world.image.read_bytes()[:100])
    out = tmp_path / "pred"
    code, err = run_cli(["predict", folder, "--weights", yolo_checkpoint, "--out", out, "--device", "cpu"], capsys)
    assert code == 2, err
    assert err.strip() == f"error: {folder / 'b_bad.png'}: not a readable image (corrupt, truncated or not an image)"
    assert not out.exists()
    (folder / "b_bad.png").unlink()
    code, err = run_cli(["predict", folder, "--weights", yolo_checkpoint, "--out", out, "--device", "cpu"], capsys)
    assert code == 0, err
    written = [
        ".wood-output.json",
        "a_good_pred.png",
        "predictions.json",
        "predictions_coco.json",
        "predictions_coco_images.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == written
