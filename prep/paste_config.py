"""The options of `wood paste`, as one explicit dataclass (light: the CLI reads its defaults and help).

Every option is checked in ``__post_init__``, before anything is read; a bad one is a ConfigError
naming the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from wood.errors import ConfigError

BLENDS = ("alpha", "poisson", "none")
BACKGROUNDS = ("auto", "good", "all")
MAX_PER_IMAGE = 100
MAX_FEATHER = 64


@dataclass
class PasteConfig:
    prep: Path = field(default=Path("datasets/prepared/wood"), metadata={"help": "a `wood prep` output folder"})
    out: Path = field(default=Path("datasets/prepared/wood-paste"), metadata={"help": "output folder"})
    images: int = field(default=200, metadata={"help": "new train images to write (added to the prep's train split)"})
    per_image: int = field(default=2, metadata={"help": "instances pasted into each new image"})
    seed: int = field(default=0, metadata={"help": "seed; the same seed writes the same bytes"})
    scale: tuple[float, float] | str = field(
        default=(0.75, 1.33), metadata={"help": "scale jitter range lo,hi (log-uniform)"})
    flip: bool = field(default=True, metadata={"help": "flip instances left-right at random"})
    rot90: bool = field(default=True, metadata={"help": "rotate instances by a random multiple of 90 degrees"})
    match_colour: bool = field(
        default=False, metadata={"help": "shift the instance's Lab mean/std as its source surroundings -> the new"})
    blend: str = field(default="alpha", metadata={"help": "alpha (feathered inside the mask) | poisson | none"})
    feather: int = field(default=2, metadata={"help": "alpha blend: width in px of the feathered rim, inside the mask"})
    max_overlap: float = field(
        default=0.0, metadata={"help": "fraction of an instance's area a later paste may cover (0..1)"})
    min_area: int | None = field(
        default=None, metadata={"help": "components with fewer pixels are not pasted; default: the prep's min_area"})
    balance: bool = field(
        default=False, metadata={"help": "pick a class uniformly, then an instance of it (rare classes get more)"})
    backgrounds: str = field(
        default="auto", metadata={"help": "auto: good train images, else defect ones | good | all train images"})
    preview: int = field(default=0, metadata={"help": "write this many overlay PNGs of new images under preview/"})
    workers: int = field(default=0, metadata={"help": "worker processes; 0 = one per CPU core"})

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
        keys = ("images", "per_image", "seed", "flip", "rot90", "match_colour", "blend", "feather", "max_overlap",
                "min_area", "balance", "backgrounds")
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


def field_help(name: str) -> str:
    """The help text of a PasteConfig field (the CLI shows it)."""
    return next(f.metadata["help"] for f in fields(PasteConfig) if f.name == name)


def _check_int(option: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f">= {minimum}"
        raise ConfigError(f"{option} must be an integer {bound}, but got {value!r}")
