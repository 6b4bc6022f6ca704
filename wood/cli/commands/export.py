"""`wood export`: a run's model to ONNX (or OpenVINO), checked against PyTorch (wood.deploy.export)."""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.console import console
from wood.deploy.export.config import ExportConfig


@config_command(ExportConfig, config=False)
def export(cfg: ExportConfig) -> None:
    """Export a fine-tuned model for ONNX Runtime and check it against PyTorch on test images: boxes
    matched at IoU >= 0.99 and score differences (writes export.json). A mismatch exits with code 1."""
    from wood.deploy.export import export_run, format_summary

    result = export_run(cfg.run, fmt=cfg.fmt, imgsz=cfg.imgsz, half=cfg.half, out=cfg.out, n_images=cfg.images)
    console.print(format_summary(result))
    typer.echo(result.get("files", {}).get("json", ""))
    if not result.get("ok"):
        raise typer.Exit(1)


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("export")(export)
