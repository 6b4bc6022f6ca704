"""`wood synth OUT`: a synthetic category in MVTec AD layout (test fixture and demo data)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Path = typer.Argument(..., help="Category folder to write (MVTec layout); OUT is the category itself."),
        category: str = typer.Option("wood", help="Category to draw (only `wood` has defect drawers)."),
        size: int = typer.Option(256, help="Image side in pixels (square images)."),
        per_defect: int = typer.Option(10, "--per-defect", help="Test images per defect type."),
        good: int = typer.Option(10, help="Defect-free test images (test/good)."),
        train_good: int = typer.Option(10, "--train-good", help="Defect-free training images (train/good)."),
        seed: int = typer.Option(0, help="Random seed; the same seed writes byte-identical files."),
        gray: bool = typer.Option(False, "--gray", help="Write single-channel grayscale images."),
        force: bool = typer.Option(False, "--force", help="Replace OUT if it exists and is not empty."),
    ) -> None:
        """Write a synthetic wood category: train/good, test/<defect>, ground_truth/<defect> (0/255 masks)."""
        from wood.config import build_config
        from wood.console import console, track
        from wood.prep.synth_io import SynthConfig, plan, write_config_tree

        config = build_config(
            SynthConfig, None, out=out, category=category, size=size, per_defect=per_defect,
            good=good, train_good=train_good, seed=seed, gray=gray, force=force,
        )
        path = write_config_tree(config, progress=track)
        console.print(f"wrote {len(plan(config))} images ({config.size}px, seed {config.seed}) to {path}")
