"""Reading images and masks safely: every failure is a DataError naming the file.

`cv2.imread` returns None on failure and cannot read non-ASCII paths on every platform, so
files are read as bytes and decoded with `cv2.imdecode`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from wood.errors import DataError

MASK_THRESHOLD = 128
"""A mask pixel is defect when its value is >= 128 (half of 255). Anti-aliased edges of
resized or warped masks are split at their midpoint, which keeps the area unbiased."""


def decode(data: bytes, path: str | Path) -> np.ndarray:
    """Decode image bytes as stored (any depth, any channels). Raises DataError if unreadable."""
    if not data:
        raise DataError("file is empty", path)
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise DataError("not a readable image (corrupt, truncated or not an image)", path)
    return array


def read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError("file does not exist", path) from exc
    except IsADirectoryError as exc:
        raise DataError("expected a file, found a folder", path) from exc
    except PermissionError as exc:
        raise DataError("permission denied", path) from exc


def to_rgb8(array: np.ndarray) -> np.ndarray:
    """Convert a decoded image (gray, BGR, BGRA; 8 or 16 bit) to uint8 RGB, shape (H, W, 3)."""
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = cv2.normalize(array, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    if array.shape[2] == 1:
        return cv2.cvtColor(array[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB, shape (H, W, 3)."""
    return to_rgb8(decode(read_bytes(path), path))


def mask_to_bool(array: np.ndarray, path: str | Path = "<mask>") -> np.ndarray:
    """Binarise a decoded mask at MASK_THRESHOLD: (H, W) bool. Colour masks use their maximum channel."""
    if array.ndim == 3:
        array = array.max(axis=2)
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    if array.dtype != np.uint8:
        raise DataError(f"mask must be 8- or 16-bit, but got dtype {array.dtype}", path)
    return array >= MASK_THRESHOLD


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask file as bool, shape (H, W), binarised at MASK_THRESHOLD."""
    return mask_to_bool(decode(read_bytes(path), path), path)
