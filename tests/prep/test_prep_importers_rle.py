"""prep/importers/rle.py: COCO segmentations are checked before pycocotools decodes them; the compressed RLE
string is decoded exactly as pycocotools encodes it."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from wood.errors import DataError
from wood.prep.importers.rle import check_segmentation, string_counts


def test_string_counts_match_pycocotools():
    rng = np.random.default_rng(0)
    mask = np.asfortranarray((rng.random((37, 23)) > 0.6).astype(np.uint8))
    mask[:5] = 1  # long runs: multi-character numbers
    rle = mask_utils.encode(mask)
    counts = string_counts(rle["counts"].decode())
    assert sum(counts) == 37 * 23
    decoded = np.zeros(37 * 23, np.uint8)
    pos = 0
    for k, n in enumerate(counts):
        decoded[pos : pos + n] = k % 2
        pos += n
    assert np.array_equal(decoded.reshape(23, 37).T, mask)  # column-major, starting with zeros


def test_string_counts_malformed():
    with pytest.raises(ValueError, match="not in the RLE alphabet"):
        string_counts("0~")
    with pytest.raises(ValueError, match="ends inside a number"):
        string_counts("0" + chr(48 + 0x20))


def test_good_segmentations_pass():
    check_segmentation([[0, 0, 4, 0, 4, 4]], 8, 8, "a.json")
    check_segmentation({"size": [2, 3], "counts": [1, 4, 1]}, 2, 3, "a.json")
    rle = mask_utils.encode(np.asfortranarray(np.eye(4, dtype=np.uint8)))
    check_segmentation({"size": [4, 4], "counts": rle["counts"]}, 4, 4, "a.json")  # bytes, as pycocotools gives


@pytest.mark.parametrize(
    "segmentation, message",
    [
        ([[0, 0, 4, "x", 4, 4]], "a polygon must be a flat list of numbers"),
        ([[0, 0, 4, True, 4, 4]], "a polygon must be a flat list of numbers"),
        ([[0, 0, 4, 4]], "a polygon needs >= 3 points (x, y pairs), but got 4 values"),
        ([[0, 0, 4, 4, 1]], "but got 5 values"),
        ({"counts": [6]}, "segmentation must be polygons or an RLE with 'size' and 'counts'"),
        ("rle", "segmentation must be polygons"),
        ({"size": [3, 2], "counts": [6]}, "RLE size [3, 2] differs from the image's [height, width] [2, 3]"),
        ({"size": [2, 3], "counts": "0~"}, "malformed compressed RLE counts: character '~'"),
        ({"size": [2, 3], "counts": [1.5, 4.5]}, "RLE counts must be a list of integers or a compressed string"),
        ({"size": [2, 3], "counts": [7, -1]}, "malformed RLE: a negative run length"),
        ({"size": [2, 3], "counts": [1, 4]}, "run lengths sum to 5, not height x width = 6"),
    ],
)
def test_bad_segmentations_name_the_file(segmentation, message):
    with pytest.raises(DataError) as exc:
        check_segmentation(segmentation, 2, 3, "labels.json")
    assert message in str(exc.value) and "labels.json" in str(exc.value)
