"""Pure converters from annotated records to YOLO label lines and COCO dicts (no I/O).

Coordinates: YOLO boxes are ``cls xc yc w h`` normalised by (W, H) (xywhn); YOLO-seg lines
are ``cls x1 y1 x2 y2 ...`` normalised, the OUTER ring only: YOLO-seg cannot hold holes, so a
component with a hole is written filled (COCO keeps the hole, as RLE).
"""

from __future__ import annotations

SEG_DECIMALS = 6
"""1e-6 of 1024 px is 0.001 px: far below a pixel."""


def yolo_box_line(class_id: int, bbox_xyxy: list[int], width: int, height: int) -> str:
    """One YOLO detection label line from a pixel-edge xyxy box."""
    x0, y0, x1, y1 = bbox_xyxy
    xc, yc = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    w, h = (x1 - x0) / width, (y1 - y0) / height
    return f"{class_id} {xc:.6f} {yc:.6f} {w:.6f} {h:.6f}"


def yolo_seg_line(class_id: int, outer: list[float], width: int, height: int) -> str:
    """One YOLO-seg label line from a flat polygon [x1, y1, ...] in pixels."""
    if len(outer) < 6 or len(outer) % 2:
        raise ValueError(f"outer must be a flat polygon with >= 3 points, but got {len(outer)} values")
    coords = [v / (width if i % 2 == 0 else height) for i, v in enumerate(outer)]
    return " ".join([str(class_id)] + [f"{c:.{SEG_DECIMALS}f}" for c in coords])


def label_text(lines: list[str]) -> str:
    """A label file's text: one line each, trailing newline; empty for background images."""
    return "".join(line + "\n" for line in lines)


def coco_dataset(records: list[dict], classes: list[str], supercategory: str, images_dir: str) -> dict:
    """A COCO instances dict for ``records`` (one split).

    Each record needs ``id``, ``name``, ``height``, ``width``, ``defect`` and ``instances``
    with ``class_id``, ``bbox_xyxy``, ``area`` and ``segmentation``. Annotation ids start at
    1 (0 means "unmatched" inside COCOeval); ``category_id`` is ``class_id + 1``.
    """
    images, annotations = [], []
    for record in records:
        images.append(
            {
                "id": record["id"],
                "file_name": record["name"],
                "height": record["height"],
                "width": record["width"],
                "defect": record["defect"],
            }
        )
        for inst in record["instances"]:
            x0, y0, x1, y1 = inst["bbox_xyxy"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": record["id"],
                    "category_id": inst["class_id"] + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": inst["area"],
                    "iscrowd": 0,
                    "segmentation": inst["segmentation"],
                }
            )
    categories = [{"id": i + 1, "name": name, "supercategory": supercategory} for i, name in enumerate(classes)]
    return {
        "info": {"description": f"wood prep: {supercategory}", "images_dir": images_dir},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
