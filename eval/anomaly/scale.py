"""One anomaly scale for every approach: image AUROC (and, where an approach gives a score map, pixel AUROC
and AUPRO) for `eval detect`, `eval segment` and `eval classify`, so a YOLO, a SAM or a classification run
compares with a PatchCore run on the numbers MVTec AD results are reported in.

Scores each approach gives (documented in the JSON's ``image_score`` / ``map_score``):
- detection: an image's score is its highest box confidence (0 without a box); its map holds, at each
  pixel, the highest confidence of the boxes covering it (of the masks, for a segment model);
- SAM: the highest mask score (IoU prediction x detector confidence) and the map of mask scores;
- classification: 1 - p(good); no map.
The ground truth is the manifest's good / defective label and the union of the image's instance masks.
A metric the split cannot define (no good or no defective image, no GT pixel) is None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wood.eval.anomaly import metrics as M


def _or_none(compute) -> float | None:
    try:
        return round(float(compute()), 6)
    except M.DegenerateMetricError:
        return None


def image_scale(labels, scores, image_score: str) -> dict[str, Any]:
    labels, scores = np.asarray(labels, bool), np.asarray(scores, np.float64)
    return {
        "image_auroc": _or_none(lambda: M.auroc(labels, scores, "image AUROC")),
        "image_score": image_score,
        "images": int(labels.size),
        "anomalous": int(labels.sum()),
    }


def full_scale(labels, scores, gt_masks, maps, image_score: str, map_score: str) -> dict[str, Any]:
    """:func:`image_scale` plus pixel AUROC and AUPRO of ``maps`` against ``gt_masks`` (lists of (H, W))."""
    out = image_scale(labels, scores, image_score)
    flat_gt = np.concatenate([np.asarray(m, bool).ravel() for m in gt_masks])
    flat_maps = np.concatenate([np.asarray(a, np.float64).ravel() for a in maps])
    out["pixel_auroc"] = _or_none(lambda: M.auroc(flat_gt, flat_maps, "pixel AUROC"))
    out["aupro"] = _or_none(lambda: M.aupro(gt_masks, maps))
    out["map_score"] = map_score
    return out


def box_map(shape: tuple[int, int], boxes_xywh, scores) -> np.ndarray:
    """(H, W) float32: the highest score of the boxes covering each pixel (pixel-edge XYWH boxes), 0 elsewhere."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    for (x, y, bw, bh), s in zip(boxes_xywh, scores, strict=True):
        x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
        x1, y1 = min(int(np.ceil(x + bw)), w), min(int(np.ceil(y + bh)), h)
        if x1 > x0 and y1 > y0:
            np.maximum(out[y0:y1, x0:x1], s, out=out[y0:y1, x0:x1])
    return out


def mask_map(shape: tuple[int, int], masks, scores) -> np.ndarray:
    """(H, W) float32: the highest score of the (N, H, W) bool masks covering each pixel, 0 elsewhere."""
    out = np.zeros(shape, np.float32)
    for m, s in zip(masks, scores, strict=True):
        np.maximum(out, np.where(m, np.float32(s), np.float32(0)), out=out)
    return out


def coco_scale(gt: dict[str, Any], manifest: dict[str, dict[str, Any]], boxes, masks=None) -> dict[str, Any]:
    """The scale of a detector's COCO results ``boxes`` (and ``masks``, RLE, for a segment model) against the
    COCO ground truth ``gt`` of the split; good / defective from the ``manifest`` entries (else: has instances)."""
    from wood.prep.formats.coco_masks import segmentation_to_mask

    with_instances = {a["image_id"] for a in gt["annotations"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for r in masks if masks is not None else boxes:
        by_image.setdefault(r["image_id"], []).append(r)
    anns: dict[int, list[dict[str, Any]]] = {}
    for a in gt["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    labels, scores, gts, maps = [], [], [], []
    for im in gt["images"]:
        h, w = int(im["height"]), int(im["width"])
        entry = manifest.get(im["file_name"])
        labels.append((entry["defect"] != "good") if entry else im["id"] in with_instances)
        preds = by_image.get(im["id"], [])
        scores.append(max((p["score"] for p in preds), default=0.0))
        truth = np.zeros((h, w), bool)
        for a in anns.get(im["id"], []):
            truth |= segmentation_to_mask(a["segmentation"], h, w)
        gts.append(truth)
        if masks is not None:
            pm = [segmentation_to_mask(p["segmentation"], h, w) for p in preds]
            maps.append(mask_map((h, w), pm, [p["score"] for p in preds]))
        else:
            maps.append(box_map((h, w), [p["bbox"] for p in preds], [p["score"] for p in preds]))
    where = "masks" if masks is not None else "boxes"
    return full_scale(
        labels,
        scores,
        gts,
        maps,
        "highest detection confidence (0 without one)",
        f"highest confidence of the {where} covering a pixel",
    )


def segment_row(result) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """(anomalous, image score, GT union, score map) of one `eval segment` ImageResult (every scored mask)."""
    shape = tuple(result.gt_masks.shape[-2:]) if result.gt_masks.ndim == 3 else tuple(result.pred_masks.shape[-2:])
    anomalous = result.defect != "good" if result.defect is not None else len(result.gt_masks) > 0
    truth = result.gt_masks.any(axis=0) if len(result.gt_masks) else np.zeros(shape, bool)
    scores = list(result.pred_scores)
    return bool(anomalous), max(scores, default=0.0), truth, mask_map(shape, result.pred_masks, scores)


def segment_scale(rows: list[tuple[bool, float, np.ndarray, np.ndarray]], gt_prompts: bool) -> dict[str, Any]:
    labels, scores, truths, maps = zip(*rows, strict=True) if rows else ((), (), (), ())
    oracle = " (GT-box prompts: only defective images are prompted, an oracle bound)" if gt_prompts else ""
    return full_scale(
        labels,
        scores,
        list(truths),
        list(maps),
        "highest mask score (0 without a mask)" + oracle,
        "highest score of the masks covering a pixel",
    )


def classify_scale(model, images_uint8, labels, classes: list[str], device, batch: int = 64) -> dict[str, Any]:
    """Image AUROC of 1 - p(good) from a classifier (softmax over its classes); None without a good class."""
    import torch

    from wood.finetune.classify.data import normalize, to_unit

    if "good" not in classes:
        return {"image_auroc": None, "image_score": "1 - p(good): the run has no good class"}
    good = classes.index("good")
    model.eval()
    probs = []
    with torch.no_grad():
        for start in range(0, len(images_uint8), batch):
            x = normalize(to_unit(images_uint8[start : start + batch], device))
            probs.append(torch.softmax(model(x), dim=1)[:, good].cpu())
    p_good = torch.cat(probs).numpy() if probs else np.zeros(0)
    return image_scale(np.asarray(labels) != good, 1.0 - p_good, "1 - p(good)")
