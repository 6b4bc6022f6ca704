"""Report figures as PNG bytes (matplotlib Agg; no display, no files): class counts, training curves,
thumbnails. Every function returns None when there is nothing to draw."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from wood.plotting import pyplot, save_figure

SPLIT_COLOURS = {"train": "#4363d8", "val": "#f58231", "test": "#3cb44b"}
THUMB_SIDE = 360
"""Longest side (px) of embedded image thumbnails: keeps the HTML small and the gallery readable."""


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    save_figure(fig, buf)
    return buf.getvalue()


def class_count_chart(stats: dict[str, Any]) -> bytes | None:
    """Grouped horizontal bars from a prep stats.json: images per type and instances per class, per split.

    The count axis is logarithmic when the largest count is over 20x the smallest non-zero one, so
    the rare classes of the long tail stay visible next to hundreds of good images.
    """
    splits = [s for s in ("train", "val", "test") if s in stats.get("splits", {})]
    if not splits:
        return None
    panels = [
        (
            "images per type",
            stats.get("image_types")
            or sorted({t for s in splits for t in stats["splits"][s].get("images_per_type", {})}),
            "images_per_type",
        ),
        ("instances per class", stats.get("classes") or [], "instances_per_class"),
    ]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    plt = pyplot()
    rows = max(len(p[1]) for p in panels)
    size = (5.6 * len(panels), 1.0 + 0.42 * rows * len(splits) / 2 + 0.6)
    fig, axes = plt.subplots(1, len(panels), figsize=size, dpi=100, squeeze=False)
    height = 0.8 / len(splits)
    for ax, (title, labels, key) in zip(axes[0], panels, strict=True):
        counts = np.array(
            [[stats["splits"][s].get(key, {}).get(lab, 0) for lab in labels] for s in splits], dtype=float
        )
        nonzero = counts[counts > 0]
        log = nonzero.size > 0 and counts.max() > 20 * nonzero.min()
        y = np.arange(len(labels))
        for k, split in enumerate(splits):
            pos = y - 0.4 + height * (k + 0.5)
            ax.barh(pos, counts[k], height=height * 0.92, color=SPLIT_COLOURS.get(split), label=split)
            for p, c in zip(pos, counts[k], strict=True):
                ax.text(c if c > 0 else (0.8 if log else 0), p, f" {int(c)}", va="center", fontsize=8)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
            ax.set_xlim(0.8, counts.max() * 3)
        else:
            ax.set_xlim(0, max(1.0, counts.max()) * 1.15)
        ax.set_title(title + (" (log scale)" if log else ""), fontsize=11)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _epoch_axis(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def read_results_csv(path: Path) -> dict[str, list[float]]:
    """Ultralytics results.csv as {column: values}; column names stripped (older versions pad them)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key is None:
                continue
            try:
                out.setdefault(key.strip(), []).append(float(value))
            except (TypeError, ValueError):
                out.setdefault(key.strip(), []).append(float("nan"))
    return out


def _sum_columns(table: dict[str, list[float]], prefix: str) -> list[float] | None:
    cols = [v for k, v in table.items() if k.startswith(prefix) and k.endswith("_loss")]
    return [float(sum(x)) for x in zip(*cols, strict=True)] if cols else None


def yolo_training_curves(runs: list[tuple[str, dict[str, list[float]]]]) -> bytes | None:
    """Train loss, val loss (sums of box/cls/dfl[/seg]) and val mAP50 per epoch; one line per run."""
    runs = [(label, t) for label, t in runs if t.get("epoch")]
    if not runs:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=100)
    titles = ("train loss (box + cls + dfl)", "val loss (box + cls + dfl)", "val mAP50 (Ultralytics)")
    for label, table in runs:
        epochs = table["epoch"]
        series = [
            _sum_columns(table, "train/"),
            _sum_columns(table, "val/"),
            table.get("metrics/mAP50(B)") or table.get("metrics/mAP50(M)"),
        ]
        for ax, values in zip(axes, series, strict=True):
            if values:
                marker = "o" if len(epochs) < 12 else None
                ax.plot(epochs, values, marker=marker, markersize=3, linewidth=1.4, label=label)
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10)
        _epoch_axis(ax)
    axes[2].set_ylim(0, 1)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def sam_training_curves(runs: list[tuple[str, list[dict[str, Any]]]]) -> bytes | None:
    """SAM train loss and val instance IoU per epoch (metrics.json history); one line per run."""
    runs = [(label, h) for label, h in runs if h]
    if not runs:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for label, history in runs:
        epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
        kw = dict(marker="o" if len(epochs) < 12 else None, markersize=3, linewidth=1.4, label=label)
        axes[0].plot(epochs, [h.get("loss", np.nan) for h in history], **kw)
        if any("val_instance_iou" in h for h in history):
            axes[1].plot(epochs, [h.get("val_instance_iou", np.nan) for h in history], **kw)
    axes[0].set_title("train loss (focal + dice + IoU)", fontsize=10)
    axes[1].set_title("val instance IoU (GT boxes)", fontsize=10)
    axes[1].set_ylim(0, 1)
    for ax in axes:
        _epoch_axis(ax)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def confusion_png(matrix: list[list[int]], classes: list[str], title: str) -> bytes:
    """A confusion matrix drawn by the classification eval's own plot (rows true, columns predicted)."""
    import tempfile

    from wood.finetune.classify.metrics import save_confusion_png

    with tempfile.TemporaryDirectory() as tmp:
        path = save_confusion_png(np.asarray(matrix), classes, Path(tmp) / "cm.png", title)
        return path.read_bytes()


def encode_png(rgb: np.ndarray, max_side: int | None = THUMB_SIDE) -> bytes:
    """PNG bytes of an RGB uint8 image, shrunk (area interpolation) so its longest side <= ``max_side``."""
    import cv2

    h, w = rgb.shape[:2]
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cv2.imencode could not encode the image as PNG")
    return buf.tobytes()


def thumbnail(path: Path, max_side: int | None = THUMB_SIDE) -> bytes | None:
    """A PNG file shrunk to ``max_side`` (None if it cannot be read); small files are passed as they are."""
    from wood.errors import WoodError
    from wood.imageio import read_image_rgb

    try:
        rgb = read_image_rgb(path)
    except (WoodError, OSError, ValueError):
        return None
    if max_side is None or max(rgb.shape[:2]) <= max_side:
        return Path(path).read_bytes()
    return encode_png(rgb, max_side)
