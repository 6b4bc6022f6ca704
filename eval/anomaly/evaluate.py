"""`wood eval anomaly`: score an anomaly run (PatchCore / PaDiM) on a split of its prepared dataset.

An image is good or defective by its manifest entry (its MVTec defect type); its ground truth is the union
of its instance masks in the prepared coco/<split>.json (components ``wood prep --min-area`` dropped are
absent). Maps are upsampled bilinearly to each image's original size and every metric is computed there.

Metrics (wood.eval.anomaly.metrics), overall and per defect type (that type's images against every good
image of the split):
- image AUROC (score: the map's maximum), pixel AUROC, AUPRO to FPR 0.3 (normalised), pixel F1-max;
- image recall and false-alarm rate at a threshold chosen on **val**: the lowest that flags at most
  ``--max-false-alarm`` of val's good images (image flagged when its score is above it). Choosing it needs
  val to hold good AND defective images (otherwise nothing says the threshold separates anything, and
  val recall could not be reported): without a defective val image the command stops with one line;
  ``--no-threshold`` skips the threshold and reports the threshold-free metrics only.

Files in ``--out`` (default ``<run>/eval-<split>``, recorded as the run's own): anomaly_metrics.json
(metrics, the threshold, one row per image) and overlays/ (wood.eval.anomaly.overlays): the
``--overlays`` highest-scored defective images (best_*), lowest-scored defective images (worst_*) and
highest-scored good images (false_alarm_*).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import ConfigError, DataError
from wood.eval.anomaly import metrics as M
from wood.prep.dataset import manifest_path

OUTPUT_KIND = "eval-anomaly"  # the marker kind of an evaluation folder (inside a run, or a user's --out)

SPLITS = ("train", "val", "test")


def check_options(split: str, max_false_alarm: float, overlays: int) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, but got {split!r}")
    if not 0.0 <= max_false_alarm < 1.0:
        raise ConfigError(f"max-false-alarm must be in [0, 1), but got {max_false_alarm}")
    if overlays < 0:
        raise ConfigError(f"overlays must be >= 0, but got {overlays}")


def split_truth(data: Path, split: str) -> list[dict[str, Any]]:
    """One dict per image of ``split``: name, path, defect type, anomalous, GT mask (H, W) bool."""
    from wood.finetune.anomaly.data import split_images
    from wood.finetune.sam.data import load_split
    from wood.prep.tiling.full_images import require_full_images

    require_full_images(data, f"wood eval anomaly (scores whole images) on split {split!r}", split)
    images = split_images(data, split)
    coco = {im.file_name: im for im in load_split(data, split)[0]}
    rows = []
    for path, entry in images:
        im = coco.get(path.name)
        h, w = (im.height, im.width) if im is not None else (int(entry["height"]), int(entry["width"]))
        mask = np.zeros((h, w), bool)
        for inst in im.instances if im is not None else []:
            mask |= inst.mask
        defect = str(entry.get("defect", "good"))
        rows.append({"name": path.name, "path": path, "defect": defect, "anomalous": defect != "good", "mask": mask})
    return rows


def score_rows(model, rows: list[dict[str, Any]], batch: int, description: str) -> None:
    """Adds ``score`` and ``map`` (at the image's original size) to every row."""
    import cv2

    from wood.console import track

    predictions = model.predict([r["path"] for r in rows], batch=batch)
    for row, (_, amap, score) in zip(rows, track(predictions, description, total=len(rows)), strict=True):
        h, w = row["mask"].shape
        row["map"] = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR) if amap.shape != (h, w) else amap
        row["score"] = score


def val_threshold(model, data: Path, max_false_alarm: float, batch: int) -> dict[str, Any]:
    """The threshold chosen on val (see the module docstring) and val's rates at it."""
    rows = split_truth(data, "val")
    bad = sum(r["anomalous"] for r in rows)
    good = len(rows) - bad
    where = manifest_path(data)
    if bad == 0 or good == 0:
        missing = "defective" if bad == 0 else "good"
        raise DataError(
            f"the val split has no {missing} image ({len(rows)} images), so no threshold can be chosen on it; "
            "re-run `wood prep` with a larger --val-fraction, or pass --no-threshold",
            where,
        )
    score_rows(model, rows, batch, "val")
    scores = np.array([r["score"] for r in rows])
    labels = np.array([r["anomalous"] for r in rows])
    threshold = M.false_alarm_threshold(scores[~labels], max_false_alarm)
    return {"value": threshold, "max_false_alarm": max_false_alarm, "val": M.rates_at(labels, scores, threshold)}


def block(rows: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    """The metrics of ``rows`` (None where a metric has no defined value, e.g. no GT pixel)."""
    labels = np.array([r["anomalous"] for r in rows])
    scores = np.array([r["score"] for r in rows])
    out: dict[str, Any] = {"images": len(rows), "anomalous": int(labels.sum()), "good": int((~labels).sum())}
    out["image_auroc"] = _or_none(lambda: M.auroc(labels, scores, "image AUROC"))
    masks = [r["mask"] for r in rows]
    maps = [r["map"] for r in rows]
    flat_masks = np.concatenate([m.ravel() for m in masks])
    flat_maps = np.concatenate([m.ravel() for m in maps])
    out["pixel_auroc"] = _or_none(lambda: M.auroc(flat_masks, flat_maps, "pixel AUROC"))
    out["aupro"] = _or_none(lambda: M.aupro(masks, maps))
    out["pixel_f1_max"] = _or_none(lambda: M.f1_max(flat_masks, flat_maps, "pixel F1-max")[0])
    if threshold is not None:
        out.update({k: v for k, v in M.rates_at(labels, scores, threshold).items() if k in ("recall", "false_alarm")})
    return out


def _or_none(compute) -> float | None:
    try:
        return round(float(compute()), 6)
    except M.DegenerateMetricError:
        return None


def summarise(rows: list[dict[str, Any]], threshold: dict[str, Any] | None) -> dict[str, Any]:
    value = None if threshold is None else threshold["value"]
    labels = np.array([r["anomalous"] for r in rows])
    if labels.all() or not labels.any():
        which = "good" if labels.all() else "defective"
        raise DataError(f"the split has no {which} image: image AUROC needs both; evaluate another --split")
    summary: dict[str, Any] = {"overall": block(rows, value), "per_defect": {}}
    good = [r for r in rows if not r["anomalous"]]
    for defect in sorted({r["defect"] for r in rows if r["anomalous"]}):
        summary["per_defect"][defect] = block([r for r in rows if r["defect"] == defect] + good, value)
    summary["threshold"] = threshold
    summary["images"] = [
        {"name": r["name"], "defect": r["defect"], "score": round(r["score"], 6)}
        | ({} if value is None else {"flagged": bool(r["score"] > value)})
        for r in rows
    ]
    return summary


def write_overlays(rows: list[dict[str, Any]], folder: Path, count: int) -> list[str]:
    """best_* / worst_* (defective, highest / lowest score) and false_alarm_* (good, highest score) PNGs."""
    from wood.eval.anomaly.overlays import write_overlay
    from wood.imageio import read_image_rgb

    if count == 0:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    lo = float(min(r["map"].min() for r in rows))
    hi = float(max(r["score"] for r in rows))
    bad = sorted((r for r in rows if r["anomalous"]), key=lambda r: r["score"], reverse=True)
    good = sorted((r for r in rows if not r["anomalous"]), key=lambda r: r["score"], reverse=True)
    picks = [("best", r) for r in bad[:count]] + [("worst", r) for r in bad[::-1][:count] if r not in bad[:count]]
    picks += [("false_alarm", r) for r in good[:count]]
    written = []
    for tag, r in picks:
        path = folder / f"{tag}_{r['score']:.3f}_{Path(r['name']).stem}.png"
        write_overlay(path, read_image_rgb(r["path"]), r["map"], r["mask"], lo, hi)
        written.append(path.name)
    return written


def evaluate(
    run_dir: str | Path,
    split: str = "test",
    max_false_alarm: float = 0.05,
    threshold: bool = True,
    data: str | Path | None = None,
    out: str | Path | None = None,
    overlays: int = 3,
    device: str = "auto",
    batch: int = 8,
) -> dict[str, Any]:
    """Score the anomaly run ``run_dir`` on ``split`` (see the module docstring); returns what
    anomaly_metrics.json holds. Every check runs before the output folder is made."""
    import torch

    from wood.device import resolve_device
    from wood.eval.yolo_run import check_out_folder
    from wood.finetune.anomaly.run import load_model, read_run
    from wood.outdir import atomic_output, check_replaceable, relocated
    from wood.runs import claim_in_run

    check_options(split, max_false_alarm, overlays)
    run = read_run(run_dir)
    data = Path(data).expanduser().resolve() if data is not None else run.data
    if data is None:
        raise DataError("the run names no dataset; pass --data", run.path)
    out = (Path(out) if out is not None else run.path / f"eval-{split}").absolute()
    check_out_folder(out)
    check_replaceable(out, OUTPUT_KIND)  # a folder wood did not write is never replaced
    rows = split_truth(data, split)
    model = load_model(run, torch.device(resolve_device(device)))
    chosen = val_threshold(model, data, max_false_alarm, batch) if threshold else None
    score_rows(model, rows, batch, split)
    summary = summarise(rows, chosen)
    summary.update(
        {
            "run": str(run.path),
            "method": model.method,
            "backbone": model.backbone_name,
            "pretrained": (run.metrics or {}).get("pretrained"),
            "split": split,
            "data": str(data),
            "notes": [
                "image score: the anomaly map's maximum; maps upsampled to each image's original size",
                "per defect type: that type's images against every good image of the split",
                "AUPRO: per-region overlap integrated to FPR 0.3 over good pixels, divided by 0.3",
            ],
        }
    )
    claim_in_run(out, OUTPUT_KIND)  # only once every check has passed (recorded only inside a run folder)
    with atomic_output(out, OUTPUT_KIND) as tmp:  # the old output stays until the new one is whole
        summary["overlays"] = relocated(write_overlays(rows, tmp / "overlays", overlays), tmp, out)
        summary["files"] = {"json": str(out / "anomaly_metrics.json"), "overlays": str(out / "overlays")}
        (tmp / "anomaly_metrics.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_summary(s: dict[str, Any]) -> str:
    """A table for the console: one row per defect type and the overall row."""
    head = f"{'defect':<12} {'n':>4} {'img AUROC':>9} {'px AUROC':>9} {'AUPRO':>7} {'px F1max':>8} {'recall':>7}"
    lines = [head]
    for name, b in [*s["per_defect"].items(), ("all", s["overall"])]:
        lines.append(
            f"{name:<12} {b['anomalous']:>4} {_fmt(b['image_auroc']):>9} {_fmt(b['pixel_auroc']):>9} "
            f"{_fmt(b['aupro']):>7} {_fmt(b['pixel_f1_max']):>8} {_fmt(b.get('recall')):>7}"
        )
    t = s["threshold"]
    if t is None:
        lines.append("no threshold (--no-threshold): recall and false alarms not scored")
    else:
        lines.append(
            f"threshold {t['value']:.4f} (val: false alarms {_fmt(t['val']['false_alarm'])}, recall "
            f"{_fmt(t['val']['recall'])}); {s['split']}: false alarms {_fmt(s['overall']['false_alarm'])} of "
            f"{s['overall']['good']} good images"
        )
    return "\n".join(lines)
