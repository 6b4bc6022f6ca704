"""reporting/plots.py: report figures are PNG bytes of the expected size (decoded back with OpenCV), None
when there is nothing to draw; Ultralytics' results.csv is read with its padded column names stripped."""

from __future__ import annotations

import math

import cv2
import numpy as np

from wood.reporting.plots import (
    class_count_chart,
    encode_png,
    read_results_csv,
    thumbnail,
    yolo_training_curves,
)


def decode(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


STATS = {
    "image_types": ["good", "hole"],
    "classes": ["hole"],
    "splits": {
        "train": {"images_per_type": {"good": 4, "hole": 2}, "instances_per_class": {"hole": 3}},
        "test": {"images_per_type": {"good": 1, "hole": 1}, "instances_per_class": {"hole": 1}},
    },
}


def test_class_count_chart_is_a_png_of_two_panels():
    image = decode(class_count_chart(STATS))
    # figsize (5.6 * 2 panels, 1.0 + 0.42 * 2 rows * 2 splits / 2 + 0.6) inches at 100 dpi
    assert image.shape == (244, 1120, 3)
    assert class_count_chart({"splits": {}}) is None
    assert class_count_chart({"splits": {"train": {}}}) is None  # no types, no classes: nothing to draw


def test_read_results_csv_strips_padded_names_and_keeps_bad_cells_as_nan(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("  epoch,  train/box_loss,   metrics/mAP50(B)\n1,0.5,0.1\n2,0.25,x\n", encoding="utf-8")
    table = read_results_csv(path)
    assert list(table) == ["epoch", "train/box_loss", "metrics/mAP50(B)"]
    assert table["epoch"] == [1.0, 2.0] and table["train/box_loss"] == [0.5, 0.25]
    assert table["metrics/mAP50(B)"][0] == 0.1 and math.isnan(table["metrics/mAP50(B)"][1])


def test_yolo_training_curves_png_or_none():
    table = {
        "epoch": [1.0, 2.0],
        "train/box_loss": [1.0, 0.5],
        "val/box_loss": [1.2, 0.9],
        "metrics/mAP50(B)": [0, 0.2],
    }
    assert decode(yolo_training_curves([("run", table)])).ndim == 3
    assert yolo_training_curves([("empty", {"epoch": []})]) is None
    assert yolo_training_curves([]) is None


def test_encode_png_shrinks_the_longest_side_only():
    rgb = np.zeros((100, 720, 3), np.uint8)
    rgb[:, :360, 0] = 255  # left half red
    small = decode(encode_png(rgb))  # THUMB_SIDE 360
    assert small.shape == (50, 360, 3)
    assert tuple(small[25, 10]) == (0, 0, 255) and tuple(small[25, 350]) == (0, 0, 0)  # BGR
    assert decode(encode_png(rgb, None)).shape == (100, 720, 3)


def test_thumbnail_passes_small_files_through_and_none_for_unreadable(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((20, 30, 3), 9, np.uint8))
    assert thumbnail(path) == path.read_bytes()
    assert decode(thumbnail(path, 15)).shape == (10, 15, 3)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert thumbnail(tmp_path / "bad.png") is None
