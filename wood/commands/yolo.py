"""`wood finetune yolo`, `wood eval detect` and `wood predict`: Ultralytics YOLO commands.

Only typer and stdlib at import time; the work happens in wood.finetune.yolo.train, wood.eval.detect
and wood.eval.predict, imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wood.console import console


def finetune_yolo(
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder (output of `wood prep`)."),
    model: str = typer.Option(None, "--model", help="yolov8n.pt | yolo11n.pt | <any>.yaml (from scratch) | path.pt. [default: yolov8n.pt]"),
    task: str = typer.Option(None, "--task", help="detect | segment. [default: detect]"),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs. [default: 100]"),
    imgsz: int = typer.Option(None, "--imgsz", help="Image size; 1024 keeps 1024² wood defects at native size. [default: 1024]"),
    batch: int = typer.Option(None, "--batch", help="Batch size (-1: AutoBatch on GPU). [default: 8]"),
    device: str = typer.Option(None, "--device", help="cpu, 0, cuda:0 ... [default: GPU if any]"),
    seed: int = typer.Option(None, "--seed", help="Random seed. [default: 0]"),
    workers: int = typer.Option(None, "--workers", help="Data loader workers. [default: 2]"),
    nbs: int = typer.Option(None, "--nbs", help="Nominal batch size for gradient accumulation. [default: = batch]"),
    out: Path = typer.Option(None, "--out", help="Folder of run folders. [default: runs/yolo]"),
    name: str = typer.Option(None, "--name", help="Run folder name. [default: next free <task>-N]"),
    resume: bool = typer.Option(None, "--resume/--no-resume", help="Resume the run --name from weights/last.pt."),
    overwrite: bool = typer.Option(None, "--overwrite/--no-overwrite", help="Delete an existing run folder of that name first."),
    balance: bool = typer.Option(None, "--balance/--no-balance", help="Oversample images of rare classes."),
    weights_dir: Path = typer.Option(None, "--weights-dir", help="Local pretrained weights folder. [default: ~/.cache/wood/weights]"),
    download: bool = typer.Option(None, "--download/--no-download", help="Let Ultralytics download missing pretrained weights."),
    world: bool = typer.Option(None, "--world/--no-world", help="Train YOLO-World (text prompts), e.g. --model yolov8s-worldv2.yaml."),
    text_encoder: str = typer.Option(None, "--text-encoder", help="YOLO-World text encoder: minilm | clip. [default: minilm]"),
    prompts: str = typer.Option(None, "--prompts", help="YOLO-World prompts YAML (class name -> text)."),
    config: Path = typer.Option(None, "--config", help="YAML file with any of these options (CLI wins)."),
) -> None:
    """Fine-tune Ultralytics YOLO (detect or segment) on a prepared dataset; writes one run folder."""
    from wood.config import build_config
    from wood.errors import ConfigError
    from wood.finetune.yolo.train import train
    from wood.finetune.yolo.config import YoloConfig

    overrides = dict(
        data=data, model=model, task=task, epochs=epochs, imgsz=imgsz, batch=batch, device=device,
        seed=seed, workers=workers, nbs=nbs, out=out, name=name, resume=resume, overwrite=overwrite,
        balance=balance, weights_dir=weights_dir, download=download, world=world,
        text_encoder=text_encoder, prompts=prompts,
    )
    if data is None and config is None:
        raise ConfigError("--data is required (a `wood prep` output folder), directly or in --config")
    cfg = build_config(YoloConfig, config, **overrides)
    run_dir = train(cfg)
    console.print(f"run folder: {run_dir}")
    typer.echo(str(run_dir))


def eval_detect(
    run: Path = typer.Option(None, "--run", help="Run folder of `wood finetune yolo` (or give --weights and --data)."),
    split: str = typer.Option("test", "--split", help="train | val | test."),
    conf: float = typer.Option(0.25, "--conf", help="Confidence for the inspection view and confusion matrix (mAP uses all scores >= 0.001)."),
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder (default: the one the run was trained on)."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint to evaluate (default: <run>/weights/best.pt)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <run>/eval-<split>)."),
    device: str = typer.Option(None, "--device", help="cpu, 0, cuda:0 ..."),
    ultralytics_val: bool = typer.Option(True, "--ultralytics-val/--no-ultralytics-val", help="Also run Ultralytics' own val for comparison."),
) -> None:
    """COCO mAP (pycocotools, the reference) beside Ultralytics' val, plus image-level recall and false alarms."""
    from wood.eval.detect import evaluate, format_summary

    result = evaluate(run, split, conf=conf, data=data, weights=weights, out=out, device=device, ultralytics_val=ultralytics_val)
    console.print(format_summary(result))
    typer.echo(result["files"]["json"])


def predict(
    images: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    run: Path = typer.Option(None, "--run", help="Run folder of `wood finetune yolo` (uses weights/best.pt), or give --weights."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <run>/predict)."),
    conf: float = typer.Option(0.25, "--conf", help="Confidence threshold."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint (default: <run>/weights/best.pt)."),
    device: str = typer.Option(None, "--device", help="cpu, 0, cuda:0 ..."),
    prompt: list[str] = typer.Option(None, "--prompt", help="YOLO-World runs: detect this text instead of the trained classes (repeatable)."),
) -> None:
    """Predict boxes (and masks) on images; writes overlay PNGs and predictions.json."""
    from wood.eval.predict import predict_images

    out_json = predict_images(run, images, out=out, conf=conf, weights=weights, device=device, prompts=prompt or None)
    console.print(f"predictions: {out_json}")
    typer.echo(str(out_json))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("yolo")(finetune_yolo)
    eval_app.command("detect")(eval_detect)
    app.command("predict")(predict)
