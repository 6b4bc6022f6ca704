"""Checks `wood paste` makes on its source prep before anything is written.

The manifest's instance summaries (class, box, area) are copied into paste's manifest and its labels
come from the COCO masks: a hand-edited box would leave a manifest that disagrees with the labels.
:func:`check_instances` recomputes each instance's box and area from its mask in ``coco/<split>.json``
(decoded as pycocotools does) and stops with one line at the first record that disagrees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wood.errors import DataError
from wood.prep.dataset import manifest_path
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.formats.coco_split import read_coco
from wood.prep.splits import SPLITS


def mask_box(mask: np.ndarray) -> list[int]:
    """[x0, y0, x1, y1] in pixel-edge coordinates (x0 <= x < x1) of a non-empty (H, W) bool mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def check_instances(folder: Path, records: list[dict]) -> None:
    """Every record's ``instances`` (class_id, bbox_xyxy, area) against its COCO annotations' masks."""
    manifest = manifest_path(folder)
    for split in SPLITS:
        coco_file = folder / "coco" / f"{split}.json"
        coco = read_coco(folder, split)
        by_image: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            if not isinstance(ann, dict) or not isinstance(ann.get("image_id"), int):
                raise DataError("an annotation has no integer image_id; re-run `wood prep`", coco_file)
            by_image.setdefault(ann["image_id"], []).append(ann)
        for i, record in enumerate(records):
            if record["split"] == split:
                _check_record(
                    record, by_image.get(record["id"], []), f"images[{i}] ({record['name']})", manifest, coco_file
                )


def _check_record(record: dict, anns: list[dict], where: str, manifest: Path, coco_file: Path) -> None:
    instances = record["instances"]
    if len(instances) != len(anns):
        raise DataError(
            f"{where} lists {len(instances)} instance(s), {coco_file.name} holds {len(anns)} for it; "
            "re-run `wood prep`",
            manifest,
        )
    for k, (inst, ann) in enumerate(zip(instances, anns, strict=True)):
        mask = segmentation_to_mask(ann.get("segmentation"), record["height"], record["width"], coco_file)
        box, area = mask_box(mask), int(mask.sum())
        x0, y0, x1, y1 = box
        if ann.get("bbox") != [x0, y0, x1 - x0, y1 - y0]:
            raise DataError(
                f"annotation {ann.get('id')} has bbox {ann.get('bbox')}, its mask gives {[x0, y0, x1 - x0, y1 - y0]} "
                "(edited after `wood prep`?); re-run `wood prep`",
                coco_file,
            )
        category = ann.get("category_id")
        class_id = category - 1 if isinstance(category, int) and not isinstance(category, bool) else category
        for key, want in (("class_id", class_id), ("bbox_xyxy", box), ("area", area)):
            if inst.get(key) != want:
                raise DataError(
                    f"{where} instance {k}: {key} is {inst.get(key)!r}, its mask in coco/{coco_file.name} gives "
                    f"{want!r} (edited after `wood prep`?); re-run `wood prep`",
                    manifest,
                )
