"""SAM's masks for the prompts of one image: on the whole image (`sam_masks`) or box by box in zoomed crops
(`wood.finetune.sam.zoom.zoom_masks`), and cut to their boxes (`crop_masks_to_boxes`)."""

from __future__ import annotations

from typing import Any

import numpy as np

SAM_CHUNK = 16
"""Prompts decoded at once: masks at the original size, so memory grows with the chunk."""
CROP_MARGIN = 0.05
"""With crop_to_box, masks keep pixels within their box grown by 5% of its side (+1 px)."""


def crop_masks_to_boxes(masks: np.ndarray, boxes_xyxy: np.ndarray, margin: float) -> np.ndarray:
    """Zero each (N, H, W) mask outside its XYXY box (pixel edges), grown by ``margin`` x the box
    side + 1 px on every side. A box prompt says where the instance is, so pixels far outside it
    belong to other instances (Ultralytics crops YOLO-seg masks to their boxes the same way)."""
    out = np.zeros_like(masks)
    h, w = masks.shape[-2:]
    for k, (x0, y0, x1, y1) in enumerate(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)):
        mx, my = margin * (x1 - x0) + 1, margin * (y1 - y0) + 1
        xa, ya = max(0, int(np.floor(x0 - mx))), max(0, int(np.floor(y0 - my)))
        xb, yb = min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my)))
        out[k, ya:yb, xa:xb] = masks[k, ya:yb, xa:xb]
    return out


def sam_masks(
    predictor: Any, rgb: np.ndarray, prompts: dict[str, np.ndarray], embeddings: dict | None = None, key: Any = None
) -> tuple[np.ndarray, list[float]]:
    """Binary masks (N, H, W) at logit 0 and SAM's IoU predictions, clamped to [0, 1]. ``embeddings``: image
    embeddings of this predictor's model by ``key``, filled and reused (GT-box and detector-box evals of one
    run encode each image once)."""
    import torch

    from wood.finetune.sam.data import resize_image

    n = len(next(iter(prompts.values())))
    masks, ious = [], []
    with torch.inference_mode():
        if embeddings is None:
            predictor.set_image(rgb)
        else:
            resized = resize_image(rgb, predictor.target)
            predictor.set_resized_image(resized, rgb.shape[:2], embeddings.get(key))
            embeddings[key] = predictor.embedding
        for start in range(0, n, SAM_CHUNK):
            logits, iou_pred = predictor.predict({k: v[start : start + SAM_CHUNK] for k, v in prompts.items()})
            masks.append((logits[:, 0] > 0).cpu().numpy())
            ious += iou_pred[:, 0].clamp(0, 1).cpu().tolist()
    return np.concatenate(masks), ious


def prompt_masks(
    predictor: Any,
    rgb: np.ndarray,
    prompts: dict[str, np.ndarray],
    boxes_xyxy: np.ndarray,
    zoom: float = 0.0,
    embeddings: dict | None = None,
    key: Any = None,
) -> tuple[np.ndarray, list[float]]:
    """`sam_masks` of the model-frame ``prompts``, or with ``zoom`` (> 0) `zoom_masks` of the same prompts
    as XYXY boxes of the original image (``boxes_xyxy``)."""
    if zoom:
        from wood.finetune.sam.zoom import zoom_masks

        return zoom_masks(predictor, rgb, boxes_xyxy, zoom, embeddings, key)
    return sam_masks(predictor, rgb, prompts, embeddings, key)
