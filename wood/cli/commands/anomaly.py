"""`wood finetune anomaly` and `wood eval anomaly`: PatchCore / PaDiM from good images only.

Only typer, stdlib and the (light) config dataclasses at import time; the work happens in
wood.finetune.anomaly.train and wood.eval.anomaly.evaluate, imported inside the commands.
"""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.eval.anomaly.config import EvalAnomalyConfig
from wood.finetune.anomaly.config import AnomalyConfig


@config_command(AnomalyConfig)
def finetune_anomaly(cfg: AnomalyConfig) -> None:
    """Fit PatchCore or PaDiM on the good train images of a prepared dataset (defect images are never read);
    writes config.yaml, metrics.json and weights.pt to the run folder."""
    from wood.finetune.anomaly.train import train

    typer.echo(str(train(cfg)))


@config_command(EvalAnomalyConfig, config=False)
def eval_anomaly(cfg: EvalAnomalyConfig) -> None:
    """Image AUROC, pixel AUROC, AUPRO (FPR 0.3), pixel F1-max, and image recall / false alarms at a threshold
    chosen on val, overall and per defect type; writes anomaly_metrics.json and heat-map overlays."""
    from wood.console import console
    from wood.eval.anomaly.evaluate import evaluate, format_summary

    result = evaluate(
        cfg.run, cfg.split, cfg.max_false_alarm, cfg.threshold, cfg.data, cfg.out, cfg.overlays, cfg.device
    )
    console.print(format_summary(result))
    typer.echo(result["files"]["json"])


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("anomaly")(finetune_anomaly)
    eval_app.command("anomaly")(eval_anomaly)
