"""The report's Anomaly section: every `wood finetune anomaly` run (PatchCore / PaDiM, learnt from good images
only), its image / pixel AUROC, AUPRO and recall at the val threshold from `wood eval anomaly`, per defect
type, and overlays of its best and worst images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.reporting.format import COST_COLUMNS, DASH, breakdown_rows, cost, num, pct, run_ref
from wood.reporting.plots import thumbnail
from wood.reporting.render import Figure, Gallery, Section, Table, Text, run_section
from wood.reporting.runs import Run, pick_eval

NO_RUNS = "No anomaly run found (runs of `wood finetune anomaly`)."
INTRO = (
    "PatchCore and PaDiM learn only from good train images; no defect is labelled. Image AUROC ranks "
    "images by their anomaly map's maximum; pixel AUROC and AUPRO (per-region overlap up to FPR 0.3, "
    "normalised) score the maps against the true masks; recall and false alarms are at a threshold "
    "chosen on val (from `wood eval anomaly`)."
)
"""The section's first paragraph: what its numbers are and where they come from."""


def approach(run: Run) -> str:
    m = run.metrics or {}
    weights = "" if m.get("pretrained", True) else " (random init)"
    return f"{m.get('method', '?')} {m.get('backbone', '?')}{weights}, good images only"


def headline(run: Run) -> tuple[str, str, str]:
    """(metric, value, split) for the overview: image AUROC of the headline evaluation."""
    ev = pick_eval(run)
    if ev is None:
        return "image AUROC", "not evaluated", DASH
    return "image AUROC", num((ev.get("overall") or {}).get("image_auroc")), str(ev.get("split"))


def scale_cells(run: Run, kind: str) -> list[str]:
    """[image AUROC, pixel AUROC] of the run's headline evaluation: one anomaly scale for every approach.

    Anomaly runs: their own evaluation. YOLO, SAM and classification runs: the ``anomaly_scale`` their
    eval writes (highest detection confidence, mask or box score maps, 1 - p(good)). SAM prefers the
    evaluation with a detector's boxes; with GT boxes only, its image AUROC is an upper bound (only
    defective images get prompts), and the cell says so.
    """
    if kind == "anomaly":
        ev = pick_eval(run)
        scale = (ev or {}).get("overall") or {}
    elif kind == "sam":
        ev = pick_eval(run, "detector") or pick_eval(run, "gt")
        scale = (ev or {}).get("anomaly_scale") or {}
    else:
        ev = pick_eval(run)
        scale = (ev or {}).get("anomaly_scale") or {}
    image, pixel = num(scale.get("image_auroc")), num(scale.get("pixel_auroc"))
    if kind == "sam" and ev is not None and ev.get("boxes", "gt") == "gt" and scale.get("image_auroc") is not None:
        image += " (GT boxes: upper bound)"
    return [image, pixel]


def _memory(m: dict[str, Any]) -> str:
    if m.get("method") == "patchcore":
        return f"bank {m.get('bank', '?')} patches ({m.get('bank_mb', '?')} MB)"
    return f"{m.get('gaussians', '?')} Gaussians x {m.get('dims', '?')} dims ({m.get('gaussians_mb', '?')} MB)"


def _threshold(ev: dict[str, Any]) -> str:
    t = ev.get("threshold")
    if not t:
        return "none (--no-threshold)"
    return f"{num(t.get('value'))} (val false alarms <= {pct(t.get('max_false_alarm'))})"


def _figures(run: Run, ev: dict[str, Any]) -> list[Figure]:
    folder = ev["_file"].parent / "overlays"
    names = ev.get("overlays") or []
    picks = [n for tag in ("best_", "worst_", "false_alarm_") for n in names if n.startswith(tag)][:6]
    figures = []
    for name in picks:
        png = thumbnail(folder / name)
        if png is not None:
            tag, score = name.split("_", 1) if not name.startswith("false_alarm_") else ("false alarm", name[12:])
            score, image = score.split("_", 1)
            figures.append(Figure(f"anomaly_{run.name}_{Path(name).stem}", png, f"{tag}: {image} (score {score})"))
    return figures


def _type_cell(b: dict[str, Any] | None) -> str:
    b = b or {}
    return f"{num(b.get('image_auroc'))} / {num(b.get('pixel_auroc'))} / {pct(b.get('recall'))}"


def anomaly_section(runs: list[Run]) -> Section:
    section = run_section("Anomaly detection (good images only)", bool(runs), NO_RUNS, INTRO)
    if not runs:
        return section
    rows, type_rows, galleries, warnings = [], [], [], []
    types: list[str] = []
    for run in runs:
        m = run.metrics or {}
        ev = pick_eval(run)
        o = (ev or {}).get("overall") or {}
        cells = [run_ref(run), approach(run), str(m.get("train_images", DASH)), _memory(m)]
        if ev is None:
            cells += [DASH] * 7
            warnings.append(f"{run.name} has no anomaly_metrics.json: run `wood eval anomaly --run {run.path}`.")
        else:
            cells += [str(ev.get("split")), num(o.get("image_auroc")), num(o.get("pixel_auroc")), num(o.get("aupro"))]
            cells += [num(o.get("pixel_f1_max")), pct(o.get("recall")), pct(o.get("false_alarm"))]
            per = ev.get("per_defect") or {}
            types += [t for t in per if t not in types]
            type_rows.append((run, ev, per))
            figures = _figures(run, ev)
            if figures:
                galleries.append(
                    Gallery(
                        figures,
                        f"{run.name}, {ev.get('split')}: heat maps of the best and worst defective images and the "
                        f"good images scored highest (green: true defect outline); threshold {_threshold(ev)}",
                        width=220,
                    )
                )
        rows.append(cells + cost(run))
    head = ["run", "approach", "good train images", "model size", "split", "image AUROC", "pixel AUROC", "AUPRO@0.3"]
    head += ["pixel F1-max", "recall", "false alarms"]
    section.blocks.append(Table(head + COST_COLUMNS, rows, caption="Anomaly runs"))
    if type_rows:
        table = breakdown_rows(type_rows, types, _type_cell)
        section.blocks.append(
            Table(["run", "split"] + types, table, caption="Per defect type: image AUROC / pixel AUROC / recall")
        )
    for warning in warnings:
        section.blocks.append(Text(warning, "warn"))
    section.blocks += galleries
    return section
