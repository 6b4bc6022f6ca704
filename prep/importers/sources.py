"""Where `wood import` finds the labels and the images they name.

A labels source is one of
- a COCO json file: images are found under ``--images`` DIR, else the file's ``info.images_dir``
  (relative to it, as `wood prep` writes), else an ``images/`` folder beside the file's folder or beside it;
- a folder or a .zip in CVAT's "COCO 1.0" layout: ``annotations/instances_<subset>.json`` (exactly one) with
  ``images/`` (CVAT may nest the images under ``images/<subset>/``); ``--images`` overrides the images;
- a YOLO-seg folder (it holds ``data.yaml`` with ``names``): ``labels/**/<stem>.txt`` beside
  ``images/**/<stem>.<ext>``; an image without a label file is good.
Every source becomes COCO-like images (``file_name``, ``width``, ``height``, ``read()`` -> bytes) and
annotations, so one path turns them into masks.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from wood.errors import DataError
from wood.prep.formats.coco_split import parse_coco
from wood.prep.mvtec import IMAGE_EXTENSIONS


@dataclass
class LabelImage:
    """One image a labels source names."""

    file_name: str
    width: int | None
    height: int | None
    read: Callable[[], bytes]
    where: str
    """Where its bytes are (a path, or zip!member), for messages."""
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LabelSet:
    """The images and category names (by id) of one labels source."""

    source: Path
    kind: str
    categories: dict[int, str]
    images: list[LabelImage]


def load_json(data: bytes, where: str | Path) -> dict[str, Any]:
    return parse_coco(data, where, "not a COCO file: not a JSON object", "not a COCO file: no {key} list")


def file_reader(path: Path) -> Callable[[], bytes]:
    return lambda: path.read_bytes()


def find_in_folders(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for candidate in (folder / name, folder / PurePosixPath(name).name):
            if candidate.is_file():
                return candidate
    return None


def coco_set(
    coco: dict[str, Any], where: str, locate: Callable[[str], tuple[Callable[[], bytes], str] | None]
) -> LabelSet:
    """A LabelSet from a COCO dict; ``locate(file_name)`` gives (reader, where) of an image, None if absent."""
    categories: dict[int, str] = {}
    for cat in coco["categories"]:
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int) or not isinstance(cat.get("name"), str):
            raise DataError(f"a category has no integer 'id' or no 'name': {str(cat)[:80]}", where)
        categories[cat["id"]] = cat["name"]
    images: dict[Any, LabelImage] = {}
    missing, seen_ids = [], set()
    for im in coco["images"]:
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise DataError(f"an image entry has no 'id' or 'file_name': {str(im)[:80]}", where)
        if im["id"] in images or im["id"] in seen_ids:
            raise DataError(f"image id {im['id']!r} is listed twice", where)
        seen_ids.add(im["id"])
        found = locate(im["file_name"])
        if found is None:
            missing.append(im["file_name"])
            continue
        reader, at = found
        images[im["id"]] = LabelImage(im["file_name"], im.get("width"), im.get("height"), reader, at)
    if missing:
        raise DataError(
            f"{len(missing)} image(s) the labels name are not there (first: {missing[0]}); pass --images DIR", where
        )
    for ann in coco["annotations"]:
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            raise DataError(
                f"annotation {ann.get('id') if isinstance(ann, dict) else ann!r} names no listed image", where
            )
        if ann.get("category_id") not in categories:
            raise DataError(
                f"annotation {ann.get('id')} has category_id {ann.get('category_id')!r}, which is not in 'categories' "
                f"(ids {sorted(categories)})",
                where,
            )
        images[ann["image_id"]].annotations.append(ann)
    return LabelSet(Path(where.split("!")[0]), "coco", categories, list(images.values()))


def folder_locator(folders: list[Path]) -> Callable[[str], tuple[Callable[[], bytes], str] | None]:
    def locate(name: str):
        path = find_in_folders(name, folders)
        return None if path is None else (file_reader(path), str(path))

    return locate


def from_json(path: Path, images: Path | None) -> LabelSet:
    coco = load_json(path.read_bytes(), path)
    rel = (coco.get("info") or {}).get("images_dir")
    folders = [images] if images is not None else []
    if images is None:
        folders += ([(path.parent / rel).resolve()] if rel else []) + [
            path.parent.parent / "images",
            path.parent / "images",
        ]
    return coco_set(coco, str(path), folder_locator(folders))


def annotation_file(names: list[str], where: Path) -> str:
    found = [n for n in names if PurePosixPath(n).parent.name == "annotations" and n.endswith(".json")]
    if len(found) != 1:
        shown = ", ".join(found[:4]) or "none"
        raise DataError(f"expected exactly one annotations/*.json (CVAT COCO 1.0 layout), found {shown}", where)
    return found[0]


def from_zip(path: Path, images: Path | None) -> LabelSet:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"not a readable zip file ({exc.__class__.__name__})", path) from exc
    names = zf.namelist()
    member = annotation_file(names, path)
    coco = load_json(zf.read(member), f"{path}!{member}")
    root = str(PurePosixPath(member).parent.parent)
    prefix = "" if root == "." else root + "/"
    by_base: dict[str, list[str]] = {}
    for n in names:
        if n.startswith(prefix + "images/") and not n.endswith("/"):
            by_base.setdefault(PurePosixPath(n).name, []).append(n)

    def locate(name: str):
        if images is not None:
            return folder_locator([images])(name)
        for candidate in [prefix + "images/" + name] + by_base.get(PurePosixPath(name).name, [])[:1]:
            if candidate in names:
                return (lambda c=candidate: zf.read(c)), f"{path}!{candidate}"
        return None

    return coco_set(coco, f"{path}!{member}", locate)


def from_folder(path: Path, images: Path | None) -> LabelSet:
    if (path / "data.yaml").is_file():
        return from_yolo_seg(path, images)
    jsons = sorted(p.relative_to(path).as_posix() for p in path.glob("annotations/*.json"))
    member = path / annotation_file(jsons, path)
    folders = (
        [images]
        if images is not None
        else [path / "images", *sorted(p for p in (path / "images").glob("*") if p.is_dir())]
    )
    return coco_set(load_json(member.read_bytes(), member), str(member), folder_locator(folders))


def from_yolo_seg(path: Path, images: Path | None) -> LabelSet:
    """A YOLO-seg folder: polygon lines (normalised, through pixel centres) become COCO-like annotations
    (``yolo_polygon``: pixel coordinates), box lines ``yolo_box`` (pixel-edge XYXY)."""
    try:
        data = yaml.safe_load((path / "data.yaml").read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid YAML ({exc.__class__.__name__})", path / "data.yaml") from exc
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DataError("data.yaml has no 'names' (class id -> name)", path / "data.yaml")
    categories = {int(k) + 1: str(v) for k, v in names.items()}
    image_root = images if images is not None else path / "images"
    files = sorted(p for p in image_root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DataError("no images under it", image_root)
    out = []
    for f in files:
        rel = f.relative_to(image_root)
        label = path / "labels" / rel.with_suffix(".txt")
        image = LabelImage(rel.as_posix(), None, None, file_reader(f), str(f))
        if label.is_file():
            for k, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    image.annotations.append(yolo_annotation(line, categories, f"{label}:{k}"))
        out.append(image)
    return LabelSet(path, "yolo-seg", categories, out)


def yolo_annotation(line: str, categories: dict[int, str], where: str) -> dict[str, Any]:
    """One label line as ``{"category_id", "yolo": [normalised floats], "id": where}``."""
    parts = line.split()
    try:
        cls, coords = int(parts[0]), [float(v) for v in parts[1:]]
    except ValueError as exc:
        raise DataError(f"not a YOLO label line: {line[:60]!r}", where) from exc
    if cls + 1 not in categories:
        raise DataError(f"class id {cls} is not in data.yaml names (ids 0..{len(categories) - 1})", where)
    if len(coords) != 4 and (len(coords) < 6 or len(coords) % 2):
        raise DataError(f"a polygon needs >= 3 points (x y pairs), but the line has {len(coords)} values", where)
    if any(not -1e-6 <= v <= 1 + 1e-6 for v in coords):
        raise DataError("coordinates must be normalised to [0, 1]", where)
    return {"id": where, "category_id": cls + 1, "yolo": coords}


def open_labels(path: Path, images: Path | None) -> LabelSet:
    """The LabelSet of ``path`` (json file, export folder or zip, YOLO-seg folder); DataError if none."""
    path = Path(path)
    if images is not None and not Path(images).is_dir():
        raise DataError("--images folder does not exist", images)
    if path.is_dir():
        return from_folder(path, images)
    if not path.is_file():
        raise DataError("labels file or folder does not exist", path)
    if path.suffix.lower() == ".zip":
        return from_zip(path, images)
    return from_json(path, images)
