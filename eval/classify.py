"""Classification metrics: accuracy, per-class accuracy (recall), confusion matrix and its PNG.

The pure functions take label arrays; :func:`evaluate_run` is the glue behind `wood eval classify`
(it reloads a run folder of `wood finetune classify` and predicts one split).
Confusion matrices are indexed ``cm[true, predicted]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError, MisMatchError


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
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color="white" if shade[i, j] > 0.5 else "black")
        acc = accuracy(cm)
        ax.set_title(f"{title}  acc {acc:.1%}".strip() if acc is not None else title)
        fig.tight_layout()
        fig.savefig(str(path))
    finally:
        plt.close(fig)
    return Path(path)


def evaluate_run(run_dir: str | Path, split: str = "test", data: str | Path | None = None, device: str = "auto") -> dict[str, Any]:
    """Predict ``split`` with the weights of a classify run; write eval_<split>.json and confusion_<split>.png.

    ``data`` defaults to the prepared dataset recorded in the run's config.yaml.
    """
    from wood.config import read_yaml
    from wood.finetune.classify.data import list_split, load_split
    from wood.finetune.classify.train import load_run_model, predict, resolve_device

    run = Path(run_dir)
    weights = run / "weights.pt"
    if not weights.is_file():
        raise DataError("not a classify run folder (no weights.pt); pass the folder `wood finetune classify` wrote", run)
    cfg = read_yaml(run / "config.yaml")
    data_dir = Path(data) if data is not None else Path(cfg.get("data", ""))
    dev = resolve_device(device)
    model, meta = load_run_model(weights, dev)
    classes = meta["classes"]
    items = list_split(data_dir / "classify", split, classes)
    if not items:
        raise DataError(f"the {split} split has no images", data_dir / "classify" / split)
    names = {p.parent.name for p, _ in items}
    if not names <= set(classes):
        raise MisMatchError(f"classes {sorted(names - set(classes))} were not in the run's classes {classes}", data_dir)
    loaded = load_split(items, meta["imgsz"], f"loading {split}")
    preds = predict(model, loaded.images, dev)
    result = split_metrics(loaded.labels.numpy(), preds, classes)
    result.update({"split": split, "data": str(data_dir), "run": str(run), "classes": classes})
    (run / f"eval_{split}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    save_confusion_png(np.array(result["confusion"]), classes, run / f"confusion_{split}.png", f"{run.name} {split}")
    return result
