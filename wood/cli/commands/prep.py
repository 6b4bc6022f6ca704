"""`wood prep`: MVTec AD masks -> YOLO boxes, YOLO-seg polygons, COCO and classification splits."""

from __future__ import annotations

import typer

from wood.cli.options import config_command
from wood.prep.config import PrepConfig


@config_command(PrepConfig, arguments=["source"])
def prep(cfg: PrepConfig) -> None:
    """Convert one MVTec AD category into YOLO, YOLO-seg, COCO and classification splits.

    Masks are binarised at >= 128 and split into 8-connected components (one instance
    each). COCO polygons follow pixel edges and YOLO-seg polygons pixel centres, so each format's
    readers rasterise the mask back exactly; components with holes are written as RLE in COCO and
    as their outer ring in YOLO-seg. The category (--category, else SRC's folder name) picks
    datasets/<category>.yaml.
    """
    from wood.console import console
    from wood.prep.pipeline import run_prep
    from wood.prep.stats import stats_table

    warnings = check_defect_folders(cfg)
    stats = run_prep(cfg)
    console.print(stats_table(stats))
    if stats["flags"]:
        console.print(f"flags: {stats['flags']} (see manifest.json)")
    if stats.get("tiles"):
        console.print(tiles_line(stats["tiles"]))
    console.print(f"wrote {cfg.out} ({stats['images']} images, classes {stats['classes']})")
    for line in warnings:  # after the run: an error stays the only line when prep fails
        _warn(line)


def tiles_line(tiles: dict) -> str:
    """One line: how many tiles each tiled split got from how many full images."""
    parts = [
        f"{split} {s['tiles']} ({s['with_instances']} with defects, {s['background']} background) "
        f"from {s['full_images']} images" + (" (written whole too)" if s.get("full_images_written") else "")
        for split, s in tiles["per_split"].items()
    ]
    size = tiles["size"]
    return (
        f"tiles {size}x{size}: " + "; ".join(parts) + f"; test: full images. Train at the tiles' native size "
        f"(`wood finetune yolo --imgsz {size}`): a larger --imgsz enlarges every tile"
    )


def check_defect_folders(cfg: PrepConfig) -> list[str]:
    """Before any image is read: resolve SRC, check its layout and the dataset config, and warn about
    (or, with --strict, stop at) defect folders the dataset config does not list (a typo like `scrach`).
    Returns the warning lines to print after the run (a folder the config does not list; no dataset
    config for the category), so that a failing run prints its error as the only line."""
    from wood.dataset_config import (
        describe_unknown_types,
        load_dataset_config,
        packaged_config_path,
        unknown_defect_types,
    )
    from wood.errors import ConfigError
    from wood.prep.mvtec import defect_types, resolve_root, scan_category

    cfg.source = resolve_root(cfg.source)
    types = defect_types(scan_category(cfg.source, include_train_good=cfg.train_good))
    category = cfg.category_of(cfg.source)
    dataset = load_dataset_config(category, cfg.dataset_config)
    missing = None
    if cfg.dataset_config is None and packaged_config_path(category) is None:
        missing = (
            f"warning: no dataset config for category {category!r} (datasets/{category}.yaml): default "
            "colours and no prompts; give --category NAME or --dataset-config FILE"
        )
    if cfg.dataset_config is not None:
        dataset.check_classes(types)
    unknown = unknown_defect_types(types, dataset)
    if not unknown:
        return [missing] if missing else []
    folder = cfg.source / "test" / unknown[0] if len(unknown) == 1 else cfg.source / "test"
    line = describe_unknown_types(unknown, dataset)
    if cfg.strict:
        raise ConfigError(f"{line}; rename the folder or add the class to the config", folder)
    warning = f"warning: {folder}: {line}; each is prepared as its own class (--strict stops here)"
    return [warning] + ([missing] if missing else [])


def _warn(line: str) -> None:
    from wood.console import console

    console.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("prep")(prep)
