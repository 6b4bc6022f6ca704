"""The options of `wood eval anomaly` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help


@dataclass
class EvalAnomalyConfig:
    """Which anomaly run `wood eval anomaly` scores, on which split, and how it picks its threshold."""

    run: Path = option("Run folder of `wood finetune anomaly`.")
    split: str = option("One of: train | val | test.", "test")
    max_false_alarm: float = option(
        "The image threshold is the lowest that flags at most this share of val's good images.", 0.05
    )
    threshold: bool = option(
        "Choose a threshold on val (needs good and defective val images) and report recall and false "
        "alarms at it; --no-threshold reports the threshold-free metrics only.",
        True,
    )
    data: Path | None = option("Prepared dataset folder.", None, default_text="the run's")
    out: Path | None = option("Output folder.", None, default_text="<run>/eval-<split>")
    overlays: int = option("Heat-map overlays each of the best, worst and false alarms.", 3)
    device: str = option(device_help(), "auto")
