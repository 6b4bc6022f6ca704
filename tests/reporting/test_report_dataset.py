"""reporting/dataset.py: the report's counts table of a prepared dataset, from prep's own stats."""

from __future__ import annotations

from wood.prep.stats import compute_stats
from wood.reporting.dataset import counts_table


def rec(split, defect, areas):
    return {"split": split, "defect": defect, "instances": [{"class": defect, "area": a} for a in areas], "flags": []}


def test_counts_table_rows():
    records = [rec("train", "hole", [10, 60, 70]), rec("train", "good", []), rec("test", "hole", [5])]
    table = counts_table(compute_stats(records, ["hole"]))
    assert table.columns == ["type", "train", "val", "test", "instances < 50 px", "median area px"]
    assert table.rows == [
        ["good", "1", "0", "0", "–", "–"],
        ["hole", "1 (3)", "0 (0)", "1 (1)", "2", "35"],
        ["total", "2", "0", "1", "", ""],
    ]
