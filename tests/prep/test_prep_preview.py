"""Preview overlays: labels stay inside the image, and the picked images show every class first."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wood.prep.preview import label_origin, pick_preview_records


def _record(name: str, defect: str, classes: list[str]) -> dict:
    return {"name": name, "defect": defect, "instances": [{"class": c} for c in classes]}


def test_every_class_is_shown_first_when_n_allows():
    records = [
        _record("a.png", "color", ["color"]),
        _record("b.png", "combined", ["combined"]),
        _record("c.png", "hole", ["hole"]),
        _record("d.png", "liquid", ["liquid"]),
        _record("e.png", "mixed", ["liquid", "scratch"]),
        _record("f.png", "color", ["color"]),
        _record("g.png", "good", []),
    ]
    picked = pick_preview_records(records, 4)
    shown = {i["class"] for r in picked for i in r["instances"]}
    assert shown == {"color", "combined", "hole", "liquid", "scratch"}
    assert len(picked) == 4 and picked[0]["name"] == "e.png"


def test_one_class_per_image_covers_as_many_classes_as_n_then_round_robin():
    records = [_record(f"{t}_{i}.png", t, [t]) for t in ("a", "b", "c") for i in range(3)]
    assert [r["name"] for r in pick_preview_records(records, 2)] == ["a_0.png", "b_0.png"]
    names = [r["name"] for r in pick_preview_records(records, 5)]
    assert names == ["a_0.png", "b_0.png", "c_0.png", "a_1.png", "b_1.png"]
    assert len(pick_preview_records(records, 50)) == 9


@pytest.mark.parametrize(
    "box",
    [[0, 0, 10, 10], [90, 0, 100, 6], [95, 95, 100, 100], [0, 40, 100, 60], [-3, -3, 2, 2]],
)
def test_label_stays_inside_the_image(box: list[int]):
    scale, thickness = 0.35, 1
    (tw, th), base = cv2.getTextSize("scratch 1234px", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness + 2)
    x, y = label_origin(box, (tw, th, base), (100, 100))
    assert 0 <= x and x + tw <= 100 and y - th >= 0 and y + base <= 100
    canvas = np.zeros((100 + 2 * 40, 100 + 2 * 80), np.uint8)  # the same text on a padded canvas
    cv2.putText(canvas, "scratch 1234px", (x + 80, y + 40), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness + 2)
    inside = canvas[40:140, 80:180].sum()
    assert inside == canvas.sum()  # no ink outside the image
