"""`wood paste`: copy-paste augmentation of a prepared folder (Simple Copy-Paste) into a new prepared folder."""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.prep.paste.config import PasteConfig


@config_command(PasteConfig, arguments=["prep"])
def paste(cfg: PasteConfig) -> None:
    """Paste train instances (exact masks) onto train backgrounds.

    Writes a new prepared folder that every `wood finetune` command takes.
    Instances and backgrounds come from the TRAIN split only; val and test
    are the prep's files, byte-identical. A label is the pasted instance's
    binary mask after its transform (resampled, then >= 0.5), minus the
    pixels later pastes cover. manifest.json traces every label back.
    """
    from wood.console import console
    from wood.prep.paste.pipeline import run_paste
    from wood.prep.stats import stats_table

    stats = run_paste(cfg)
    console.print(stats_table(stats))
    info = stats["paste"]
    console.print(
        f"pasted per class: {info['pasted_per_class']}; skipped: {info['skipped']}; "
        f"too large for every background: {info['instances_too_large']}",
        markup=False,
        highlight=False,
    )
    console.print(
        f"wrote {cfg.out} ({info['new_images']} new train images on {info['backgrounds']} backgrounds)",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("paste")(paste)
