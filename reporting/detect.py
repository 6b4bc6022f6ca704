"""The report's Detection section: every YOLO / YOLO-seg / YOLO-World run with its COCO mAP (the
reference, from `wood eval detect`), per-class AP, the inspection view, PR and training curves.

A run evaluated several times on its headline split (whole images and `--slice`, say) gets one row
per evaluation, side by side, with the image size, the tiling of its training data (manifest.json's
``tile``, written by `wood prep --tile`), the slicing and the inference time per image."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.dataset import PreparedDataset, manifest_path
from wood.reporting.format import COST_COLUMNS, DASH, breakdown_rows, cost, num, run_ref
from wood.reporting.plots import read_results_csv, thumbnail, yolo_training_curves
from wood.reporting.render import Figure, Gallery, Section, Table, Text, run_section
from wood.reporting.runs import Run, pick_eval

NO_RUNS = "No YOLO or YOLO-World run found (runs of `wood finetune yolo`)."
INTRO = (
    "mAP is COCO's (pycocotools, the reference) from `wood eval detect`; Ultralytics' own mAP on the same "
    "split is shown beside it (the two definitions differ). Image-level recall: defective images with at "
    "least one detection at the eval's confidence; false alarms: good images with one. A run evaluated "
    "with and without `--slice` has one row each; tile is the tiling of its training data (`wood prep "
    "--tile`), ms / image the median inference time of the eval."
)
"""The section's first paragraph: what its numbers are and where they come from."""


def approach(run: Run) -> str:
    """YOLO-World | YOLO-seg | YOLO, with the model name."""
    m = run.metrics or {}
    world = run.config.get("world", m.get("world"))
    task = run.config.get("task", m.get("task"))
    kind = "YOLO-World" if world else ("YOLO-seg" if task == "segment" else "YOLO")
    return f"{kind} {run.config.get('model', m.get('model', ''))}".strip()


def false_alarms(inspection: dict[str, Any]) -> str:
    """'0.200 (1/5)': the false-alarm rate on good images and the counts behind it."""
    rate, n = inspection.get("false_alarm_rate"), inspection.get("good_images")
    if rate is None or not n:
        return f"{DASH} (no good images)" if n == 0 else DASH
    return f"{num(rate)} ({round(rate * n)}/{n})"


def recall(inspection: dict[str, Any]) -> str:
    rate, n = inspection.get("defect_recall"), inspection.get("defective_images")
    if rate is None or not n:
        return DASH
    return f"{num(rate)} ({round(rate * n)}/{n})"


@functools.lru_cache(maxsize=64)
def _manifest_tile(prepared: Path, mtime_ns: int) -> tuple[bool, Any]:
    """(readable, the ``tile`` record) of a prepared folder's manifest.json (``mtime_ns`` keys the cache)."""
    try:
        dataset = PreparedDataset.read(prepared)
    except DataError:
        return False, None
    return (False, None) if dataset is None else (True, dataset.tile)


def tile_cell(run: Run) -> str:
    """'256 px, overlap 0.2' for a run trained on tiles (', + full images' when `--tile-keep-full` wrote the
    full images beside them), 'none' for full images, a dash when its training data (or its manifest.json) is gone."""
    if run.data is None:
        return DASH
    try:
        readable, tile = _manifest_tile(Path(run.data), manifest_path(run.data).stat().st_mtime_ns)
    except OSError:
        return DASH
    if not readable:
        return DASH
    if not tile:
        return "none"
    if isinstance(tile, dict) and tile.get("size") is not None:
        overlap = tile.get("overlap")
        cell = f"{tile['size']} px" + (f", overlap {overlap:g}" if isinstance(overlap, (int, float)) else "")
        return cell + (", + full images" if tile.get("keep_full") is True else "")
    return str(tile)[:40]


def slice_cell(ev: dict[str, Any]) -> str:
    """'256 px, overlap 0.2, + full, nms' (', drop cut' with --slice-drop-cut) for a sliced evaluation,
    'none' for whole images."""
    record = ev.get("slice")
    if not isinstance(record, dict):
        return "none"
    overlap = record.get("overlap")
    parts = [f"{record.get('size')} px"] + ([f"overlap {overlap:g}"] if isinstance(overlap, (int, float)) else [])
    parts += ["+ full"] if record.get("full_image_pass") else []
    return ", ".join(parts + [str(record.get("merge", "?"))] + (["drop cut"] if record.get("drop_cut") else []))


def side_by_side(run: Run, ev: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's evaluations on the split of ``ev`` (its headline): whole images first, then by slice size."""
    same = [e for e in run.evals if e.get("split") == ev.get("split")] or [ev]

    def key(e: dict[str, Any]) -> tuple[int, str]:
        record = e.get("slice") if isinstance(e.get("slice"), dict) else {}
        return int(record.get("size") or 0), str(e["_file"])

    return sorted(same, key=key)


def headline(run: Run) -> tuple[str, str, str]:
    """(metric name, value, split) for the overview table: COCO bbox mAP50 when evaluated."""
    ev = pick_eval(run)
    if ev is None:
        val = ((run.metrics or {}).get("val") or {}).get("mAP50")
        return "mAP50 (Ultralytics, training val)", num(val), "val"
    return "bbox mAP50 (COCO)", num(ev.get("coco", {}).get("bbox", {}).get("mAP50")), str(ev.get("split"))


def _ap_cell(c: dict[str, Any] | None) -> str:
    return DASH if c is None else f"{num(c.get('AP50'))} / {num(c.get('AP50-95'))} (n={c.get('instances', '?')})"


def detection_section(runs: list[Run]) -> Section:
    section = run_section("Detection", bool(runs), NO_RUNS, INTRO)
    if not runs:
        return section
    rows, class_rows, pr_figures, not_evaluated = [], [], [], []
    classes: list[str] = []
    for run in runs:
        ev = pick_eval(run)
        m = run.metrics or {}
        if ev is None:
            not_evaluated.append(run)
            val = m.get("val") or {}
            rows.append(
                [
                    run_ref(run),
                    approach(run),
                    str(run.config.get("imgsz", DASH)),
                    tile_cell(run),
                    DASH,
                    DASH,
                    str(m.get("epochs_run", DASH)),
                    "not evaluated",
                    DASH,
                    DASH,
                    DASH,
                    DASH,
                    num(val.get("mAP50")) + " (training val)",
                    DASH,
                    DASH,
                    DASH,
                ]
                + cost(run)
            )
            continue
        rows += [evaluated_row(run, e) for e in side_by_side(run, ev)]
        bbox = ev.get("coco", {}).get("bbox", {})
        per_class = bbox.get("per_class") or {}
        for name in per_class:
            if name not in classes:
                classes.append(name)
        class_rows.append((run, ev, per_class))
        pr = ev["_file"].parent / "pr_curve.png"
        png = thumbnail(pr, 420) if pr.is_file() else None
        if png is not None:
            pr_figures.append(
                Figure(f"pr_{len(pr_figures)}_{run.name}", png, f"{run.name}: PR at IoU 0.5, {ev.get('split')}")
            )
    section.blocks.append(
        Table(
            [
                "run",
                "approach",
                "imgsz",
                "tile (training data)",
                "slice (inference)",
                "ms / image",
                "epochs",
                "split",
                "mAP50 (COCO)",
                "mAP50-95 (COCO)",
                "APs (COCO)",
                "APm (COCO)",
                "mAP50 (Ultralytics)",
                "conf",
                "image recall",
                "good-image false alarms",
            ]
            + COST_COLUMNS,
            rows,
            caption="Detection runs",
        )
    )
    if class_rows:
        section.blocks.append(
            Table(
                ["run", "split"] + classes,
                breakdown_rows(class_rows, classes, _ap_cell),
                caption="Per-class AP (COCO): AP50 / AP50-95 (n = ground-truth instances)",
            )
        )
        segm = [(run, ev) for run, ev, _ in class_rows if "segm" in ev.get("coco", {})]
        if segm:
            section.blocks.append(
                Table(
                    ["run", "split", "mask mAP50 (COCO)", "mask mAP50-95 (COCO)"],
                    [
                        [
                            run_ref(run),
                            str(ev.get("split")),
                            num(ev["coco"]["segm"].get("mAP50")),
                            num(ev["coco"]["segm"].get("mAP50-95")),
                        ]
                        for run, ev in segm
                    ],
                    caption="YOLO-seg runs: mask AP",
                )
            )
    for run in not_evaluated:
        section.blocks.append(
            Text(
                f"{run.name} has no eval_detect.json: run `wood eval detect --run {run.path}` for COCO mAP, "
                "per-class AP and the inspection view.",
                "warn",
            )
        )
    for run in runs:
        for ev in pick_notes(run):
            section.blocks.append(Text(f"{run.name}: {ev}", "note"))
    if pr_figures:
        section.blocks.append(
            Gallery(
                pr_figures, "Precision-recall curves per class (COCO, IoU 0.5) from each run's evaluation.", width=380
            )
        )
    curves = []
    for run in runs:
        csv_path = run.path / "results.csv"
        if csv_path.is_file():
            try:
                curves.append((run.name, read_results_csv(csv_path)))
            except (OSError, UnicodeDecodeError, ValueError):
                section.blocks.append(Text(f"{run.name}: results.csv is not readable", "warn"))
    png = yolo_training_curves(curves)
    if png is not None:
        section.blocks.append(
            Figure("yolo_training_curves", png, "Training curves from Ultralytics' results.csv, one line per run")
        )
    elif runs:
        section.blocks.append(
            Text("No training curves: no run folder holds a readable Ultralytics results.csv.", "note")
        )
    return section


def evaluated_row(run: Run, ev: dict[str, Any]) -> list[Any]:
    """One row of the Detection runs table for one `wood eval detect` result of ``run``."""
    bbox = ev.get("coco", {}).get("bbox", {})
    ultra = (ev.get("ultralytics") or {}).get("bbox", {})
    ins = ev.get("inspection") or {}
    conf = ins.get("conf")
    return [
        run_ref(run),
        approach(run),
        str(ev.get("imgsz", run.config.get("imgsz", DASH))),
        tile_cell(run),
        slice_cell(ev),
        num(ev.get("inference_ms_per_image"), 1),
        str((run.metrics or {}).get("epochs_run", DASH)),
        f"{ev.get('split')} ({ev.get('images', '?')} img)",
        num(bbox.get("mAP50")),
        num(bbox.get("mAP50-95")),
        num(bbox.get("APs")),
        num(bbox.get("APm")),
        num(ultra.get("mAP50")),
        f"{conf:g}" if isinstance(conf, (int, float)) else DASH,
        recall(ins),
        false_alarms(ins),
    ] + cost(run)


def pick_notes(run: Run) -> list[str]:
    ev = pick_eval(run)
    return list(ev.get("notes") or []) if ev else []
