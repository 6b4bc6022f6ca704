"""Write a synthetic category in exact MVTec AD layout (the I/O half of `wood synth`).

```
OUT/train/good/000.png ...
OUT/test/good/000.png ...
OUT/test/<defect>/000.png ...
OUT/ground_truth/<defect>/000_mask.png     single channel, 0/255, same size as the image
```

Every image has its own generator seeded from (seed, split, defect, index), so changing one
count leaves the other images unchanged, and a re-run with the same seed writes the same bytes.
The tree is built in a temporary sibling folder and swapped into place (wood.outdir).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from wood.errors import WoodError
from wood.names import check_path_length
from wood.outdir import atomic_output
from wood.prep.synth.config import CATEGORIES, SynthConfig
from wood.prep.synth.draw import defect_image, good_image
from wood.prep.synth.subtle import SUBTLE_DRAWERS

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]
"""Fixed PNG settings, so the same pixels always give the same bytes (level 1: 2-3x faster than
level 3 on these noisy textures, files about 5% larger)."""


@dataclass(frozen=True)
class SynthItem:
    """One image to draw: where it goes and how it is seeded."""

    split: str  # "train" or "test"
    defect: str  # "good" or a defect type
    index: int
    tiny: bool = False
    holed: bool = False

    @property
    def image_path(self) -> str:
        return f"{self.split}/{self.defect}/{self.index:03d}.png"

    @property
    def mask_path(self) -> str | None:
        return None if self.defect == "good" else f"ground_truth/{self.defect}/{self.index:03d}_mask.png"


def plan(config: SynthConfig) -> list[SynthItem]:
    """The images to write, in order. Every third defect image has a tiny component (index 1, 4, ...)
    and, for color, liquid and combined, every third one a mask with a hole (index 2, 5, ...)."""
    items = [SynthItem("train", "good", i) for i in range(config.train_good)]
    items += [SynthItem("test", "good", i) for i in range(config.good)]
    for defect in CATEGORIES[config.category]:
        for i in range(config.per_defect):
            holed = i % 3 == 2 and defect in ("color", "liquid", "combined")
            items.append(SynthItem("test", defect, i, tiny=i % 3 == 1, holed=holed))
    return items


def item_rng(config: SynthConfig, item: SynthItem) -> np.random.Generator:
    """A generator for one image, independent of the counts of the others."""
    kind = (("good",) + CATEGORIES[config.category]).index(item.defect)
    key = [config.seed, 0 if item.split == "train" else 1, kind, item.index]
    return np.random.default_rng(np.random.SeedSequence(key))


def draw_item(config: SynthConfig, item: SynthItem) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8, (H, W, 3) RGB or (H, W) gray, mask bool (H, W)) for one planned image."""
    rng = item_rng(config, item)
    if item.defect == "good":
        image, mask = good_image(rng, config.size)
    else:
        drawers = SUBTLE_DRAWERS if config.defects == "subtle" else None
        image, mask = defect_image(rng, config.size, item.defect, tiny=item.tiny, holed=item.holed, drawers=drawers)
    if config.gray:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image, mask


def encode_png(array: np.ndarray, path: str | Path) -> bytes:
    """PNG bytes of a uint8 array (RGB (H, W, 3) is stored as BGR, as PNG readers expect)."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", array, PNG_PARAMS)
    if not ok:
        raise WoodError("could not encode PNG", path)
    return buf.tobytes()


def write_synth(
    out: str | Path,
    size: int = 256,
    per_defect: int = 10,
    good: int = 10,
    train_good: int = 10,
    seed: int = 0,
    gray: bool = False,
    category: str = "wood",
    exist_ok: bool = True,
    progress: Callable | None = None,
    defects: str = "bold",
) -> Path:
    """Write a synthetic MVTec category to ``out`` (replacing it by default) and return its path.

    The helper tests use for fixtures (`wood synth` builds a SynthConfig and calls write_config_tree).
    ``progress`` wraps the item list (for example ``wood.console.track``).
    """
    config = SynthConfig(
        out=Path(out),
        category=category,
        size=size,
        per_defect=per_defect,
        good=good,
        train_good=train_good,
        seed=seed,
        gray=gray,
        defects=defects,
        exist_ok=exist_ok,
    )
    return write_config_tree(config, progress)


def write_config_tree(config: SynthConfig, progress: Callable | None = None) -> Path:
    """Draw and write everything ``config`` asks for, atomically (temp sibling folder, then swap).

    An existing OUT is replaced only with ``exist_ok`` and only when it is a previous `wood synth`
    output (wood.outdir: a real MVTec download in the same layout is never overwritten).
    """
    out = config.out.absolute()
    check_path_length(out)  # before is_dir(), which fails on an over-long path
    if out.is_dir() and any(out.iterdir()) and not config.exist_ok:
        raise WoodError(
            "folder exists and is not empty; pass --exist-ok to replace a previous `wood synth` output", out
        )
    with atomic_output(out, "synth") as tmp:
        folders = {"train/good", "test/good"} | {f"test/{d}" for d in CATEGORIES[config.category]}
        folders |= {f"ground_truth/{d}" for d in CATEGORIES[config.category]}
        for folder in sorted(folders):
            (tmp / folder).mkdir(parents=True, exist_ok=True)
        items = plan(config)
        for item in progress(items, "synth") if progress else items:
            image, mask = draw_item(config, item)
            (tmp / item.image_path).write_bytes(encode_png(image, out / item.image_path))
            if item.mask_path is not None:
                mask8 = np.where(mask, np.uint8(255), np.uint8(0))
                (tmp / item.mask_path).write_bytes(encode_png(mask8, out / item.mask_path))
    return out


__all__ = ["CATEGORIES", "SynthConfig", "SynthItem", "plan", "draw_item", "write_synth", "write_config_tree"]
