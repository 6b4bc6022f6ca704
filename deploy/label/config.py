"""The options of `wood label` (also the keys of its ``--config`` YAML file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help
from wood.errors import ConfigError

FORMATS = ("cvat", "label-studio", "coco", "yolo")
LS_PREFIX = "/data/local-files/?d=images/"


@dataclass
class LabelConfig:
    """What `wood label` pre-labels and how it writes it."""

    run: Path = option("Run folder of `wood finetune yolo` (the detector; uses weights/best.pt).")
    out: Path = option("Output folder (created; replaced only if it is a `wood label` output).")
    fmt: str = option(
        "What to write: cvat (a COCO 1.0 zip: annotations/instances_default.json + images/), label-studio "
        "(tasks.json with brush RLE + labeling_config.xml), coco (annotations.json + images/) or yolo "
        "(data.yaml, images/, labels/).",
        "cvat",
        flag="--format",
        choices=FORMATS,
    )
    sam: Path | None = option(
        "Run folder of `wood finetune sam`: segments every detector box (masks instead of the detector's).",
        None,
        default_text="masks of a segment detector, else boxes only",
    )
    conf: float = option("Detections with a score >= conf become labels.", 0.25)
    near: float | None = option(
        "Candidates scored in [near, conf) are not labels but rank their image for review.",
        None,
        default_text="conf / 2",
    )
    device: str = option(device_help(), "auto")
    model_version: str | None = option(
        "Label Studio model_version of the predictions.", None, default_text="<run name>[+<sam run name>]"
    )
    image_prefix: str = option(
        "Label Studio: task image URL = this prefix + the image's file name (local files served from --out).", LS_PREFIX
    )

    def __post_init__(self) -> None:
        self.run, self.out = Path(self.run), Path(self.out)
        self.sam = None if self.sam is None else Path(self.sam)
        if self.fmt not in FORMATS:
            raise ConfigError(f"--format must be one of {' | '.join(FORMATS)}, but got {self.fmt!r}")
        if not 0.0 < float(self.conf) < 1.0:
            raise ConfigError(f"--conf must be in (0, 1), but got {self.conf}")
        if self.near is not None and not 0.0 < float(self.near) <= float(self.conf):
            raise ConfigError(f"--near must be in (0, conf], but got {self.near}")

    @property
    def floor(self) -> float:
        """The score down to which candidates are looked at (for the review order)."""
        return float(self.near) if self.near is not None else float(self.conf) / 2
