"""The options of `wood demo` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option


@dataclass
class DemoConfig:
    """Where `wood demo` writes, and whether it may replace an earlier demo there."""

    out: Path = option("Folder for the data, runs and report.", Path("wood-demo"), flag=("--out", "-o"))
    force: bool = option("Replace a previous demo in --out.", False, negatable=False)
