"""Class counts per split and the instance size distribution (stats.json and a printed table)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from rich.table import Table

from wood.prep.splits import SPLITS

SIZE_BINS = [0, 16, 50, 256, 1024, 4096, 16384, 65536]
"""Instance-area bin edges in pixels; 50 separates the 'tiny' defects."""
TINY_AREA = 50


def _bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi - 1}" if hi is not None else f">={lo}"


def compute_stats(records: list[dict], classes: list[str]) -> dict:
    """Counts of images and instances per class and split, plus instance sizes per class."""
    labels = sorted({r["defect"] for r in records})
    per_split: dict[str, dict] = {}
    for split in SPLITS:
        in_split = [r for r in records if r["split"] == split]
        per_split[split] = {
            "images": len(in_split),
            "images_per_type": dict(sorted(Counter(r["defect"] for r in in_split).items())),
            "instances_per_class": {
                c: sum(1 for r in in_split for i in r["instances"] if i["class"] == c) for c in classes
            },
        }
    sizes: dict[str, dict] = {}
    edges = SIZE_BINS + [None]
    for c in classes:
        areas = np.array([i["area"] for r in records for i in r["instances"] if i["class"] == c], dtype=np.int64)
        hist = {
            _bin_label(lo, hi): int(((areas >= lo) & ((areas < hi) if hi is not None else True)).sum())
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        }
        sizes[c] = {
            "count": int(areas.size),
            "tiny_lt_50px": int((areas < TINY_AREA).sum()),
            "min": int(areas.min()) if areas.size else None,
            "median": float(np.median(areas)) if areas.size else None,
            "max": int(areas.max()) if areas.size else None,
            "histogram": hist,
        }
    flags = Counter(f for r in records for f in r["flags"])
    return {
        "images": len(records),
        "image_types": labels,
        "classes": classes,
        "splits": per_split,
        "instance_area_px": sizes,
        "flags": dict(sorted(flags.items())),
    }


def stats_table(stats: dict) -> Table:
    """A rich table: images (instances) per class and split, with tiny and median sizes."""
    tiles = stats.get("tiles")
    title = "wood prep: images (instances) per type and split"
    if tiles:
        title += f"; train and val in {tiles['size']}x{tiles['size']} tiles"
    table = Table(title=title, title_justify="left")
    table.add_column("type")
    for split in SPLITS:
        table.add_column(split, justify="right")
    table.add_column("instances <50px", justify="right")
    table.add_column("median area px", justify="right")
    for label in stats["image_types"]:
        row = [label]
        for split in SPLITS:
            s = stats["splits"][split]
            n_img = s["images_per_type"].get(label, 0)
            n_inst = s["instances_per_class"].get(label)
            row.append(f"{n_img} ({n_inst})" if n_inst is not None else str(n_img))
        size = stats["instance_area_px"].get(label)
        row += (
            [str(size["tiny_lt_50px"]), f"{size['median']:.0f}" if size and size["median"] is not None else "-"]
            if size
            else ["-", "-"]
        )
        table.add_row(*row)
    table.add_row("total", *[str(stats["splits"][s]["images"]) for s in SPLITS], "", "")
    return table
