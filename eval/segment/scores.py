"""Scoring SAM's masks against the ground truth, one image at a time (no I/O, no model).

`SegmentScorer` accumulates `ImageResult`s into what `wood eval segment` reports (see eval/segment/evaluate.py
for the metrics); `rle_results` turns an image's predictions into COCO segm results for COCOeval.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wood.eval.mask_metrics import (
    dice_from_counts,
    iou_from_counts,
    mean_of,
    pixel_counts,
    precision_recall_f1,
    union_of,
)
from wood.prep.formats.coco_masks import encode_rle


@dataclass
class ImageResult:
    """GT and predicted masks of one image. Masks are (N, H, W) bool; classes are COCO category ids.
    ``paired``: prediction i was prompted by GT instance i (GT boxes). ``defect``: the manifest's defect
    type ("good" for a good image), None where there is no manifest entry."""

    image_id: int
    file_name: str
    gt_masks: np.ndarray
    gt_classes: list[int]
    pred_masks: np.ndarray
    pred_classes: list[int]
    pred_scores: list[float] = field(default_factory=list)
    paired: bool = False
    defect: str | None = None

    @property
    def good(self) -> bool:
        """Good per the manifest; without an entry, an image without GT instances."""
        return self.defect == "good" if self.defect is not None else not self.gt_classes

    @property
    def shape(self) -> tuple[int, int]:
        masks = self.gt_masks if self.gt_masks.ndim == 3 else self.pred_masks
        return tuple(masks.shape[-2:])  # type: ignore[return-value]


class SegmentScorer:
    """Accumulates `ImageResult`s and summarises them (no I/O)."""

    def __init__(self, categories: dict[int, str]) -> None:
        self.categories = dict(sorted(categories.items()))
        self.class_counts = {c: [0, 0, 0] for c in self.categories}
        self.class_seen = {c: False for c in self.categories}
        self.pixel = [0, 0, 0]
        self.instances: list[dict[str, Any]] = []
        self.per_image: list[dict[str, Any]] = []
        self.good_with_false_alarm = 0
        self.good_images = 0

    def add(self, r: ImageResult) -> None:
        shape = r.shape
        for c in self.categories:
            gt_c = union_of(r.gt_masks, shape, [k == c for k in r.gt_classes])
            pred_c = union_of(r.pred_masks, shape, [k == c for k in r.pred_classes])
            if gt_c.any() or pred_c.any():
                self.class_seen[c] = True
            for i, v in enumerate(pixel_counts(pred_c, gt_c)):
                self.class_counts[c][i] += v
        gt_all, pred_all = union_of(r.gt_masks, shape), union_of(r.pred_masks, shape)
        tp, fp, fn = pixel_counts(pred_all, gt_all)
        self.pixel = [self.pixel[0] + tp, self.pixel[1] + fp, self.pixel[2] + fn]
        if r.good:
            self.good_images += 1
            self.good_with_false_alarm += int(pred_all.any())
        if r.paired:
            for k, (gt, pred, c) in enumerate(zip(r.gt_masks, r.pred_masks, r.gt_classes, strict=True)):
                counts = pixel_counts(pred, gt)
                self.instances.append(
                    {
                        "image_id": r.image_id,
                        "index": k,
                        "class": self.categories[c],
                        "iou": iou_from_counts(*counts),
                        "dice": dice_from_counts(*counts),
                    }
                )
        names = sorted({self.categories[c] for c in r.gt_classes})
        self.per_image.append(
            {
                "image_id": r.image_id,
                "file_name": r.file_name,
                "classes": names or (["good"] if r.good else []),
                "defect": r.defect,
                "n_gt": len(r.gt_classes),
                "n_pred": len(r.pred_classes),
                "iou": iou_from_counts(tp, fp, fn),
                "dice": dice_from_counts(tp, fp, fn),
            }
        )

    def summary(self) -> dict[str, Any]:
        per_class: dict[str, dict[str, Any]] = {}
        for c, name in self.categories.items():
            counts = self.class_counts[c]
            inst = [i for i in self.instances if i["class"] == name]
            per_class[name] = {
                "iou": iou_from_counts(*counts, empty=None) if self.class_seen[c] else None,
                "dice": dice_from_counts(*counts, empty=None) if self.class_seen[c] else None,
                "instances": len(inst) if self.instances else None,
                "instance_iou": mean_of(i["iou"] for i in inst),
                "instance_dice": mean_of(i["dice"] for i in inst),
            }
        pixel = precision_recall_f1(*self.pixel)
        return {
            "mIoU": mean_of(v["iou"] for v in per_class.values()),
            "mDice": mean_of(v["dice"] for v in per_class.values()),
            "instance_mIoU": mean_of(v["instance_iou"] for v in per_class.values()),
            "mean_instance_iou": mean_of(i["iou"] for i in self.instances),
            "per_class": per_class,
            "pixel": {
                **pixel,
                "tp": self.pixel[0],
                "fp": self.pixel[1],
                "fn": self.pixel[2],
                "good_images": self.good_images,
                "good_images_with_false_alarm": self.good_with_false_alarm,
            },
            "per_image": self.per_image,
            "instances": self.instances,
        }


def keep_confident(
    r: ImageResult, boxes: np.ndarray, det_scores: list[float], conf: float | None
) -> tuple[ImageResult, np.ndarray]:
    """The image's predictions (and prompt boxes) whose detector confidence is >= ``conf``; all of them when
    ``conf`` is None (GT prompts)."""
    if conf is None:
        return r, boxes
    keep = [k for k, s in enumerate(det_scores) if s >= conf]
    masks = r.pred_masks[keep] if len(r.pred_masks) else r.pred_masks
    kept = replace(
        r,
        pred_masks=masks,
        pred_classes=[r.pred_classes[k] for k in keep],
        pred_scores=[r.pred_scores[k] for k in keep],
    )
    return kept, np.asarray(boxes).reshape(-1, 4)[keep]


def rle_results(r: ImageResult) -> list[dict[str, Any]]:
    """COCO segm results (RLE with string counts) for the predictions of one image."""
    return [
        {"image_id": r.image_id, "category_id": int(c), "segmentation": encode_rle(mask), "score": float(s)}
        for mask, c, s in zip(r.pred_masks, r.pred_classes, r.pred_scores, strict=True)
    ]
