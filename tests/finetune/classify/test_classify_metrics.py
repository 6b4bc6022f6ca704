"""Classification metrics on tiny hand-built label arrays with exact expected values."""

from __future__ import annotations

import numpy as np
import pytest

from wood.finetune.classify.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    per_class_accuracy,
    save_confusion_png,
    split_metrics,
)


def test_confusion_matrix_rows_are_true_columns_predicted():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert accuracy(cm) == pytest.approx(4 / 6)
    assert per_class_accuracy(cm, ["a", "b", "c"]) == pytest.approx({"a": 0.5, "b": 1.0, "c": 2 / 3})
    assert balanced_accuracy(cm) == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)


def test_class_without_images_is_none_not_zero():
    cm = confusion_matrix([0, 0], [0, 1], 3)
    assert per_class_accuracy(cm, ["a", "b", "c"])["c"] is None
    assert per_class_accuracy(cm, ["a", "b", "c"])["b"] is None
    assert balanced_accuracy(cm) == pytest.approx(0.5)  # mean over the classes with images (a only)
    assert accuracy(confusion_matrix([], [], 3)) is None


def test_bad_labels_raise_with_values():
    with pytest.raises(ValueError, match=r"\[3\]"):
        confusion_matrix([0, 3], [0, 0], 3)
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0], 3)


def test_split_metrics_and_png(tmp_path):
    m = split_metrics(np.array([1, 1, 0]), np.array([1, 0, 0]), ["good", "hole"])
    assert m["n"] == 3 and m["acc"] == pytest.approx(2 / 3) and m["confusion"] == [[1, 0], [1, 1]]
    png = save_confusion_png(np.array(m["confusion"]), ["good", "hole"], tmp_path / "cm.png", "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
