"""Reading back the COCO file of one split of a `wood prep` folder: ``<prep>/coco/<split>.json``.

SAM training, `wood eval segment` and `wood eval detect` all read it here. The file says where
its images are in ``info.images_dir`` (relative to the json, `../yolo/images/<split>` as prep
writes it); an older file without it means ``<prep>/yolo/images/<split>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.names import inside, plain_name


def coco_path(prep_dir: str | Path, split: str) -> Path:
    return Path(prep_dir) / "coco" / f"{split}.json"


def parse_coco(data: bytes, where: str | Path, not_object: str, no_list: str) -> dict[str, Any]:
    """``data`` as a COCO object with ``images``, ``annotations`` and ``categories`` lists; a DataError naming
    ``where`` otherwise (``not_object`` when it is not a JSON object, ``no_list`` with ``{key}`` for a list)."""
    try:
        coco = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid JSON ({exc.__class__.__name__})", where) from exc
    if not isinstance(coco, dict):
        raise DataError(not_object, where)
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise DataError(no_list.format(key=repr(key)), where)
    return coco


def read_coco(prep_dir: str | Path, split: str) -> dict[str, Any]:
    """Read ``coco/<split>.json`` of a prepared dataset; a missing or broken file is a DataError."""
    path = coco_path(prep_dir, split)
    if not path.is_file():
        raise DataError(f"no COCO annotations for split {split!r}; run `wood prep` first or pick another --split", path)
    data = parse_coco(path.read_bytes(), path, "COCO file is not a JSON object", "COCO file has no {key} list")
    for i, image in enumerate(data["images"]):  # names are data: plain file names, checked before any is opened
        if not isinstance(image, dict):
            raise DataError(f"images[{i}] is a {type(image).__name__}, not a JSON object; re-run `wood prep`", path)
        plain_name(image.get("file_name"), path, f"images[{i}].file_name")
    images_dir(prep_dir, split, data)
    return data


def images_dir(prep_dir: str | Path, split: str, coco: dict[str, Any]) -> Path:
    """Where the split's image files are: ``info.images_dir`` (relative to the json) or yolo/images/<split>."""
    info = coco.get("info") or {}
    rel = info.get("images_dir") if isinstance(info, dict) else None
    if rel:  # inside the prepared folder (`../yolo/images/<split>`, or `../images/<split>` of the standard copy)
        path = coco_path(prep_dir, split)
        return inside(path.parent, rel, path, within=Path(prep_dir), what="info.images_dir")
    return (Path(prep_dir) / "yolo" / "images" / split).resolve()
