"""`wood finetune classify`, `wood experiments classify` and `wood eval classify`.

Only typer, stdlib and the (light) config dataclasses at import time; the work happens in
wood.finetune.classify.train, wood.finetune.classify.experiments and wood.eval.classify, imported
inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from wood.cli_options import config_command
from wood.device import device_help
from wood.finetune.classify.config import ClassifyConfig, ExperimentsConfig


@config_command(ClassifyConfig)
def finetune_classify(cfg: ClassifyConfig) -> None:
    """Train a defect-type classifier on the classify/ split; writes config.yaml, metrics.json,
    weights.pt and confusion PNGs to the run folder. Runs on several processes under `accelerate launch`
    or `torchrun` (one run folder, written by the main process)."""
    from wood.finetune.classify.train import train
    from wood.finetune.engine import launched

    run = train(cfg)
    if not launched() or os.environ.get("RANK", "0") == "0":
        typer.echo(str(run))


@config_command(ExperimentsConfig, config=False)
def experiments_classify(
    cfg: ExperimentsConfig,
    config: Optional[Path] = typer.Option(
        None,
        "--config",
        help="Attempts YAML (defaults and attempts).",
        show_default="datasets/experiments_classify.yaml",
    ),
) -> None:
    """Run the five classification attempts of the original report and print the table (its numbers vs ours).
    The pretrained attempts run ResNet18 when its ImageNet weights are on disk, else the packaged ImageNet
    MobileNetV2 (the Arch column says which); with neither they are marked "skipped: no pretrained weights"."""
    from wood.finetune.classify.experiments import format_table, run_attempts

    rows = run_attempts(cfg, config)
    out = Path(cfg.out)
    typer.echo(format_table(rows))
    typer.echo(f"\nwrote {out / 'table.md'} and {out / 'table.json'}")


def eval_classify(
    run: Path = typer.Argument(..., help="Run folder of `wood finetune classify`."),
    split: str = typer.Option("test", "--split", help="One of: train | val | test."),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared dataset folder.", show_default="the run's"),
    device: str = typer.Option("auto", "--device", help=device_help()),
) -> None:
    """Accuracy, per-class accuracy and the confusion matrix of a classify run on one split;
    writes RUN/eval_<split>.json and RUN/confusion_<split>.png."""
    from wood.errors import ConfigError
    from wood.eval.classify import evaluate_run

    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, but got {split!r}")
    result = evaluate_run(run, split, data, device)
    typer.echo(f"{split}: acc {result['acc']:.1%} (n={result['n']}), balanced {result['balanced_acc']:.1%}")
    for cls, acc in result["per_class"].items():
        typer.echo(f"  {cls:<12} {'-' if acc is None else f'{acc:.1%}'}")


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("classify")(finetune_classify)
    eval_app.command("classify")(eval_classify)
    experiments_app = typer.Typer(help="Reproducible comparison tables from checked-in configs.", no_args_is_help=True)
    experiments_app.command("classify")(experiments_classify)
    app.add_typer(experiments_app, name="experiments")
