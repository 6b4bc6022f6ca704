"""Checks of a COCO segmentation before pycocotools decodes it, so a malformed one is one line, not garbage.

pycocotools trusts its input: RLE counts that sum past H x W write beyond the mask buffer, a compressed
string with characters outside its alphabet decodes to nonsense, a 2-point polygon is taken for a box
(TypeError) and a 1-point one raises a bare Exception. Here:
- polygons: a list of flat [x1, y1, x2, y2, ...] lists of numbers, each with >= 3 points;
- RLE: ``size`` equal to the image's [height, width]; ``counts`` a list of non-negative ints, or
  pycocotools' compressed string (decoded here as its ``rleFrString`` does), summing to height x width.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

from wood.errors import DataError


def string_counts(text: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``); ValueError if malformed."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise ValueError("the string ends inside a number")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {text[p]!r} is not in the RLE alphabet ('0'..'o')")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def check_segmentation(segmentation: Any, height: int, width: int, where: str) -> None:
    """Raise a DataError naming ``where`` unless ``segmentation`` is well-formed for a (height, width) image."""
    if isinstance(segmentation, list):
        for poly in segmentation:
            if not isinstance(poly, list) or not all(isinstance(v, Real) and not isinstance(v, bool) for v in poly):
                raise DataError("a polygon must be a flat list of numbers [x1, y1, x2, y2, ...]", where)
            if len(poly) < 6 or len(poly) % 2:
                raise DataError(f"a polygon needs >= 3 points (x, y pairs), but got {len(poly)} values", where)
        return
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        raise DataError("segmentation must be polygons or an RLE with 'size' and 'counts'", where)
    size = segmentation["size"]
    if not isinstance(size, list) or [int(v) if isinstance(v, Real) else v for v in size] != [height, width]:
        raise DataError(f"RLE size {size!r} differs from the image's [height, width] [{height}, {width}]", where)
    counts = segmentation["counts"]
    if isinstance(counts, (bytes, str)):
        text = counts.decode("ascii", "replace") if isinstance(counts, bytes) else counts
        try:
            counts = string_counts(text)
        except ValueError as exc:
            raise DataError(f"malformed compressed RLE counts: {exc}", where) from exc
    if not isinstance(counts, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        raise DataError("RLE counts must be a list of integers or a compressed string", where)
    if any(v < 0 for v in counts):
        raise DataError("malformed RLE: a negative run length", where)
    if sum(counts) != height * width:
        raise DataError(
            f"malformed RLE: run lengths sum to {sum(counts)}, not height x width = {height * width}", where
        )
