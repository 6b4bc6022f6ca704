"""COCO results files: what `wood predict` and `wood eval segment` write for other tools to read.

A COCO results file is a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h],
"score"}``, plus ``"segmentation"`` (RLE, ``counts`` as str) where there is a mask: pycocotools'
``COCO.loadRes``, faster-coco-eval, FiftyOne and supervision read it as is. Category ids are
class_id + 1, as in the prepared ``coco/<split>.json``; boxes are pixels of the original image
(pixel edges). Pure functions, no model.

A results file names images only by id. `wood predict` uses the ids of the ground truth its images
belong to (wood.deploy.predict_ids; 1..N in reading order for other images) and writes the id -> file
table beside the results (:func:`images_table`); `wood eval
segment` uses the ids of the prepared ``coco/<split>.json``, so its file loads against that json.

Note for size-range AP (APs, APm) on masks: when a result has both ``bbox`` and
``segmentation``, pycocotools' loadRes takes the result's area from the box, not the mask.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wood.eval.detections import Detections
from wood.prep.formats.coco_masks import encode_rle


def xyxy_to_xywh(box: list[float] | np.ndarray, ndigits: int = 2) -> list[float]:
    """[x0, y0, x1, y1] -> COCO [x, y, w, h], rounded."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return [round(x0, ndigits), round(y0, ndigits), round(x1 - x0, ndigits), round(y1 - y0, ndigits)]


def mask_bbox(mask: np.ndarray) -> list[float]:
    """COCO [x, y, w, h] (pixel edges) of the pixels of a (H, W) bool mask; [0, 0, 0, 0] for an empty one."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def detection_results(
    image_id: int, detections: Detections, score_digits: int | None = None, with_masks: bool = True
) -> list[dict[str, Any]]:
    """COCO results of one image's detections (bbox results, category id = class id + 1, the box rounded to
    2 digits, the score to ``score_digits`` when given); where the detections carry masks and ``with_masks``,
    each result also gets its mask as RLE."""
    masks = detections.masks if with_masks else None
    out = []
    rows = zip(detections.xyxy.tolist(), detections.class_ids.tolist(), detections.scores.tolist(), strict=True)
    for k, (box, c, s) in enumerate(rows):
        score = float(s) if score_digits is None else round(s, score_digits)
        res = {"image_id": int(image_id), "category_id": int(c) + 1, "bbox": xyxy_to_xywh(box), "score": score}
        if masks is not None:
            res["segmentation"] = encode_rle(masks[k])
        out.append(res)
    return out


def segm_results(image_id: int, detections: Detections, score_digits: int | None = None) -> list[dict[str, Any]]:
    """COCO segm results of the masks of one image's detections, without boxes (``{"image_id", "category_id",
    "segmentation", "score"}``, category id = class id + 1); none when the detections carry no masks."""
    if detections.masks is None:
        return []
    rows = zip(detections.masks, detections.class_ids.tolist(), detections.scores.tolist(), strict=True)
    return [
        {
            "image_id": int(image_id),
            "category_id": int(c) + 1,
            "segmentation": encode_rle(m),
            "score": float(s) if score_digits is None else round(s, score_digits),
        }
        for m, c, s in rows
    ]


def mask_results(
    image_id: int, masks: np.ndarray, category_ids: list[int], scores: list[float]
) -> list[dict[str, Any]]:
    """COCO segm results of one image's masks (category ids as in the COCO json), each with the box of its mask."""
    return [
        {
            "image_id": int(image_id),
            "category_id": int(c),
            "bbox": mask_bbox(m),
            "score": float(s),
            "segmentation": encode_rle(m),
        }
        for m, c, s in zip(masks, category_ids, scores, strict=True)
    ]


def images_table(records: list[dict[str, Any]], names: dict[int, str] | list[str]) -> dict[str, Any]:
    """The id -> file table for `wood predict`'s results: ``{"images": [{"id", "file_name", "width",
    "height"}], "categories": [{"id", "name"}]}`` with each record's ``id`` (1..N in the order of
    ``records`` where they have none; ``{"file", "width", "height"}`` each) and category ids class_id + 1."""
    items = names.items() if isinstance(names, dict) else enumerate(names)
    return {
        "images": [
            {
                "id": int(r.get("id", i)),
                "file_name": str(r["file"]),
                "width": int(r["width"]),
                "height": int(r["height"]),
            }
            for i, r in enumerate(records, 1)
        ],
        "categories": [{"id": int(k) + 1, "name": str(n)} for k, n in sorted(items)],
    }


def write_json(path: Path, data: Any) -> Path:
    Path(path).write_text(json.dumps(data), encoding="utf-8")
    return Path(path)
