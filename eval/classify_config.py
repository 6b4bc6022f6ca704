"""The options of `wood eval classify` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help
from wood.errors import ConfigError

SPLITS = ("train", "val", "test")


@dataclass
class EvalClassifyConfig:
    """Which classify run `wood eval classify` scores, and on which split."""

    run: Path = option("Run folder of `wood finetune classify`.")
    split: str = option("One of: train | val | test.", "test")
    data: Path | None = option("Prepared dataset folder.", None, default_text="the run's")
    device: str = option(device_help(), "auto")

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"split must be train, val or test, but got {self.split!r}")
