"""Writing the prepared dataset tree (YOLO, YOLO-seg, COCO, classify, manifest, stats).

Image files are COPIED once into yolo/images/<split>/ (so the prepared set does not change
when the source does) and HARD-LINKED from there into yolo-seg/ and classify/ (a copy where
the file system cannot link).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import yaml

from wood.dataset_config import DatasetConfig
from wood.errors import DataError
from wood.fsutil import file_sha256, link_or_copy, write_json
from wood.imageio import decode, read_bytes, read_image_rgb
from wood.prep.formats.convert import coco_dataset, label_text, yolo_box_line, yolo_seg_line
from wood.prep.preview import draw_overlay, pick_preview_records
from wood.prep.splits import SPLITS

CHANGED = (
    "file changed while wood prep was running (its sha256 differs from when it was read); "
    "run prep again once the source is stable"
)


def write_data_yaml(folder: Path, classes: list[str]) -> None:
    """Ultralytics data.yaml with NO ``path:`` key: Ultralytics then resolves the splits relative to
    the folder of data.yaml, so a copied or moved prepared folder trains on itself (an absolute
    ``path:`` makes a copy train on the original; a relative one resolves against a user-global
    datasets_dir)."""
    data = {
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "nc": len(classes),
        "names": dict(enumerate(classes)),
    }
    write_text(folder / "data.yaml", yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Give an OSError raised without a file name (a failed write() on a full disk) the name of ``path``,
    so the CLI's one line says which file could not be written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def write_text(path: Path, text: str) -> None:
    with naming(path):
        path.write_text(text, encoding="utf-8")


def copy_checked(src: Path, dst: Path, sha256: str) -> None:
    """Copy ``src`` to ``dst`` and check the copy has the sha256 the image was annotated with.

    prep reads each image once to hash and annotate it and copies it later: a source file
    overwritten in between would give labels that do not belong to the copied pixels.
    """
    shutil.copyfile(src, dst)
    if file_sha256(dst) != sha256:
        raise DataError(CHANGED, src)


def write_tree(
    tmp: Path, root: Path, records: list[dict], classes: list[str], category: str, full: list[dict] | None = None
) -> None:
    """Write every format for ``records`` (each has ``split``, ``id`` and annotated instances).

    With tiling, ``records`` are the images of yolo/, yolo-seg/ and coco/ (tiles, whose record has ``tile``,
    and full test images) and ``full`` the full images classify/ holds; without, both are ``records``.
    A tile is cropped from its source image (checked against the sha256 it was annotated with) and written
    as PNG; its record's ``sha256`` becomes that of the written file.
    """
    for fmt in ("yolo", "yolo-seg"):
        for split in SPLITS:
            (tmp / fmt / "images" / split).mkdir(parents=True)
            (tmp / fmt / "labels" / split).mkdir(parents=True)
        write_data_yaml(tmp / fmt, classes)
    source = _SourceCache(root)
    for record in records:
        split, name = record["split"], record["name"]
        stem = Path(name).stem
        image = tmp / "yolo" / "images" / split / name
        if "tile" in record:
            record["sha256"] = write_tile(image, source.read(record), record["tile"])
        else:
            copy_checked(root / record["source"], image, record["sha256"])
        link_or_copy(image, tmp / "yolo-seg" / "images" / split / name)
        boxes, polys = label_texts(record)
        write_text(tmp / "yolo" / "labels" / split / f"{stem}.txt", boxes)
        write_text(tmp / "yolo-seg" / "labels" / split / f"{stem}.txt", polys)
    for record in records if full is None else full:
        class_dir = tmp / "classify" / record["split"] / record["defect"]
        class_dir.mkdir(parents=True, exist_ok=True)
        written = tmp / "yolo" / "images" / record["split"] / record["name"]
        if full is None or written.is_file():
            link_or_copy(written, class_dir / record["name"])
        else:  # a tiled split: yolo/ holds its tiles, classify/ the full image
            copy_checked(root / record["source"], class_dir / record["name"], record["sha256"])
    (tmp / "coco").mkdir()
    for split in SPLITS:
        subset = [r for r in records if r["split"] == split]
        coco = coco_dataset(subset, classes, category, images_dir=f"../yolo/images/{split}")
        with naming(tmp / "coco" / f"{split}.json"):
            write_json(tmp / "coco" / f"{split}.json", coco, compact=True)


class _SourceCache:
    """The decoded source image of the tiles being written (tiles of one image come one after another)."""

    def __init__(self, root: Path):
        self.root, self.key, self.array = root, None, None

    def read(self, record: dict) -> np.ndarray:
        key = (record["source"], record["tile"]["source_sha256"])
        if key != self.key:
            path = self.root / record["source"]
            data = read_bytes(path)
            if hashlib.sha256(data).hexdigest() != key[1]:
                raise DataError(CHANGED, path)
            self.key, self.array = key, decode(data, path)
        return self.array


def write_tile(path: Path, image: np.ndarray, tile: dict) -> str:
    """Write the ``tile`` (x, y, width, height) of ``image`` (as decoded: any depth and channels) as a
    lossless PNG at ``path``; returns the file's sha256."""
    x, y, w, h = tile["x"], tile["y"], tile["width"], tile["height"]
    ok, png = cv2.imencode(".png", np.ascontiguousarray(image[y : y + h, x : x + w]))
    if not ok:
        raise OSError(f"could not encode tile {path.name}")
    data = png.tobytes()
    with naming(path):
        path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def label_texts(record: dict) -> tuple[str, str]:
    """(YOLO box label text, YOLO-seg polygon label text) of one annotated record: the one place that
    decides the label conventions, so every writer of a prepared tree (prep, paste) follows them."""
    w, h = record["width"], record["height"]
    boxes = [yolo_box_line(i["class_id"], i["bbox_xyxy"], w, h) for i in record["instances"]]
    polys = [yolo_seg_line(i["class_id"], i["centre"], w, h) for i in record["instances"]]  # fillPoly readers
    return label_text(boxes), label_text(polys)


def manifest_record(record: dict, instance_keys: tuple[str, ...] = ()) -> dict:
    """The manifest view of a record: no polygons (they are in coco/), instance summaries only
    (plus ``instance_keys``, e.g. paste's provenance)."""
    keys = (
        "id",
        "name",
        "source",
        "mask",
        "origin",
        "split",
        "defect",
        "sha256",
        "height",
        "width",
        "channels",
        "dtype",
        "flags",
    )
    out = {k: record[k] for k in keys}
    if "tile" in record:  # a tile of a tiled prep: where in which full image (prep/tiling/grid.py)
        out["tile"] = record["tile"]
    summary = ("class", "class_id", "bbox_xyxy", "area", "has_hole", *instance_keys)
    out["instances"] = [
        {k: inst[k] for k in summary} | ({"visible": inst["visible"]} if "visible" in inst else {})
        for inst in record["instances"]
    ]
    return out


def write_previews(
    folder: Path, images: Path, records: list[dict], n: int, dataset: DatasetConfig, classes: list[str]
) -> int:
    """Overlay PNGs of up to ``n`` annotated images; returns how many were written.

    ``images`` is the written ``yolo/images`` folder: previews show the copied bytes, whose sha256
    the manifest holds, not a source file that may have changed since.
    """
    picked = pick_preview_records(records, n)
    if not picked:
        return 0
    folder.mkdir()
    for record in picked:
        overlay = draw_overlay(read_image_rgb(images / record["split"] / record["name"]), record, dataset, classes)
        ok, png = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"could not encode preview for {record['name']}")
        path = folder / f"{Path(record['name']).stem}.png"
        with naming(path):
            path.write_bytes(png.tobytes())
    return len(picked)
