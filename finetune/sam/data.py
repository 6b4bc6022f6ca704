"""Data for SAM: COCO instances of a `wood prep` split, SAM's resize + padding, box and point prompts.

Coordinates: boxes are XYXY in pixel-edge coordinates of the ORIGINAL image (a box covers
pixels x0 <= x < x1, y0 <= y < y1, as `wood prep` writes them); points are XY at pixel
centres. `to_model_frame` maps both into the resized frame SAM's prompt encoder expects.
Masks stay at the original resolution: loss and metrics are computed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError, MisMatchError
from wood.prep.formats.coco_masks import segmentation_to_mask
from wood.prep.formats.coco_split import coco_path, images_dir, read_coco

BOX_JITTER_MAX_PX_AT_1024 = 20.0
"""SAM paper: box noise std = 10% of the side, at most 20 px (for 1024 px images; scaled with the image)."""


@dataclass
class SamInstance:
    """One COCO annotation: ``category_id`` (COCO, from 1), ``bbox_xyxy`` (4,) float pixel edges,
    ``mask`` (H, W) bool at the original resolution."""

    ann_id: int
    category_id: int
    bbox_xyxy: np.ndarray
    mask: np.ndarray


@dataclass
class SamImage:
    """One image of the split with its instances (empty for good images)."""

    image_id: int
    file_name: str
    path: Path
    height: int
    width: int
    instances: list[SamInstance] = field(default_factory=list)
    crop: tuple[int, int, int, int] | None = None
    """A zoomed crop of the file (`zoom.zoomed_images`): (x0, y0, file height, file width); height and width
    are the crop's."""

    @property
    def original_size(self) -> tuple[int, int]:
        return (self.height, self.width)


def load_split(prep_dir: str | Path, split: str) -> tuple[list[SamImage], dict[int, str]]:
    """All images of ``split`` with their decoded instances, and {category_id: name}.

    Every image file must exist (checked here, before any training or output starts); a COCO
    entry with a missing or malformed field is a DataError naming the COCO file.
    """
    coco = read_coco(prep_dir, split)
    where = coco_path(prep_dir, split)
    try:
        return _split_images(coco, images_dir(prep_dir, split, coco), where)
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"{exc.__class__.__name__}: {str(exc)[:80]}"
        raise DataError(f"malformed COCO entry ({problem}); re-run `wood prep`", where) from exc


def _split_images(coco: dict[str, Any], folder: Path, where: Path) -> tuple[list[SamImage], dict[int, str]]:
    categories = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
    images: dict[int, SamImage] = {}
    for entry in coco["images"]:
        image = SamImage(
            image_id=int(entry["id"]),
            file_name=str(entry["file_name"]),
            path=folder / entry["file_name"],
            height=int(entry["height"]),
            width=int(entry["width"]),
        )
        if not image.path.is_file():
            raise DataError(f"image of {where.name} does not exist; re-run `wood prep`", image.path)
        images[image.image_id] = image
    for ann in coco["annotations"]:
        image = images.get(int(ann["image_id"]))
        if image is None:
            raise DataError(f"annotation {ann.get('id')} points to unknown image_id {ann['image_id']}", where)
        if int(ann["category_id"]) not in categories:
            raise DataError(f"annotation {ann.get('id')} has unknown category_id {ann['category_id']}", where)
        x, y, w, h = (float(v) for v in ann["bbox"])
        mask = segmentation_to_mask(ann["segmentation"], image.height, image.width, where)
        image.instances.append(
            SamInstance(int(ann["id"]), int(ann["category_id"]), np.array([x, y, x + w, y + h], np.float32), mask)
        )
    return list(images.values()), categories


def resized_shape(height: int, width: int, target: int) -> tuple[int, int]:
    """(H, W) after ResizeLongestSide(target): the longest side becomes ``target``."""
    from segment_anything.utils.transforms import ResizeLongestSide

    return ResizeLongestSide.get_preprocess_shape(height, width, target)


def resize_image(rgb: np.ndarray, target: int) -> np.ndarray:
    """SAM's ResizeLongestSide on a uint8 (H, W, 3) RGB image; padding happens in `Sam.preprocess`."""
    from segment_anything.utils.transforms import ResizeLongestSide

    return ResizeLongestSide(target).apply_image(rgb)


def to_model_frame(coords_xy: np.ndarray, original_size: tuple[int, int], target: int) -> np.ndarray:
    """Scale XY coordinates (..., 2) (or XYXY boxes (N, 4)) from the original image to the resized frame."""
    h, w = original_size
    new_h, new_w = resized_shape(h, w, target)
    out = np.asarray(coords_xy, dtype=np.float32).copy()
    flat = out.reshape(-1, 2)
    flat[:, 0] *= new_w / w
    flat[:, 1] *= new_h / h
    return flat.reshape(out.shape)


def jitter_boxes(
    boxes_xyxy: np.ndarray, original_size: tuple[int, int], std_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Add Gaussian noise to each box side (std = ``std_fraction`` of the box side, clipped to
    20 px per 1024 px of image), keep x0 < x1, y0 < y1 and stay inside the image."""
    if std_fraction <= 0 or len(boxes_xyxy) == 0:
        return boxes_xyxy.astype(np.float32)
    h, w = original_size
    max_px = BOX_JITTER_MAX_PX_AT_1024 * max(h, w) / 1024
    boxes = boxes_xyxy.astype(np.float32).copy()
    side = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    noise = np.clip(rng.normal(0.0, 1.0, boxes.shape) * std_fraction * side, -max_px, max_px)
    boxes += noise
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    boxes[:, 2] = np.maximum(boxes[:, 2], boxes[:, 0] + 1)
    boxes[:, 3] = np.maximum(boxes[:, 3], boxes[:, 1] + 1)
    return boxes


def sample_points(mask: np.ndarray, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """``n`` positive XY points (pixel centres) inside ``mask``: random with ``rng``; without it,
    deterministic: the pixel farthest from the mask border first, then evenly spaced mask pixels."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise DataError("cannot sample a point prompt from an empty mask")
    if rng is not None:
        pick = rng.integers(0, len(xs), size=n)
        return np.stack([xs[pick], ys[pick]], axis=1).astype(np.float32) + 0.5
    import cv2

    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    cy, cx = np.unravel_index(int(np.argmax(dist)), dist.shape)
    points = [(cx, cy)]
    if n > 1:
        idx = np.linspace(0, len(xs) - 1, n - 1).round().astype(int)
        points += list(zip(xs[idx], ys[idx], strict=True))
    return np.asarray(points, np.float32) + 0.5


def build_prompts(
    instances: list[SamInstance],
    original_size: tuple[int, int],
    target: int,
    prompt: str,
    n_points: int = 1,
    box_jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Prompts for ``instances`` in the model frame: {"boxes": (N, 4)} for ``prompt="box"`` or
    {"points": (N, P, 2), "labels": (N, P)} for ``prompt="points"``. ``rng`` None = deterministic."""
    if prompt == "box":
        boxes = np.stack([inst.bbox_xyxy for inst in instances]).astype(np.float32)
        if rng is not None:
            boxes = jitter_boxes(boxes, original_size, box_jitter, rng)
        return box_prompts(boxes, original_size, target)
    if prompt == "points":
        points = np.stack([sample_points(inst.mask, n_points, rng) for inst in instances])
        return {"points": to_model_frame(points, original_size, target), "labels": np.ones(points.shape[:2], np.int64)}
    raise ValueError(f"prompt must be 'box' or 'points', but got {prompt!r}")


def box_prompts(boxes_xyxy: np.ndarray, original_size: tuple[int, int], target: int) -> dict[str, np.ndarray]:
    """XYXY boxes (N, 4) of the original image (a detector's, or GT) as box prompts in the model frame."""
    return {"boxes": to_model_frame(boxes_xyxy, original_size, target)}


def flip_sample(
    resized_rgb: np.ndarray,
    instances: list[SamInstance],
    original_size: tuple[int, int],
    horizontal: bool,
    vertical: bool,
) -> tuple[np.ndarray, list[SamInstance]]:
    """Mirror a resized image and its instances (masks at the original size, XYXY pixel-edge boxes)."""
    h, w = original_size
    out = []
    for inst in instances:
        mask, (x0, y0, x1, y1) = inst.mask, inst.bbox_xyxy
        if horizontal:
            mask, x0, x1 = mask[:, ::-1], w - x1, w - x0
        if vertical:
            mask, y0, y1 = mask[::-1], h - y1, h - y0
        box = np.array([x0, y0, x1, y1], np.float32)
        out.append(SamInstance(inst.ann_id, inst.category_id, box, np.ascontiguousarray(mask)))
    if horizontal:
        resized_rgb = resized_rgb[:, ::-1]
    if vertical:
        resized_rgb = resized_rgb[::-1]
    return np.ascontiguousarray(resized_rgb), out


class ImageCache:
    """Resized uint8 images in memory, keyed by image id (reading PNGs every epoch is slow)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._items: dict[int, np.ndarray] = {}

    def get(self, image: SamImage) -> np.ndarray:
        if image.image_id not in self._items:
            self._items[image.image_id] = resize_image(read_rgb(image), self.target)
        return self._items[image.image_id]


def read_rgb(image: SamImage) -> np.ndarray:
    """The image file (its crop, for a zoomed image) as uint8 (H, W, 3) RGB; a file size other than its COCO
    entry's is a MisMatchError."""
    from wood.imageio import read_image_rgb

    rgb = read_image_rgb(image.path)
    expected = image.original_size if image.crop is None else image.crop[2:]
    if rgb.shape[:2] != expected:
        size = f"{rgb.shape[1]}x{rgb.shape[0]} but the COCO file says {expected[1]}x{expected[0]}"
        raise MisMatchError(f"image is {size}", image.path)
    if image.crop is not None:
        x, y = image.crop[:2]
        rgb = np.ascontiguousarray(rgb[y : y + image.height, x : x + image.width])
    return rgb


def image_tensor(sam: Any, resized_rgb: np.ndarray, device: str) -> Any:
    """(1, 3, S, S) normalised and padded input for ``sam.image_encoder``."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(resized_rgb)).to(device).permute(2, 0, 1).float()
    return sam.preprocess(x)[None]
