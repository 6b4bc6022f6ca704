"""Reading images and masks safely: every failure is a DataError naming the file.

`cv2.imread` returns None on failure and cannot read non-ASCII paths on every platform, so
files are read as bytes and decoded with `cv2.imdecode`.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np

from wood.errors import DataError

MASK_THRESHOLD = 128
"""A mask pixel is defect when its value is >= 128 (half of 255). Anti-aliased edges of
resized or warped masks are split at their midpoint, which keeps the area unbiased."""


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112
UPRIGHT = 1

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr: int | None = None


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (libpng and OpenCV print their own
    "libpng error: ..." / "[ WARN ...]" lines there; wood reports the failure itself, in one line).

    Thread safe: the first thread in redirects, the last one out restores. Costs ~2 us.
    """
    global _quiet_depth, _saved_stderr
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_stderr = _redirect_fd2()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


def _redirect_fd2() -> int | None:
    """Point fd 2 at /dev/null; returns a duplicate of the old fd 2 (None where fd 2 is unusable)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return None
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    return saved


def decode(data: bytes, path: str | Path) -> np.ndarray:
    """Decode image bytes as stored (any depth, any channels). Raises DataError if unreadable."""
    if not data:
        raise DataError("file is empty", path)
    try:
        with quiet_stderr():
            array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise DataError(f"image too large or unreadable{_size_note(data)}", path) from exc
    if array is None or array.size == 0:
        raise DataError("not a readable image (corrupt, truncated or not an image)", path)
    return array


def _size_note(data: bytes) -> str:
    """': its header says WxH (N pixels; ...)' where the header can be read, else ''."""
    size = header_size(data)
    if size is None:
        return ""
    width, height = size
    return (
        f": its header says {width}x{height} ({width * height} pixels); OpenCV reads at most "
        "CV_IO_MAX_IMAGE_PIXELS pixels (default 2^30 = 1073741824)"
    )


def header_size(data: bytes) -> tuple[int, int] | None:
    """(W, H) from the image header without decoding pixels: PNG directly, others through PIL."""
    if data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    try:
        with _pil_open(data) as image:
            return image.size
    except Exception:  # noqa: BLE001 - PIL raises many types on odd headers; the size is only a hint
        return None


@contextmanager
def _pil_open(data: bytes) -> Iterator:
    """PIL's lazy view of ``data`` (header only until pixels are asked for), with its warnings off."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning would print a line of its own
        with Image.open(BytesIO(data)) as image:
            yield image


def exif_orientation(data: bytes) -> int | None:
    """The EXIF Orientation tag (1..8) of JPEG, TIFF or PNG bytes; None where there is none."""
    is_jpeg = data[:2] == b"\xff\xd8"
    is_tiff = data[:4] in (b"II*\x00", b"MM\x00*")
    is_png_with_exif = data[:8] == PNG_SIGNATURE and b"eXIf" in data
    if not (is_jpeg or is_tiff or is_png_with_exif):
        return None
    try:
        with _pil_open(data) as image:
            value = image.getexif().get(EXIF_ORIENTATION)
    except Exception:  # noqa: BLE001 - an unreadable EXIF block means no orientation; decode() checks the pixels
        return None
    return value if isinstance(value, int) else None


def check_upright(data: bytes, path: str | Path) -> None:
    """Raise DataError if the image carries an EXIF rotation.

    cv2.imdecode(IMREAD_UNCHANGED), which prep reads with, ignores EXIF; Ultralytics and PIL
    apply it, so they would see the image rotated while its mask and boxes are not.
    """
    orientation = exif_orientation(data)
    if orientation is not None and orientation != UPRIGHT:
        raise DataError(
            f"image has EXIF orientation {orientation}; readers that apply EXIF (Ultralytics, PIL) would see it "
            "rotated while its mask and boxes are not; write it upright (e.g. PIL ImageOps.exif_transpose)",
            path,
        )


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
