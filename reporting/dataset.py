"""The report's Dataset section: class counts per split (table + bar chart) and ground-truth overlays.

Reads a `wood prep` folder: stats.json (or, without it, the counts recomputed from manifest.json),
manifest.json for picking samples, coco/<split>.json for their masks, yolo/images/<split>/ for the
pixels. Overlays are drawn by the same function as `wood prep --preview`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.dataset import STATS, PreparedDataset
from wood.reporting.plots import class_count_chart, encode_png
from wood.reporting.render import Figure, Gallery, Section, Table, Text

SPLITS = ("train", "val", "test")


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_dataset(prepared: Path, section: Section) -> PreparedDataset | None:
    """``prepared``'s dataset, any format; None (as without one) where its manifest.json is unreadable, and
    None with a warning in ``section`` where a record is not plain: its names are data, never opened."""
    try:
        dataset = PreparedDataset.read(prepared)
    except DataError:
        return None
    if dataset is not None:
        try:
            dataset.images()
        except DataError as exc:
            section.blocks.append(Text(f"manifest.json not used: {exc}", "warn"))
            return None
    return dataset


def load_stats(prepared: Path, dataset: PreparedDataset | None) -> tuple[dict[str, Any] | None, str]:
    """(stats, where they came from): stats.json, else recomputed from the manifest, else (None, why)."""
    stats = _load_json(prepared / STATS)
    if stats is not None and "splits" in stats:
        return stats, "stats.json"
    if dataset is not None:
        from wood.prep.stats import compute_stats

        records = [{**im, "flags": im.get("flags", [])} for im in dataset.images()]
        return compute_stats(records, dataset.classes), "manifest.json (no stats.json)"
    return None, "neither stats.json nor manifest.json is readable"


def counts_table(stats: dict[str, Any]) -> Table:
    """Images (instances) per defect type and split, with the tiny-instance count per class."""
    splits = [s for s in SPLITS if s in stats["splits"]]
    types = stats.get("image_types") or sorted(
        {t for s in splits for t in stats["splits"][s].get("images_per_type", {})}
    )
    rows = []
    for name in types:
        row = [name]
        for s in splits:
            block = stats["splits"][s]
            n_img = block.get("images_per_type", {}).get(name, 0)
            n_inst = block.get("instances_per_class", {}).get(name)
            row.append(f"{n_img} ({n_inst})" if n_inst is not None else str(n_img))
        size = (stats.get("instance_area_px") or {}).get(name)
        row.append(str(size["tiny_lt_50px"]) if size else "–")
        row.append(f"{size['median']:.0f}" if size and size.get("median") is not None else "–")
        rows.append(row)
    rows.append(["total"] + [str(stats["splits"][s].get("images", "")) for s in splits] + ["", ""])
    return Table(
        ["type"] + splits + ["instances < 50 px", "median area px"],
        rows,
        caption="Images (instances) per defect type and split",
    )


def overlay_samples(dataset: PreparedDataset, n: int) -> tuple[list[Figure], list[str]]:
    """Up to ``n`` ground-truth overlays (round-robin over defect types) and any problems met."""
    from wood.dataset_config import load_dataset_config
    from wood.errors import WoodError
    from wood.imageio import read_image_rgb
    from wood.prep.preview import draw_overlay, pick_preview_records

    classes = dataset.classes
    records = [im for im in dataset.images() if im.get("instances")]
    picked = pick_preview_records(records, n)
    problems: list[str] = []
    try:
        colours = load_dataset_config(str(dataset.category or ""))
    except WoodError as exc:
        problems.append(f"dataset colours not loaded ({exc}); palette colours used")
        from wood.dataset_config import DatasetConfig

        colours = DatasetConfig(category=str(dataset.category or ""), classes={})
    coco: dict[str, dict[int, list[dict[str, Any]]]] = {}
    names: dict[int, str] = {}
    figures = []
    for record in picked:
        split = record.get("split")
        if split not in coco:
            gt = _load_json(dataset.coco_path(split)) or {}
            names.update({c["id"]: c["name"] for c in gt.get("categories", [])})
            by_image: dict[int, list[dict[str, Any]]] = {}
            for ann in gt.get("annotations", []):
                by_image.setdefault(ann["image_id"], []).append(ann)
            coco[split] = by_image
        anns = coco[split].get(record["id"], [])
        if not anns:
            problems.append(f"{record['name']}: no annotations in coco/{split}.json")
            continue
        instances = []
        for ann in anns:
            x, y, w, h = ann["bbox"]
            name = names.get(ann["category_id"], str(ann["category_id"]))
            instances.append(
                {
                    "class": name,
                    "class_id": ann["category_id"] - 1,
                    "segmentation": ann["segmentation"],
                    "bbox_xyxy": [int(x), int(y), int(x + w), int(y + h)],
                    "area": int(ann["area"]),
                }
            )
        path = dataset.image_path(record)
        try:
            rgb = read_image_rgb(path)
        except WoodError as exc:
            problems.append(str(exc))
            continue
        overlay = draw_overlay(rgb, {**record, "instances": instances}, colours, classes)
        figures.append(
            Figure(
                f"gt_{Path(record['name']).stem}",
                encode_png(overlay),
                f"{record['name']} ({split}): {', '.join(sorted({i['class'] for i in instances}))}",
            )
        )
    return figures, problems


def dataset_section(prepared_dirs: list[Path], samples: int = 6) -> Section:
    """The Dataset section for the first prepared folder (others are listed)."""
    section = Section("Dataset")
    if not prepared_dirs:
        section.blocks.append(
            Text(
                "No prepared dataset folder is named by the runs; pass --prepared DIR "
                "(a `wood prep` output folder) to show class counts and samples.",
                "warn",
            )
        )
        return section
    prepared = Path(prepared_dirs[0])
    if len(prepared_dirs) > 1:
        others = ", ".join(str(p) for p in prepared_dirs[1:])
        section.blocks.append(
            Text(f"The runs use {len(prepared_dirs)} prepared folders; shown: {prepared}. Others: {others}", "note")
        )
    if not prepared.is_dir():
        section.blocks.append(
            Text(
                f"Prepared dataset folder {prepared} does not exist (moved or deleted?); "
                "pass --prepared DIR to show class counts and samples.",
                "warn",
            )
        )
        return section
    dataset = _read_dataset(prepared, section)
    stats, source = load_stats(prepared, dataset)
    category = (dataset.category if dataset is not None else None) or "?"
    classes = ", ".join((dataset.classes if dataset is not None else []) or (stats or {}).get("classes", []))
    section.blocks.append(
        Text(f"Prepared folder {prepared} (category {category}; detection classes {classes}); counts from {source}.")
    )
    if stats is None:
        section.blocks.append(Text(f"No class counts: {source} in {prepared}.", "warn"))
    else:
        section.blocks.append(counts_table(stats))
        chart = class_count_chart(stats)
        if chart is not None:
            section.blocks.append(Figure("class_counts", chart, "Class counts per split (bars labelled with counts)"))
    if dataset is not None and samples > 0:
        figures, problems = overlay_samples(dataset, samples)
        if figures:
            section.blocks.append(
                Gallery(
                    figures,
                    "Ground truth overlays (mask fill, box, class and area in px), one per defect type in turn.",
                    width=240,
                )
            )
        for problem in problems:
            section.blocks.append(Text(problem, "warn"))
    elif dataset is None:
        section.blocks.append(Text(f"No manifest.json in {prepared}: no sample overlays.", "warn"))
    return section
