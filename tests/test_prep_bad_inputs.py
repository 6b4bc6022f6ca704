"""DESIGN.md's bad inputs: one clear line naming the file, exit code 2, nothing half-written."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from _mvtec_fixtures import make_category, write_png

from wood.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run `wood prep ARGS` through the real entry point; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(["prep", *args])
        raise SystemExit(0)
    return exc.value.code or 0, capsys.readouterr().err


def expect_error(args: list[str], capsys, out: Path, *needles: str) -> str:
    code, err = run_cli(args + ["--out", str(out)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()
    assert not list(out.parent.glob(".wood-tmp-*"))
    return lines[0]


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    return make_category(tmp_path / "src" / "wood")


def test_missing_root(tmp_path, capsys):
    expect_error([str(tmp_path / "nope")], capsys, tmp_path / "out", "nope", "does not exist")


def test_missing_test_split_folder(cat, tmp_path, capsys):
    shutil.rmtree(cat / "test")
    expect_error([str(cat)], capsys, tmp_path / "out", str(cat), "no test/ folder")


def test_empty_category(tmp_path, capsys):
    (tmp_path / "empty" / "test").mkdir(parents=True)
    expect_error([str(tmp_path / "empty")], capsys, tmp_path / "out", "empty category")


def test_defect_image_without_mask(cat, tmp_path, capsys):
    (cat / "ground_truth" / "hole" / "001_mask.png").unlink()
    expect_error([str(cat)], capsys, tmp_path / "out", "test/hole/001.png", "has no mask")


def test_mask_without_image(cat, tmp_path, capsys):
    (cat / "test" / "scratch" / "002.png").unlink()
    expect_error([str(cat)], capsys, tmp_path / "out", "002_mask.png", "has no image")


def test_truncated_png(cat, tmp_path, capsys):
    image = cat / "test" / "hole" / "000.png"
    image.write_bytes(image.read_bytes()[:200])
    expect_error([str(cat)], capsys, tmp_path / "out", "test/hole/000.png", "not a readable image")


def test_non_image_with_png_name(cat, tmp_path, capsys):
    (cat / "ground_truth" / "scratch" / "001_mask.png").write_text("this is not a PNG")
    expect_error([str(cat)], capsys, tmp_path / "out", "001_mask.png", "not a readable image")


def test_mask_size_differs_from_image(cat, tmp_path, capsys):
    write_png(cat / "ground_truth" / "hole" / "002_mask.png", np.full((16, 16), 255, np.uint8))
    expect_error([str(cat)], capsys, tmp_path / "out", "002_mask.png", "16x16", "32x32")


def test_all_zero_mask_is_flagged_not_dropped(cat, tmp_path, capsys):
    write_png(cat / "ground_truth" / "hole" / "000_mask.png", np.zeros((32, 32), np.uint8))
    expect_error([str(cat)], capsys, tmp_path / "out", "000_mask.png", "mask is empty", "--allow-empty-masks")
    code, _ = run_cli([str(cat), "--out", str(tmp_path / "ok"), "--allow-empty-masks"], capsys)
    assert code == 0
    manifest = json.loads((tmp_path / "ok" / "manifest.json").read_text())
    (img,) = [i for i in manifest["images"] if i["name"] == "hole_000.png"]
    assert img["flags"] == ["empty_mask"] and img["instances"] == []


def test_unknown_class_in_config(cat, tmp_path, capsys):
    config = tmp_path / "wood.yaml"
    config.write_text("classes:\n  hole: {colour: '#ff0000'}\n  knot: {colour: '#00ff00'}\n")
    expect_error([str(cat), "--dataset-config", str(config)], capsys, tmp_path / "out", "wood.yaml", "knot")


def test_out_that_is_not_a_prep_output_is_kept(cat, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, err = run_cli([str(cat), "--out", str(out)], capsys)
    assert code == 2 and "not a wood prep output" in err and (out / "precious.txt").read_text() == "keep me"


def test_full_disk_leaves_nothing(cat, tmp_path, capsys, monkeypatch):
    import wood.prep.tree as tree

    calls = {"n": 0}
    real = tree.shutil.copyfile

    def copy_until_full(src, dst, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(tree.shutil, "copyfile", copy_until_full)
    expect_error([str(cat)], capsys, tmp_path / "out", "No space left on device")


def test_interrupted_prep_keeps_previous_output_and_rerun_is_clean(cat, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run_cli([str(cat), "--out", str(out)], capsys)[0] == 0
    before = (out / "manifest.json").read_bytes()
    import wood.prep.pipeline as pipeline

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "write_json", interrupt)
    assert run_cli([str(cat), "--out", str(out), "--seed", "5"], capsys)[0] == 130
    assert (out / "manifest.json").read_bytes() == before
    assert not list(tmp_path.glob(".wood-*"))
    monkeypatch.undo()
    assert run_cli([str(cat), "--out", str(out), "--seed", "5"], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_non_binary_masks_and_unusual_images_work(tmp_path, capsys):
    cat = make_category(tmp_path / "src" / "wood", per_defect=3)
    rng = np.random.default_rng(1)
    write_png(cat / "test" / "hole" / "000.png", rng.integers(0, 255, (32, 32), dtype=np.uint8))  # grayscale
    write_png(cat / "test" / "hole" / "001.png", rng.integers(0, 255, (32, 32, 4), dtype=np.uint8))  # RGBA
    write_png(cat / "test" / "hole" / "002.png", rng.integers(0, 65535, (32, 32, 3), dtype=np.uint16))  # 16-bit
    soft = cv2.GaussianBlur(cv2.imread(str(cat / "ground_truth" / "scratch" / "000_mask.png"), 0), (5, 5), 1.5)
    write_png(cat / "ground_truth" / "scratch" / "000_mask.png", soft)  # anti-aliased
    out = tmp_path / "out"
    assert run_cli([str(cat), "--out", str(out)], capsys)[0] == 0
    images = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["images"]}
    assert (images["hole_000.png"]["channels"], images["hole_001.png"]["channels"]) == (1, 4)
    assert images["hole_002.png"]["dtype"] == "uint16"
    assert "non_binary_mask" in images["scratch_000.png"]["flags"]
    assert len(images["scratch_000.png"]["instances"]) == 1


def test_spaces_non_ascii_and_duplicates(tmp_path, capsys):
    cat = make_category(tmp_path / "dösen mit leer" / "wood", per_defect=4)
    shutil.copyfile(cat / "test" / "good" / "000.png", cat / "test" / "good" / "009 kopie.png")
    out = tmp_path / "out ü"
    assert run_cli([str(cat), "--out", str(out)], capsys)[0] == 0
    images = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["images"]}
    a, b = images["good_000.png"], images["good_009 kopie.png"]
    assert a["split"] == b["split"]
    assert "duplicate_of:good_009 kopie.png" in a["flags"]
    assert (out / "yolo" / "images" / b["split"] / "good_009 kopie.png").is_file()


def test_bad_option_values_exit_2(cat, tmp_path, capsys):
    expect_error([str(cat), "--combined", "merge"], capsys, tmp_path / "out", "combined must be one of")
    expect_error(
        [str(cat), "--groups", str(tmp_path / "missing.csv")], capsys, tmp_path / "out", "missing.csv", "does not exist"
    )
