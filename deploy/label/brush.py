"""Label Studio's brush RLE: the format of its ``brushlabels`` results (not COCO RLE).

Label Studio stores a brush mask as RGBA bytes (H * W * 4, every channel the mask value 0 or 255),
run-length coded into a bit stream (thi.ng rle-pack): a 32-bit value count, a 5-bit word size - 1
(8 bits here), four 4-bit run-length sizes - 1 (3, 4, 8, 16), then per run a 1-bit "repeat" flag, a
2-bit index into the sizes, the run length - 1 in that many bits and the 8-bit value (a single value
is flag 0, index 0, length 0), padded with 1 to 8 zero bits to whole bytes, as label-studio-sdk's
``converter.brush.mask2rle`` does: the tests check the bytes are the same and that its ``decode_rle``
reads them back. Runs are found with numpy, so a 1024 x 1024 mask takes milliseconds.
"""

from __future__ import annotations

import numpy as np

WORD = 8
RLE_SIZES = (3, 4, 8, 16)
MAX_RUN = 2**16


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(run lengths, run values) of a 1-D array."""
    if not len(values):
        return np.zeros(0, np.int64), np.zeros(0, values.dtype)
    change = np.nonzero(values[1:] != values[:-1])[0] + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(values)]]))
    return lengths, values[starts]


def _bits(value: int, width: int) -> str:
    return format(int(value), f"0{width}b")


def encode_mask(mask: np.ndarray) -> list[int]:
    """Label Studio brush RLE (a list of byte values) of a (H, W) bool mask."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2D array with shape (H, W), but got shape {mask.shape}")
    flat = np.repeat(mask.astype(np.uint8).reshape(-1) * 255, 4)  # RGBA, every channel the same
    lengths, values = runs(flat)
    parts = [_bits(len(flat), 32), _bits(WORD - 1, 5), "".join(_bits(s - 1, 4) for s in RLE_SIZES)]
    for length, value in zip(lengths.tolist(), values.tolist(), strict=True):
        v = _bits(value, WORD)
        while length > MAX_RUN:  # the longest run one code holds
            parts.append("111" + _bits(MAX_RUN - 1, 16) + v)
            length -= MAX_RUN
        if length == 1:
            parts.append("000000" + v)
            continue
        index = next(i for i, s in enumerate(RLE_SIZES) if length - 1 < 2**s)
        parts.append("1" + _bits(index, 2) + _bits(length - 1, RLE_SIZES[index]) + v)
    bits = "".join(parts)
    bits += "0" * (8 - len(bits) % 8)  # 1 to 8 zero bits, as label-studio-sdk's encoder pads
    return list(np.packbits(np.frombuffer(bits.encode("ascii"), np.uint8) - ord("0")).tolist())
