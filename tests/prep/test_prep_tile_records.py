"""prep/tiling/records.py: the records of a tiled prep: test records kept whole, train/val records replaced by
their tiles (ids after the largest, names <stem>_x<X>_y<Y>.png), and stats.json's tile counts."""

from __future__ import annotations

import pytest

from wood.errors import DataError
from wood.prep.config import TileSpec
from wood.prep.tiling.records import DROPPED_FLAG, tile_stats, tiled_records


def tile(x: int, y: int, instances: int = 0, touched: bool = False, dropped: int = 0) -> dict:
    return {
        "x": x,
        "y": y,
        "width": 32,
        "height": 32,
        "instances": [{"class": "hole", "area": 4}] * instances,
        "touched": touched or bool(instances),
        "dropped": dropped,
    }


def record(name: str, split: str, rid: int, tiles: list[dict]) -> dict:
    base = {"name": name, "split": split, "id": rid, "sha256": "s" + name, "source": f"src/{name}", "flags": []}
    return {**base, "instances": [{"class": "hole", "area": 9}], "tiles": tiles}


TILES = [tile(0, 0, instances=1, dropped=1), tile(32, 0), tile(0, 32, touched=True), tile(32, 32)]


def test_tiled_records():
    records = [record("a.png", "train", 3, TILES), record("b.png", "test", 7, [])]
    out = tiled_records(records, TileSpec(32, background=1), seed=0)
    names = [r["name"] for r in out]
    assert names[0] == "a_x0000_y0000.png" and names[-1] == "b.png" and len(out) == 3  # 1 instance + 1 background
    assert names[1] in ("a_x0032_y0000.png", "a_x0032_y0032.png")  # a clean tile; not the touched one
    first = out[0]
    assert first["id"] == 8 and out[1]["id"] == 9  # after the largest record id
    assert first["tile"] == {"image": "a.png", "x": 0, "y": 0, "width": 32, "height": 32, "source_sha256": "sa.png"}
    assert first["flags"] == [DROPPED_FLAG] and first["sha256"] is None and "tiles" not in first
    assert out[-1] is records[1]
    keep = tiled_records(records, TileSpec(32, background=0, keep_full=True), seed=0)
    assert [r["name"] for r in keep] == ["a.png", "a_x0000_y0000.png", "b.png"] and "tiles" not in keep[0]


def test_a_tile_name_that_clashes_is_refused():
    records = [record("a.png", "train", 1, [tile(0, 0, instances=1)]), record("a_x0000_y0000.png", "test", 2, [])]
    with pytest.raises(DataError, match="two images give the tile name a_x0000_y0000.png"):
        tiled_records(records, TileSpec(32), seed=0)


def test_tile_stats():
    records = [record("a.png", "train", 3, TILES)]
    spec = TileSpec(32, background=1)
    stats = tile_stats(records, tiled_records(records, spec, seed=0), spec)
    assert stats["size"] == 32 and stats["background"] == 1
    assert stats["per_split"]["train"] == {
        "full_images": 1,
        "grid_tiles": 4,
        "tiles": 2,
        "with_instances": 1,
        "background": 1,
        "left_out_only_dropped_parts": 1,
        "left_out_clean": 1,
        "instances": 1,
        "instance_parts_dropped": 1,
        "full_images_written": 0,
        "full_image_instances": 0,
    }
    assert stats["per_split"]["val"]["grid_tiles"] == 0
