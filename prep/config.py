"""The options of `wood prep`, as one explicit dataclass."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wood.errors import ConfigError

DEFAULT_SOURCE = Path("datasets/mvtec_ad/wood")
COMBINED_POLICIES = ("class", "exclude")


@dataclass
class PrepConfig:
    source: Path = field(default=DEFAULT_SOURCE, metadata={"help": "MVTec AD category folder"})
    out: Path = field(default=Path("datasets/prepared/wood"), metadata={"help": "output folder"})
    seed: int = field(default=0, metadata={"help": "seed of the split"})
    test_fraction: float = field(default=1 / 3, metadata={"help": "share of each defect type in test (1/3 = 2:1)"})
    val_fraction: float = field(default=0.15, metadata={"help": "share of the training side carved out as val"})
    min_area: int = field(default=4, metadata={"help": "components with fewer pixels are left out"})
    single_class: bool = field(default=False, metadata={"help": "one detection class `defect` for all types"})
    combined: str = field(default="class", metadata={"help": "`combined` images: own class, or exclude them"})
    train_good: bool = field(default=False, metadata={"help": "add train/good images to train as background"})
    allow_empty_masks: bool = field(default=False, metadata={"help": "keep defect images with all-zero masks"})
    groups: Path | None = field(default=None, metadata={"help": "CSV file,group: images that must share a split"})
    group_pattern: str | None = field(default=None, metadata={"help": "regex whose first group is the group"})
    dataset_config: Path | None = field(default=None, metadata={"help": "datasets/<category>.yaml override"})
    preview: int = field(default=0, metadata={"help": "write this many overlay PNGs under preview/"})
    workers: int = field(default=0, metadata={"help": "worker processes; 0 = one per CPU core"})
    strict: bool = field(default=False, metadata={"help": "stop at a defect folder the dataset config lacks"})

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
        if self.combined not in COMBINED_POLICIES:
            raise ConfigError(f"--combined must be one of {COMBINED_POLICIES}, but got '{self.combined}'")
        if self.group_pattern is not None:
            try:
                re.compile(self.group_pattern)
            except re.error as exc:
                raise ConfigError(f"--group-pattern is not a valid regex: {exc}") from exc

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
        }


def _check_fraction(option: str, value: float, interval: str, ok: Callable[[float], bool]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not ok(value):
        raise ConfigError(f"{option} must be in {interval}, but got {value!r}")


def _check_int(option: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{option} must be an integer >= {minimum}, but got {value!r}")
