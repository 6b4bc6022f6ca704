"""COCO masks both ways: (H, W) bool mask -> RLE, and a COCO ``segmentation`` -> (H, W) bool mask.

The one place wood talks to ``pycocotools.mask``: prep writes RLE for components with holes,
eval writes RLE predictions for segm AP, and prep (preview, paste), SAM training and
`wood eval segment` read segmentations back. Pure functions; pycocotools is imported lazily.

A segmentation is what a COCO annotation holds: a list of flat polygons (unioned, as COCO
does), an uncompressed RLE (``counts`` a list of ints) or a compressed RLE (``counts`` a str
or bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a (H, W) bool mask, with ``counts`` as str so it is JSON-safe."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def segmentation_to_mask(segmentation: Any, height: int, width: int, where: str | Path | None = None) -> np.ndarray:
    """A COCO ``segmentation`` (polygons, uncompressed or compressed RLE) as a (H, W) bool mask,
    rasterised as pycocotools does. One that cannot be decoded is a DataError naming ``where``."""
    from pycocotools import mask as mask_utils

    try:
        return mask_utils.decode(_compressed_rle(segmentation, height, width)).astype(bool)
    except Exception as exc:  # noqa: BLE001 - pycocotools raises bare Exception, TypeError, ValueError, KeyError
        raise DataError(f"cannot decode a segmentation ({exc.__class__.__name__}: {exc})", where) from exc


def _compressed_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    if isinstance(segmentation, dict):
        rle = dict(segmentation)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
        return rle
    raise TypeError(f"unsupported segmentation type {type(segmentation).__name__}")
