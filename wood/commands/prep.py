"""`wood prep`: MVTec AD masks -> YOLO boxes, YOLO-seg polygons, COCO and classification splits."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from wood.prep.config import DEFAULT_SOURCE


def prep(
    source: Path = typer.Argument(DEFAULT_SOURCE, help="MVTec AD category folder (holds test/ and ground_truth/)."),
    out: Path = typer.Option(Path("datasets/prepared/wood"), "--out", "-o", help="Output folder. A previous `wood prep` output there is replaced in one step; any other folder is left alone."),
    seed: int = typer.Option(0, help="Seed of the split; the same seed gives the same split and bytes."),
    test_fraction: float = typer.Option(1 / 3, help="Share of each defect type put in test (1/3 gives train+val:test = 2:1)."),
    val_fraction: float = typer.Option(0.15, help="Share of the training side carved out as val."),
    min_area: int = typer.Option(4, help="Leave out mask components with fewer pixels (counted in stats)."),
    single_class: bool = typer.Option(False, "--single-class", help="One detection class `defect` instead of one per type."),
    combined: str = typer.Option("class", help="`combined` images: 'class' keeps them as their own class (their masks do not say which part is which type); 'exclude' leaves them out."),
    train_good: bool = typer.Option(False, "--train-good", help="Add train/good images to train as background (empty labels)."),
    allow_empty_masks: bool = typer.Option(False, "--allow-empty-masks", help="Keep defect images whose mask is all zero (flagged in manifest.json) instead of stopping."),
    groups: Optional[Path] = typer.Option(None, help="CSV of file,group: images of one group share a split (e.g. augmented copies of one original)."),
    group_pattern: Optional[str] = typer.Option(None, help="Regex applied to the group column; its first group is the group."),
    dataset_config: Optional[Path] = typer.Option(None, help="Dataset config (classes, colours, prompts); default datasets/<category>.yaml."),
    preview: int = typer.Option(0, help="Write this many overlay PNGs (masks, boxes, class names) under OUT/preview/."),
    workers: int = typer.Option(0, help="Worker processes for reading masks; 0 = one per CPU core."),
    strict: bool = typer.Option(
        False, "--strict", help="Stop (exit 2) at a defect folder the dataset config does not list, instead of warning."
    ),
) -> None:
    """Convert one MVTec AD category into YOLO, YOLO-seg, COCO and classification splits.

    Masks are binarised at >= 128 and split into 8-connected components (one instance
    each). Polygons follow pixel edges, so rasterising them gives back the mask exactly;
    components with holes are written as RLE in COCO and as their outer ring in YOLO-seg.
    """
    from wood.config import build_config
    from wood.console import console
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.stats import stats_table

    cfg = build_config(
        PrepConfig,
        source=source, out=out, seed=seed, test_fraction=test_fraction, val_fraction=val_fraction,
        min_area=min_area, single_class=single_class, combined=combined, train_good=train_good,
        allow_empty_masks=allow_empty_masks, groups=groups, group_pattern=group_pattern,
        dataset_config=dataset_config, preview=preview, workers=workers, strict=strict,
    )
    check_defect_folders(cfg)
    stats = run_prep(cfg)
    console.print(stats_table(stats))
    if stats["flags"]:
        console.print(f"flags: {stats['flags']} (see manifest.json)")
    console.print(f"wrote {cfg.out} ({stats['images']} images, classes {stats['classes']})")


def check_defect_folders(cfg) -> None:
    """Before any image is read: resolve SRC, check its layout and the dataset config, and warn about
    (or, with --strict, stop at) defect folders the dataset config does not list (a typo like `scrach`)."""
    from wood.console import console
    from wood.dataset_config import describe_unknown_types, load_dataset_config, unknown_defect_types
    from wood.errors import ConfigError
    from wood.prep.mvtec import defect_types, resolve_root, scan_category

    cfg.source = resolve_root(cfg.source)
    types = defect_types(scan_category(cfg.source, include_train_good=cfg.train_good))
    dataset = load_dataset_config(cfg.source.name, cfg.dataset_config)
    if cfg.dataset_config is not None:
        dataset.check_classes(types)
    unknown = unknown_defect_types(types, dataset)
    if not unknown:
        return
    folder = cfg.source / "test" / unknown[0] if len(unknown) == 1 else cfg.source / "test"
    line = describe_unknown_types(unknown, dataset)
    if cfg.strict:
        raise ConfigError(f"{line}; rename the folder or add the class to the config", folder)
    console.print(f"warning: {folder}: {line}; each is prepared as its own class (--strict stops here)",
                  markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("prep")(prep)
