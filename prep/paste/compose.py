"""Placing one cut-out instance on an image: transform, colour match, placement, blending (pure, arrays only).

Coordinates: ``xy`` is the top-left pixel (x, y) of the transformed instance's box in the image; a box of
(h, w) at xy covers pixels x <= X < x + w, y <= Y < y + h.

The LABEL of a pasted instance is its binary mask after the transform; only pixels inside that mask ever
change (the feathered rim of alpha blending lies inside the mask, Poisson results are kept inside it), so
pixels outside every pasted mask are the background's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from wood.prep.paste.bank import rgb_to_lab

MASK_THRESHOLD = 0.5
"""A resampled mask pixel is instance where its value (0..1, bilinear up / area-average down) is >= 0.5."""
SCALE_DECIMALS = 4
GAIN_RANGE = (0.5, 2.0)
"""Colour matching: per-channel std ratio clipped to this range (a flat patch must not blow up contrast)."""
POISSON_PAD = 2


@dataclass(frozen=True)
class Transform:
    """flip (left-right, first), then ``rot90`` quarter turns counter-clockwise (np.rot90), then ``scale``."""

    flip: bool = False
    rot90: int = 0
    scale: float = 1.0


def sample_transform(rng: np.random.Generator, scale: tuple[float, float], flip: bool, rot90: bool) -> Transform:
    """A random Transform; the scale is log-uniform in [lo, hi] (as likely to halve as to double), rounded
    to SCALE_DECIMALS so the value the manifest records is the value used."""
    f = bool(rng.integers(2)) if flip else False
    k = int(rng.integers(4)) if rot90 else 0
    lo, hi = np.log(scale[0]), np.log(scale[1])
    s = round(float(np.exp(rng.uniform(lo, hi))), SCALE_DECIMALS) if hi > lo else round(scale[0], SCALE_DECIMALS)
    return Transform(f, k, s)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(h, w) of a (height, width) box scaled by ``scale`` (at least 1 px)."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def transform_cutout(image: np.ndarray, mask: np.ndarray, t: Transform) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``t`` to an instance: ``image`` (h, w, 3) uint8 and ``mask`` (h, w) bool -> the same, transformed.

    The mask is resampled as 0..1 floats (bilinear when enlarging, area average when shrinking) and
    binarised at >= MASK_THRESHOLD; the image is resampled the same way.
    """
    if t.flip:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if t.rot90:
        image, mask = np.rot90(image, t.rot90), np.rot90(mask, t.rot90)
    image, mask = np.ascontiguousarray(image), np.ascontiguousarray(mask)
    if t.scale == 1.0:
        return image, mask
    h, w = scaled_size(*mask.shape, t.scale)
    interp = cv2.INTER_AREA if t.scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image, (w, h), interpolation=interp)
    soft = cv2.resize(mask.astype(np.float32), (w, h), interpolation=interp)
    return image.reshape(h, w, 3), soft >= MASK_THRESHOLD


def count_components(mask: np.ndarray) -> int:
    """Number of 8-connected components of a (h, w) bool mask."""
    return cv2.connectedComponents(mask.view(np.uint8), connectivity=8)[0] - 1


def transform_whole(image: np.ndarray, mask: np.ndarray, t: Transform) -> tuple[np.ndarray, np.ndarray, Transform]:
    """transform_cutout, but a scale that would split the instance into more 8-connected components (a thin
    scratch resampled into dashes) is replaced by 1.0. Returns the arrays and the transform used."""
    out_image, out_mask = transform_cutout(image, mask, t)
    if t.scale != 1.0 and count_components(out_mask) > count_components(mask):
        t = replace(t, scale=1.0)
        out_image, out_mask = transform_cutout(image, mask, t)
    return out_image, out_mask, t


def keep_components(mask: np.ndarray, min_area: int) -> np.ndarray:
    """``mask`` without its 8-connected components of fewer than ``min_area`` pixels (they are not pasted)."""
    if min_area <= 1 or not mask.any():
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def find_place(
    rng: np.random.Generator, owner: np.ndarray, areas: np.ndarray, mask: np.ndarray, max_overlap: float, tries: int
) -> tuple[int, int] | None:
    """A random top-left (x, y) where ``mask`` covers at most ``max_overlap`` of any instance's area.

    ``owner`` (H, W) int32 holds the instance id of every pixel (0: none); ``areas[k]`` is instance k's
    current pixel count. None when no position within ``tries`` random ones qualifies or it does not fit.
    """
    height, width = owner.shape
    h, w = mask.shape
    if h > height or w > width:
        return None
    for _ in range(tries):
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        covered = np.bincount(owner[y : y + h, x : x + w][mask], minlength=len(areas))
        covered[0] = 0
        if np.all(covered <= max_overlap * areas):
            return x, y
    return None


def match_colour(image: np.ndarray, mask: np.ndarray, src_stats: np.ndarray, dst_stats: np.ndarray) -> np.ndarray:
    """Move the instance's colours as its source surroundings would move to the new ones, in Lab.

    Per channel: ``(v - mean_src) * clip(std_dst / std_src) + mean_dst``, where src/dst are the (2, 3) Lab
    mean/std of the surroundings. The defect keeps its contrast to its surroundings (a colour defect stays
    a colour defect) while the wood under it takes the new image's tone. Pixels outside ``mask`` are kept.
    """
    lab = rgb_to_lab(image)
    gain = np.clip(dst_stats[1] / np.maximum(src_stats[1], 1e-3), *GAIN_RANGE)
    moved = (lab - src_stats[0]) * gain + dst_stats[0]
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB)
    out = image.copy()
    out[mask] = np.clip(np.round(rgb[mask] * 255), 0, 255).astype(np.uint8)
    return out


def feather_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """(h, w) float32 opacity: 0 outside ``mask``; inside, rising over ``feather`` px from the edge to 1.

    The rim is inside the mask, so the label (the mask) is exact. A thin instance is feathered over at
    most a third of its half-width, so a scratch stays opaque at its core.
    """
    if feather <= 0:
        return mask.astype(np.float32)
    padded = np.pad(mask, 1).view(np.uint8)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    width = min(feather, int(dist.max() // 3))
    if width <= 0:
        return mask.astype(np.float32)
    return np.clip(dist / (width + 1), 0, 1).astype(np.float32) * mask


def paste(
    canvas: np.ndarray, image: np.ndarray, mask: np.ndarray, xy: tuple[int, int], blend: str, feather: int = 2
) -> None:
    """Blend ``image`` (h, w, 3) uint8 into ``canvas`` (H, W, 3) uint8 at ``xy``, in place, inside ``mask`` only.

    blend: ``none`` copies the pixels; ``alpha`` mixes with a feathered opacity (feather_alpha); ``poisson``
    uses cv2.seamlessClone (NORMAL_CLONE) on a padded window whose boundary lies just outside the mask.
    """
    x, y = xy
    h, w = mask.shape
    region = canvas[y : y + h, x : x + w]
    if blend == "none":
        region[mask] = image[mask]
    elif blend == "alpha":
        alpha = feather_alpha(mask, feather)[..., None]
        mixed = np.round(alpha * image.astype(np.float32) + (1 - alpha) * region.astype(np.float32))
        region[mask] = mixed.astype(np.uint8)[mask]
    elif blend == "poisson":
        _poisson(canvas, image, mask, xy)
    else:
        raise ValueError(f"blend must be one of none, alpha, poisson, but got {blend!r}")


def _poisson(canvas: np.ndarray, image: np.ndarray, mask: np.ndarray, xy: tuple[int, int]) -> None:
    """seamlessClone around ``mask``; only mask pixels are written back.

    OpenCV zeroes the mask's outermost row/column and places the source box by its centre (integer
    halves), so the window is padded and the centre computed the way OpenCV does, which keeps the
    clone exactly on the mask. The mask is dilated by 1 px for the solver, so its Dirichlet boundary is the
    ring just outside the label and every label pixel is solved.
    """
    x, y = xy
    h, w = mask.shape
    height, width = canvas.shape[:2]
    m = 2
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(width, x + w + m), min(height, y + h + m)
    dst = canvas[y0:y1, x0:x1]
    label = np.zeros(dst.shape[:2], bool)
    label[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = mask
    src = dst.copy()
    src[label] = image[mask]
    solve = cv2.dilate(label.view(np.uint8), np.ones((3, 3), np.uint8)) * np.uint8(255)
    p = POISSON_PAD
    src_p = cv2.copyMakeBorder(src, p, p, p, p, cv2.BORDER_REPLICATE)
    dst_p = cv2.copyMakeBorder(dst, p, p, p, p, cv2.BORDER_REPLICATE)
    solve_p = cv2.copyMakeBorder(solve, p, p, p, p, cv2.BORDER_CONSTANT, value=0)
    bx, by, bw, bh = cv2.boundingRect(solve_p)
    out = cv2.seamlessClone(src_p, dst_p, solve_p, (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE)
    dst[label] = out[p:-p, p:-p][label]
