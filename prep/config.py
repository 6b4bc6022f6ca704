"""The options of `wood prep`, as one explicit dataclass."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from wood.config import option
from wood.errors import ConfigError

DEFAULT_SOURCE = Path("datasets/mvtec_ad/wood")
COMBINED_POLICIES = ("class", "exclude")
CATEGORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
TILED_SPLITS = ("train", "val")
"""The splits `--tile` cuts into tiles; test stays full images, so its scores compare with untiled runs."""
TILE_MULTIPLE = 32
"""Tile sizes are multiples of YOLO's largest stride, so a tile is trained at its native size without padding."""


@dataclass(frozen=True)
class TileSpec:
    """The tiling options of one prep run (picklable: worker processes get it)."""

    size: int
    overlap: float = 0.2
    min_visible: float = 0.3
    background: int = 1
    keep_full: bool = False

    def record(self) -> dict:
        """The tiling settings as manifest.json records them (top-level ``tile``)."""
        return {
            "size": self.size,
            "overlap": round(self.overlap, 6),
            "min_visible": round(self.min_visible, 6),
            "background": self.background,
            "keep_full": self.keep_full,
            "splits": list(TILED_SPLITS),
        }


@dataclass
class PrepConfig:
    """The options of `wood prep` (also the keys of its ``--config`` YAML file)."""

    source: Path = option("MVTec AD category folder (holds test/ and ground_truth/).", DEFAULT_SOURCE)
    out: Path = option(
        "Output folder. A previous `wood prep` output there is replaced in one step; any other folder is left alone.",
        Path("datasets/prepared/wood"),
        flag=("--out", "-o"),
    )
    seed: int = option("Seed of the split; the same seed gives the same split and bytes.", 0)
    test_fraction: float = option("Share of each defect type put in test (1/3 gives train+val:test = 2:1).", 1 / 3)
    val_fraction: float = option("Share of the training side carved out as val.", 0.15)
    min_area: int = option("Leave out mask components with fewer pixels (counted in stats).", 4)
    single_class: bool = option("One detection class `defect` instead of one per type.", False)
    combined: str = option(
        "`combined` images: class keeps them as their own class (their masks do not say which part "
        "is which type); exclude leaves them out.",
        "class",
        choices=COMBINED_POLICIES,
    )
    train_good: bool = option("Add train/good images to train as background (empty labels).", False)
    allow_empty_masks: bool = option(
        "Keep defect images whose mask is all zero (flagged in manifest.json) instead of stopping.", False
    )
    groups: Path | None = option(
        "CSV of file,group: images of one group share a split (e.g. augmented copies of one original).", None
    )
    group_pattern: str | None = option("Regex applied to the group column; its first group is the group.", None)
    category: str | None = option(
        "Category name: picks datasets/<category>.yaml (colours, prompts) and is recorded in manifest.json and COCO.",
        None,
        default_text="SRC's folder name",
    )
    dataset_config: Path | None = option(
        "Dataset config (classes, colours, prompts).", None, default_text="datasets/<category>.yaml"
    )
    preview: int = option("Write this many overlay PNGs (masks, boxes, class names) under OUT/preview/.", 0)
    workers: int = option("Worker processes for reading masks; 0 = one per CPU core.", 0)
    strict: bool = option(
        "Stop (exit 2) at a defect folder the dataset config does not list, instead of warning.", False
    )
    tile: int | None = option(
        "Cut train and val images into SxS tiles (a multiple of 32, at most the smallest image side) to train "
        "small defects at native resolution; test stays full images, so scores compare with untiled runs, and "
        "classify/ is unchanged. The split is made on full images first: all tiles of an image share its split.",
        None,
        default_text="no tiling",
    )
    tile_overlap: float = option(
        "With --tile: share of a tile its neighbour overlaps, in [0, 0.9) (SAHI's default 0.2: a defect up to "
        "0.2*S px across lies whole in some tile); the last row and column are shifted to end at the border.",
        0.2,
    )
    tile_min_visible: float = option(
        "With --tile: a defect cut by a tile border is kept in that tile (clipped mask and box) when at least "
        "this share of its area shows, in (0, 1], and at least --min-area px (a defect no tile holds whole: "
        "this share of the most one tile shows, so every defect stays in some tile). 0.3 drops slivers too "
        "small to recognise, which a neighbour shows whole. A tile showing only dropped slivers is left out, "
        "never kept as background (it would teach that a visible defect is background).",
        0.3,
    )
    tile_background: int = option(
        "With --tile: tiles with no defect pixel kept per image as background (good images too), picked with "
        "--seed. 1 keeps defect and background tiles about even; a 1024 image has 25 tiles of 256.",
        1,
    )
    tile_keep_full: bool = option(
        "With --tile: also write each train/val image whole (its full labels, as an untiled prep writes it) "
        "beside its tiles, as SAHI fine-tunes on slices and full images: the model also sees defects larger "
        "than a tile whole, and whole images as --slice-full predicts them. Each full image costs one more "
        "training image.",
        False,
    )

    def __post_init__(self) -> None:
        """Check every option before any image is read; a bad one is a ConfigError naming it."""
        self.source = Path(self.source)
        self.out = Path(self.out)
        _check_fraction("--test-fraction", self.test_fraction, "(0, 1)", lambda v: 0 < v < 1)
        _check_fraction("--val-fraction", self.val_fraction, "[0, 1)", lambda v: 0 <= v < 1)
        _check_int("--seed", self.seed, 0)
        _check_int("--min-area", self.min_area, 1)
        _check_int("--preview", self.preview, 0)
        _check_int("--workers", self.workers, 0)
        if self.category is not None and (
            not isinstance(self.category, str) or not CATEGORY_NAME.fullmatch(self.category)
        ):
            raise ConfigError(
                f"--category must be a name of letters, digits, '_', '-' or '.', but got {self.category!r}"
            )
        self._check_tiling()
        if self.combined not in COMBINED_POLICIES:
            raise ConfigError(f"--combined must be one of {COMBINED_POLICIES}, but got '{self.combined}'")
        if self.group_pattern is not None:
            try:
                re.compile(self.group_pattern)
            except re.error as exc:
                raise ConfigError(f"--group-pattern is not a valid regex: {exc}") from exc

    def _check_tiling(self) -> None:
        if self.tile is not None:
            _check_int("--tile", self.tile, TILE_MULTIPLE)
            if self.tile % TILE_MULTIPLE:
                raise ConfigError(f"--tile must be a multiple of {TILE_MULTIPLE} (YOLO's stride), but got {self.tile}")
        _check_fraction("--tile-overlap", self.tile_overlap, "[0, 0.9)", lambda v: 0 <= v < 0.9)
        _check_fraction("--tile-min-visible", self.tile_min_visible, "(0, 1]", lambda v: 0 < v <= 1)
        _check_int("--tile-background", self.tile_background, 0)
        if not isinstance(self.tile_keep_full, bool):
            raise ConfigError(f"--tile-keep-full must be true or false, but got {self.tile_keep_full!r}")
        if self.tile is None:  # an option that means nothing without --tile is refused, not ignored
            for f in fields(self):
                if f.name.startswith("tile_") and getattr(self, f.name) != f.default:
                    flag = "--" + f.name.replace("_", "-")
                    raise ConfigError(f"{flag} needs --tile SIZE: without it images are not tiled (drop {flag})")

    def tile_spec(self) -> TileSpec | None:
        """The tiling options as prep/tiling/grid.py takes them; None without --tile."""
        if self.tile is None:
            return None
        return TileSpec(
            self.tile, float(self.tile_overlap), float(self.tile_min_visible), self.tile_background, self.tile_keep_full
        )

    def category_of(self, root: Path) -> str:
        """The category: --category, else the name of the source folder ``root``."""
        return self.category or Path(root).name

    def output_options(self) -> dict:
        """The options that change the output, recorded in manifest.json."""
        return {
            "test_fraction": round(self.test_fraction, 6),
            "val_fraction": round(self.val_fraction, 6),
            "min_area": self.min_area,
            "single_class": self.single_class,
            "combined": self.combined,
            "train_good": self.train_good,
            "allow_empty_masks": self.allow_empty_masks,
            "groups": str(self.groups) if self.groups else None,
            "group_pattern": self.group_pattern,
            "mask_threshold": 128,
            "connectivity": 8,
            "tile": spec.record() if (spec := self.tile_spec()) else None,
        }


def _check_fraction(option: str, value: float, interval: str, ok: Callable[[float], bool]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not ok(value):
        raise ConfigError(f"{option} must be in {interval}, but got {value!r}")


def _check_int(option: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{option} must be an integer >= {minimum}, but got {value!r}")
