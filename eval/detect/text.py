"""eval detect's result as text: eval_detect.md and the console summary (pure: dict in, str out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:+.4f}" if value < 0 else f"{value:.4f}"
    return str(value)


def slice_text(record: dict[str, Any] | None) -> str:
    """'256 px, overlap 0.2, + full image, nms' (', cut boxes dropped' with --slice-drop-cut) for a
    slice record; 'none' without."""
    if not record:
        return "none"
    full = ", + full image" if record.get("full_image_pass") else ""
    cut = ", cut boxes dropped" if record.get("drop_cut") else ""
    return f"{record.get('size')} px, overlap {record.get('overlap')}{full}, {record.get('merge')}{cut}"


def inference_line(result: dict[str, Any]) -> str:
    """'sliced (256 px, ...), 41.2 ms per image (median)' or 'whole images, ...'."""
    record = result.get("slice")
    how = f"sliced ({slice_text(record)})" if record else "whole images"
    ms = result.get("inference_ms_per_image")
    return f"{how}, {'n/a' if ms is None else f'{ms:.1f}'} ms per image (median)"


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: COCO vs Ultralytics, per-class AP, inspection view."""
    lines = [
        f"# Detection eval: {result['split']} ({result['images']} images, {result['instances']} instances)",
        "",
        f"Weights `{result['weights']}`, imgsz {result['imgsz']}, task {result['task']}.",
        "",
        f"Inference: {inference_line(result)}.",
        "",
        "| metric | COCO (pycocotools, reference) | Ultralytics | COCO - Ultralytics |",
        "|---|---|---|---|",
    ]
    for name, row in result["comparison"].items():
        lines.append(f"| {name} | {_fmt(row['coco'])} | {_fmt(row['ultralytics'])} | {_fmt(row['difference'])} |")
    lines += [
        "",
        "AP by object size (COCO AP@[.50:.95]; small < 32x32 px, medium up to 96x96 px):",
        "",
        "| kind | mAP50 | mAP50-95 | APs | APm |",
        "|---|---|---|---|---|",
    ]
    for kind, res in result["coco"].items():
        cells = [_fmt(res.get(key)) for key in ("mAP50", "mAP50-95", "APs", "APm")]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    for kind, res in result["coco"].items():
        lines += [
            "",
            f"## Per-class AP ({kind}, COCO)",
            "",
            "| class | instances | AP50 | AP50-95 |",
            "|---|---|---|---|",
        ]
        for cls, row in res["per_class"].items():
            lines.append(f"| {cls} | {row['instances']} | {_fmt(row['AP50'])} | {_fmt(row['AP50-95'])} |")
    ins = result["inspection"]
    lines += [
        "",
        f"## Inspection view (an image is flagged with >= 1 detection at conf >= {ins['conf']})",
        "",
        "| defective images | defect recall | good images | false-alarm rate |",
        "|---|---|---|---|",
        (
            f"| {ins['defective_images']} | {_fmt(ins['defect_recall'])} | {ins['good_images']} "
            f"| {_fmt(ins['false_alarm_rate'])} |"
        ),
    ]
    if ins["defect_recall_by_type"]:
        lines += ["", "| defect type | recall |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in ins["defect_recall_by_type"].items()]
    if result["notes"]:
        lines += ["", "Notes:"] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def format_summary(result: dict[str, Any]) -> str:
    """A few console lines: COCO mAP, Ultralytics mAP, inspection numbers, where the files are."""
    parts = [
        f"{k}: COCO {_fmt(v['coco'])}  Ultralytics {_fmt(v['ultralytics'])}  diff {_fmt(v['difference'])}"
        for k, v in result["comparison"].items()
    ]
    parts += [f"{k} APs {_fmt(v.get('APs'))}  APm {_fmt(v.get('APm'))} (COCO)" for k, v in result["coco"].items()]
    parts.append(f"inference: {inference_line(result)}")
    ins = result["inspection"]
    parts.append(
        f"defect recall {_fmt(ins['defect_recall'])}, false-alarm rate {_fmt(ins['false_alarm_rate'])} "
        f"(conf {ins['conf']})"
    )
    parts += [f"note: {n}" for n in result["notes"]]
    parts.append(f"written: {Path(result['files']['json']).parent}")
    return "\n".join(parts)
