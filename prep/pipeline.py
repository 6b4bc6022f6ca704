"""`wood prep`: one MVTec AD category folder -> the prepared tree (docs/prep_format.md)."""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

from wood.console import track
from wood.dataset_config import load_dataset_config
from wood.errors import ConfigError
from wood.fsutil import write_json
from wood.outdir import atomic_output, check_replaceable
from wood.prep.config import TILED_SPLITS, PrepConfig
from wood.prep.dataset import FORMAT, MANIFEST, STATS
from wood.prep.formats.coco_layout import write_standard_layout
from wood.prep.mvtec import Sample, defect_types, scan_category
from wood.prep.process import ProcessOptions, process_sample
from wood.prep.splits import SplitSpec, assign_splits
from wood.prep.stats import compute_stats
from wood.prep.tiling.records import tile_stats, tiled_records
from wood.prep.tree import manifest_record, write_previews, write_tree
from wood.procs import die_with_parent

PARALLEL_FROM = 16
"""Below this many images, worker processes cost more than they save."""


def run_prep(cfg: PrepConfig) -> dict:
    """Prepare ``cfg.source`` into ``cfg.out``. Returns the stats dict (also in stats.json).

    Everything is read and checked before anything is written, and the output is built in
    a temporary folder renamed into place, so a failure leaves no half-written output.
    """
    root = cfg.source.expanduser().resolve()
    out = cfg.out.expanduser().absolute()  # resolved (links, loops) by the output checks
    check_replaceable(out, "prep", inputs=[root], follow_link=True)  # before reading anything
    samples = scan_category(root, include_train_good=cfg.train_good)
    category = cfg.category_of(root)
    types = defect_types(samples)
    dataset = load_dataset_config(category, cfg.dataset_config)
    if cfg.dataset_config is not None:  # the packaged default may list types a subset lacks
        dataset.check_classes(types)
    if cfg.combined == "exclude":
        samples = [s for s in samples if s.defect != "combined"]
        types = [t for t in types if t != "combined"]
    classes = ["defect"] if cfg.single_class else types

    tiling = cfg.tile_spec()
    options = ProcessOptions(cfg.min_area, cfg.allow_empty_masks, tiling)
    records = _process_all(root, samples, options, cfg.workers)
    groups = _groups(records, root, cfg.groups, cfg.group_pattern)
    _flag_duplicates(records)
    spec = SplitSpec(cfg.test_fraction, cfg.val_fraction, cfg.seed)
    fixed = {r["name"]: "train" for r in records if r["origin"] == "train-good"}
    splits = assign_splits([r["name"] for r in records], [r["defect"] for r in records], groups, spec, fixed)
    for i, record in enumerate(records, start=1):
        record["id"] = i
        record["split"] = splits[record["name"]]
        for inst in record["instances"] + [i for t in record.get("tiles", []) for i in t["instances"]]:
            inst["class"] = "defect" if cfg.single_class else record["defect"]
            inst["class_id"] = classes.index(inst["class"])
    images = records if tiling is None else tiled_records(records, tiling, cfg.seed)

    stats = compute_stats(images, classes)
    if tiling is not None:
        stats["tiles"] = tile_stats(records, images, tiling)
    with atomic_output(out, "prep", inputs=[root]) as tmp:
        write_tree(tmp, root, images, classes, category, full=None if tiling is None else records)
        write_standard_layout(tmp / "coco", tmp / "yolo" / "images")
        manifest = {  # after the files: a tile's sha256 is that of the PNG written
            "format": FORMAT,
            "category": category,
            "source": str(root),
            "seed": cfg.seed,
            "options": cfg.output_options(),
            "classes": classes,
            "tile": None if tiling is None else tiling.record(),
            "images": [manifest_record(r) for r in images],
        }
        if tiling is not None:  # the full train/val images the tiles were cut from (classify/ holds them)
            manifest["full_images"] = [manifest_record(r) for r in records if r["split"] in TILED_SPLITS]
        write_json(tmp / MANIFEST, manifest)
        write_json(tmp / STATS, stats)
        if cfg.preview:
            write_previews(tmp / "preview", tmp / "yolo" / "images", images, cfg.preview, dataset, classes)
    return stats


def _process_all(root: Path, samples: list[Sample], options: ProcessOptions, workers: int) -> list[dict]:
    """Run process_sample over all samples, in worker processes when it pays."""
    work = partial(process_sample, root, options=options)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(samples) < PARALLEL_FROM:
        return [work(s) for s in track(samples, "reading masks")]
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("fork"), initializer=die_with_parent, initargs=(os.getpid(),)
    )
    try:
        results = pool.map(work, samples, chunksize=max(1, len(samples) // (workers * 8)))
        return list(track(results, "reading masks", total=len(samples)))
    finally:  # on an error or Ctrl-C, queued work is cancelled rather than finished
        pool.shutdown(wait=True, cancel_futures=True)


def _groups(records: list[dict], root: Path, groups_file: Path | None, pattern: str | None) -> list[str]:
    """A split group per record: identical bytes share one; a groups file can join more."""
    user: dict[str, str] = _read_groups_file(groups_file, root, pattern) if groups_file else {}
    # union-find over "same sha256" and "same user group"
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, r in enumerate(records):
        for key in (f"sha:{r['sha256']}", f"user:{user.get(r['source'])}" if r["source"] in user else None):
            if key is None:
                continue
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    return [records[find(i)]["name"] for i in range(len(records))]


def _read_groups_file(path: Path, root: Path, pattern: str | None) -> dict[str, str]:
    """CSV rows `file,group` (a header row is skipped). `file` is relative to the category
    or to its test/ folder. With ``pattern``, the group is its first regex group found in
    the second column (e.g. `([a-z]+_[0-9]+)[.]png$` turns `barrdistorted_1001_hole_3.png`
    into `hole_3`)."""
    if not Path(path).is_file():
        raise ConfigError("groups file does not exist", path)
    mapping: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"groups file is not a UTF-8 CSV text file ({exc.__class__.__name__}: {exc})", path) from exc
    for row in rows:
        if len(row) < 2 or row[0].strip().lower() == "file":
            continue
        file, group = row[0].strip(), row[1].strip()
        rel = file if (root / file).is_file() else f"test/{file}"
        if not (root / rel).is_file():
            raise ConfigError(f"groups file names an image that does not exist: {file}", path)
        mapping[rel] = group_from_source_name(group, pattern) if pattern else group
    return mapping


def group_from_source_name(group: str, pattern: str) -> str:
    """The first regex group of ``pattern`` in ``group`` (or ``group`` itself if no match)."""
    match = re.search(pattern, group)
    return match.group(1) if match and match.groups() else group


def _flag_duplicates(records: list[dict]) -> None:
    by_hash: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_hash[r["sha256"]].append(r)
    for same in by_hash.values():
        if len(same) > 1:
            for r in same:
                others = [o["name"] for o in same if o is not r]
                r["flags"].append("duplicate_of:" + ",".join(others))
