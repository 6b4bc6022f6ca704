"""Tiled prep: full-image records -> the records of the images prep writes (tiles for train and val).

A tile record is a full record (same source, mask, origin, split, defect, flags) with its own ``name``,
``id``, size and instances (prep/tiling/grid.py) and ``tile``: which full image it was cut from and where,
``{"image": <full image name>, "x", "y", "width", "height", "source_sha256"}``. Its ``sha256`` is set
when its PNG is written (prep/tree.py). Pure functions on dicts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from wood.errors import DataError
from wood.prep.config import TILED_SPLITS, TileSpec
from wood.prep.splits import SPLITS
from wood.prep.tiling.grid import select_tiles, tile_name

DROPPED_FLAG = "tile_instances_dropped"
"""On a kept tile that also shows a part of an instance too small to keep (see prep/tiling/grid.py)."""


def tiled_records(records: list[dict], spec: TileSpec, seed: int) -> list[dict]:
    """The images to write: each test record as it is, each train/val record replaced by its selected tiles
    (``record["tiles"]``, from process_sample), preceded by the record itself (the full image, no ``tile``
    key, its own id) with ``spec.keep_full``. Tiles get ids after the largest record id, so ids stay
    unique across manifest.json's ``images`` and ``full_images``."""
    next_id = max((r["id"] for r in records), default=0) + 1
    out: list[dict] = []
    for record in records:
        if record["split"] not in TILED_SPLITS:
            out.append(record)
            continue
        if spec.keep_full:
            out.append({k: v for k, v in record.items() if k != "tiles"})
        for tile in select_tiles(record["tiles"], spec.background, seed, record["name"]):
            out.append(tile_record(record, tile, next_id))
            next_id += 1
    seen: dict[str, str] = {}
    for r in out:
        origin = (r.get("tile") or {}).get("image", r["name"])
        if r["name"] in seen:  # full names are unique: a clash involves a tile
            raise DataError(
                f"two images give the tile name {r['name']} ({seen[r['name']]} and {origin}); "
                "rename one of them (tiles are PNG files named <stem>_x<X>_y<Y>.png)",
                r["source"],
            )
        seen[r["name"]] = origin
    return out


def tile_record(record: dict, tile: dict, image_id: int) -> dict:
    """The record of one ``tile`` (a dict of prep/tiling/grid.py clip_to_tiles) of the full ``record``."""
    x, y, w, h = tile["x"], tile["y"], tile["width"], tile["height"]
    flags = list(record["flags"]) + ([DROPPED_FLAG] if tile["dropped"] and tile["instances"] else [])
    return {
        **{k: v for k, v in record.items() if k != "tiles"},
        "id": image_id,
        "name": tile_name(Path(record["name"]).stem, x, y),
        "sha256": None,  # of the written PNG, set by write_tree
        "height": h,
        "width": w,
        "flags": flags,
        "instances": tile["instances"],
        "tile": {"image": record["name"], "x": x, "y": y, "width": w, "height": h, "source_sha256": record["sha256"]},
    }


def tile_stats(records: list[dict], images: list[dict], spec: TileSpec) -> dict:
    """stats.json's ``tiles``: the settings and, per tiled split, how many full images gave how many tiles
    (with instances, background), the tiles left out and the instance parts dropped."""
    per_split: dict[str, dict] = {}
    for split in SPLITS:
        if split not in TILED_SPLITS:
            continue
        full = [r for r in records if r["split"] == split]
        written = [r for r in images if r["split"] == split and "tile" in r]
        whole = [r for r in images if r["split"] == split and "tile" not in r]
        grid = [t for r in full for t in r["tiles"]]
        kinds = Counter("instances" if r["instances"] else "background" for r in written)
        per_split[split] = {
            "full_images": len(full),
            "grid_tiles": len(grid),
            "tiles": len(written),
            "with_instances": kinds["instances"],
            "background": kinds["background"],
            "left_out_only_dropped_parts": sum(1 for t in grid if t["touched"] and not t["instances"]),
            "left_out_clean": sum(1 for t in grid if not t["touched"] and not t["instances"]) - kinds["background"],
            "instances": sum(len(r["instances"]) for r in written),
            "instance_parts_dropped": sum(t["dropped"] for t in grid),
            "full_images_written": len(whole),
            "full_image_instances": sum(len(r["instances"]) for r in whole),
        }
    return {**spec.record(), "per_split": per_split}
