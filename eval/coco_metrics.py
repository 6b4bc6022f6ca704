"""COCO detection metrics on in-memory dicts: pycocotools' COCOeval, wrapped for its traps.

Pure functions: a COCO ground-truth dict (as `wood prep` writes coco/<split>.json) and a list of
COCO results (``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``, plus
``"segmentation"`` RLE for segm) go in; plain dicts come out. Traps handled here:

- ``COCO.loadRes([])`` raises IndexError: no predictions give AP 0 for every class that has
  ground truth, without calling COCOeval;
- annotation id 0 means "unmatched" inside COCOeval (AP drops to 0.44 on perfect predictions):
  ids must start at 1, checked;
- a class without ground truth in the split has AP -1 in COCOeval: reported as None and left
  out of the mean (COCO's own rule);
- a split without any annotation has no AP at all: every AP is None;
- results whose image or category id is not in the ground truth make COCOeval return 0 without
  a word (pycocotools' loadRes raises only for images): MisMatchError naming the unknown ids.

AP here is COCO's 101-point interpolated AP (recall thresholds 0, 0.01, ..., 1), maxDets 100,
area "all". mAP50 is AP at IoU 0.5; mAP50-95 the mean over IoU 0.50:0.05:0.95. ``APs`` and
``APm`` are COCO's AP@[.50:.95] of small (area < 32^2 px) and medium (32^2 to 96^2 px) objects
(None where the split has no ground truth of that size).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

from wood.errors import DataError, MisMatchError
from wood.eval.boxes import box_iou_xyxy

IOU_TYPES = ("bbox", "segm")
SIZE_RANGES = {"APs": (0, 32**2), "APm": (32**2, 96**2)}
"""COCOeval's small and medium area ranges (pixels, both ends included)."""


def check_gt(gt: dict[str, Any], source: str = "<coco>") -> None:
    """Raise DataError if ``gt`` breaks a COCOeval assumption (ids from 1, area present, known ids)."""
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt.get(key), list):
            raise DataError(f"COCO json needs a list `{key}`", source)
    image_ids = {im["id"] for im in gt["images"]}
    cat_ids = {c["id"] for c in gt["categories"]}
    if 0 in cat_ids:
        raise DataError("category id 0 found: COCO category ids start at 1 (class_id + 1)", source)
    for ann in gt["annotations"]:
        if ann.get("id", 0) < 1:
            raise DataError(
                f"annotation id {ann.get('id')!r}: ids must start at 1 (id 0 means unmatched in COCOeval)", source
            )
        if "area" not in ann:
            raise DataError(f"annotation {ann['id']} has no `area`", source)
        if ann.get("image_id") not in image_ids:
            raise DataError(f"annotation {ann['id']} refers to unknown image_id {ann.get('image_id')}", source)
        if ann.get("category_id") not in cat_ids:
            raise DataError(f"annotation {ann['id']} has unknown category_id {ann.get('category_id')}", source)


def _coco(gt: dict[str, Any]):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    coco.dataset.setdefault("info", {})
    for ann in coco.dataset["annotations"]:
        ann.setdefault("iscrowd", 0)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_eval(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: str = "bbox") -> dict[str, Any]:
    """COCO AP of ``results`` against ``gt``.

    Returns ``{"mAP50", "mAP50-95", "APs", "APm", "per_class": {name: {"AP50", "AP50-95", "instances"}},
    "pr_curve": {name: [101 precisions at IoU 0.5]}, "recall_thresholds": [...]}`` where a class
    without ground truth has None APs and no curve.
    """
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, but got {iou_type!r}")
    check_gt(gt)
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    instances = {c["id"]: 0 for c in cats}
    for ann in gt["annotations"]:
        instances[ann["category_id"]] += 1
    rec_thrs = np.linspace(0.0, 1.0, 101)
    per_class: dict[str, dict[str, Any]] = {}
    curves: dict[str, list[float]] = {}
    image_ids = {im["id"] for im in gt["images"]}
    check_result_ids(results, image_ids, set(instances))
    if not gt["annotations"]:
        for c in cats:
            per_class[c["name"]] = {"AP50": None, "AP50-95": None, "instances": 0}
        none = {"APs": None, "APm": None}
        return _summary(
            None, None, per_class, curves, rec_thrs, note="no ground-truth instances in this split", sizes=none
        )
    if not results:  # loadRes([]) raises IndexError; every class with GT has AP 0
        for c in cats:
            has = instances[c["id"]] > 0
            ap = 0.0 if has else None
            per_class[c["name"]] = {"AP50": ap, "AP50-95": ap, "instances": instances[c["id"]]}
            if has:
                curves[c["name"]] = [0.0] * len(rec_thrs)
        areas = [a["area"] for a in gt["annotations"]]
        sizes = {k: 0.0 if any(lo <= a <= hi for a in areas) else None for k, (lo, hi) in SIZE_RANGES.items()}
        return _summary(0.0, 0.0, per_class, curves, rec_thrs, note="no predictions", sizes=sizes)

    from pycocotools.cocoeval import COCOeval

    coco_gt = _coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T, R, K, A, M]: IoU, recall, class, area, maxDets
    for k, cat_id in enumerate(ev.params.catIds):
        name = next(c["name"] for c in cats if c["id"] == cat_id)
        p = precision[:, :, k, 0, -1]
        if instances[cat_id] == 0 or (p < 0).all():
            per_class[name] = {"AP50": None, "AP50-95": None, "instances": instances[cat_id]}
            continue
        per_class[name] = {
            "AP50": float(np.mean(p[0][p[0] > -1])),
            "AP50-95": float(np.mean(p[p > -1])),
            "instances": instances[cat_id],
        }
        curves[name] = [float(max(v, 0.0)) for v in p[0]]
    sizes = {"APs": _ap_or_none(ev.stats[3]), "APm": _ap_or_none(ev.stats[4])}
    return _summary(float(ev.stats[1]), float(ev.stats[0]), per_class, curves, rec_thrs, sizes=sizes)


def check_result_ids(results: list[dict[str, Any]], image_ids: set[int], cat_ids: set[int]) -> None:
    """MisMatchError naming the results' image and category ids that the ground truth does not have."""
    unknown_images = sorted({r.get("image_id") for r in results} - image_ids, key=str)
    unknown_cats = sorted({r.get("category_id") for r in results} - cat_ids, key=str)
    problems = []
    if unknown_images:
        problems.append(f"image ids {_some(unknown_images)} (the ground truth has {len(image_ids)} images)")
    if unknown_cats:
        problems.append(f"category ids {_some(unknown_cats)} (the ground truth has {sorted(cat_ids)})")
    if problems:
        raise MisMatchError(
            "the results carry " + " and ".join(problems) + ": COCOeval would score them 0 without a word; "
            "evaluate against the ground truth the results were made for"
        )


def _some(ids: list[Any], n: int = 10) -> str:
    return str(ids[:n])[:-1] + (f", ... {len(ids) - n} more]" if len(ids) > n else "]")


def _ap_or_none(value: float) -> float | None:
    """COCOeval's summary AP, None for its -1 (no ground truth in that area range)."""
    return None if value < 0 else float(value)


def _summary(
    map50, map5095, per_class, curves, rec_thrs, note: str | None = None, *, sizes: dict[str, Any]
) -> dict[str, Any]:
    out = {
        "mAP50": map50,
        "mAP50-95": map5095,
        **sizes,
        "per_class": per_class,
        "pr_curve": curves,
        "recall_thresholds": [round(float(r), 2) for r in rec_thrs],
    }
    if note:
        out["note"] = note
    return out


def confusion_matrix(
    gt: dict[str, Any], results: list[dict[str, Any]], conf: float, iou: float = 0.5
) -> tuple[np.ndarray, list[str]]:
    """Detection confusion matrix at score >= ``conf`` and IoU >= ``iou``.

    Rows are the true class, columns the predicted class; the last row/column is "background"
    (a missed instance is [class, background], a false detection [background, class]).
    Predictions are matched greedily by score to the unmatched ground truth of highest IoU,
    whatever its class, so class confusions show up off the diagonal.
    """
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}
    bg = len(cats)
    matrix = np.zeros((bg + 1, bg + 1), dtype=int)
    by_image: dict[int, tuple[list, list]] = {im["id"]: ([], []) for im in gt["images"]}
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        by_image[ann["image_id"]][0].append((index[ann["category_id"]], [x, y, x + w, y + h]))
    for r in results:
        if r["score"] >= conf and r["image_id"] in by_image and r["category_id"] in index:
            x, y, w, h = r["bbox"]
            by_image[r["image_id"]][1].append((r["score"], index[r["category_id"]], [x, y, x + w, y + h]))
    for gts, preds in by_image.values():
        preds.sort(key=lambda p: -p[0])
        ious = box_iou_xyxy(np.array([p[2] for p in preds]), np.array([g[1] for g in gts]))
        used = np.zeros(len(gts), dtype=bool)
        for i, (_, pred_cls, _) in enumerate(preds):
            row = np.where(used, -1.0, ious[i]) if len(gts) else np.array([])
            j = int(np.argmax(row)) if len(row) else -1
            if j >= 0 and row[j] >= iou:
                used[j] = True
                matrix[gts[j][0], pred_cls] += 1
            else:
                matrix[bg, pred_cls] += 1
        for j, (gt_cls, _) in enumerate(gts):
            if not used[j]:
                matrix[gt_cls, bg] += 1
    return matrix, [c["name"] for c in cats] + ["background"]


def image_level(defective: dict[int, bool], max_score: dict[int, float], conf: float) -> dict[str, Any]:
    """Inspection view: an image is flagged when it has >= 1 detection with score >= ``conf``.

    ``defect_recall`` = flagged defective images / defective images; ``false_alarm_rate`` =
    flagged good images / good images. None where the split has no image of that kind.
    """
    flagged = {i: max_score.get(i, 0.0) >= conf for i in defective}
    bad = [i for i, d in defective.items() if d]
    good = [i for i, d in defective.items() if not d]
    return {
        "conf": conf,
        "defective_images": len(bad),
        "good_images": len(good),
        "defect_recall": (sum(flagged[i] for i in bad) / len(bad)) if bad else None,
        "false_alarm_rate": (sum(flagged[i] for i in good) / len(good)) if good else None,
    }
