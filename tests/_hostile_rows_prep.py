"""Hostile-input rows for `wood synth` and `wood prep` (the table is tests/cli/test_hostile.py).

A row is (id, build, needles): ``build(world, case_folder)`` makes the case and returns the argv; the
one error line must hold every needle (``<tmp>`` stands for the case folder).
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from _hostile_world import (
    cat_copy,
    dangling_link,
    link_to_file,
    link_to_user_folder,
    long_name,
    long_path,
    png,
    src_copy,
    user_folder,
    write_file,
)


def out(tmp: Path) -> Path:
    return tmp / "out" / "prep"


def _src(edit):
    """``wood prep`` on a copy of the 64 px synthetic category changed by ``edit(src)``."""

    def build(w, tmp):
        src = src_copy(w, tmp)
        edit(src)
        return ["prep", src, "--out", out(tmp)]

    return build


def _cat(edit, *extra):
    """``wood prep`` on a copy of the hand-made 32 px category changed by ``edit(cat, tmp)``."""

    def build(w, tmp):
        cat = cat_copy(w, tmp)
        edit(cat, tmp)
        return ["prep", cat, *extra, "--out", out(tmp)]

    return build


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _warning_then_error(src: Path) -> None:
    """An unknown defect folder (a warning) and a corrupt image (the error): the error is the only line."""
    (src / "test" / "hole").rename(src / "test" / "hol")
    (src / "ground_truth" / "hole").rename(src / "ground_truth" / "hol")
    _truncate(src / "test" / "scratch" / "000.png", 120)


def _rename_defect(old: str, new: str):
    def edit(cat: Path, tmp: Path) -> None:
        (cat / "test" / old).rename(cat / "test" / new)
        (cat / "ground_truth" / old).rename(cat / "ground_truth" / new)

    return edit


def _exif_rotated(cat: Path, tmp: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display: Ultralytics reads this 64x48 image as 48x64
    Image.new("RGB", (64, 48), (120, 80, 40)).save(cat / "test" / "hole" / "003.jpg", exif=exif)
    mask = np.zeros((48, 64), np.uint8)
    mask[:8, :8] = 255
    png(cat / "ground_truth" / "hole" / "003_mask.png", mask)


def _jpg(folder: str, stem: str):
    return lambda cat, tmp: cv2.imwrite(str(cat / folder / f"{stem}.jpg"), np.full((32, 32, 3), 7, np.uint8))


def _mask_without_image_folder(cat: Path, tmp: Path) -> None:
    (cat / "ground_truth" / "crack").mkdir()
    png(cat / "ground_truth" / "crack" / "000_mask.png", np.full((32, 32), 255, np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit gray) with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


def _broken_link(rel: str):
    def edit(cat: Path, tmp: Path) -> None:
        path = cat / rel
        path.unlink(missing_ok=True)
        path.symlink_to(tmp / "gone.png")

    return edit


def _zero_one_mask(cat: Path, tmp: Path) -> None:
    path = cat / "ground_truth" / "hole" / "000_mask.png"
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    png(path, (mask > 0).astype(np.uint8))


def _symlink_loop(w, tmp):
    loop = tmp / "loop"
    loop.symlink_to(loop)
    return ["prep", loop, "--out", out(tmp)]


def _empty_category(w, tmp):
    (tmp / "empty" / "test").mkdir(parents=True)
    return ["prep", tmp / "empty", "--out", out(tmp)]


def _prep_config(text: str):
    return lambda w, t: ["prep", w.src, "--out", out(t), "--config", write_file(t / "p.yaml", text)]


def _binary_groups(w, tmp):
    groups = tmp / "groups.csv"
    groups.write_bytes(bytes(range(256)) * 4)
    return ["prep", cat_copy(w, tmp), "--groups", groups, "--out", out(tmp)]


def _dataset_config(text: str, *extra):
    return lambda w, t: [
        "prep",
        cat_copy(w, t),
        "--dataset-config",
        write_file(t / "wood.yaml", text),
        *extra,
        "--out",
        out(t),
    ]


_BAD_OPTIONS = [  # checked before anything is read: SRC does not even exist
    ("--test-fraction", "2"),
    ("--test-fraction", "-0.5"),
    ("--test-fraction", "nan"),
    ("--val-fraction", "1"),
    ("--seed", "-1"),
    ("--min-area", "-1"),
    ("--workers", "-1"),
    ("--preview", "-1"),
    ("--combined", "foo"),
]

HOLE0, HOLE0_MASK = "test/hole/000.png", "ground_truth/hole/000_mask.png"

ROWS = [
    # synth
    ("synth-out-name-300-bytes", lambda w, t: ["synth", long_name(t)]),
    ("synth-out-path-4k", lambda w, t: ["synth", long_path(t)]),
    ("synth-size-0", lambda w, t: ["synth", t / "out" / "s", "--size", "0"]),
    ("synth-out-symlink-to-nothing", lambda w, t: ["synth", dangling_link(t)], "which does not exist"),
    # prep: the source category
    ("prep-missing-source", lambda w, t: ["prep", t / "nope", "--out", out(t)]),
    ("prep-missing-root", lambda w, t: ["prep", t / "nope", "--out", out(t)], "nope", "does not exist"),
    ("prep-source-without-test", _src(lambda s: shutil.rmtree(s / "test"))),
    ("prep-missing-test-split-folder", _cat(lambda c, t: shutil.rmtree(c / "test")), "<tmp>/src/wood", "no test/"),
    ("prep-empty-category", _empty_category, "empty category"),
    ("prep-corrupt-png", _src(lambda s: _truncate(s / HOLE0, 120))),
    ("prep-truncated-png", _cat(lambda c, t: _truncate(c / HOLE0, 200)), HOLE0, "not a readable image"),
    ("prep-text-named-png", _src(lambda s: write_file(s / HOLE0, "text with a .png name\n"))),
    (
        "prep-mask-text-named-png",
        _cat(lambda c, t: write_file(c / "ground_truth/scratch/001_mask.png", "this is not a PNG")),
        "001_mask.png",
        "not a readable image",
    ),
    ("prep-mask-size-mismatch", _src(lambda s: png(s / HOLE0_MASK, np.full((32, 32), 255, np.uint8)))),
    (
        "prep-mask-size-differs-from-image",
        _cat(lambda c, t: png(c / "ground_truth/hole/002_mask.png", np.full((16, 16), 255, np.uint8))),
        "002_mask.png",
        "16x16",
        "32x32",
    ),
    ("prep-empty-mask", _src(lambda s: png(s / HOLE0_MASK, np.zeros((64, 64), np.uint8)))),
    (
        "prep-all-zero-mask-is-flagged",
        _cat(lambda c, t: png(c / HOLE0_MASK, np.zeros((32, 32), np.uint8))),
        "000_mask.png",
        "mask is empty",
        "--allow-empty-masks",
    ),
    (
        "prep-zero-one-mask-gets-a-hint",
        _cat(_zero_one_mask),
        "000_mask.png",
        "mask is empty",
        "0..1",
        "scale it by 255",
    ),
    ("prep-image-without-mask", _src(lambda s: (s / HOLE0_MASK).unlink())),
    (
        "prep-defect-image-without-mask",
        _cat(lambda c, t: (c / "ground_truth/hole/001_mask.png").unlink()),
        "test/hole/001.png",
        "has no mask",
    ),
    ("prep-mask-without-image", _src(lambda s: (s / HOLE0).unlink())),
    (
        "prep-mask-without-its-image",
        _cat(lambda c, t: (c / "test/scratch/002.png").unlink()),
        "002_mask.png",
        "has no image",
    ),
    (
        "prep-mask-folder-without-image-folder",
        _cat(_mask_without_image_folder),
        "ground_truth/crack",
        "no image folder",
        "test/crack/",
    ),
    ("prep-exif-rotated-jpeg", _cat(_exif_rotated), "003.jpg", "EXIF orientation 6", "upright"),
    (
        "prep-same-stem-png-and-jpg-in-a-defect-folder",
        _cat(_jpg("test/hole", "000")),
        "test/hole",
        "000.jpg",
        "000.png",
        "share the stem",
    ),
    *[
        (
            f"prep-same-stem-in-{folder.replace('/', '-')}",
            _cat(_jpg(folder, "001"), "--train-good"),
            folder,
            "001.jpg",
            "001.png",
        )
        for folder in ("test/good", "train/good")
    ],
    (
        "prep-defect-folder-named-train-good",
        _cat(_rename_defect("scratch", "train-good"), "--train-good"),
        "train-good_000",
        "rename one",
    ),
    (
        "prep-unknown-defect-folder-strict",
        _cat(_rename_defect("scratch", "scrach"), "--strict"),
        "test/scrach",
        "scrach",
        "known classes",
    ),
    ("prep-source-symlink-loop", _symlink_loop, "loop", "symbolic link loop"),
    (
        "prep-huge-png",
        _cat(lambda c, t: (c / "test/good/000.png").write_bytes(png_header_only(40000, 40000))),
        "test/good/000.png",
        "too large",
        "40000x40000",
    ),
    ("prep-broken-image-link", _cat(_broken_link("test/hole/003.png")), "test/hole/003.png", "broken symbolic link"),
    (
        "prep-broken-mask-link",
        _cat(_broken_link("ground_truth/hole/001_mask.png")),
        "001_mask.png",
        "broken symbolic link",
    ),
    ("prep-warning-then-error", _src(_warning_then_error), "not a readable image"),
    ("prep-source-path-4k", lambda w, t: ["prep", long_path(t), "--out", out(t)]),
    # prep: options, side files and configs
    ("prep-test-fraction-2", lambda w, t: ["prep", w.src, "--out", out(t), "--test-fraction", "2"]),
    ("prep-val-fraction-1", lambda w, t: ["prep", w.src, "--out", out(t), "--val-fraction", "1"]),
    ("prep-seed-negative", lambda w, t: ["prep", w.src, "--out", out(t), "--seed", "-1"]),
    *[
        (
            f"prep-bad{option}-{value}-before-source",
            lambda w, t, o=option, v=value: ["prep", t / "missing", o, v, "--out", out(t)],
            option,
            value.lstrip("-"),
        )
        for option, value in _BAD_OPTIONS
    ],
    (
        "prep-combined-merge",
        lambda w, t: ["prep", cat_copy(w, t), "--combined", "merge", "--out", out(t)],
        "combined must be one of",
    ),
    ("prep-tile-overlap-without-tile", lambda w, t: ["prep", w.src, "--out", out(t), "--tile-overlap", "0.5"]),
    ("prep-tile-min-visible-without-tile", lambda w, t: ["prep", w.src, "--out", out(t), "--tile-min-visible", "0.9"]),
    ("prep-tile-keep-full-without-tile", lambda w, t: ["prep", w.src, "--out", out(t), "--tile-keep-full"]),
    ("prep-tile-background-without-tile", lambda w, t: ["prep", w.src, "--out", out(t), "--tile-background", "3"]),
    ("prep-tile-options-in-config-without-tile", _prep_config("tile_overlap: 0.4\n")),
    ("prep-tile-not-a-multiple-of-32", lambda w, t: ["prep", w.src, "--out", out(t), "--tile", "40"]),
    ("prep-config-error-on-two-lines", _prep_config("seed: [1\nval_fraction: 0.2\n")),
    ("prep-groups-file-binary", _binary_groups, "groups.csv", "not a UTF-8 CSV"),
    (
        "prep-groups-file-missing",
        lambda w, t: ["prep", cat_copy(w, t), "--groups", t / "missing.csv", "--out", out(t)],
        "missing.csv",
        "does not exist",
    ),
    (
        "prep-dataset-config-bad-colour",
        _dataset_config("classes:\n  hole: {colour: '#zzzzzz'}\n  scratch: {colour: '#00ff00'}\n", "--preview", "4"),
        "wood.yaml",
        "classes.hole.colour",
        "#zzzzzz",
    ),
    (
        "prep-dataset-config-unknown-class",
        _dataset_config("classes:\n  hole: {colour: '#ff0000'}\n  knot: {colour: '#00ff00'}\n"),
        "wood.yaml",
        "knot",
    ),
    # prep: the output folder
    ("prep-out-is-a-file", lambda w, t: ["prep", w.src, "--out", t / "out" / "user.txt"]),
    ("prep-out-is-a-user-folder", lambda w, t: ["prep", w.src, "--out", t / "out"]),
    (
        "prep-out-is-a-user-folder-kept",
        lambda w, t: ["prep", cat_copy(w, t), "--out", user_folder(t)],
        "not a wood prep output",
    ),
    ("prep-out-inside-source", lambda w, t: ["prep", w.src, "--out", w.src / "prepared"]),
    ("prep-out-name-300-bytes", lambda w, t: ["prep", w.src, "--out", long_name(t)]),
    ("prep-out-path-4k", lambda w, t: ["prep", w.src, "--out", long_path(t)]),
    ("prep-out-symlink-to-nothing", lambda w, t: ["prep", w.src, "--out", dangling_link(t)], "which does not exist"),
    (
        "prep-out-symlink-to-a-user-folder",
        lambda w, t: ["prep", w.src, "--out", link_to_user_folder(t)],
        "mine: folder exists and is not a wood prep output",
    ),
    ("prep-out-symlink-to-a-file", lambda w, t: ["prep", w.src, "--out", link_to_file(t)], "which is not a folder"),
]
