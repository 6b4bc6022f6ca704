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

from wood.cli.options import config_command
from wood.eval.classify_config import EvalClassifyConfig
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


@config_command(EvalClassifyConfig, arguments=["run"], config=False)
def eval_classify(cfg: EvalClassifyConfig) -> None:
    """Accuracy, per-class accuracy and the confusion matrix of a classify run on one split;
    writes RUN/eval_<split>.json and RUN/confusion_<split>.png."""
    from wood.eval.classify import evaluate_run

    result = evaluate_run(cfg.run, cfg.split, cfg.data, cfg.device)
    typer.echo(f"{cfg.split}: acc {result['acc']:.1%} (n={result['n']}), balanced {result['balanced_acc']:.1%}")
    for cls, acc in result["per_class"].items():
        typer.echo(f"  {cls:<12} {'-' if acc is None else f'{acc:.1%}'}")


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("classify")(finetune_classify)
    eval_app.command("classify")(eval_classify)
    experiments_app = typer.Typer(help="Reproducible comparison tables from checked-in configs.", no_args_is_help=True)
    experiments_app.command("classify")(experiments_classify)
    app.add_typer(experiments_app, name="experiments")
