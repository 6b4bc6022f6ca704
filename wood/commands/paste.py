"""`wood paste`: copy-paste augmentation of a prepared folder (Simple Copy-Paste) into a new prepared folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from wood.prep.paste_config import PasteConfig, field_help

D = PasteConfig(prep=Path("."), out=Path("."))  # the defaults, shown by --help (one source: the dataclass)


def paste(
    ctx: typer.Context,
    prep: Annotated[Path, typer.Argument(help="A `wood prep` output folder (manifest.json format wood-prep/1).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder, a new prepared folder (not inside PREP). A previous `wood prep` or "
        "`wood paste` output there is replaced in one step; any other folder is left alone.")],
    images: Annotated[int, typer.Option(
        help="New train images to write (train = the prep's train images + these).")] = D.images,
    per_image: Annotated[int, typer.Option(help="Instances pasted into each new image.")] = D.per_image,
    seed: Annotated[int, typer.Option(
        help="Seed; each new image draws from (seed, its index). Same seed, same bytes.")] = D.seed,
    scale: Annotated[str, typer.Option(
        help="Scale jitter lo,hi; the scale is log-uniform between them.")] = ",".join(str(v) for v in D.scale),
    flip: Annotated[bool, typer.Option("--flip/--no-flip", help="Flip instances left-right at random.")] = D.flip,
    rot90: Annotated[bool, typer.Option(
        "--rot90/--no-rot90", help="Rotate instances by a random multiple of 90°.")] = D.rot90,
    match_colour: Annotated[bool, typer.Option(
        "--match-colour/--no-match-colour",
        help="Shift the instance's Lab mean/std per channel as its source surroundings would move to the new "
             "background patch (the defect keeps its contrast to the wood around it).")] = D.match_colour,
    blend: Annotated[str, typer.Option(
        help="alpha: feathered opacity INSIDE the mask (the label stays the exact binary mask) | poisson: "
             "cv2.seamlessClone, kept inside the mask (keeps gradients, not colour: flat colour defects fade) | "
             "none: hard paste.")] = D.blend,
    feather: Annotated[int, typer.Option(help=field_help("feather").capitalize() + ".")] = D.feather,
    max_overlap: Annotated[float, typer.Option(
        help="Fraction of an existing or earlier pasted instance's area a paste may cover; covered pixels leave "
             "that instance's mask and box.")] = D.max_overlap,
    min_area: Annotated[Optional[int], typer.Option(
        help="Pasted components with fewer pixels are not pasted (default: the prep's --min-area).")] = None,
    balance: Annotated[bool, typer.Option(
        "--balance/--no-balance",
        help="Long tail: pick a class uniformly (each class equally likely), then an instance of it uniformly, so "
             "rare classes get more pastes. Without it, instances are picked uniformly (common classes "
             "dominate).")] = D.balance,
    backgrounds: Annotated[str, typer.Option(
        help="auto: the prep's good train images, or its train defect images where it has none (pasting where "
             "no instance is) | good | all train images.")] = D.backgrounds,
    preview: Annotated[int, typer.Option(
        help="Write this many overlay PNGs of new images under OUT/preview/.")] = D.preview,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 = one per CPU core.")] = D.workers,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="YAML file with any of these options (options given here win).")] = None,
) -> None:
    """Paste train instances (exact masks) onto train backgrounds.

    Writes a new prepared folder that every `wood finetune` command takes.
    Instances and backgrounds come from the TRAIN split only; val and test
    are the prep's files, byte-identical. A label is the pasted instance's
    binary mask after its transform (resampled, then >= 0.5), minus the
    pixels later pastes cover. manifest.json traces every label back.
    """
    from wood.config import build_config
    from wood.console import console
    from wood.prep.paste import run_paste
    from wood.prep.stats import stats_table

    given = {
        name: value for name, value in dict(
            images=images, per_image=per_image, seed=seed, scale=scale, flip=flip, rot90=rot90,
            match_colour=match_colour, blend=blend, feather=feather, max_overlap=max_overlap, min_area=min_area,
            balance=balance, backgrounds=backgrounds, preview=preview, workers=workers,
        ).items()
        if config is None or _given(ctx, name)
    }  # with --config, an option left at its default does not override the file
    cfg = build_config(PasteConfig, config, prep=prep, out=out, **given)
    stats = run_paste(cfg)
    console.print(stats_table(stats))
    info = stats["paste"]
    console.print(f"pasted per class: {info['pasted_per_class']}; skipped: {info['skipped']}; "
                  f"too large for every background: {info['instances_too_large']}", markup=False, highlight=False)
    console.print(f"wrote {cfg.out} ({info['new_images']} new train images on {info['backgrounds']} backgrounds)",
                  markup=False, highlight=False)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was given (command line or environment), not left at its default. Compared by
    name: typer ships its own copy of click, whose ParameterSource is not click's."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("paste")(paste)
