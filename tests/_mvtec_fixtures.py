"""Write tiny hand-made MVTec AD trees for data-layer tests (cf. anomalib's dummy dataset helper)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
WOOD_DERIVED_512 = REPO.parent / "shared" / "data" / "wood_derived_512"
"""36 real (warped) wood images with anti-aliased masks, beside the checkout (CI has it too)."""


def prep_wood_derived(out: Path, **options) -> None:
    """`wood prep` of WOOD_DERIVED_512 into ``out``, grouped by original (its sources.csv; the file name up to
    the number): augmented copies of one image share a split. ``options`` are further PrepConfig fields."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    groups = WOOD_DERIVED_512 / "sources.csv"
    run_prep(
        PrepConfig(source=WOOD_DERIVED_512, out=out, groups=groups, group_pattern=r"([a-z]+_[0-9]+)\.png$", **options)
    )


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def square_mask(size: int = 32, box: tuple[int, int, int, int] = (8, 8, 20, 16)) -> np.ndarray:
    """0/255 uint8 mask with one rectangle x0, y0, x1, y1 (exclusive ends)."""
    mask = np.zeros((size, size), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return mask


def make_category(
    root: Path, defects=("hole", "scratch"), per_defect: int = 3, good: int = 3, size: int = 32, seed: int = 0
) -> Path:
    """A minimal valid MVTec AD category: distinct random images, one rectangle mask each."""
    rng = np.random.default_rng(seed)
    for d in defects:
        for i in range(per_defect):
            write_png(root / "test" / d / f"{i:03d}.png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
            x0, y0 = int(rng.integers(0, size // 2)), int(rng.integers(0, size // 2))
            write_png(root / "ground_truth" / d / f"{i:03d}_mask.png", square_mask(size, (x0, y0, x0 + 5 + i, y0 + 4)))
    for i in range(good):
        write_png(root / "test" / "good" / f"{i:03d}.png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        write_png(root / "train" / "good" / f"{i:03d}.png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return root
