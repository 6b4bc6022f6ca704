"""One SAM predictor for training and `wood eval segment`, in the spirit of segment-anything's SamPredictor.

Embed an image once (:meth:`SamPredictor.set_image`), then get masks from prompts
(:meth:`SamPredictor.predict`): boxes, points, or boxes with a box-shaped dense mask prompt
(``box_mask``, see `models.box_mask_logits`). Prompts are in the model frame, as
`data.build_prompts` (or `data.box_prompts` for a detector's boxes) returns them; masks come
back as logits at the ORIGINAL image resolution.

Unlike segment-anything's predictor nothing here runs under ``torch.no_grad``: training calls
it with gradients (through the encoder too, unless it is frozen and the embedding comes from a
cache); `wood eval segment` wraps its calls in ``torch.inference_mode()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wood.finetune.sam.data import image_tensor, resize_image
from wood.finetune.sam.models import decode_masks


class SamPredictor:
    """``sam`` on ``device``; ``box_mask`` also gives every box prompt as a dense mask prompt."""

    def __init__(self, sam: Any, device: str, box_mask: bool = False) -> None:
        self.sam = sam
        self.device = device
        self.box_mask = box_mask
        self.target = sam.image_encoder.img_size
        self.reset_image()

    def reset_image(self) -> None:
        self.embedding: Any = None
        self.input_size: tuple[int, int] | None = None
        self.original_size: tuple[int, int] | None = None

    def encode(self, resized_rgb: np.ndarray) -> Any:
        """(1, C, h, w) image embedding of a uint8 RGB image already resized by `data.resize_image`."""
        return self.sam.image_encoder(image_tensor(self.sam, resized_rgb, self.device))

    def set_image(self, rgb: np.ndarray) -> None:
        """Resize and embed a uint8 (H, W, 3) RGB image at its original size."""
        self.set_resized_image(resize_image(rgb, self.target), rgb.shape[:2])

    def set_resized_image(self, resized_rgb: np.ndarray, original_size: tuple[int, int], embedding: Any = None) -> None:
        """Take an image already resized to the model (an augmented view, or one from a cache) whose
        original size is ``original_size``; ``embedding``: its embedding when already computed (a cache)."""
        self.embedding = self.encode(resized_rgb) if embedding is None else embedding.to(self.device)
        self.input_size = (int(resized_rgb.shape[0]), int(resized_rgb.shape[1]))
        self.original_size = (int(original_size[0]), int(original_size[1]))

    def predict(self, prompts: dict[str, np.ndarray]) -> tuple[Any, Any]:
        """Mask logits (N, 1, H, W) at the original size and predicted IoU (N, 1) for model-frame prompts:
        ``{"boxes": (N, 4)}`` (XYXY) or ``{"points": (N, P, 2), "labels": (N, P)}``."""
        if self.embedding is None:
            raise RuntimeError("call set_image (or set_resized_image) before predict")
        return decode_prompts(self.sam, self.embedding, prompts, self.input_size, self.original_size, self.box_mask)


def encode_batch(sam: Any, resized_rgbs: list[np.ndarray], device: Any) -> Any:
    """(B, 3, S, S) encoder input of B uint8 RGB images already resized by `data.resize_image`: each
    normalised and padded to the same square by ``sam.preprocess``, so any sizes stack into one pass."""
    import torch

    tensors = [image_tensor(sam, rgb, device) for rgb in resized_rgbs]
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def decode_prompts(
    sam: Any,
    embedding: Any,
    prompts: dict[str, np.ndarray],
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    box_mask: bool = False,
) -> tuple[Any, Any]:
    """`models.decode_masks` for ONE image's (1, C, h, w) ``embedding`` and its model-frame ``prompts``
    (``{"boxes": (N, 4)}`` XYXY, or ``{"points": (N, P, 2), "labels": (N, P)}``), on the embedding's device."""
    import torch

    device = embedding.device
    frame = (sam, embedding, input_size, original_size)
    if "boxes" in prompts:
        boxes = torch.as_tensor(prompts["boxes"], device=device)
        return decode_masks(*frame, boxes_xyxy=boxes, box_mask=box_mask)
    points = torch.as_tensor(prompts["points"], device=device)
    labels = torch.as_tensor(prompts["labels"], device=device)
    return decode_masks(*frame, points_xy=points, point_labels=labels)
