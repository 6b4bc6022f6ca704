"""The options of `wood synth`, as one explicit dataclass (light: the CLI is built from its fields)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.errors import ConfigError

CATEGORIES: dict[str, tuple[str, ...]] = {"wood": ("color", "combined", "hole", "liquid", "scratch")}
"""Categories with defect drawers (wood.prep.synth.draw), and their defect types in MVTec's (alphabetical) order."""


@dataclass
class SynthConfig:
    """What `wood synth` writes (also the keys of its ``--config`` YAML file)."""

    out: Path = option("Category folder to write (MVTec layout); OUT is the category itself.")
    category: str = option("Category to draw.", "wood", choices=tuple(sorted(CATEGORIES)))
    size: int = option("Image side in pixels (square images).", 256)
    per_defect: int = option("Test images per defect type.", 10)
    good: int = option("Defect-free test images (test/good).", 10)
    train_good: int = option("Defect-free training images (train/good).", 10)
    seed: int = option("Random seed; the same seed writes byte-identical files.", 0)
    gray: bool = option("Write single-channel grayscale images.", False)
    defects: str = option(
        "bold: high-contrast defects (dark stains, black pits, near-white scratches). subtle: low-contrast ones "
        "closer to real wood (faint stains and smears, thin scratches, grain running the wrong way), which "
        "separate pretrained from random anomaly features (bench/anomaly.py).",
        "bold",
        choices=("bold", "subtle"),
    )
    exist_ok: bool = option(
        "Replace OUT if it holds a previous `wood synth` output (never any other folder).", False, was=("force",)
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.category not in CATEGORIES:
            raise ConfigError(
                f"no synthetic drawer for category {self.category!r}; supported: {', '.join(sorted(CATEGORIES))}"
            )
        if not 32 <= self.size <= 4096:
            raise ConfigError(f"--size must be between 32 and 4096 pixels, but got {self.size}")
        for name in ("per_defect", "good", "train_good"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, but got {getattr(self, name)}")
        if self.defects not in ("bold", "subtle"):
            raise ConfigError(f"--defects must be bold or subtle, but got {self.defects!r}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, but got {self.seed}")
