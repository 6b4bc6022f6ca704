"""`wood finetune sam` and `wood eval segment`: Segment Anything with LoRA, adapters or the decoder only.

Only typer, stdlib and the (light) config dataclass at import time; the work happens in
wood.finetune.sam.train and wood.eval.segment, imported inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from wood.cli_options import config_command
from wood.commands.yolo import SLICE, SLICE_DROP_CUT, SLICE_FULL, SLICE_MERGE, SLICE_OVERLAP, slicing
from wood.device import device_help
from wood.finetune.sam.config import SamTrainConfig


@config_command(SamTrainConfig)
def finetune_sam(cfg: SamTrainConfig) -> None:
    """Fine-tune Segment Anything on box (or point) prompts of a prepared dataset; writes one run folder."""
    from wood.finetune.sam.train import train

    run_dir = train(cfg)
    if os.environ.get("RANK", "0") == "0":  # under accelerate launch / torchrun: the main process says it once
        typer.echo(str(run_dir))


def eval_segment(
    run: Path = typer.Option(None, "--run", help="Run folder of `wood finetune sam` (or --model for zero-shot)."),
    model: str = typer.Option(
        None,
        "--model",
        help="Zero-shot instead of --run: score this pretrained SAM variant (litemedsam: the packaged LiteMedSAM) "
        "untrained; needs --data.",
    ),
    checkpoint: Path = typer.Option(
        None, "--checkpoint", help="With --model: its weights file.", show_default="the packaged or cached weights"
    ),
    split: str = typer.Option("test", "--split", help="One of: train | val | test."),
    boxes: str = typer.Option(
        "gt", "--boxes", help="gt (oracle prompts) or a `wood finetune yolo` run folder (detect -> segment)."
    ),
    conf: float = typer.Option(
        0.25,
        "--conf",
        help="With --boxes <yolo run>: detector confidence for IoU/Dice, pixel scores and overlays "
        "(segm mAP uses every box >= 0.001).",
    ),
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder.", show_default="the run's"),
    out: Path = typer.Option(
        None,
        "--out",
        help="Output folder.",
        show_default="<run>/eval-<split>[-yolo][-slice<S>]; --model: runs/sam/<model>-zero-shot-<split>[-yolo]",
    ),
    overlays: int = typer.Option(2, "--overlays", help="Overlay PNGs per class (and for good images)."),
    device: str = typer.Option("auto", "--device", help=device_help()),
    crop_to_box: bool = typer.Option(
        False, "--crop-to-box/--no-crop-to-box", help="Zero mask pixels outside each prompt box (+5% margin)."
    ),
    slice_size: int = SLICE,
    slice_overlap: float | None = SLICE_OVERLAP,
    slice_full: bool | None = SLICE_FULL,
    slice_merge: str | None = SLICE_MERGE,
    slice_drop_cut: bool | None = SLICE_DROP_CUT,
) -> None:
    """Per-class IoU/Dice, mIoU, per-image scores, COCO segm mAP and pixel F1 (good images included);
    writes predictions_segm.json (COCO results)."""
    from wood.errors import ConfigError
    from wood.eval.segment import evaluate

    if (run is None) == (model is None):
        raise ConfigError("give either --run <a `wood finetune sam` run> or --model <variant> (zero-shot), not both")
    common = {  # what a zero-shot and a run's evaluation share
        "boxes": boxes,
        "out": out,
        "overlays": overlays,
        "device": device,
        "conf": conf,
        "crop_to_box": crop_to_box,
    }
    sliced = (slice_size, slice_overlap, slice_full, slice_merge, slice_drop_cut)  # checked after --data/--checkpoint
    if model is not None:
        from wood.eval.segment_zero_shot import evaluate_zero_shot

        if data is None:
            raise ConfigError("--model (zero-shot) needs --data <folder written by `wood prep`>")
        zero = evaluate_zero_shot(model, data, split, checkpoint=checkpoint, slicing=slicing(*sliced), **common)
        typer.echo(zero["files"]["json"])
        return
    if checkpoint is not None:
        raise ConfigError("--checkpoint goes with --model (zero-shot); a run records its own weights")
    result = evaluate(run, split, data=data, slicing=slicing(*sliced), **common)
    typer.echo(result["files"]["json"])


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("sam")(finetune_sam)
    eval_app.command("segment")(eval_segment)
