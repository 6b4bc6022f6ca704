"""The report's Segmentation section: every SAM run (adapter, trainable share, mIoU/Dice per class with
GT-box and detector-box prompts) and overlays of its best and worst images (from `wood eval segment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.reporting.format import COST_COLUMNS, DASH, breakdown_rows, cost, num, pct, run_ref
from wood.reporting.plots import sam_training_curves, thumbnail
from wood.reporting.render import Figure, Gallery, Section, Table, Text, run_section
from wood.reporting.runs import Run, pick_eval

PROMPTS = (("gt", "GT boxes"), ("detector", "detector boxes"))


NO_RUNS = "No SAM run found (runs of `wood finetune sam`)."
INTRO = (
    "mIoU / mDice: per-class IoU and Dice of the predicted vs true masks (pixels summed over the split), "
    "averaged over classes, from `wood eval segment`. GT boxes prompt SAM with the true boxes (an upper "
    "bound); detector boxes come from a YOLO run (the real detect-then-segment pipeline)."
)
"""The section's first paragraph: what its numbers are and where they come from."""


def is_zero_shot(run: Run) -> bool:
    """A `wood eval segment --model` folder: a pretrained SAM scored untrained."""
    return bool(run.config.get("zero_shot") or (run.metrics or {}).get("zero_shot"))


def approach(run: Run) -> str:
    if is_zero_shot(run):
        return f"SAM {run.config.get('model', '?')} zero-shot (no training)"
    return f"SAM {run.config.get('model', '?')} {run.config.get('adapter', '?')}"


def headline(run: Run) -> tuple[str, str, str]:
    """(metric, value, split) for the overview: mIoU with GT boxes, else with detector boxes."""
    for key, label in PROMPTS:
        ev = pick_eval(run, key)
        if ev is not None:
            return f"mIoU ({label})", num(ev.get("mIoU")), str(ev.get("split"))
    best = (run.metrics or {}).get("best") or {}
    if best.get("by") == "val_instance_iou":
        return "instance IoU (training val)", num(best.get("score")), "val"
    return "mIoU", "not evaluated", DASH


def _adapter_text(cfg: dict[str, Any]) -> str:
    if cfg.get("zero_shot"):
        return "zero-shot (no training)"
    mode = cfg.get("adapter", "?")
    if mode == "lora":
        return f"lora r={cfg.get('lora_r')}" + (" +decoder" if cfg.get("lora_decoder") else "")
    if mode == "adapter":
        return f"adapter dim={cfg.get('adapter_dim')} ({','.join(cfg.get('adapter_positions') or [])})"
    return str(mode)


def _prompt_source(ev: dict[str, Any]) -> str:
    if ev.get("boxes", "gt") == "gt":
        return "GT boxes"
    record = ev.get("slice")
    sliced = f", sliced {record.get('size')} px" if isinstance(record, dict) else ""
    return f"detector {Path(str(ev['boxes'])).name} @{ev.get('conf')}{sliced}"


def best_worst(ev: dict[str, Any]) -> tuple[list[Figure], str | None]:
    """Overlays of the best and worst defective image by per-image IoU, among those eval drew."""
    folder = ev["_file"].parent / "overlays"
    scored = [  # names are data: only a string's stem is joined to the overlays folder
        p
        for p in ev.get("per_image") or []
        if isinstance(p, dict) and isinstance(p.get("file_name"), str) and p.get("n_gt") and p.get("iou") is not None
    ]
    if not scored:
        return [], None
    drawn = [p for p in scored if (folder / f"{Path(p['file_name']).stem}.png").is_file()]
    if not drawn:
        return [], f"no overlay PNGs in {folder} (run `wood eval segment` with --overlays > 0)"
    ranked = sorted(drawn, key=lambda p: p["iou"])
    picks = [("best", ranked[-1]), ("worst", ranked[0])] if len(ranked) > 1 else [("only", ranked[0])]
    figures = []
    for tag, p in picks:
        png = thumbnail(folder / f"{Path(p['file_name']).stem}.png")
        if png is not None:
            figures.append(
                Figure(
                    f"sam_{tag}_{ev['_file'].parent.parent.name}_{ev['_file'].parent.name}_{Path(p['file_name']).stem}",
                    png,
                    f"{tag}: {p['file_name']} IoU {num(p['iou'])} Dice {num(p.get('dice'))}",
                )
            )
    note = None
    if len(drawn) < len(scored):
        note = f"chosen among the {len(drawn)} of {len(scored)} defective images that `wood eval segment` drew"
    return figures, note


def _iou_cell(c: dict[str, Any] | None) -> str:
    return DASH if not c or c.get("iou") is None else f"{num(c.get('iou'))} / {num(c.get('dice'))}"


def segmentation_section(runs: list[Run]) -> Section:
    section = run_section("Segmentation", bool(runs), NO_RUNS, INTRO)
    if not runs:
        return section
    rows, class_rows, galleries, warnings = [], [], [], []
    classes: list[str] = []
    for run in runs:
        p = (run.metrics or {}).get("params") or {}
        evs = {key: pick_eval(run, key) for key, _ in PROMPTS}
        cells = [
            run_ref(run),
            f"SAM {run.config.get('model', '?')}",
            _adapter_text(run.config),
            pct(p.get("trainable_fraction"), 3),
            pct(p.get("added_of_encoder"), 3),
        ]
        split = next((str(e.get("split")) for e in evs.values() if e), DASH)
        cells.append(split)
        for key, _ in PROMPTS:
            ev = evs[key]
            cells += [num(ev.get("mIoU")), num(ev.get("mDice"))] if ev else [DASH, DASH]
        gt = evs["gt"]
        cells.append(num((gt or {}).get("segm", {}).get("mAP50")) if gt else DASH)
        rows.append(cells + cost(run))
        if not any(evs.values()):
            warnings.append(
                f"{run.name} has no segment_metrics.json: run `wood eval segment --run {run.path}` "
                f"(and `--boxes <yolo run>` for detector prompts)."
            )
        for key, label in PROMPTS:
            ev = evs[key]
            if ev is None:
                continue
            per_class = ev.get("per_class") or {}
            classes += [c for c in per_class if c not in classes]
            class_rows.append((run, ev, per_class))
            figures, note = best_worst(ev)
            if figures:
                galleries.append(
                    Gallery(
                        figures,
                        f"{run.name}, {_prompt_source(ev)}, {ev.get('split')}: best and worst image "
                        "(green: true mask outline, red: predicted mask, yellow: prompt box)"
                        + (f"; {note}" if note else ""),
                        width=300,
                    )
                )
            elif note:
                warnings.append(f"{run.name} ({label}): {note}")
    section.blocks.append(
        Table(
            [
                "run",
                "model",
                "adapter",
                "trainable % of SAM",
                "added % of encoder",
                "split",
                "mIoU (GT boxes)",
                "mDice (GT boxes)",
                "mIoU (detector boxes)",
                "mDice (detector boxes)",
                "mask mAP50 (GT boxes)",
            ]
            + COST_COLUMNS,
            rows,
            caption="SAM runs",
        )
    )
    if class_rows:
        table_rows = breakdown_rows(class_rows, classes, _iou_cell, lambda ev: [_prompt_source(ev)])
        section.blocks.append(Table(["run", "prompts", "split"] + classes, table_rows, caption="Per-class IoU / Dice"))
    for warning in warnings:
        section.blocks.append(Text(warning, "warn"))
    section.blocks += galleries
    png = sam_training_curves([(run.name, (run.metrics or {}).get("history") or []) for run in runs])
    if png is not None:
        section.blocks.append(
            Figure("sam_training_curves", png, "SAM training curves (metrics.json history), one line per run")
        )
    return section
