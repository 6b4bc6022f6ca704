"""The options of `wood paste`, as one explicit dataclass (light: the CLI is built from its fields).

Every option is checked in ``__post_init__``, before anything is read; a bad one is a ConfigError
naming the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.errors import ConfigError

BLENDS = ("alpha", "poisson", "none")
BACKGROUNDS = ("auto", "good", "all")
MAX_PER_IMAGE = 100
MAX_FEATHER = 64


@dataclass
class PasteConfig:
    """The options of `wood paste` (also the keys of its ``--config`` YAML file)."""

    prep: Path = option(
        "A `wood prep` output folder (manifest.json format wood-prep/1).", Path("datasets/prepared/wood")
    )
    out: Path = option(
        "Output folder, a new prepared folder (not inside PREP). A previous `wood prep` or `wood paste` "
        "output there is replaced in one step; any other folder is left alone.",
        Path("datasets/prepared/wood-paste"),
        flag=("--out", "-o"),
    )
    images: int = option("New train images to write (train = the prep's train images + these).", 200)
    per_image: int = option("Instances pasted into each new image.", 2)
    seed: int = option("Seed; each new image draws from (seed, its index). Same seed, same bytes.", 0)
    scale: tuple[float, float] | str = option(
        "Scale jitter lo,hi; the scale is log-uniform between them.", (0.75, 1.33)
    )
    flip: bool = option("Flip instances left-right at random.", True)
    rot90: bool = option("Rotate instances by a random multiple of 90 degrees.", True)
    match_colour: bool = option(
        "Shift the instance's Lab mean/std per channel as its source surroundings would move to the new background "
        "patch (the defect keeps its contrast to the wood around it).",
        False,
    )
    blend: str = option(
        "alpha: feathered opacity INSIDE the mask (the label stays the exact binary mask); poisson: cv2.seamlessClone, "
        "kept inside the mask (keeps gradients, not colour: flat colour defects fade); none: hard paste.",
        "alpha",
        choices=BLENDS,
    )
    feather: int = option("Alpha blend: width in px of the feathered rim, inside the mask.", 2)
    max_overlap: float = option(
        "Fraction of an existing or earlier pasted instance's area a paste may cover (0..1); covered pixels leave "
        "that instance's mask and box.",
        0.0,
    )
    min_area: int | None = option(
        "Pasted components with fewer pixels are not pasted.", None, default_text="the prep's --min-area"
    )
    balance: bool = option(
        "Long tail: pick a class uniformly (each class equally likely), then an instance of it uniformly, so rare "
        "classes get more pastes. Without it, instances are picked uniformly (common classes dominate).",
        False,
    )
    backgrounds: str = option(
        "auto: the prep's good train images, or its train defect images where it has none (pasting where no "
        "instance is); good; all: all train images.",
        "auto",
        choices=BACKGROUNDS,
    )
    preview: int = option("Write this many overlay PNGs of new images under OUT/preview/.", 0)
    workers: int = option("Worker processes; 0 = one per CPU core.", 0)

    def __post_init__(self) -> None:
        self.prep = Path(self.prep)
        self.out = Path(self.out)
        _check_int("--images", self.images, 1)
        _check_int("--per-image", self.per_image, 1, MAX_PER_IMAGE)
        _check_int("--seed", self.seed, 0)
        _check_int("--feather", self.feather, 0, MAX_FEATHER)
        _check_int("--preview", self.preview, 0)
        _check_int("--workers", self.workers, 0)
        if self.min_area is not None:
            _check_int("--min-area", self.min_area, 1)
        self.scale = parse_scale(self.scale)
        value = self.max_overlap
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 1:
            raise ConfigError(f"--max-overlap must be in [0, 1], but got {value!r}")
        self.max_overlap = float(value)
        if self.blend not in BLENDS:
            raise ConfigError(f"--blend must be one of {', '.join(BLENDS)}, but got {self.blend!r}")
        if self.backgrounds not in BACKGROUNDS:
            raise ConfigError(f"--backgrounds must be one of {', '.join(BACKGROUNDS)}, but got {self.backgrounds!r}")
        for name in ("flip", "rot90", "match_colour", "balance"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"--{name.replace('_', '-')} must be true or false, but got {getattr(self, name)!r}")

    def output_options(self) -> dict:
        """The options that change the output, recorded in manifest.json (min_area as resolved by the caller)."""
        keys = (
            "images",
            "per_image",
            "seed",
            "flip",
            "rot90",
            "match_colour",
            "blend",
            "feather",
            "max_overlap",
            "min_area",
            "balance",
            "backgrounds",
        )
        return {"scale": list(self.scale), **{k: getattr(self, k) for k in keys}}


def parse_scale(value: object) -> tuple[float, float]:
    """``"0.75,1.33"`` or ``[0.75, 1.33]`` -> (lo, hi) with 0 < lo <= hi <= 10; a ConfigError otherwise."""
    parts = value.split(",") if isinstance(value, str) else value
    problem = f"--scale must be two numbers lo,hi with 0 < lo <= hi <= 10 (e.g. 0.75,1.33), but got {value!r}"
    if not isinstance(parts, (list, tuple)) or len(parts) != 2:
        raise ConfigError(problem)
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(problem) from exc
    if any(isinstance(p, bool) for p in parts) or not (0 < lo <= hi <= 10):  # nan fails here too
        raise ConfigError(problem)
    return lo, hi


def _check_int(option: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f">= {minimum}"
        raise ConfigError(f"{option} must be an integer {bound}, but got {value!r}")
