"""`wood finetune yolo`, `wood eval detect` and `wood predict`: Ultralytics YOLO commands.

Only typer, stdlib and the (light) config dataclasses at import time; the work happens in
wood.finetune.yolo.train, wood.eval.detect.evaluate and wood.deploy.predict, imported inside the commands.
"""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.console import console
from wood.deploy.predict_config import PredictConfig
from wood.eval.detect.config import EvalDetectConfig
from wood.finetune.yolo.config import YoloConfig


@config_command(YoloConfig)
def finetune_yolo(cfg: YoloConfig) -> None:
    """Fine-tune Ultralytics YOLO (detect or segment) on a prepared dataset; writes one run folder."""
    from wood.finetune.yolo.train import train

    run_dir = train(cfg)
    console.print(f"run folder: {run_dir}")
    typer.echo(str(run_dir))


def ultralytics_device(device: str) -> str | None:
    """``auto`` is Ultralytics' own choice (the first GPU, else cpu): no device argument at all."""
    return None if device == "auto" else device


@config_command(EvalDetectConfig, config=False)
def eval_detect(cfg: EvalDetectConfig) -> None:
    """COCO mAP (pycocotools, the reference) beside Ultralytics' val, plus image-level recall and false alarms."""
    from wood.eval.detect.evaluate import evaluate
    from wood.eval.detect.text import format_summary

    result = evaluate(
        cfg.run,
        cfg.split,
        conf=cfg.conf,
        data=cfg.data,
        weights=cfg.weights,
        out=cfg.out,
        device=ultralytics_device(cfg.device),
        ultralytics_val=cfg.ultralytics_val,
        slicing=cfg.slicing.settings(),
    )
    console.print(format_summary(result))
    typer.echo(result["files"]["json"])


@config_command(PredictConfig, arguments=["images"], config=False)
def predict(cfg: PredictConfig) -> None:
    """Predict boxes (and masks) on images; writes overlay PNGs, predictions.json and COCO results
    (predictions_coco.json, with the ground truth's image ids; the id -> file table in predictions_coco_images.json)."""
    from wood.deploy.predict import predict_images

    settings = cfg.slicing.settings()
    out_json = predict_images(
        cfg.run,
        cfg.images,
        out=cfg.out,
        conf=cfg.conf,
        weights=cfg.weights,
        device=ultralytics_device(cfg.device),
        prompts=cfg.prompt or None,
        slicing=settings,
        coco=cfg.coco,
    )
    console.print(f"predictions: {out_json}")
    typer.echo(str(out_json))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("yolo")(finetune_yolo)
    eval_app.command("detect")(eval_detect)
    app.command("predict")(predict)
