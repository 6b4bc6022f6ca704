"""`wood export`: a run's model to ONNX (or OpenVINO), checked against PyTorch (wood.eval.export)."""

from __future__ import annotations

from pathlib import Path

import typer

from wood.console import console


def export(
    run: Path = typer.Option(..., "--run", help="Run folder of `wood finetune yolo` or `wood finetune sam`."),
    fmt: str = typer.Option(
        "onnx", "--format", help="One of: onnx | openvino (OpenVINO needs `pip install openvino`)."
    ),
    imgsz: int = typer.Option(None, "--imgsz", help="Input size of the exported graph.", show_default="the run's"),
    half: bool = typer.Option(
        False, "--half", help="FP16 weights (YOLO; parity then allows a larger score difference)."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder.", show_default="<run>/export"),
    images: int = typer.Option(4, "--images", help="Test images of the run's dataset for the parity check."),
) -> None:
    """Export a fine-tuned model for ONNX Runtime and check it against PyTorch on test images: boxes
    matched at IoU >= 0.99 and score differences (writes export.json). A mismatch exits with code 1."""
    from wood.eval.export import export_run, format_summary

    result = export_run(run, fmt=fmt, imgsz=imgsz, half=half, out=out, n_images=images)
    console.print(format_summary(result))
    typer.echo(result.get("files", {}).get("json", ""))
    if not result.get("ok"):
        raise typer.Exit(1)


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("export")(export)
