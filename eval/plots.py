"""PNG plots for detection evaluation (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wood.plotting import pyplot, save_figure


def plot_pr_curves(curves: dict[str, list[float]], recall: list[float], path: Path, title: str) -> Path:
    """Precision-recall curve per class (COCO's interpolated precision at IoU 0.5) and their mean."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    for name, precision in curves.items():
        ap = float(np.mean(precision)) if precision else 0.0
        ax.plot(recall, precision, linewidth=1.2, label=f"{name} {ap:.3f}")
    if curves:
        mean = np.mean(np.array(list(curves.values())), axis=0)
        ax.plot(recall, mean, color="black", linewidth=2.5, label=f"all {float(mean.mean()):.3f} mAP50")
    else:
        ax.text(0.5, 0.5, "no ground truth in this split", ha="center", va="center")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def plot_confusion(matrix: np.ndarray, names: list[str], path: Path, title: str) -> Path:
    """Confusion matrix with counts; rows true class, columns predicted class, background last."""
    plt = pyplot()
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * n, 0.8 + 0.7 * n), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set(xlabel="Predicted", ylabel="True", title=title)
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            colour = "white" if matrix[i, j] > top / 2 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return path
