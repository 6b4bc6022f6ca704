"""prep/formats/coco_layout.py: the standard COCO layout beside wood's own coco/<split>.json holds the same
annotations, points at ../images/<split>, and its images are the same files (hard links where possible)."""

from __future__ import annotations

import json

import pytest

from wood.errors import DataError
from wood.prep.formats.coco_layout import standard_copy, write_standard_layout


def test_standard_copy_changes_only_images_dir():
    coco = {"info": {"images_dir": "../yolo/images/val", "x": 1}, "images": [1], "annotations": [2]}
    copy = standard_copy(coco, "val")
    assert copy == {"info": {"images_dir": "../images/val", "x": 1}, "images": [1], "annotations": [2]}
    assert coco["info"]["images_dir"] == "../yolo/images/val"  # the input is not changed
    assert standard_copy({"images": []}, "test")["info"] == {"images_dir": "../images/test"}


def _prep(tmp_path, name="a.png"):
    coco_dir, images = tmp_path / "coco", tmp_path / "yolo" / "images"
    coco_dir.mkdir()
    for split in ("train", "val", "test"):
        (images / split).mkdir(parents=True)
        (images / split / name).write_bytes(split.encode())
        coco = {"info": {"images_dir": f"../yolo/images/{split}"}, "images": [{"id": 1, "file_name": name}]}
        (coco_dir / f"{split}.json").write_text(json.dumps({**coco, "annotations": [], "categories": []}))
    return coco_dir, images


def test_write_standard_layout(tmp_path):
    coco_dir, images = _prep(tmp_path)
    write_standard_layout(coco_dir, images)
    for split in ("train", "val", "test"):
        std = json.loads((coco_dir / "annotations" / f"instances_{split}.json").read_text())
        own = json.loads((coco_dir / f"{split}.json").read_text())
        assert std == {**own, "info": {"images_dir": f"../images/{split}"}}
        linked = coco_dir / "images" / split / "a.png"
        assert linked.read_bytes() == split.encode()
        assert linked.stat().st_ino == (images / split / "a.png").stat().st_ino  # a hard link, not a copy


def test_a_file_name_that_is_a_path_is_refused(tmp_path):
    coco_dir, images = _prep(tmp_path, name="a.png")
    data = json.loads((coco_dir / "train.json").read_text())
    data["images"][0]["file_name"] = "../a.png"
    (coco_dir / "train.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="is a path"):
        write_standard_layout(coco_dir, images)
