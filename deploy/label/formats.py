"""The four outputs of `wood label`, each written as its tool imports it (into a folder wood builds).

- ``cvat``: ``labels_cvat.zip`` in CVAT's "COCO 1.0" layout, ``annotations/instances_default.json`` +
  ``images/``. Masks with a hole are RLE with ``iscrowd=1`` (CVAT reads an RLE annotation as a mask only
  when it is crowd), the others edge polygons with ``iscrowd=0`` (exact); boxes-only labels have an empty
  segmentation. (COCOeval ignores crowd regions: wood's own evaluation files keep ``iscrowd=0``.)
- ``coco``: ``annotations.json`` + ``images/``, masks as polygons or RLE, all ``iscrowd=0``.
- ``label-studio``: ``tasks.json`` (one task per image, ``predictions`` with ``model_version``, ``score``
  and per region its ``score``; masks in Label Studio's own brush RLE, boxes as ``rectanglelabels`` in
  percent) and ``labeling_config.xml`` for the project; images under ``images/``.
- ``yolo``: ``data.yaml`` (no ``path:``), ``images/``, ``labels/``: YOLO-seg lines (pixel centres) where
  there are masks, else box lines.
Every annotation carries the detector's ``score``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import yaml

from wood.deploy.label.brush import encode_mask
from wood.deploy.label.shapes import coco_segmentation, mask_bbox_xyxy, yolo_box, yolo_seg_lines
from wood.fsutil import link_or_copy, write_json
from wood.prep.formats.coco_masks import segmentation_to_mask

CVAT_ZIP = "labels_cvat.zip"
CVAT_JSON = "annotations/instances_default.json"


def label_mask(label: dict[str, Any], record: dict[str, Any]):
    """The (H, W) bool mask of a label, or None for a box-only label."""
    if label.get("mask") is None:
        return None
    return segmentation_to_mask(label["mask"], record["height"], record["width"])


def coco_dict(records: list[dict[str, Any]], names: list[str], crowd_rle: bool) -> dict[str, Any]:
    """COCO instances of the batch: image ids 1..N in file name order, annotation ids from 1, category id
    class_id + 1; ``crowd_rle`` marks RLE masks ``iscrowd=1`` (CVAT's convention)."""
    images, annotations = [], []
    for image_id, record in enumerate(records, 1):
        images.append(
            {"id": image_id, "file_name": record["file_name"], "width": record["width"], "height": record["height"]}
        )
        for label in record["labels"]:
            mask = label_mask(label, record)
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": label["class_id"] + 1}
            if mask is None or not mask.any():
                x0, y0, x1, y1 = label["box_xyxy"]
                ann |= {"bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "segmentation": []}
                ann["iscrowd"] = 0
            else:
                segmentation, is_rle = coco_segmentation(mask)
                x0, y0, x1, y1 = mask_bbox_xyxy(mask)
                ann |= {"bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(mask.sum()), "segmentation": segmentation}
                ann["iscrowd"] = int(is_rle and crowd_rle)
            ann["score"] = label["score"]
            annotations.append(ann)
    categories = [{"id": k + 1, "name": n, "supercategory": "defect"} for k, n in enumerate(names)]
    return {
        "info": {"description": "wood label"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def copy_images(records: list[dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        link_or_copy(Path(record["file"]), folder / record["file_name"])


def write_coco(tmp: Path, records: list[dict[str, Any]], names: list[str]) -> list[str]:
    write_json(tmp / "annotations.json", coco_dict(records, names, crowd_rle=False))
    copy_images(records, tmp / "images")
    return ["annotations.json", "images"]


def write_cvat(tmp: Path, records: list[dict[str, Any]], names: list[str]) -> list[str]:
    data = json.dumps(coco_dict(records, names, crowd_rle=True), ensure_ascii=False)
    with zipfile.ZipFile(tmp / CVAT_ZIP, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(CVAT_JSON, data)
        for record in records:
            zf.write(record["file"], f"images/{record['file_name']}", compress_type=zipfile.ZIP_STORED)
    return [CVAT_ZIP]


def ls_region(k: int, label: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """One Label Studio result: a brush mask (its RLE) or, without a mask, a rectangle in percent."""
    w, h = record["width"], record["height"]
    region = {
        "id": f"r{k}",
        "from_name": "label",
        "to_name": "image",
        "original_width": w,
        "original_height": h,
        "image_rotation": 0,
        "score": label["score"],
    }
    mask = label_mask(label, record)
    if mask is not None:
        return region | {
            "type": "brushlabels",
            "value": {"format": "rle", "rle": encode_mask(mask), "brushlabels": [label["class"]]},
        }
    x0, y0, x1, y1 = label["box_xyxy"]
    value = {
        "x": 100 * x0 / w,
        "y": 100 * y0 / h,
        "width": 100 * (x1 - x0) / w,
        "height": 100 * (y1 - y0) / h,
        "rotation": 0,
        "rectanglelabels": [label["class"]],
    }
    return region | {"type": "rectanglelabels", "value": value}


def labeling_config(names: list[str], brush: bool) -> str:
    tag = "BrushLabels" if brush else "RectangleLabels"
    labels = "".join(f"    <Label value={quoteattr(n)}/>\n" for n in names)
    return (
        f'<View>\n  <Image name="image" value="$image" zoom="true"/>\n  <{tag} name="label" toName="image">\n'
        f"{labels}  </{tag}>\n</View>\n"
    )


def write_label_studio(
    tmp: Path,
    records: list[dict[str, Any]],
    names: list[str],
    model_version: str,
    prefix: str,
    image_scores: dict[str, float],
) -> list[str]:
    tasks = []
    for record in records:
        result = [ls_region(k, label, record) for k, label in enumerate(record["labels"])]
        prediction = {"model_version": model_version, "score": image_scores[record["file_name"]], "result": result}
        tasks.append({"data": {"image": prefix + record["file_name"]}, "predictions": [prediction]})
    write_json(tmp / "tasks.json", tasks, compact=True)
    brush = any(label.get("mask") is not None for r in records for label in r["labels"])
    (tmp / "labeling_config.xml").write_text(labeling_config(names, brush), encoding="utf-8")
    copy_images(records, tmp / "images")
    return ["tasks.json", "labeling_config.xml", "images"]


def write_yolo(tmp: Path, records: list[dict[str, Any]], names: list[str]) -> list[str]:
    copy_images(records, tmp / "images")
    (tmp / "labels").mkdir()
    for record in records:
        lines = []
        for label in record["labels"]:
            mask = label_mask(label, record)
            if mask is not None and mask.any():
                lines += yolo_seg_lines(label["class_id"], mask)
            else:
                lines.append(yolo_box(label["class_id"], label["box_xyxy"], record["width"], record["height"]))
        (tmp / "labels" / f"{Path(record['file_name']).stem}.txt").write_text("".join(x + "\n" for x in lines))
    data = {"train": "images", "val": "images", "nc": len(names), "names": dict(enumerate(names))}
    (tmp / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return ["images", "labels", "data.yaml"]
