"""The options of `wood eval detect` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help
from wood.eval.slice_config import SliceConfig


@dataclass
class EvalDetectConfig:
    """What `wood eval detect` evaluates, on which split, and where it writes."""

    run: Path | None = option(
        "Run folder of `wood finetune yolo` (or give --weights and --data).", None, default_text=False
    )
    split: str = option("One of: train | val | test.", "test")
    conf: float = option(
        "Confidence for the inspection view and confusion matrix (mAP uses all scores >= 0.001).", 0.25
    )
    data: Path | None = option("Prepared dataset folder.", None, default_text="the run's")
    weights: Path | None = option("Checkpoint to evaluate.", None, default_text="<run>/weights/best.pt")
    out: Path | None = option("Output folder.", None, default_text="<run>/eval-<split>[-slice<S>]")
    device: str = option(device_help(), "auto")
    ultralytics_val: bool = option("Also run Ultralytics' own val for comparison (not with --slice).", True)
    slicing: SliceConfig = option("Sliced inference (the --slice* options).", default_factory=SliceConfig)
