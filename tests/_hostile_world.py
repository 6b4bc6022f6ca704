"""The shared inputs of the hostile-input table (tests/cli/test_hostile.py, rows in tests/_hostile_rows_*.py): a
tiny synthetic category, a hand-made 32 px one, the first's `wood prep` output and run folders of every kind,
built once per module, plus the helpers every row uses (a byte snapshot of folders, copies of the inputs,
user files) and the one check every row passes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest


@dataclass
class World:
    """The shared, read-only inputs of the table (built once per module)."""

    root: Path
    src: Path  # synthetic MVTec category (64 px)
    prep: Path  # its `wood prep` output (train, val and test non-empty)
    yolo_run: Path  # a YOLO run folder with an untrained yolov8n (80 COCO classes) as weights/best.pt
    sam_run: Path  # a SAM run folder: config.yaml and a placeholder decoder file (rows fail before reading it)
    classify_run: Path  # a real (1 epoch, 16 px) classification run
    image: Path  # one good PNG
    text: Path  # a text file
    cat: Path  # a hand-made 32 px MVTec category (tests/_mvtec_fixtures.py): 2 defect types x 3, 3 good


@pytest.fixture(scope="module")
def yolo_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained yolov8n checkpoint (built from its yaml and saved: no training, no network)."""
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("yolo-ckpt") / "best.pt"
    YOLO("yolov8n.yaml").save(str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, yolo_checkpoint: Path) -> World:
    from _mvtec_fixtures import make_category

    from wood.config import build_config
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.classify.train import train
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    root = tmp_path_factory.mktemp("hostile")
    src = write_synth(root / "src" / "wood", size=64, per_defect=3, good=2, train_good=2, seed=0)
    prep = root / "prep"
    run_prep(PrepConfig(source=src, out=prep, workers=1, val_fraction=0.3))
    yolo_run = root / "runs" / "yolo" / "detect"
    (yolo_run / "weights").mkdir(parents=True)
    shutil.copy(yolo_checkpoint, yolo_run / "weights" / "best.pt")
    (yolo_run / "config.yaml").write_text(f"data: {prep}\ntask: detect\nimgsz: 64\n", encoding="utf-8")
    sam_run = root / "runs" / "sam" / "tiny-lora"
    (sam_run / "weights").mkdir(parents=True)
    (sam_run / "weights" / "mask_decoder.safetensors").write_bytes(b"rows fail before it is read")
    (sam_run / "config.yaml").write_text(f"data: {prep}\nmodel: tiny\nadapter: lora\n", encoding="utf-8")
    cfg = build_config(
        ClassifyConfig,
        None,
        data=prep,
        epochs=1,
        imgsz=16,
        batch=4,
        device="cpu",
        out=root / "runs" / "classify",
        name="c1",
    )
    classify_run = train(cfg)
    image = root / "images" / "good.png"
    image.parent.mkdir()
    shutil.copy(next((prep / "yolo" / "images" / "test").glob("good_*.png")), image)
    text = root / "notes.txt"
    text.write_text("not an image\n", encoding="utf-8")
    cat = make_category(root / "cat" / "wood")
    return World(root, src, prep, yolo_run, sam_run, classify_run, image, text, cat)


# ---------------------------------------------------------------- helpers
def snapshot(*folders: Path) -> dict[str, str]:
    """{path: sha256 of the bytes, '<dir>', or '<link> target'} of everything under ``folders``
    (a symbolic link is recorded by where it points, not followed)."""
    out: dict[str, str] = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_symlink():
                out[str(p)] = f"<link> {os.readlink(p)}"
            else:
                out[str(p)] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused_and_unchanged(argv: list, folders: tuple[Path, ...], capsys, needles: tuple[str, ...] = ()) -> None:
    """Run ``wood ARGV`` in-process: exit 2, exactly one ``error:`` line containing every one of ``needles``, no
    traceback, and every file under ``folders`` byte-identical afterwards (nothing created, removed or changed)."""
    from _cli import run_cli

    before = snapshot(*folders)
    code, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    after = snapshot(*folders)
    assert after == before, {
        "created": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in before if k in after and before[k] != after[k]),
    }


def prep_copy(w: World, tmp: Path, *remove: str) -> Path:
    """A copy of the prepared folder with the relative paths ``remove`` deleted."""
    copy = tmp / "prep-copy"
    shutil.copytree(w.prep, copy)
    for rel in remove:
        target = copy / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return copy


def src_copy(w: World, tmp: Path) -> Path:
    copy = tmp / "src-copy" / "wood"
    shutil.copytree(w.src, copy)
    return copy


def cat_copy(w: World, tmp: Path) -> Path:
    """A copy of the hand-made 32 px category (rows edit it)."""
    copy = tmp / "src" / "wood"
    shutil.copytree(w.cat, copy, symlinks=True)
    return copy


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def png(path: Path, array: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def user_folder(tmp: Path, name: str = "mine") -> Path:
    """A folder of the user's own (not written by wood)."""
    write_file(tmp / name / "keep.txt", "the user's file\n")
    return tmp / name


# ---------------------------------------------------------------- output paths, edited prep outputs, links
def long_name(tmp: Path) -> Path:
    """An output folder whose name is 300 bytes (NAME_MAX is 255)."""
    return tmp / "out" / ("n" * 300)


def long_path(tmp: Path) -> Path:
    """An output folder 4.7k bytes deep (PATH_MAX is 4096), every part of it a legal 200-byte name."""
    return tmp.joinpath("out", *(["d" * 200] * 23), "x")


def edited_prep(edit: Callable[[dict], None], coco: str | None = None) -> Callable[[World, Path], Path]:
    """A copy of the prepared folder with ``edit`` applied to its manifest.json (or to coco/<coco>.json)."""

    def make(w: World, tmp: Path) -> Path:
        copy = prep_copy(w, tmp)
        path = copy / ("manifest.json" if coco is None else f"coco/{coco}.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(json.dumps(data), encoding="utf-8")
        return copy

    return make


def first(split: str, with_instances: bool | None = None) -> Callable[[dict], dict]:
    """The first manifest record of ``split`` (with or without instances, or either)."""

    def pick(manifest: dict) -> dict:
        return next(
            r
            for r in manifest["images"]
            if r["split"] == split and (with_instances is None or bool(r["instances"]) == with_instances)
        )

    return pick


def set_field(split: str, key: str, value, with_instances: bool | None = None) -> Callable[[dict], None]:
    return lambda m: first(split, with_instances)(m).__setitem__(key, value)


def set_instance(key: str, value) -> Callable[[dict], None]:
    return lambda m: first("train", True)(m)["instances"][0].__setitem__(key, value)


def dangling_link(tmp: Path) -> Path:
    link = tmp / "out" / "link"
    link.symlink_to(tmp / "nowhere")
    return link


def link_to_user_folder(tmp: Path) -> Path:
    link = tmp / "out" / "mine-link"
    link.symlink_to(user_folder(tmp))
    return link


def link_to_file(tmp: Path) -> Path:
    link = tmp / "out" / "file-link"
    link.symlink_to(tmp / "out" / "user.txt")
    return link
