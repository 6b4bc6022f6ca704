"""The standard COCO layout (coco/annotations/instances_<split>.json + coco/images/<split>/) that
datumaro, CVAT and FiftyOne import as is, beside wood's own coco/<split>.json."""

from __future__ import annotations

import json
from pathlib import Path

from wood.prep.formats.coco_split import images_dir, read_coco

SPLITS = ("train", "val", "test")


def _check_layout(prep: Path) -> None:
    from pycocotools.coco import COCO

    for split in SPLITS:
        path = prep / "coco" / "annotations" / f"instances_{split}.json"
        standard = json.loads(path.read_text())
        own = read_coco(prep, split)
        assert {k: v for k, v in standard.items() if k != "info"} == {k: v for k, v in own.items() if k != "info"}
        assert standard["info"]["images_dir"] == f"../images/{split}"
        folder = prep / "coco" / "images" / split
        assert sorted(p.name for p in folder.iterdir()) == sorted(i["file_name"] for i in standard["images"])
        for image in standard["images"]:
            linked, original = folder / image["file_name"], images_dir(prep, split, own) / image["file_name"]
            assert linked.is_file() and linked.read_bytes() == original.read_bytes()
        assert len(COCO(str(path)).getImgIds()) == len(standard["images"])  # pycocotools loads it


def test_prep_writes_the_standard_coco_layout(prepared: Path):
    _check_layout(prepared)
    assert images_dir(prepared, "train", read_coco(prepared, "train")) == (prepared / "yolo/images/train").resolve()


def test_paste_writes_the_standard_coco_layout(prepared: Path, tmp_path: Path):
    from wood.prep.paste.config import PasteConfig
    from wood.prep.paste.pipeline import run_paste

    out = tmp_path / "pasted"
    run_paste(PasteConfig(prep=prepared, out=out, images=2, per_image=1, workers=1))
    _check_layout(out)
    names = {i["file_name"] for i in json.loads((out / "coco/annotations/instances_train.json").read_text())["images"]}
    assert any(n.startswith("paste") for n in names)
