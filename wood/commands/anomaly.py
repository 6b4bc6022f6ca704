"""`wood finetune anomaly` and `wood eval anomaly`: PatchCore / PaDiM from good images only.

Only typer, stdlib and the (light) config dataclass at import time; the work happens in
wood.finetune.anomaly.train and wood.eval.anomaly.evaluate, imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from wood.cli_options import config_command
from wood.device import device_help
from wood.finetune.anomaly.config import AnomalyConfig


@config_command(AnomalyConfig)
def finetune_anomaly(cfg: AnomalyConfig) -> None:
    """Fit PatchCore or PaDiM on the good train images of a prepared dataset (defect images are never read);
    writes config.yaml, metrics.json and weights.pt to the run folder."""
    from wood.finetune.anomaly.train import train

    typer.echo(str(train(cfg)))


def eval_anomaly(
    run: Path = typer.Option(..., "--run", help="Run folder of `wood finetune anomaly`."),
    split: str = typer.Option("test", "--split", help="One of: train | val | test."),
    max_false_alarm: float = typer.Option(
        0.05,
        "--max-false-alarm",
        help="The image threshold is the lowest that flags at most this share of val's good images.",
    ),
    threshold: bool = typer.Option(
        True,
        "--threshold/--no-threshold",
        help="Choose a threshold on val (needs good and defective val images) and report recall and false "
        "alarms at it; --no-threshold reports the threshold-free metrics only.",
    ),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared dataset folder.", show_default="the run's"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder.", show_default="<run>/eval-<split>"),
    overlays: int = typer.Option(3, "--overlays", help="Heat-map overlays each of the best, worst and false alarms."),
    device: str = typer.Option("auto", "--device", help=device_help()),
) -> None:
    """Image AUROC, pixel AUROC, AUPRO (FPR 0.3), pixel F1-max, and image recall / false alarms at a threshold
    chosen on val, overall and per defect type; writes anomaly_metrics.json and heat-map overlays."""
    from wood.console import console
    from wood.eval.anomaly.evaluate import evaluate, format_summary

    result = evaluate(run, split, max_false_alarm, threshold, data, out, overlays, device)
    console.print(format_summary(result))
    typer.echo(result["files"]["json"])


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("anomaly")(finetune_anomaly)
    eval_app.command("anomaly")(eval_anomaly)
