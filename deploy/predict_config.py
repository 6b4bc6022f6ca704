"""The options of `wood predict` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help
from wood.eval.slice_config import SliceConfig


@dataclass
class PredictConfig:
    """What `wood predict` runs on which images, and where it writes."""

    images: list[Path] = option("Image files or folders of images.", multiple=True)
    run: Path | None = option(
        "Run folder of `wood finetune yolo` (uses weights/best.pt), or give --weights.", None, default_text=False
    )
    out: Path | None = option("Output folder.", None, default_text="<run>/predict")
    conf: float = option("Confidence threshold.", 0.25)
    weights: Path | None = option("Checkpoint.", None, default_text="<run>/weights/best.pt")
    device: str = option(device_help(), "auto")
    prompt: list[str] | None = option(
        "YOLO-World runs: detect this text instead of the trained classes (repeatable).",
        None,
        multiple=True,
        default_text="the trained classes",
    )
    slicing: SliceConfig = option("Sliced inference (the --slice* options).", default_factory=SliceConfig)
    coco: Path | None = option(
        "COCO ground truth holding every image: the results use its image ids, so they load against it.",
        None,
        default_text="the prepared split's coco/<split>.json when all images are in one, else ids 1..N",
    )
