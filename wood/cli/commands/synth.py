"""`wood synth OUT`: a synthetic category in MVTec AD layout (test fixture and demo data)."""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.prep.synth.config import SynthConfig


@config_command(SynthConfig, arguments=["out"])
def synth(cfg: SynthConfig) -> None:
    """Write a synthetic wood category: train/good, test/<defect>, ground_truth/<defect> (0/255 masks)."""
    from wood.console import console, track
    from wood.prep.synth.write import plan, write_config_tree

    path = write_config_tree(cfg, progress=track)
    console.print(f"wrote {len(plan(cfg))} images ({cfg.size}px, seed {cfg.seed}) to {path}")


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("synth")(synth)
