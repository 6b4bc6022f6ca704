"""Hostile inputs to `wood prep`: each stops with one line naming the file (exit 2) or is handled honestly."""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from _mvtec_fixtures import make_category, write_png

from wood.cli import main, os_error_line, split_debug
from wood.dataset_config import load_dataset_config, unknown_defect_types
from wood.errors import ConfigError, DataError
from wood.prep.imageio import decode


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
    return lines[0]


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    return make_category(tmp_path / "src" / "wood")


def rename_defect(cat: Path, old: str, new: str) -> None:
    (cat / "test" / old).rename(cat / "test" / new)
    (cat / "ground_truth" / old).rename(cat / "ground_truth" / new)


# 1. EXIF orientation


def test_exif_rotated_jpeg_stops(cat, tmp_path, capsys):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display: Ultralytics reads this 64x48 image as 48x64
    Image.new("RGB", (64, 48), (120, 80, 40)).save(cat / "test" / "hole" / "003.jpg", exif=exif)
    mask = np.zeros((48, 64), np.uint8)
    mask[:8, :8] = 255
    write_png(cat / "ground_truth" / "hole" / "003_mask.png", mask)
    expect_error([str(cat)], capsys, tmp_path / "out", "003.jpg", "EXIF orientation 6", "upright")


def test_upright_jpeg_with_exif_is_kept(cat, tmp_path, capsys):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 1
    Image.new("RGB", (32, 32), (120, 80, 40)).save(cat / "test" / "good" / "007.jpg", exif=exif)
    assert run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)[0] == 0


# 2 and 8. Names that would collide


def test_same_stem_png_and_jpg_in_a_defect_folder_stops(cat, tmp_path, capsys):
    cv2.imwrite(str(cat / "test" / "hole" / "000.jpg"), np.full((32, 32, 3), 7, np.uint8))
    expect_error([str(cat)], capsys, tmp_path / "out", "test/hole", "000.jpg", "000.png", "share the stem")


@pytest.mark.parametrize("folder", ["test/good", "train/good"])
def test_same_stem_in_good_folders_stops(cat, tmp_path, capsys, folder):
    cv2.imwrite(str(cat / folder / "001.jpg"), np.full((32, 32, 3), 7, np.uint8))
    expect_error([str(cat), "--train-good"], capsys, tmp_path / "out", folder, "001.jpg", "001.png")


def test_defect_folder_named_train_good_collides_with_train_good_prefix(cat, tmp_path, capsys):
    rename_defect(cat, "scratch", "train-good")
    expect_error([str(cat), "--train-good"], capsys, tmp_path / "out", "train-good_000", "rename one")


# 3. Folders that do not pair up or that the dataset config does not know


def test_mask_folder_without_image_folder_stops(cat, tmp_path, capsys):
    write_png(cat / "ground_truth" / "crack" / "000_mask.png", np.full((32, 32), 255, np.uint8))
    expect_error([str(cat)], capsys, tmp_path / "out", "ground_truth/crack", "no image folder", "test/crack/")


def test_unknown_defect_folder_warns_and_strict_stops(cat, tmp_path, capsys):
    rename_defect(cat, "scratch", "scrach")
    code, err = run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert code == 0, err
    assert len(lines) == 1 and "scrach" in lines[0] and "'scratch' for 'scrach'" in lines[0] and "hole" in lines[0]
    expect_error([str(cat), "--strict"], capsys, tmp_path / "strict", "test/scrach", "scrach", "known classes")


def test_unknown_defect_types_is_empty_without_classes():
    wood = load_dataset_config("wood")
    assert unknown_defect_types(["hole", "dent", "scrach"], wood) == ["dent", "scrach"]
    assert unknown_defect_types(["anything"], load_dataset_config("no-such-category")) == []


# 4. Options are checked first: even a missing SRC is not looked at


@pytest.mark.parametrize(
    "option, value",
    [
        ("--test-fraction", "2"),
        ("--test-fraction", "-0.5"),
        ("--test-fraction", "nan"),
        ("--val-fraction", "1"),
        ("--seed", "-1"),
        ("--min-area", "-1"),
        ("--workers", "-1"),
        ("--preview", "-1"),
        ("--combined", "foo"),
    ],
)
def test_bad_option_values_stop_before_anything_is_read(tmp_path, capsys, option, value):
    expect_error([str(tmp_path / "missing"), option, value], capsys, tmp_path / "out", option, value.lstrip("-"))


# 5 and 6. Bad side files


def test_binary_groups_file_stops(cat, tmp_path, capsys):
    groups = tmp_path / "groups.csv"
    groups.write_bytes(bytes(range(256)) * 4)
    expect_error([str(cat), "--groups", str(groups)], capsys, tmp_path / "out", "groups.csv", "not a UTF-8 CSV")


def test_bad_colour_stops_when_the_config_is_loaded(cat, tmp_path, capsys):
    config = tmp_path / "wood.yaml"
    config.write_text("classes:\n  hole: {colour: '#zzzzzz'}\n  scratch: {colour: '#00ff00'}\n")
    with pytest.raises(ConfigError, match="classes.hole.colour"):
        load_dataset_config("wood", config)
    expect_error(
        [str(cat), "--dataset-config", str(config), "--preview", "4"],
        capsys,
        tmp_path / "out",
        "wood.yaml",
        "classes.hole.colour",
        "#zzzzzz",
    )


# 7. Symbolic link loops and huge images


def test_source_that_is_a_symlink_loop_stops(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    expect_error([str(loop)], capsys, tmp_path / "out", "loop", "symbolic link loop")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit gray) with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


def test_huge_png_stops_with_its_size(cat, tmp_path, capsys):
    (cat / "test" / "good" / "000.png").write_bytes(png_header_only(40000, 40000))
    expect_error([str(cat)], capsys, tmp_path / "out", "test/good/000.png", "too large", "40000x40000")


# 9. Library noise on stderr


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


# 10. Full disk


def test_full_disk_on_a_write_without_file_name_names_the_file(cat, tmp_path, capsys, monkeypatch):
    real = Path.write_text

    def full(self, *a, **k):
        if self.suffix == ".txt":
            raise OSError(errno.ENOSPC, "No space left on device")  # a failed write(): no filename
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    line = expect_error([str(cat)], capsys, tmp_path / "out", "No space left on device", ".txt")
    assert not line.startswith("error: :")


def test_os_error_line():
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device")) == "No space left on device"
    copy = OSError(errno.ENOSPC, "No space left on device", "/src/a.png", None, "/out/a.png")
    assert os_error_line(copy) == "/out/a.png: No space left on device"  # shutil.copyfile: filename2 is the target
    assert os_error_line(OSError(errno.EACCES, "Permission denied", "/x")) == "/x: Permission denied"


# 11 and 12. Ctrl-C and --debug


def test_ctrl_c_prints_interrupted_and_exits_130(cat, tmp_path, capsys, monkeypatch):
    import wood.prep.pipeline as pipeline

    def interrupt(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_prep", interrupt)
    code, err = run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)
    assert (code, err) == (130, "interrupted\n")


@pytest.mark.parametrize("where", ["first", "after the command", "last"])
def test_debug_anywhere_shows_the_traceback(tmp_path, where):
    args = ["prep", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]
    positions = {
        "first": ["--debug", *args],
        "after the command": ["prep", "--debug", *args[1:]],
        "last": [*args, "--debug"],
    }
    args = positions[where]
    with pytest.raises(DataError, match="does not exist"):
        main(args)


def test_split_debug():
    assert split_debug(["prep", "x", "--debug"]) == (["prep", "x"], True)
    assert split_debug(["--debug", "prep"]) == (["prep"], True)
    assert split_debug(["prep", "--", "--debug"]) == (["prep", "--", "--debug"], False)


# 13. Broken links and 0/1 masks


def test_broken_image_link_is_reported_as_such(cat, tmp_path, capsys):
    (cat / "test" / "hole" / "003.png").symlink_to(tmp_path / "gone.png")
    expect_error([str(cat)], capsys, tmp_path / "out", "test/hole/003.png", "broken symbolic link")


def test_broken_mask_link_is_reported_as_such(cat, tmp_path, capsys):
    mask = cat / "ground_truth" / "hole" / "001_mask.png"
    mask.unlink()
    mask.symlink_to(tmp_path / "gone.png")
    expect_error([str(cat)], capsys, tmp_path / "out", "001_mask.png", "broken symbolic link")


def test_zero_one_mask_gets_a_hint(cat, tmp_path, capsys):
    mask = cv2.imread(str(cat / "ground_truth" / "hole" / "000_mask.png"), cv2.IMREAD_UNCHANGED)
    write_png(cat / "ground_truth" / "hole" / "000_mask.png", (mask > 0).astype(np.uint8))
    expect_error([str(cat)], capsys, tmp_path / "out", "000_mask.png", "mask is empty", "0..1", "scale it by 255")


def test_hostile_fixture_is_valid(cat, tmp_path, capsys):
    """The unmodified fixture prepares cleanly (so every failure above comes from its one change)."""
    assert run_cli(["prep", str(cat), "--out", str(tmp_path / "out")], capsys)[0] == 0
    shutil.rmtree(tmp_path / "out")
