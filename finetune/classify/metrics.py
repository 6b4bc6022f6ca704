"""Classification metrics: accuracy, per-class accuracy (recall), confusion matrix and its PNG.

Pure functions over label arrays. They live beside the trainer, which writes them into every
run's metrics.json; `wood eval classify` (eval/classify.py) reuses them on a reloaded run.
Confusion matrices are indexed ``cm[true, predicted]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = true class, columns = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, but got {t.shape[0]} and {p.shape[0]}")
    both = np.concatenate([t, p])
    bad = both[(both < 0) | (both >= num_classes)]
    if bad.size:
        raise ValueError(f"labels must lie in [0, {num_classes}), but got {sorted(set(bad.tolist()))}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(cm: np.ndarray) -> float | None:
    """Fraction of correct predictions; None when the matrix is empty (no images)."""
    total = int(cm.sum())
    return None if total == 0 else float(np.trace(cm)) / total


def per_class_accuracy(cm: np.ndarray, classes: list[str]) -> dict[str, float | None]:
    """Recall of each class (correct / images of that class); None for a class with no images."""
    rows = cm.sum(axis=1)
    return {c: (None if rows[i] == 0 else float(cm[i, i]) / int(rows[i])) for i, c in enumerate(classes)}


def balanced_accuracy(cm: np.ndarray) -> float | None:
    """Mean per-class recall over the classes that have images (None when there are none)."""
    rows = cm.sum(axis=1)
    present = rows > 0
    return None if not present.any() else float(np.mean(np.diag(cm)[present] / rows[present]))


def split_metrics(y_true, y_pred, classes: list[str]) -> dict[str, Any]:
    """The metrics.json block of one split: n, acc, balanced_acc, per_class, confusion (cm[true][pred])."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    return {
        "n": int(cm.sum()),
        "acc": accuracy(cm),
        "balanced_acc": balanced_accuracy(cm),
        "per_class": per_class_accuracy(cm, classes),
        "confusion": cm.tolist(),
    }


def save_confusion_png(cm: np.ndarray, classes: list[str], path: str | Path, title: str = "") -> Path:
    """Draw the confusion matrix (counts, row-normalised colour) to a PNG; returns the path."""
    from wood.plotting import pyplot

    plt = pyplot()
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    shade = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = 1.2 + 0.6 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.5, size + 0.8), dpi=100)
    try:
        ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                colour = "white" if shade[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=colour)
        acc = accuracy(cm)
        ax.set_title(f"{title}  acc {acc:.1%}".strip() if acc is not None else title)
        fig.tight_layout()
        fig.savefig(str(path))
    finally:
        plt.close(fig)
    return Path(path)
