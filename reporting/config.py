"""The options of `wood report` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option


@dataclass
class ReportConfig:
    """Which run folders `wood report` compares, and where it writes."""

    run_dirs: list[Path] = option(
        "Run folders, or folders searched for run folders (config.yaml / metrics.json / table.json).",
        default_factory=list,
        multiple=True,
        default_text=False,
    )
    runs_root: Path | None = option("Search this folder recursively for run folders.", None, default_text=False)
    prepared: Path | None = option(
        "Prepared dataset folder for the Dataset section.", None, default_text="the one the runs' configs name"
    )
    out: Path = option(
        "Output folder (new, empty or an earlier report): report.md, images/, report.html", Path("report")
    )
    samples: int = option("Ground-truth overlay samples in the Dataset section.", 6)
