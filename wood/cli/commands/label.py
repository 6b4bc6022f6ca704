"""`wood label IMAGES... --run DET_RUN [--sam SAM_RUN] --out DIR --format cvat|label-studio|coco|yolo`.

Only typer and the (light) config dataclass at import time; the work is in wood.deploy.label.prelabel.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wood.cli.options import config_command
from wood.deploy.label.config import LabelConfig


@config_command(LabelConfig)
def label(
    cfg: LabelConfig,
    images: list[Path] = typer.Argument(..., help="Image files or folders of images to pre-label."),
) -> None:
    """Pre-label new images with a YOLO run (and SAM on its boxes) for CVAT, Label Studio, COCO or YOLO,
    ranked for review (least certain first: review_order.json / .txt beside the labels)."""
    from wood.console import console
    from wood.deploy.label.prelabel import label_images

    out = label_images(cfg, images)
    console.print(f"wrote {cfg.fmt} labels and review_order.json to {out}")
    typer.echo(str(out))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("label")(label)
