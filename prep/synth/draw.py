"""Procedural wood texture and wood defects, each drawn together with its mask.

Pure generators: every function takes an ``np.random.Generator`` (and a size) and returns
arrays; nothing here touches the disk (see ``wood.prep.synth.write`` for the MVTec tree).

Images are uint8 RGB, shape (H, W, 3); masks are bool, shape (H, W). Every pixel a defect
drawer changes is inside the mask it returns, and every mask pixel is changed, so the mask is
exactly what was drawn. Sizes are relative to the image side, except *tiny* defects, which are
given in pixels (area < 50 px at any size) to keep the long tail of real MVTec data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

from wood.prep.synth.config import CATEGORIES

WOOD_DEFECTS = CATEGORIES["wood"]
"""MVTec AD wood defect types, in the dataset's (alphabetical) order."""

TINY_AREA = 50
"""A tiny defect has fewer than this many pixels."""

# Light (early wood) and dark (late wood) RGB tones of a few woods: pine, oak, beech, walnut, teak.
_WOOD_TONES = np.array(
    [
        [[222, 184, 135], [170, 118, 70]],
        [[205, 160, 105], [140, 95, 50]],
        [[214, 170, 130], [165, 110, 75]],
        [[150, 105, 70], [85, 55, 35]],
        [[190, 135, 80], [120, 75, 40]],
    ],
    dtype=np.float32,
)


# ---------------------------------------------------------------------------------------------
# noise


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth noise in [-1, 1] of ``shape`` (H, W): a random ``cells`` (rows, cols) grid upsampled cubically."""
    grid = rng.uniform(-1.0, 1.0, size=(max(cells[0], 2), max(cells[1], 2))).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


# ---------------------------------------------------------------------------------------------
# texture


def wood_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A plank of wood seen from above, grain running top to bottom. uint8 RGB, shape (size, size, 3).

    Growth rings are the level lines of a distance to a far-away pith (so they look like long,
    gently curved stripes), perturbed by low-frequency noise; each ring is light early wood
    fading into a sharper dark late-wood band. Fine fibres are noise stretched along the grain.
    """
    h = w = size
    f32 = np.float32
    y, x = np.ogrid[0:h, 0:w]
    y = y.astype(f32) / f32(size)
    x = x.astype(f32) / f32(size)
    if rng.random() < 0.7:
        # Flat-sawn edge: pith far to the left or right, rings are long, gently curved stripes.
        cx = float(rng.choice([-1.0, 1.0])) * rng.uniform(0.8, 3.0) + 0.5
        cy = rng.uniform(-1.0, 2.0)
        stretch = rng.uniform(0.05, 0.2)
    else:
        # Cathedral: pith below or above the plank, rings are nested arches.
        cx = rng.uniform(0.2, 0.8)
        cy = float(rng.choice([-1.0, 1.0])) * rng.uniform(1.2, 2.5) + 0.5
        stretch = rng.uniform(0.25, 0.45)
    r = np.sqrt((x - f32(cx)) ** 2 + ((y - f32(cy)) * f32(stretch)) ** 2)
    # Slow fields are drawn on a coarse grid and upsampled once (resizing is linear, so this is the
    # same as upsampling each one, at a fraction of the cost).
    low = (max(16, size // 8), max(16, size // 8))
    rings = f32(rng.uniform(8.0, 18.0))
    # Knotty drift of the rings: slow along the grain (few rows), a little faster across it;
    # ring widths vary with a slow noise across the grain.
    drift = (0.035 * rings) * value_noise(rng, low, (2, 3))
    drift += (0.008 * rings) * value_noise(rng, low, (4, 6))
    drift += 0.3 * value_noise(rng, low, (2, 5)) + f32(rng.uniform(0, 1))
    phase = r * rings + cv2.resize(drift, (w, h), interpolation=cv2.INTER_CUBIC)
    # Ring profile as a lookup table over the phase fraction: 0 in early wood, rising to 1 at the
    # ring's end (late wood), plus a thin dark boundary line.
    levels = 256
    f = np.linspace(0.0, 1.0, levels, dtype=f32)
    profile = np.clip(f ** rng.uniform(3.0, 7.0) + 0.6 * np.exp(-(((1.0 - f) * 12.0) ** 2)), 0.0, 1.0)
    profile = (profile * f32(rng.uniform(0.55, 0.85))).astype(f32)
    frac = phase - np.floor(phase)
    late = cv2.LUT((frac * (levels - 1)).astype(np.uint8), profile.reshape(1, levels))
    # Fine fibres: noise with many columns and few rows, stretched along the grain.
    t = late
    t += 0.2 * value_noise(rng, (h, w), (max(size // 24, 3), max(size // 2, 8)))
    t += 0.1 * value_noise(rng, (h, w), (max(size // 48, 2), max(size // 4, 8)))
    # Pores: short dark dashes.
    pores = value_noise(rng, (h, w), (max(size // 6, 4), max(size // 2, 8)))
    t += np.clip((pores - 0.75) * 3.0, 0.0, 1.0) * 0.35
    np.clip(t, 0.0, 1.0, out=t)

    tone = _WOOD_TONES[rng.integers(len(_WOOD_TONES))] * f32(rng.uniform(0.9, 1.08))
    tone = tone * rng.uniform(0.97, 1.03, size=(2, 3)).astype(f32)
    light, dark = tone[0], tone[1]
    # Broad colour variation: brightness and a slight red/yellow shift over the plank.
    shade = 1.0 + 0.08 * (value_noise(rng, low, (2, 2)) + 0.5 * value_noise(rng, low, (4, 4))) / 1.5
    hue = 0.04 * value_noise(rng, low, (3, 3))
    gain = np.dstack([shade * (1.0 + hue), shade, shade * (1.0 - hue)])
    gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_CUBIC)
    img = (light + (dark - light) * t[..., None]) * gain
    # Sensor noise: uniform, std 2 grey levels (random bytes are much cheaper than normal draws).
    noise = np.frombuffer(rng.bytes(h * w), np.uint8).reshape(h, w).astype(f32)
    img += ((noise - 127.5) * f32(6.93 / 255.0))[..., None]
    return np.clip(img, 0, 255, out=img).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# shapes (bool masks, shape (H, W))


def blob(
    rng: np.random.Generator,
    shape: tuple[int, int],
    center_xy: tuple[float, float],
    radius: float,
    wobble: float = 0.25,
    aspect: float = 1.0,
    angle: float = 0.0,
) -> np.ndarray:
    """An irregular star-shaped blob: inside where distance < radius * (1 + harmonics of the angle).

    ``aspect`` > 1 stretches it along ``angle`` (radians). Pixels whose centre lies inside are True.
    """
    h, w = shape
    y, x = np.ogrid[0:h, 0:w]
    dx = x.astype(np.float32) - np.float32(center_xy[0])
    dy = y.astype(np.float32) - np.float32(center_xy[1])
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = (dx * c + dy * s) / np.float32(aspect)
    v = -dx * s + dy * c
    dist = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)
    edge = np.ones_like(theta)
    for k in (2, 3, 5):
        edge += (wobble / k**0.5) * np.float32(rng.uniform(-1, 1)) * np.cos(k * theta + np.float32(rng.uniform(0, 6.3)))
    return dist < np.float32(radius) * edge


def disk(shape: tuple[int, int], center_xy: tuple[float, float], radius: float) -> np.ndarray:
    """Pixels whose centre is within ``radius`` of ``center_xy`` (x, y)."""
    y, x = np.ogrid[0 : shape[0], 0 : shape[1]]
    return (x - center_xy[0]) ** 2 + (y - center_xy[1]) ** 2 <= radius**2


def _edge_ramp(mask: np.ndarray, width: float) -> np.ndarray:
    """0..1 inside ``mask``: rises from the boundary over ``width`` pixels (softens stain edges)."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(dist / max(width, 1.0), 0.0, 1.0)


def _luma(img: np.ndarray, mask: np.ndarray) -> float:
    return float((img[mask] @ np.array([0.299, 0.587, 0.114], np.float32)).mean()) if mask.any() else 128.0


# ---------------------------------------------------------------------------------------------
# defect drawers: (rng, image float32 RGB (H, W, 3), centre (x, y), tiny, holed) -> Stroke
# A drawer works in a window around the centre (cheap at 1024 px); the caller copies the new
# pixels into the image under the mask only.


class Stroke(NamedTuple):
    """One drawn component: ``mask`` (bool) and ``pixels`` (float32 RGB) over ``image[rows, cols]``."""

    rows: slice
    cols: slice
    mask: np.ndarray
    pixels: np.ndarray


Drawer = Callable[[np.random.Generator, np.ndarray, tuple[float, float], bool, bool], Stroke]

_WOBBLE_REACH = 1.0 + sum(1.0 / k**0.5 for k in (2, 3, 5))  # blob() edge factor is below wobble * this


def _window(img: np.ndarray, center: tuple[float, float], reach: float) -> tuple[slice, slice, tuple[float, float]]:
    """Rows and columns of ``img`` within ``reach`` pixels of ``center`` (x, y), and the centre in them."""
    h, w = img.shape[:2]
    x0, y0 = max(int(center[0] - reach) - 1, 0), max(int(center[1] - reach) - 1, 0)
    x1, y1 = min(int(center[0] + reach) + 2, w), min(int(center[1] + reach) + 2, h)
    return slice(y0, max(y1, y0)), slice(x0, max(x1, x0)), (center[0] - x0, center[1] - y0)


_STAIN_TINTS = np.array(
    [[60, 40, 30], [70, 80, 95], [130, 45, 35], [70, 85, 45], [245, 235, 215], [35, 30, 30]], np.float32
)


def draw_color(rng, img, center, tiny, holed) -> Stroke:
    """A stain: an irregular tinted blob; ``holed`` makes it a ring (mask with a hole)."""
    size = img.shape[0]
    if tiny:
        radius, wobble, aspect, angle = rng.uniform(2.0, 3.0), 0.15, 1.0, 0.0
        strength = 0.85
    else:
        radius, wobble = rng.uniform(0.05, 0.12) * size, 0.35
        aspect, angle = rng.uniform(1.0, 1.8), rng.uniform(0, np.pi)
        strength = rng.uniform(0.5, 0.75)
    rows, cols, c = _window(img, center, radius * aspect * (1 + wobble * _WOBBLE_REACH))
    win = img[rows, cols]
    mask = blob(rng, win.shape[:2], c, radius, wobble=wobble, aspect=aspect, angle=angle)
    if holed and not tiny:
        off = rng.uniform(-0.1, 0.1, size=2) * radius
        mask &= ~blob(rng, win.shape[:2], (c[0] + off[0], c[1] + off[1]), radius * rng.uniform(0.3, 0.45), wobble=0.2)
    tint = _STAIN_TINTS[rng.integers(len(_STAIN_TINTS))]
    # Stains must differ in brightness too (grayscale categories), not only in hue.
    luma = _luma(win, mask)
    if tiny:  # a speck must stand out: near-black on light wood, near-white on dark wood
        tint = _STAIN_TINTS[5] if luma > 110 else _STAIN_TINTS[4]
    elif abs(float(tint @ np.array([0.299, 0.587, 0.114], np.float32)) - luma) < 60:
        tint = _STAIN_TINTS[0] if luma > 120 else _STAIN_TINTS[4]
    alpha = strength * (0.55 + 0.45 * _edge_ramp(mask, 0.02 * size))
    alpha *= 1.0 + 0.15 * value_noise(rng, mask.shape, (4, 4))
    alpha = np.clip(alpha, 0.0, 0.95)[..., None]
    return Stroke(rows, cols, mask, win * (1.0 - alpha) + tint * alpha)


def draw_hole(rng, img, center, tiny, holed) -> Stroke:
    """A dark round pit, often with a lighter (crushed, bleached) ring around it, part of the mask."""
    size = img.shape[0]
    r = rng.uniform(2.0, 3.0) if tiny else rng.uniform(0.012, 0.035) * size + 1.5
    ring = (not tiny) and rng.random() < 0.6
    outer = r * rng.uniform(1.4, 1.8) if ring else r
    rows, cols, c = _window(img, center, outer)
    win = img[rows, cols]
    y, x = np.ogrid[0 : win.shape[0], 0 : win.shape[1]]
    d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2).astype(np.float32)
    mask = d <= outer
    out = win * 0.55 + np.float32(250.0 * 0.45) if ring else win.copy()
    depth = np.clip(1.0 - d / np.float32(r), 0.0, 1.0)[..., None]
    pit_colour = np.array([55, 38, 25], np.float32) * (1.0 - 0.6 * depth)
    out = np.where((d <= r)[..., None], pit_colour + 0.15 * win, out)
    return Stroke(rows, cols, mask, out)


def draw_liquid(rng, img, center, tiny, holed) -> Stroke:
    """A translucent smear: the wood darkens (grain shows through) with a glossy streak; ``holed``
    leaves a dry island inside."""
    size = img.shape[0]
    if tiny:
        radius, wobble, aspect, angle = rng.uniform(2.0, 3.0), 0.15, 1.0, 0.0
    else:
        radius, wobble = rng.uniform(0.06, 0.14) * size, 0.4
        aspect, angle = rng.uniform(1.5, 3.0), rng.uniform(0, np.pi)
    rows, cols, c = _window(img, center, radius * aspect * (1 + wobble * _WOBBLE_REACH))
    win = img[rows, cols]
    mask = blob(rng, win.shape[:2], c, radius, wobble=wobble, aspect=aspect, angle=angle)
    if holed and not tiny:
        off = rng.uniform(-0.15, 0.15, size=2) * radius
        mask &= ~blob(rng, win.shape[:2], (c[0] + off[0], c[1] + off[1]), radius * rng.uniform(0.25, 0.4))
    darken = rng.uniform(0.45, 0.6)
    k = 1.0 - (1.0 - darken) * (0.7 + 0.3 * _edge_ramp(mask, 0.015 * size))
    wet = win * k[..., None]
    wet[..., 2] *= 0.9  # wet wood is warmer and more saturated
    cells = max(2, round(5 * mask.shape[0] / size * 3))
    gloss = np.clip(value_noise(rng, mask.shape, (cells, cells)) - 0.55, 0.0, 1.0)[..., None] * 160.0
    return Stroke(rows, cols, mask, np.minimum(wet + gloss, 255.0))


def bezier_line(rng, img, center, length: float, thick: int, bend: float):
    """A quadratic Bezier line of ``length`` px and ``thick`` px through ``center``, at a random angle and
    bent by up to ``bend`` of its length: (rows, cols, window of img, bool mask in the window)."""
    a = rng.uniform(0, np.pi)
    half = np.array([np.cos(a), np.sin(a)]) * length / 2
    side = rng.uniform(-bend, bend) * 2 * np.array([-half[1], half[0]])
    rows, cols, c = _window(img, center, length * 0.75 + thick)
    win = img[rows, cols]
    c = np.asarray(c, np.float64)
    t = np.linspace(0.0, 1.0, 24)[:, None]
    pts = (1 - t) ** 2 * (c - half) + 2 * (1 - t) * t * (c + side) + t**2 * (c + half)
    m8 = np.zeros(win.shape[:2], np.uint8)
    cv2.polylines(m8, [np.round(pts).astype(np.int32)], False, 255, thickness=thick, lineType=cv2.LINE_8)
    return rows, cols, win, m8 > 0


def draw_scratch(rng, img, center, tiny, holed) -> Stroke:
    """A thin long line, straight or curved (quadratic Bezier), lighter or darker than the wood."""
    size = img.shape[0]
    length = rng.uniform(8.0, 14.0) if tiny else rng.uniform(0.25, 0.6) * size
    thick = 1 if tiny else int(rng.integers(1, max(2, round(size / 128)) + 1))
    rows, cols, win, mask = bezier_line(rng, img, center, length, thick, 0.25)
    if _luma(win, mask) > 140:
        out = win * rng.uniform(0.35, 0.5)
    else:
        out = win * 0.3 + np.array([250, 235, 205], np.float32) * 0.7
    return Stroke(rows, cols, mask, out)


DRAWERS: dict[str, Drawer] = {"color": draw_color, "hole": draw_hole, "liquid": draw_liquid, "scratch": draw_scratch}
"""Drawers for the single defect types; `combined` mixes several of them."""


# ---------------------------------------------------------------------------------------------
# composition


def _place(
    rng: np.random.Generator,
    img: np.ndarray,
    taken: np.ndarray,
    drawer: Drawer,
    tiny: bool,
    holed: bool,
    tries: int = 30,
) -> Stroke:
    """Draw one component where it does not touch the ones already ``taken`` (3 px apart)."""
    size = img.shape[0]
    margin = 4.0 if tiny else (0.22 if holed else 0.1) * size
    best = None
    for _ in range(tries):
        center = (float(rng.uniform(margin, size - 1 - margin)), float(rng.uniform(margin, size - 1 - margin)))
        stroke = drawer(rng, img, center, tiny, holed)
        area = int(stroke.mask.sum())
        if area == 0 or (tiny and area >= TINY_AREA):
            continue
        best = stroke
        if not _touches(stroke, taken):
            return stroke
    if best is None:  # cannot happen for sizes >= 32; keep the error readable if it does
        raise ValueError(f"could not draw a {'tiny ' if tiny else ''}defect on a {size}px image")
    return best


def _touches(stroke: Stroke, taken: np.ndarray, gap: int = 3) -> bool:
    """Whether the stroke's mask comes within ``gap`` pixels of a ``taken`` pixel."""
    h, w = taken.shape
    y0, x0 = max(stroke.rows.start - gap, 0), max(stroke.cols.start - gap, 0)
    y1, x1 = min(stroke.rows.stop + gap, h), min(stroke.cols.stop + gap, w)
    near = taken[y0:y1, x0:x1]
    if not near.any():
        return False
    local = np.zeros(near.shape, np.uint8)
    local[stroke.rows.start - y0 : stroke.rows.stop - y0, stroke.cols.start - x0 : stroke.cols.stop - x0] = stroke.mask
    grown = cv2.dilate(local, np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)) > 0
    return bool((grown & near).any())


def defect_image(
    rng: np.random.Generator,
    size: int,
    defect: str,
    tiny: bool = False,
    holed: bool = False,
    drawers: dict[str, Drawer] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A wood image with ``defect`` drawn on it: (image uint8 RGB (H, W, 3), mask bool (H, W)).

    One to three components (two or three of different types for ``combined``), kept 3 px apart
    where the image has room. ``tiny`` makes one component smaller than TINY_AREA pixels;
    ``holed`` makes a color or liquid component enclose an unmasked island, so the mask has a
    hole (ignored for hole and scratch, which have no holed form). ``drawers``: DRAWERS (the default) or
    another set with the same keys (wood.prep.synth.subtle); a "grain" drawer in it is in every `combined`.
    """
    drawers = DRAWERS if drawers is None else drawers
    if defect != "combined" and defect not in drawers:
        raise ValueError(f"unknown wood defect {defect!r}; expected one of {list(WOOD_DEFECTS)}")
    img = wood_texture(rng, size).astype(np.float32)
    if defect == "combined":
        kinds = list(rng.permutation(list(drawers)))[: int(rng.integers(2, 4))]
        if "grain" in drawers and "grain" not in kinds:
            kinds[-1] = "grain"
        if holed and not ({"color", "liquid"} & set(kinds)):
            kinds[0] = str(rng.choice(["color", "liquid"]))
        if holed:  # the holed one first, so it is placed before the others crowd the image
            kinds.sort(key=lambda k: k not in ("color", "liquid"))
    else:
        kinds = [defect] * int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    holed_index = next((i for i, k in enumerate(kinds) if holed and k in ("color", "liquid")), -1)
    tiny_index = -1
    if tiny:
        tiny_index = len(kinds) - 1 if holed_index == 0 and len(kinds) > 1 else 0
        if tiny_index == holed_index:  # a single holed component cannot be tiny too
            kinds.append(kinds[0])
            tiny_index = len(kinds) - 1
    taken = np.zeros((size, size), bool)
    order = sorted(range(len(kinds)), key=lambda i: (i != holed_index, i != tiny_index))
    for i in order:
        stroke = _place(rng, img, taken, drawers[kinds[i]], i == tiny_index, i == holed_index)
        win = img[stroke.rows, stroke.cols]
        win[stroke.mask] = stroke.pixels[stroke.mask]
        taken[stroke.rows, stroke.cols] |= stroke.mask
    return np.clip(img, 0, 255).astype(np.uint8), taken


def good_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A defect-free wood image and its (empty) mask."""
    return wood_texture(rng, size), np.zeros((size, size), bool)
