"""Which COCO image ids `wood predict` gives its images, so its results file loads against a ground truth.

A COCO results file names images by id only. Predicting the images of a prepared split
(``<prep>/yolo/images/<split>/``, ``<prep>/yolo-seg/images/<split>/`` or ``<prep>/coco/images/<split>/``)
with ids 1..N would put every prediction on another image of ``<prep>/coco/<split>.json`` without any
error (pycocotools, faster-coco-eval and FiftyOne join on the id). So:

- with ``--coco GT.json``, every image must be in that file (by its path under the file's image folder,
  else by its unique file name) and gets that image's id;
- without it, images that all lie in one prepared split whose ``coco/<split>.json`` lists every one of
  them get that file's ids;
- otherwise (images from anywhere else, or from several splits) the ids are 1..N in reading order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wood.errors import DataError


def read_gt(path: Path) -> dict[str, Any]:
    """A COCO ground-truth file with an ``images`` list; one DataError naming it otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError("COCO file does not exist", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid JSON ({exc.__class__.__name__})", path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError("not a COCO file: no 'images' list", path)
    return data


def _image_root(path: Path, gt: dict[str, Any]) -> Path:
    rel = (gt.get("info") or {}).get("images_dir")
    return (path.parent / rel).resolve() if rel else path.parent.resolve()


def _lookup(path: Path, gt: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """(resolved path -> id, file name -> ids) of the images of ``gt`` read from ``path``."""
    root = _image_root(path, gt)
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for im in gt["images"]:
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise DataError("an image entry has no 'id' or 'file_name'", path)
        by_path[str((root / str(im["file_name"])).resolve())] = int(im["id"])
        by_name.setdefault(Path(str(im["file_name"])).name, []).append(int(im["id"]))
    return by_path, by_name


def ids_from(files: list[Path], gt_path: Path, gt: dict[str, Any], strict: bool) -> list[int] | None:
    """The id of every file in ``gt`` (by path, else by unique name); None (or, ``strict``, a DataError
    naming the first missing image) when one is not there."""
    by_path, by_name = _lookup(gt_path, gt)
    ids = []
    for f in files:
        found = by_path.get(str(Path(f).resolve()))
        if found is None and len(by_name.get(Path(f).name, [])) == 1:
            found = by_name[Path(f).name][0]
        if found is None:
            if strict:
                raise DataError(f"image {f} is not in this COCO file (or its name is not unique there)", gt_path)
            return None
        ids.append(found)
    return ids


def prepared_gt(files: list[Path]) -> Path | None:
    """``<prep>/coco/<split>.json`` when every file lies in that prepared split's image folder, else None."""
    found: set[Path] = set()
    for f in files:
        split = Path(f).resolve().parent  # <prep>/{yolo,yolo-seg,coco}/images/<split>
        if len(split.parents) < 3:
            return None
        candidate = split.parents[2] / "coco" / f"{split.name}.json"
        if not candidate.is_file():
            return None
        found.add(candidate)
    return found.pop() if len(found) == 1 else None


def image_ids(files: list[Path], coco: Path | None = None) -> tuple[list[int], Path | None]:
    """(COCO image id of each of ``files``, the ground-truth file they come from or None for 1..N)."""
    if coco is not None:
        ids = ids_from(files, Path(coco), read_gt(Path(coco)), strict=True)
        assert ids is not None  # strict raises instead
        return ids, Path(coco)
    gt_path = prepared_gt(files)
    if gt_path is not None:
        ids = ids_from(files, gt_path, read_gt(gt_path), strict=False)
        if ids is not None:
            return ids, gt_path
    return list(range(1, len(files) + 1)), None
