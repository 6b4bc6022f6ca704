"""Subtle wood defects (`wood synth --defects subtle`): low-contrast ones, closer to real MVTec AD wood.

The default drawers (wood.prep.synth.draw, ``--defects bold``) paint high-contrast blobs: dark stains, black
pits, near-white scratches. Any feature finds those, random convolution weights included (measured in
bench/anomaly.py: pretrained and random PatchCore within 0.03 pixel AUROC). Real wood defects are mostly
faint: a discoloured patch a few grey levels off, a thin scratch that only catches the light, wood whose
grain runs the wrong way at the same colour. These drawers draw that, with the same defect type names,
composition and mask contract as wood.prep.synth.draw (every changed pixel is in the mask and every mask pixel
is changed):

- color: a soft patch shifted 10-20% in brightness and 2-6% in hue;
- liquid: a translucent darkening by 12-22% with a faint gloss, the grain showing through;
- scratch: a thin line (1 px per 256 px of side), 18-30% lighter or darker than the wood;
- hole: a small pit, darker by 30-45%, no bright ring;
- combined: a grain disruption (a patch of wood whose rings run at another angle and pitch, matched to
  the surrounding mean colour and contrast) plus one or two of the above.
"""

from __future__ import annotations

import cv2
import numpy as np

from wood.prep.synth.draw import (
    _WOBBLE_REACH,
    Drawer,
    Stroke,
    _edge_ramp,
    _luma,
    _window,
    bezier_line,
    blob,
    value_noise,
    wood_texture,
)

DEFECT_STYLES = ("bold", "subtle")
"""`wood synth --defects`: bold (the default drawers of wood.prep.synth.draw) or subtle (this module)."""


def _soft_blob(rng, img, center, tiny, radius_range, aspect_range):
    size = img.shape[0]
    if tiny:
        radius, wobble, aspect, angle = rng.uniform(2.0, 3.0), 0.15, 1.0, 0.0
    else:
        radius, wobble = rng.uniform(*radius_range) * size, 0.35
        aspect, angle = rng.uniform(*aspect_range), rng.uniform(0, np.pi)
    rows, cols, c = _window(img, center, radius * aspect * (1 + wobble * _WOBBLE_REACH))
    mask = blob(
        rng, (rows.stop - rows.start, cols.stop - cols.start), c, radius, wobble=wobble, aspect=aspect, angle=angle
    )
    return rows, cols, c, radius, mask


def _hole_out(rng, mask, c, radius, holed):
    if holed:
        off = rng.uniform(-0.1, 0.1, size=2) * radius
        mask &= ~blob(rng, mask.shape, (c[0] + off[0], c[1] + off[1]), radius * rng.uniform(0.3, 0.45), wobble=0.2)
    return mask


def draw_faint_color(rng, img, center, tiny, holed) -> Stroke:
    """A discoloured patch: brightness x (1 -/+ 10-20%), a 2-6% red/blue shift, soft edges."""
    size = img.shape[0]
    rows, cols, c, radius, mask = _soft_blob(rng, img, center, tiny, (0.05, 0.12), (1.0, 1.8))
    mask = _hole_out(rng, mask, c, radius, holed and not tiny)
    win = img[rows, cols]
    change = rng.uniform(0.10, 0.20) * (1.0 if tiny else rng.choice([-1.0, 1.0])) * (2.0 if tiny else 1.0)
    hue = rng.uniform(0.02, 0.06) * rng.choice([-1.0, 1.0])
    gain = np.array([1.0 + change + hue, 1.0 + change, 1.0 + change - hue], np.float32)
    ramp = (0.35 + 0.65 * _edge_ramp(mask, 0.03 * size))[..., None]
    return Stroke(rows, cols, mask, win * (1.0 + (gain - 1.0) * ramp))


def draw_faint_liquid(rng, img, center, tiny, holed) -> Stroke:
    """A translucent smear: the wood darkens by 12-22% (warmer), grain showing through, a faint gloss."""
    size = img.shape[0]
    rows, cols, c, radius, mask = _soft_blob(rng, img, center, tiny, (0.06, 0.14), (1.5, 3.0))
    mask = _hole_out(rng, mask, c, radius, holed and not tiny)
    win = img[rows, cols]
    darken = rng.uniform(0.12, 0.22) * (2.0 if tiny else 1.0)
    k = 1.0 - darken * (0.5 + 0.5 * _edge_ramp(mask, 0.02 * size))
    wet = win * k[..., None]
    wet[..., 2] *= 0.96
    cells = max(2, round(5 * mask.shape[0] / size * 3))
    gloss = np.clip(value_noise(rng, mask.shape, (cells, cells)) - 0.6, 0.0, 1.0)[..., None] * 40.0
    return Stroke(rows, cols, mask, np.minimum(wet + gloss, 255.0))


def draw_faint_scratch(rng, img, center, tiny, holed) -> Stroke:
    """A thin line (quadratic Bezier), 18-30% lighter or darker than the wood under it."""
    size = img.shape[0]
    length = rng.uniform(8.0, 14.0) if tiny else rng.uniform(0.2, 0.5) * size
    thick = max(1, round(size / 256))
    rows, cols, win, mask = bezier_line(rng, img, center, length, thick, 0.2)
    change = rng.uniform(0.18, 0.30) * (2.0 if tiny else 1.0)
    lighter = _luma(win, mask) < 150 if rng.random() < 0.8 else _luma(win, mask) >= 150
    out = win * (1.0 + change) + 6.0 if lighter else win * (1.0 - change)
    return Stroke(rows, cols, mask, out)


def draw_faint_hole(rng, img, center, tiny, holed) -> Stroke:
    """A small round pit, darker by 30-45% towards its centre (no bright crushed ring)."""
    size = img.shape[0]
    r = rng.uniform(2.0, 3.0) if tiny else rng.uniform(0.008, 0.025) * size + 1.5
    rows, cols, c = _window(img, center, r)
    win = img[rows, cols]
    y, x = np.ogrid[0 : win.shape[0], 0 : win.shape[1]]
    d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2).astype(np.float32)
    mask = d <= r
    depth = rng.uniform(0.3, 0.45) * (0.5 + 0.5 * np.clip(1.0 - d / np.float32(r), 0.0, 1.0))
    return Stroke(rows, cols, mask, win * (1.0 - depth)[..., None])


def draw_grain(rng, img, center, tiny, holed) -> Stroke:
    """A grain disruption: inside a blob, wood whose rings run at another angle and pitch, shifted and
    scaled per channel to the window's own mean and spread (so the colour barely changes)."""
    size = img.shape[0]
    rows, cols, c, radius, mask = _soft_blob(rng, img, center, tiny, (0.07, 0.14), (1.0, 2.0))
    mask = _hole_out(rng, mask, c, radius, holed and not tiny)
    win = img[rows, cols]
    h, w = mask.shape
    side = max(h, w, 32)
    other = wood_texture(rng, max(32, int(side * rng.uniform(0.6, 1.2)))).astype(np.float32)
    other = cv2.resize(other, (side, side), interpolation=cv2.INTER_LINEAR)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(25, 90)), 1.0)
    other = cv2.warpAffine(other, turn, (side, side), borderMode=cv2.BORDER_REFLECT)[:h, :w]
    sel = mask if mask.sum() > 4 else np.ones_like(mask)
    mean, std = win[sel].mean(axis=0), win[sel].std(axis=0) + 1.0
    o_mean, o_std = other[sel].mean(axis=0), other[sel].std(axis=0) + 1.0
    matched = (other - o_mean) / o_std * std * rng.uniform(0.9, 1.3) + mean
    alpha = (0.4 + 0.6 * _edge_ramp(mask, 0.03 * size))[..., None]
    out = win * (1.0 - alpha) + matched * alpha
    out = np.where(mask[..., None] & (np.abs(out - win).max(axis=-1, keepdims=True) < 1.0), win + 1.5, out)
    return Stroke(rows, cols, mask, out)


SUBTLE_DRAWERS: dict[str, Drawer] = {
    "color": draw_faint_color,
    "hole": draw_faint_hole,
    "liquid": draw_faint_liquid,
    "scratch": draw_faint_scratch,
    "grain": draw_grain,
}
"""Subtle drawers of the single defect types, and "grain", which wood.prep.synth.draw.defect_image puts in every
`combined` image (there is no `grain` defect type: MVTec AD wood has none)."""
