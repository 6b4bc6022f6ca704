"""The options of `wood eval segment` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help
from wood.eval.detections import COCO_MIN_CONF
from wood.eval.slice_config import SliceConfig


@dataclass
class EvalSegmentConfig:
    """What `wood eval segment` scores (a run, or a pretrained model zero-shot), on which split and prompts."""

    run: Path | None = option("Run folder of `wood finetune sam` (or --model for zero-shot).", None, default_text=False)
    model: str | None = option(
        "Zero-shot instead of --run: score this pretrained SAM variant (litemedsam: the packaged LiteMedSAM) "
        "untrained; needs --data.",
        None,
        default_text=False,
    )
    checkpoint: Path | None = option(
        "With --model: its weights file.", None, default_text="the packaged or cached weights"
    )
    split: str = option("One of: train | val | test.", "test")
    boxes: str = option(
        "Prompt boxes: gt (oracle prompts) or a `wood finetune yolo` run folder (detect -> segment).", "gt"
    )
    conf: float = option(
        "With --boxes <yolo run>: detector confidence for IoU/Dice, pixel scores and overlays "
        "(segm mAP uses every box >= 0.001).",
        0.25,
    )
    map_conf: float = option(
        "With --boxes <yolo run>: the lowest detector confidence SAM segments, for segm mAP and anomaly_scale "
        "(every box is one mask decode: a higher floor is faster and truncates both; IoU/Dice keep --conf).",
        COCO_MIN_CONF,
        default_text="0.001, COCO's protocol",
    )
    data: Path | None = option("Prepared dataset folder.", None, default_text="the run's")
    out: Path | None = option(
        "Output folder.",
        None,
        default_text="<run>/eval-<split>[-yolo][-slice<S>]; --model: runs/sam/<model>-zero-shot-<split>[-yolo]",
    )
    overlays: int = option("Overlay PNGs per class (and for good images).", 2)
    device: str = option(device_help(), "auto")
    crop_to_box: bool = option("Zero mask pixels outside each prompt box (+5% margin).", False)
    zoom: float | None = option(
        "Segment each box in its own square crop, ZOOM x its longer side (at least 64 px), resized to the model's "
        "input; 0: the whole image.",
        None,
        default_text="the run's (--model: 0)",
    )
    slicing: SliceConfig = option("Sliced inference (the --slice* options).", default_factory=SliceConfig)
