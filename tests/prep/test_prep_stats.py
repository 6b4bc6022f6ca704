"""prep/stats.py: stats.json's counts per split and class and the instance-size histogram, on hand-made records."""

from __future__ import annotations

from rich.console import Console

from wood.prep.stats import compute_stats, stats_table


def rec(split: str, defect: str, areas: list[int], flags: list[str] | None = None) -> dict:
    return {
        "split": split,
        "defect": defect,
        "instances": [{"class": defect, "area": a} for a in areas],
        "flags": flags or [],
    }


RECORDS = [
    rec("train", "hole", [10, 49]),
    rec("train", "good", []),
    rec("val", "hole", [50]),
    rec("test", "scratch", [300, 70000], ["non_binary_mask"]),
    rec("test", "good", [], ["duplicate_of:x.png", "non_binary_mask"]),
]


def test_counts_per_split_and_class():
    stats = compute_stats(RECORDS, ["hole", "scratch"])
    assert stats["images"] == 5 and stats["image_types"] == ["good", "hole", "scratch"]
    assert stats["splits"]["train"] == {
        "images": 2,
        "images_per_type": {"good": 1, "hole": 1},
        "instances_per_class": {"hole": 2, "scratch": 0},
    }
    assert stats["splits"]["test"]["instances_per_class"] == {"hole": 0, "scratch": 2}
    assert stats["flags"] == {"duplicate_of:x.png": 1, "non_binary_mask": 2}


def test_instance_sizes_and_histogram_bins():
    sizes = compute_stats(RECORDS, ["hole", "scratch", "knot"])["instance_area_px"]
    assert {k: sizes["hole"][k] for k in ("count", "tiny_lt_50px", "min", "median", "max")} == {
        "count": 3,
        "tiny_lt_50px": 2,
        "min": 10,
        "median": 49.0,
        "max": 50,
    }
    assert sizes["hole"]["histogram"] == {
        "0-15": 1,
        "16-49": 1,
        "50-255": 1,
        "256-1023": 0,
        "1024-4095": 0,
        "4096-16383": 0,
        "16384-65535": 0,
        ">=65536": 0,
    }
    assert sizes["scratch"]["histogram"]["256-1023"] == 1 and sizes["scratch"]["histogram"][">=65536"] == 1
    assert sizes["knot"] == {
        "count": 0,
        "tiny_lt_50px": 0,
        "min": None,
        "median": None,
        "max": None,
        "histogram": dict.fromkeys(sizes["hole"]["histogram"], 0),
    }


def test_stats_table_rows():
    stats = compute_stats(RECORDS, ["hole", "scratch"])
    console = Console(width=200, record=True)
    console.print(stats_table(stats))
    lines = [" ".join(line.replace("│", " ").split()) for line in console.export_text().splitlines()]
    assert "hole 1 (2) 1 (1) 0 (0) 2 49" in lines
    assert "good 1 0 1 - -" in lines
    assert "scratch 0 (0) 0 (0) 1 (2) 0 35150" in lines
    assert "total 2 1 2" in lines
