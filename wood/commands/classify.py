"""`wood finetune classify`, `wood experiments classify` and `wood eval classify`.

Only typer and stdlib at import time; the work happens in wood.finetune.classify.train,
wood.finetune.classify.experiments and wood.eval.classify, imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def finetune_classify(
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared dataset folder (`wood prep --out`); reads DATA/classify/."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML of ClassifyConfig fields; options given here override it."),
    arch: Optional[str] = typer.Option(None, "--arch", help="simple-cnn | resnet18. [default: simple-cnn]"),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd | adam. [default: adam]"),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (first phase). [default: 1e-3]"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs (first phase). [default: 30]"),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="scratch | transfer (head only) | finetune (transfer, then all layers). [default: scratch]"),
    finetune_epochs: Optional[int] = typer.Option(None, "--finetune-epochs", help="Second-phase epochs of --strategy finetune. [default: 10]"),
    finetune_lr: Optional[float] = typer.Option(None, "--finetune-lr", help="Second-phase learning rate of --strategy finetune. [default: 1e-4]"),
    weights: Optional[Path] = typer.Option(None, "--weights", help="torchvision ResNet18 state dict (.pth). [default: torchvision hub cache]"),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Square input size. [default: 224]"),
    batch: Optional[int] = typer.Option(None, "--batch", help="Batch size. [default: 16]"),
    balance: Optional[str] = typer.Option(None, "--balance", help="none | sampler (class-balanced sampling) | loss (logit-adjusted CE). [default: none]"),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Flips, 90-degree rotations, mild colour jitter. [default: on]"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (recorded). [default: 0]"),
    device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N. [default: auto]"),
    out: Optional[Path] = typer.Option(None, "--out", help="Parent of run folders. [default: runs/classify]"),
    name: Optional[str] = typer.Option(None, "--name", help="Run folder name. [default: <arch>-<strategy>-<optimizer>]"),
    exist_ok: Optional[bool] = typer.Option(None, "--exist-ok/--no-exist-ok", help="Replace a run folder of the same name."),
) -> None:
    """Train a defect-type classifier on the classify/ split; writes config.yaml, metrics.json,
    weights.pt and confusion PNGs to the run folder."""
    from wood.config import build_config
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.classify.train import train

    cfg = build_config(
        ClassifyConfig, config, data=data, arch=arch, optimizer=optimizer, lr=lr, epochs=epochs, strategy=strategy,
        finetune_epochs=finetune_epochs, finetune_lr=finetune_lr, weights=weights, imgsz=imgsz, batch=batch,
        balance=balance, augment=augment, seed=seed, device=device, out=out, name=name, exist_ok=exist_ok,
    )
    run = train(cfg)
    typer.echo(str(run))


def experiments_classify(
    data: Path = typer.Option(..., "--data", help="Prepared dataset folder (`wood prep --out`)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Attempts YAML. [default: datasets/experiments_classify.yaml]"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override every attempt's epochs (quick run); fine-tune epochs scale with it."),
    finetune_epochs: Optional[int] = typer.Option(None, "--finetune-epochs", help="Override the second-phase epochs of fine-tune attempts."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Override the input size of every attempt."),
    device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda for every attempt."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="ResNet18 state dict for the pretrained attempts."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the seed of every attempt."),
    out: Path = typer.Option(Path("runs/experiments/classify"), "--out", help="Folder for runs/, table.md and table.json."),
) -> None:
    """Run the five classification attempts of the study and print the table (study vs ours).
    Attempts without pretrained weights are marked "skipped: no pretrained weights"."""
    from wood.finetune.classify.experiments import format_table, run_experiments

    rows = run_experiments(data, config, epochs, out, finetune_epochs_override=finetune_epochs, imgsz=imgsz,
                           device=device, weights=weights, seed=seed)
    typer.echo(format_table(rows))
    typer.echo(f"\nwrote {out / 'table.md'} and {out / 'table.json'}")


def eval_classify(
    run: Path = typer.Argument(..., help="Run folder of `wood finetune classify`."),
    split: str = typer.Option("test", "--split", help="train | val | test."),
    data: Optional[Path] = typer.Option(None, "--data", help="Prepared dataset folder. [default: the run's config.yaml]"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
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
