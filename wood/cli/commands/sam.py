"""`wood finetune sam` and `wood eval segment`: Segment Anything with LoRA, adapters or the decoder only.

Only typer, stdlib and the (light) config dataclasses at import time; the work happens in
wood.finetune.sam.train and wood.eval.segment.evaluate, imported inside the commands.
"""

from __future__ import annotations

import os

import typer

from wood.cli.options import config_command
from wood.eval.segment.config import EvalSegmentConfig
from wood.finetune.sam.config import SamTrainConfig


@config_command(SamTrainConfig)
def finetune_sam(cfg: SamTrainConfig) -> None:
    """Fine-tune Segment Anything on box (or point) prompts of a prepared dataset; writes one run folder."""
    from wood.finetune.sam.train import train

    run_dir = train(cfg)
    if os.environ.get("RANK", "0") == "0":  # under accelerate launch / torchrun: the main process says it once
        typer.echo(str(run_dir))


@config_command(EvalSegmentConfig, config=False)
def eval_segment(cfg: EvalSegmentConfig) -> None:
    """Per-class IoU/Dice, mIoU, per-image scores, COCO segm mAP and pixel F1 (good images included);
    writes predictions_segm.json (COCO results)."""
    from wood.errors import ConfigError
    from wood.eval.segment.evaluate import evaluate

    if (cfg.run is None) == (cfg.model is None):
        raise ConfigError("give either --run <a `wood finetune sam` run> or --model <variant> (zero-shot), not both")
    common = {  # what a zero-shot and a run's evaluation share
        "boxes": cfg.boxes,
        "out": cfg.out,
        "overlays": cfg.overlays,
        "device": cfg.device,
        "conf": cfg.conf,
        "map_conf": cfg.map_conf,
        "crop_to_box": cfg.crop_to_box,
    }
    # the --slice* options are checked after --data/--checkpoint
    if cfg.model is not None:
        from wood.eval.segment.zero_shot import evaluate_zero_shot

        if cfg.data is None:
            raise ConfigError("--model (zero-shot) needs --data <folder written by `wood prep`>")
        zero = evaluate_zero_shot(
            cfg.model,
            cfg.data,
            cfg.split,
            checkpoint=cfg.checkpoint,
            slicing=cfg.slicing.settings(),
            zoom=cfg.zoom or 0.0,
            **common,
        )
        typer.echo(zero["files"]["json"])
        return
    if cfg.checkpoint is not None:
        raise ConfigError("--checkpoint goes with --model (zero-shot); a run records its own weights")
    result = evaluate(cfg.run, cfg.split, data=cfg.data, slicing=cfg.slicing.settings(), zoom=cfg.zoom, **common)
    typer.echo(result["files"]["json"])


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("sam")(finetune_sam)
    eval_app.command("segment")(eval_segment)
