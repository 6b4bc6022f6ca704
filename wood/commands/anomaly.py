"""`wood finetune anomaly` and `wood eval anomaly`: PatchCore / PaDiM from good images only.

Only typer, stdlib and the (light) config dataclass at import time; the work happens in
wood.finetune.anomaly.train and wood.eval.anomaly.evaluate, imported inside the commands.
"""

from __future__ import annotations

import typer

from wood.cli_options import config_command
from wood.finetune.anomaly.config import AnomalyConfig


@config_command(AnomalyConfig)
def finetune_anomaly(cfg: AnomalyConfig) -> None:
    """Fit PatchCore or PaDiM on the good train images of a prepared dataset (defect images are never read);
    writes config.yaml, metrics.json and weights.pt to the run folder."""
    from wood.finetune.anomaly.train import train

    typer.echo(str(train(cfg)))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("anomaly")(finetune_anomaly)
