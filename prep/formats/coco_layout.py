"""The standard COCO layout beside wood's own ``coco/<split>.json``: ``coco/annotations/instances_<split>.json``
with ``coco/images/<split>/``, which datumaro, CVAT and FiftyOne import as is.

wood's own readers (prep/formats/coco_split.py: eval, SAM training, paste) read ``coco/<split>.json``, whose
``info.images_dir`` points at ``../yolo/images/<split>``. The standard copy holds the same images,
annotations and categories; its ``info.images_dir`` is ``../images/<split>`` and ``file_name`` resolves
in ``coco/images/<split>/``, whose files are hard links to ``yolo/images/<split>/`` (copies where the
file system cannot link).
"""

from __future__ import annotations

import json
from pathlib import Path

from wood.fsutil import link_or_copy, write_json
from wood.names import plain_name
from wood.prep.splits import SPLITS
from wood.prep.tree import naming


def standard_copy(coco: dict, split: str) -> dict:
    """``coco`` (one split of wood's COCO file) as the standard layout's ``instances_<split>.json``."""
    return {**coco, "info": {**(coco.get("info") or {}), "images_dir": f"../images/{split}"}}


def write_standard_layout(coco_dir: Path, images_root: Path) -> None:
    """Write ``coco_dir/annotations/instances_<split>.json`` and link ``coco_dir/images/<split>/<file_name>``
    from ``images_root/<split>/`` for every split whose ``coco_dir/<split>.json`` is written."""
    (coco_dir / "annotations").mkdir()
    for split in SPLITS:
        coco = json.loads((coco_dir / f"{split}.json").read_text(encoding="utf-8"))
        folder = coco_dir / "images" / split
        folder.mkdir(parents=True)
        where = coco_dir / f"{split}.json"
        names = [
            plain_name(i.get("file_name") if isinstance(i, dict) else i, where, "file_name") for i in coco["images"]
        ]
        for name in names:
            link_or_copy(images_root / split / name, folder / name)
        path = coco_dir / "annotations" / f"instances_{split}.json"
        with naming(path):
            write_json(path, standard_copy(coco, split), compact=True)
