"""`wood import LABELS... --out MVTEC_DIR --category NAME [--images DIR]`: corrected labels back to MVTec masks.

Only typer and the (light) config dataclass at import time; the work is in wood.prep.importers.write.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wood.cli.options import config_command
from wood.prep.importers.config import ImportConfig


@config_command(ImportConfig)
def import_labels(
    cfg: ImportConfig,
    labels: list[Path] = typer.Argument(
        ...,
        help="COCO json, CVAT COCO 1.0 export (zip or folder) or YOLO-seg folder (holding data.yaml); several merge.",
    ),
) -> None:
    """Turn corrected labels into an MVTec AD category (test/<defect>/NNN.png, ground_truth/<defect>/NNN_mask.png
    0/255, images without annotations in test/good/) that `wood prep` reads as is."""
    from wood.console import console
    from wood.prep.importers.write import import_labels as run

    final = run(cfg, labels)
    console.print(f"wrote {final} (import.json lists every image); next: wood prep {final}")
    typer.echo(str(final))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("import")(import_labels)
