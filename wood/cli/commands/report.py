"""`wood report`: one Markdown + one self-contained HTML page over run folders (wood.reporting.build)."""

from __future__ import annotations

from pathlib import Path

import typer

from wood.cli.options import config_command
from wood.reporting.config import ReportConfig


@config_command(ReportConfig, arguments=["run_dirs"], config=False)
def report(cfg: ReportConfig) -> None:
    """Compare every run (detection, segmentation, classification) with its cost, in report.md and report.html."""
    from wood.console import console
    from wood.reporting.build import build_report

    result = build_report(list(cfg.run_dirs or []), cfg.out, cfg.prepared, runs_root=cfg.runs_root, samples=cfg.samples)
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
