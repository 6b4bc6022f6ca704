"""`wood report`: one Markdown + one self-contained HTML page over run folders (wood.eval.report.build)."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dirs: list[Path] = typer.Argument(
        None, help="Run folders, or folders searched for run folders (config.yaml / metrics.json / table.json)."
    ),
    runs_root: Path = typer.Option(None, "--runs-root", help="Search this folder recursively for run folders."),
    prepared: Path = typer.Option(
        None,
        "--prepared",
        help="Prepared dataset folder for the Dataset section.",
        show_default="the one the runs' configs name",
    ),
    out: Path = typer.Option(
        Path("report"), "--out", help="Output folder (new, empty or an earlier report): report.md, images/, report.html"
    ),
    samples: int = typer.Option(6, "--samples", help="Ground-truth overlay samples in the Dataset section."),
) -> None:
    """Compare every run (detection, segmentation, classification) with its cost, in report.md and report.html."""
    from wood.console import console
    from wood.eval.report.build import build_report

    result = build_report(list(run_dirs or []), out, prepared, runs_root=runs_root, samples=samples)
    counts = result["runs"]
    skipped = f"; {len(result['messages'])} folder(s) skipped (listed in the report)" if result["messages"] else ""
    console.print(
        f"report: {counts['yolo']} detection, {counts['sam']} segmentation, {counts['classify']} "
        f"classification, {counts.get('anomaly', 0)} anomaly run(s){skipped}",
        soft_wrap=True,
    )
    print(Path(result["html"]).resolve())
    print(Path(result["markdown"]).resolve())


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("report")(report)
