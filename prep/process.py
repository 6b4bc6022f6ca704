"""One image of the category -> its manifest record and instances (the per-image work of prep).

Reads the image and mask bytes once, hashes the image, decodes both, checks them, and turns
the mask into instances. Returns plain dicts so it can run in worker processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from wood.errors import ConfigError, DataError, MisMatchError
from wood.imageio import MASK_THRESHOLD, check_upright, decode, mask_to_bool, read_bytes
from wood.prep.instances import find_instances
from wood.prep.mvtec import Sample
from wood.prep.tiling.grid import TileSpec, clip_to_tiles


@dataclass(frozen=True)
class ProcessOptions:
    """Per-image options (picklable)."""

    min_area: int = 4
    allow_empty_masks: bool = False
    tile: TileSpec | None = None
    """With tiling, every record also gets ``tiles`` (prep/tiling/grid.py clip_to_tiles); the split picks which
    to use."""


def process_sample(root: Path, sample: Sample, options: ProcessOptions) -> dict:
    """Read, check and annotate one image. Raises DataError / MisMatchError naming the file.

    Returns a dict with the manifest fields of the image and ``instances``: a list of dicts
    with ``bbox_xyxy``, ``area``, ``has_hole``, ``segmentation`` (COCO) and ``outer`` (flat
    polygon on pixel corners) and ``centre`` (flat polygon through pixel centres, for YOLO-seg).
    With ``options.tile``, also ``tiles``: every tile of the grid with its clipped instances.
    """
    record, mask = _annotate(root, sample, options)
    if options.tile is not None:
        size, (height, width) = options.tile.size, (record["height"], record["width"])
        if size > min(height, width):
            raise ConfigError(
                f"--tile {size} is larger than this image ({width}x{height}); use a tile of at most "
                f"{min(height, width) // 32 * 32} (a multiple of 32) or leave out --tile",
                root / sample.source,
            )
        record["tiles"] = clip_to_tiles(mask, width, height, options.tile, options.min_area)
    return record


def _annotate(root: Path, sample: Sample, options: ProcessOptions) -> tuple[dict, np.ndarray | None]:
    """(record, binarised mask or None): the work of process_sample before tiling."""
    image_path = root / sample.source
    data = read_bytes(image_path)
    image = decode(data, image_path)
    check_upright(data, image_path)
    height, width = image.shape[:2]
    record = {
        "name": sample.name,
        "source": sample.source,
        "mask": sample.mask,
        "defect": sample.defect,
        "origin": sample.origin,
        "sha256": hashlib.sha256(data).hexdigest(),
        "height": int(height),
        "width": int(width),
        "channels": 1 if image.ndim == 2 else int(image.shape[2]),
        "dtype": str(image.dtype),
        "flags": [],
        "instances": [],
    }
    if sample.mask is None:
        return record, None
    mask_path = root / sample.mask
    raw = decode(read_bytes(mask_path), mask_path)
    if raw.shape[:2] != (height, width):
        raise MisMatchError(
            f"mask size {raw.shape[1]}x{raw.shape[0]} differs from its image {sample.source} ({width}x{height})",
            mask_path,
        )
    if _has_values_between(raw, 1, 254):
        record["flags"].append("non_binary_mask")
    mask = mask_to_bool(raw, mask_path)
    if not mask.any():
        if not options.allow_empty_masks:
            raise DataError(
                f"mask is empty (no pixel >= {MASK_THRESHOLD}) on a defect image{_low_values_hint(raw)}; "
                "fix the mask, or pass --allow-empty-masks to keep it as a flagged image with no instances",
                mask_path,
            )
        record["flags"].append("empty_mask")
        return record, mask
    instances, dropped = find_instances(mask, options.min_area)
    if dropped:
        record["flags"].append("small_components_dropped")
    record["instances"] = [inst.annotation() for inst in instances]
    return record, mask


def _low_values_hint(raw: np.ndarray) -> str:
    """For a mask with some values but none >= the threshold (e.g. a 0/1 mask): say so."""
    top = int(raw.max())
    if top == 0:
        return ""
    scale = " (scale it by 255)" if top == 1 else ""
    return f"; its values are 0..{top}; MVTec masks are 0/255{scale}"


def _has_values_between(array: np.ndarray, low: int, high: int) -> bool:
    """True if any value lies in [low, high] (for 8-bit masks: anything but 0 and 255)."""
    if array.dtype != np.uint8:
        return bool(((array >= low) & (array <= high)).any())
    return cv2.countNonZero(cv2.inRange(array, low, high).reshape(array.shape[0], -1)) > 0
