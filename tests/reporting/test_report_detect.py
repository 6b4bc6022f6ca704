"""reporting/detect.py: the inspection cells of the detection table (false alarms on good images, recall of
defective images) with the counts behind each rate."""

from __future__ import annotations

from wood.reporting.detect import false_alarms, recall
from wood.reporting.format import DASH


def test_false_alarms_cell():
    assert false_alarms({"false_alarm_rate": 0.2, "good_images": 5}) == "0.200 (1/5)"
    assert false_alarms({"false_alarm_rate": 0.0, "good_images": 3}) == "0.000 (0/3)"
    assert false_alarms({"false_alarm_rate": None, "good_images": 0}) == f"{DASH} (no good images)"
    assert false_alarms({}) == DASH


def test_recall_cell():
    assert recall({"defect_recall": 0.75, "defective_images": 8}) == "0.750 (6/8)"
    assert recall({"defect_recall": 1.0, "defective_images": 0}) == DASH
    assert recall({"defective_images": 4}) == DASH
