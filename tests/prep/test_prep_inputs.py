"""`wood prep` on unusual inputs it accepts (EXIF, unknown defect folders, non-binary masks, 16-bit, spaces),
and failures in the middle of a run (full disk, Ctrl-C, libpng noise): one line naming the file, exit 2 or
130, nothing half-written. Inputs it refuses outright are rows of tests/cli/test_hostile.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from _mvtec_fixtures import make_category, write_png

from wood.cli import main
from wood.errors import DataError
from wood.imageio import decode


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run `wood ARGS` through the real entry point; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    return exc.value.code or 0, capsys.readouterr().err


def expect_error(args: list[str], capsys, out: Path, *needles: str) -> str:
    """`wood prep ARGS --out OUT` stops with exit 2 and one `error:` line holding every needle; writes nothing."""
    before = sorted(os.listdir(out.parent))
    code, err = run_cli(["prep", *args, "--out", str(out)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert sorted(os.listdir(out.parent)) == before
    assert not out.exists()
    assert not list(out.parent.glob(".wood-tmp-*"))
    return lines[0]


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    return make_category(tmp_path / "src" / "wood")


def test_hostile_fixture_is_valid(cat, tmp_path, capsys):
    """The unmodified 32 px category prepares cleanly (so every failing row built on it fails for its one change)."""
    assert run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)[0] == 0
    shutil.rmtree(tmp_path / "out")


def test_upright_jpeg_with_exif_is_kept(cat, tmp_path, capsys):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 1
    Image.new("RGB", (32, 32), (120, 80, 40)).save(cat / "test" / "good" / "007.jpg", exif=exif)
    assert run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)[0] == 0


def test_unknown_defect_folder_warns(cat, tmp_path, capsys):
    """One warning line with the likely spelling; --strict makes it an error (a row of the table)."""
    (cat / "test" / "scratch").rename(cat / "test" / "scrach")
    (cat / "ground_truth" / "scratch").rename(cat / "ground_truth" / "scrach")
    code, err = run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert code == 0, err
    assert len(lines) == 1 and "scrach" in lines[0] and "'scratch' for 'scrach'" in lines[0] and "hole" in lines[0]


def test_all_zero_mask_is_kept_with_allow_empty_masks(cat, tmp_path, capsys):
    """Without the option an all-zero mask stops prep (a row of the table); with it the image is flagged."""
    write_png(cat / "ground_truth" / "hole" / "000_mask.png", np.zeros((32, 32), np.uint8))
    code, _ = run_cli(["prep", str(cat), "--out", str(tmp_path / "ok"), "--allow-empty-masks"], capsys)
    assert code == 0
    manifest = json.loads((tmp_path / "ok" / "manifest.json").read_text())
    (img,) = [i for i in manifest["images"] if i["name"] == "hole_000.png"]
    assert img["flags"] == ["empty_mask"] and img["instances"] == []


def test_non_binary_masks_and_unusual_images_work(tmp_path, capsys):
    cat = make_category(tmp_path / "src" / "wood", per_defect=3)
    rng = np.random.default_rng(1)
    write_png(cat / "test" / "hole" / "000.png", rng.integers(0, 255, (32, 32), dtype=np.uint8))  # grayscale
    write_png(cat / "test" / "hole" / "001.png", rng.integers(0, 255, (32, 32, 4), dtype=np.uint8))  # RGBA
    write_png(cat / "test" / "hole" / "002.png", rng.integers(0, 65535, (32, 32, 3), dtype=np.uint16))  # 16-bit
    soft = cv2.GaussianBlur(cv2.imread(str(cat / "ground_truth" / "scratch" / "000_mask.png"), 0), (5, 5), 1.5)
    write_png(cat / "ground_truth" / "scratch" / "000_mask.png", soft)  # anti-aliased
    out = tmp_path / "out"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    images = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["images"]}
    assert (images["hole_000.png"]["channels"], images["hole_001.png"]["channels"]) == (1, 4)
    assert images["hole_002.png"]["dtype"] == "uint16"
    assert "non_binary_mask" in images["scratch_000.png"]["flags"]
    assert len(images["scratch_000.png"]["instances"]) == 1


def test_spaces_non_ascii_and_duplicates(tmp_path, capsys):
    cat = make_category(tmp_path / "dösen mit leer" / "wood", per_defect=4)
    shutil.copyfile(cat / "test" / "good" / "000.png", cat / "test" / "good" / "009 kopie.png")
    out = tmp_path / "out ü"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    images = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["images"]}
    a, b = images["good_000.png"], images["good_009 kopie.png"]
    assert a["split"] == b["split"]
    assert "duplicate_of:good_009 kopie.png" in a["flags"]
    assert (out / "yolo" / "images" / b["split"] / "good_009 kopie.png").is_file()


# ---------------------------------------------------------------- library noise on stderr
def corrupt_idat(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF  # libpng: "IDAT: incorrect data check" on fd 2
    path.write_bytes(bytes(data))


def test_decode_failure_prints_nothing_itself(tmp_path, capfd):
    path = write_png(tmp_path / "x.png", np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    corrupt_idat(path)
    with pytest.raises(DataError, match="not a readable image"):
        decode(path.read_bytes(), path)
    os.write(2, b"still here\n")  # fd 2 is restored afterwards
    assert capfd.readouterr().err == "still here\n"


def test_corrupt_png_gives_exactly_one_stderr_line(cat, tmp_path):
    corrupt_idat(cat / "test" / "hole" / "000.png")
    cmd = [sys.executable, "-c", "from wood.cli import main; main()", "prep", str(cat), "--out", str(tmp_path / "out")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "test/hole/000.png" in result.stderr


# ---------------------------------------------------------------- full disk, Ctrl-C
def test_full_disk_on_a_write_without_file_name_names_the_file(cat, tmp_path, capsys, monkeypatch):
    real = Path.write_text

    def full(self, *a, **k):
        if self.suffix == ".txt":
            raise OSError(errno.ENOSPC, "No space left on device")  # a failed write(): no filename
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    line = expect_error([str(cat)], capsys, tmp_path / "out", "No space left on device", ".txt")
    assert not line.startswith("error: :")


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
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    before = (out / "manifest.json").read_bytes()
    import wood.prep.pipeline as pipeline

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "write_json", interrupt)
    assert run_cli(["prep", str(cat), "--out", str(out), "--seed", "5"], capsys)[0] == 130
    assert (out / "manifest.json").read_bytes() == before
    assert not list(tmp_path.glob(".wood-*"))
    monkeypatch.undo()
    assert run_cli(["prep", str(cat), "--out", str(out), "--seed", "5"], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5
