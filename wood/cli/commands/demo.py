"""`wood demo`: the main job on the embedded default (synthetic data, offline, CPU-sized)."""

from __future__ import annotations

import typer

from wood.cli.demo_config import DemoConfig
from wood.cli.options import config_command


@config_command(DemoConfig, config=False)
def demo(cfg: DemoConfig) -> None:
    """Run synth -> prep -> YOLO -> YOLO-World -> SAM -> classification -> PatchCore -> eval -> report.

    Everything runs offline (network access is blocked while it runs) on synthetic data sized
    for a 2-core CPU: about 8 minutes. Settings come from datasets/demo_*.yaml.
    """
    from wood.cli.demo import run_demo
    from wood.console import console

    result = run_demo(cfg.out, force=cfg.force)
    total = sum(result.seconds.values())
    stages = ", ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items())
    console.print(f"[bold]demo finished in {total / 60:.1f} min[/bold]: {stages}")
    for key, value in result.numbers.items():
        console.print(f"  {key}: {value if value is None else round(float(value), 3)}")
    report = result.runs.get("report")
    if report is not None:
        console.print(f"report: {report / 'report.html'} (and report.md)")


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("demo")(demo)
