"""Tiled training data (`wood prep --tile`): the tile grid, instances clipped to a tile, which tiles to keep.

Pure functions on arrays and dicts; no file I/O. Coordinates:
- a tile is ``(x, y)``, its top-left pixel in the full image; it covers ``x <= u < x + S``, ``y <= v < y + S``;
- a tile's instances are in TILE coordinates (pixel-edge ``bbox_xyxy``, COCO polygons on pixel edges,
  YOLO-seg polygons through pixel centres, RLE of size (S, S)): the same conventions as untiled prep,
  because they are made by the same ``find_instances`` on the clipped mask.

Rules (the help of the ``--tile*`` options says the same):
- Grid: offsets ``0, stride, 2 * stride, ...`` with ``stride = floor(S * (1 - overlap))`` (so neighbours
  overlap by at least ``overlap``), and a last tile shifted to end at the border: every pixel is covered and
  every tile is S x S.
- An instance (an 8-connected mask component of >= ``min_area`` pixels, as untiled) that a tile shows part
  of keeps its clipped mask in that tile when the visible part has >= ``min_area`` pixels and >=
  ``min_visible`` of its full area. A defect no tile of the grid holds whole (larger than a tile, or larger
  than the overlap and lying across a tile corner) is measured against the most any one tile shows of it
  instead, so the tile showing most of it always keeps it: otherwise a long scratch, or a 32 px defect on
  the corner of four 256 px tiles without overlap (a quarter in each), would vanish from every tile.
  The visible part may fall apart into several components inside the tile: each becomes an instance
  (pieces under ``min_area`` are dropped, as untiled).
- A tile with a kept instance is kept. A tile with instance pixels but none kept (only a sliver of a defect
  shows) is left out: kept as background it would teach the model that a visible defect is background.
- A clean tile (no instance pixel at all) is background: up to ``background`` of them per image are kept,
  picked at random with a seed derived from ``--seed`` and the image name (deterministic).
"""

from __future__ import annotations

import math
import random

import cv2
import numpy as np

from wood.prep.config import TileSpec
from wood.prep.instances import CONNECTIVITY, find_instances


def axis_offsets(length: int, size: int, overlap: float) -> list[int]:
    """Tile offsets along one axis of ``length`` pixels: every pixel covered, every tile ``size`` long.

    >>> axis_offsets(1024, 256, 0.2)
    [0, 204, 408, 612, 768]
    """
    if size > length:
        raise ValueError(f"tile size {size} is larger than the image side {length}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), but got {overlap}")
    stride = max(1, math.floor(size * (1 - overlap) + 1e-9))
    return [*range(0, length - size, stride), length - size]


def tile_grid(width: int, height: int, size: int, overlap: float) -> list[tuple[int, int]]:
    """Top-left corners (x, y) of the tiles of a (height, width) image, row by row."""
    xs, ys = axis_offsets(width, size, overlap), axis_offsets(height, size, overlap)
    return [(x, y) for y in ys for x in xs]


def label_instances(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, areas): an (H, W) int32 component label image in which components under ``min_area``
    pixels are 0 (background, as untiled prep leaves them out), and each label's full area (``areas[0]``
    is 0)."""
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be a 2D bool array with shape (H, W), but got {mask.dtype} {mask.shape}")
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=CONNECTIVITY)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    areas[0] = 0
    small = areas < min_area
    small[0] = True
    if small[1:].any():
        lut = np.arange(count, dtype=np.int32)
        lut[small] = 0
        labels = lut[labels]
        areas[small] = 0
    return labels, areas


def visible_areas(labels: np.ndarray, n: int, tiles: list[tuple[int, int]], size: int) -> np.ndarray:
    """(T, n) pixel counts: how much of label k tile t shows."""
    return np.stack([np.bincount(labels[y : y + size, x : x + size].ravel(), minlength=n) for x, y in tiles])


def keep_visible(visible: np.ndarray, areas: np.ndarray, min_visible: float, min_area: int) -> np.ndarray:
    """(T, n) bool: which visible parts are kept (see the module doc). ``visible`` from ``visible_areas``.

    The reference area of a label is the most any one tile shows of it: its full area when some tile
    holds it whole; otherwise the largest part one tile shows.
    """
    reference = visible.max(axis=0) if len(visible) else areas
    reference = np.minimum(reference, areas)
    enough = visible >= min_visible * reference - 1e-9 * np.maximum(reference, 1)  # 30 px of 100 is 0.3 exactly
    keep = (visible > 0) & (visible >= min_area) & enough
    keep[:, 0] = False
    return keep


def clip_to_tiles(mask: np.ndarray | None, width: int, height: int, spec: TileSpec, min_area: int) -> list[dict]:
    """Every tile of the grid of a (height, width) image with its clipped instances.

    Args:
        mask: (H, W) bool defect mask, or None (a good image: no instances).

    Returns:
        One dict per tile, in grid order: ``x``, ``y``, ``width``, ``height``, ``instances`` (annotation dicts
        as `Instance.annotation()` gives, tile coordinates, plus ``visible``: the kept share of the full
        instance's area), ``dropped`` (instances or pieces the tile shows but does not keep) and ``touched``
        (the tile shows any instance pixel: not a clean background tile).
    """
    tiles = tile_grid(width, height, spec.size, spec.overlap)
    out = [
        {"x": x, "y": y, "width": spec.size, "height": spec.size, "instances": [], "dropped": 0, "touched": False}
        for x, y in tiles
    ]
    if mask is None or not mask.any():
        return out
    labels, areas = label_instances(mask, min_area)
    if not areas.any():
        return out
    visible = visible_areas(labels, len(areas), tiles, spec.size)
    keep = keep_visible(visible, areas, spec.min_visible, min_area)
    for t, ((x, y), tile) in enumerate(zip(tiles, out, strict=True)):
        shown = np.flatnonzero(visible[t, 1:]) + 1
        tile["touched"] = bool(shown.size)
        crop = labels[y : y + spec.size, x : x + spec.size]
        for k in shown:
            if not keep[t, k]:
                tile["dropped"] += 1
                continue
            pieces, small = find_instances(crop == k, min_area)
            tile["dropped"] += small
            share = round(float(visible[t, k]) / float(areas[k]), 4)
            tile["instances"] += [{**p.annotation(), "visible": share} for p in pieces]
        tile["instances"].sort(key=lambda i: (i["bbox_xyxy"][1], i["bbox_xyxy"][0]))
    return out


def select_tiles(tiles: list[dict], background: int, seed: int, key: str) -> list[dict]:
    """The tiles to write, in grid order: every tile with an instance, and up to ``background`` clean tiles
    (no instance pixel) picked with a random generator seeded by ``seed`` and ``key`` (the image name).
    Tiles that show instance pixels but keep no instance are left out (see the module doc)."""
    clean = [i for i, t in enumerate(tiles) if not t["touched"] and not t["instances"]]
    picked = set(random.Random(f"wood-tile/{seed}/{key}").sample(clean, min(background, len(clean))))
    return [t for i, t in enumerate(tiles) if t["instances"] or i in picked]


def tile_name(stem: str, x: int, y: int) -> str:
    """The file name of a tile: ``<stem>_x0256_y0512.png`` (stable and sortable; PNG whatever the source)."""
    return f"{stem}_x{x:04d}_y{y:04d}.png"
