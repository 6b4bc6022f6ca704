"""Writing the output of `wood paste`: the source prep's tree, linked, plus the new train images.

The source's files (every split's images and labels, val and test COCO files, classify folders) are
HARD-LINKED (copied where linking fails), so val and test are byte-identical to the source prep; every
linked image is checked against the manifest's sha256 first. Files are taken from the manifest, never
by listing folders, so nothing else that lies there (an Ultralytics labels cache) is carried over.
"""

from __future__ import annotations

import json
from pathlib import Path

from wood.console import track
from wood.errors import DataError
from wood.fsutil import file_sha256, link_or_copy, write_json
from wood.prep.formats.convert import coco_dataset
from wood.prep.paste.bank import SourcePrep
from wood.prep.splits import SPLITS
from wood.prep.tree import label_texts, manifest_record, naming, write_data_yaml, write_text

FORMATS = ("yolo", "yolo-seg")


def link_source(tmp: Path, source: SourcePrep) -> None:
    """Lay out ``tmp`` as the source prep: data.yaml files (relative to their folder), images, labels, classify."""
    for fmt in FORMATS:
        for split in SPLITS:
            (tmp / fmt / "images" / split).mkdir(parents=True)
            (tmp / fmt / "labels" / split).mkdir(parents=True)
        write_data_yaml(tmp / fmt, source.classes)
    for record in track(source.images(), "linking the source prep"):
        split, name, stem = record["split"], record["name"], Path(record["name"]).stem
        image = tmp / "yolo" / "images" / split / name
        _link_checked(source.image_path(record), image, record["sha256"])
        link_or_copy(image, tmp / "yolo-seg" / "images" / split / name)
        for fmt in FORMATS:
            label = source.folder / fmt / "labels" / split / f"{stem}.txt"
            if not label.is_file():
                raise DataError("label file missing; re-run `wood prep`", label)
            link_or_copy(label, tmp / fmt / "labels" / split / f"{stem}.txt")
        classified = source.folder / "classify" / split / record["defect"] / name
        if classified.is_file():
            (tmp / "classify" / split / record["defect"]).mkdir(parents=True, exist_ok=True)
            link_or_copy(classified, tmp / "classify" / split / record["defect"] / name)
    (tmp / "coco").mkdir()
    for split in SPLITS:
        if split != "train":
            path = source.folder / "coco" / f"{split}.json"
            if not path.is_file():
                raise DataError("COCO file missing; re-run `wood prep`", path)
            link_or_copy(path, tmp / "coco" / f"{split}.json")


def _link_checked(src: Path, dst: Path, sha256: str) -> None:
    """Link ``src`` to ``dst`` once its bytes are checked (a hard link shares them; a copy is checked too)."""
    try:
        same = file_sha256(src) == sha256
    except FileNotFoundError as exc:
        raise DataError("image file listed in manifest.json is missing; re-run `wood prep`", src) from exc
    if same:
        link_or_copy(src, dst)
    if not same or file_sha256(dst) != sha256:
        raise DataError(
            "image differs from the sha256 in manifest.json (changed after `wood prep`?); re-run `wood prep`", src
        )


def write_new_image(tmp: Path, record: dict, png: bytes) -> None:
    """A new train image with its labels in every format; classify/train/<defect>/ unless ``mixed``."""
    name, stem = record["name"], Path(record["name"]).stem
    image = tmp / "yolo" / "images" / "train" / name
    with naming(image):
        image.write_bytes(png)
    link_or_copy(image, tmp / "yolo-seg" / "images" / "train" / name)
    boxes, polys = label_texts(record)
    write_text(tmp / "yolo" / "labels" / "train" / f"{stem}.txt", boxes)
    write_text(tmp / "yolo-seg" / "labels" / "train" / f"{stem}.txt", polys)
    if record["defect"] != "mixed":
        folder = tmp / "classify" / "train" / record["defect"]
        folder.mkdir(parents=True, exist_ok=True)
        link_or_copy(image, folder / name)


def write_coco_train(tmp: Path, source: SourcePrep, records: list[dict]) -> None:
    """coco/train.json: the source's entries unchanged, then the new images (annotation ids continue)."""
    path = source.folder / "coco" / "train.json"
    coco = json.loads(path.read_text(encoding="utf-8"))
    category = (coco.get("categories") or [{}])[0].get("supercategory", source.manifest.get("category", ""))
    new = coco_dataset(records, source.classes, category, images_dir="../yolo/images/train")
    offset = max((int(a["id"]) for a in coco["annotations"]), default=0)
    for ann in new["annotations"]:
        ann["id"] += offset
    coco["images"] += new["images"]
    coco["annotations"] += new["annotations"]
    with naming(tmp / "coco" / "train.json"):
        write_json(tmp / "coco" / "train.json", coco, compact=True)


def manifest_view(record: dict) -> dict:
    """The manifest entry of a new image: prep's fields, instances without polygons, and its provenance."""
    out = manifest_record(record, instance_keys=("paste",))
    out["paste"] = record["paste"]
    return out
