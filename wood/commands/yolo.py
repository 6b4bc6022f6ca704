"""`wood finetune yolo`, `wood eval detect` and `wood predict`: Ultralytics YOLO commands.

Only typer, stdlib and the (light) config dataclass at import time; the work happens in
wood.finetune.yolo.train, wood.eval.detect and wood.eval.predict, imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wood.cli_options import config_command
from wood.console import console
from wood.device import device_help
from wood.finetune.yolo.config import YoloConfig


@config_command(YoloConfig)
def finetune_yolo(cfg: YoloConfig) -> None:
    """Fine-tune Ultralytics YOLO (detect or segment) on a prepared dataset; writes one run folder."""
    from wood.finetune.yolo.train import train

    run_dir = train(cfg)
    console.print(f"run folder: {run_dir}")
    typer.echo(str(run_dir))


def ultralytics_device(device: str) -> str | None:
    """``auto`` is Ultralytics' own choice (the first GPU, else cpu): no device argument at all."""
    return None if device == "auto" else device


SLICE = typer.Option(
    None,
    "--slice",
    help="Sliced inference (sahi): predict S x S px slices of each full image and merge the boxes "
    "(boxes only; >= 32 and <= the image side). Off when not given.",
    show_default=False,
)
# The --slice-* options default to None (not given): without --slice, one given is refused (eval.slicing).
SLICE_OVERLAP = typer.Option(
    None,
    "--slice-overlap",
    help="With --slice: overlap of neighbouring slices, a fraction in [0, 0.9).",
    show_default="0.2",
)
SLICE_FULL = typer.Option(
    None,
    "--slice-full/--no-slice-full",
    help="With --slice: add one whole-image pass (large objects).",
    show_default="slice-full",
)
SLICE_MERGE = typer.Option(
    None,
    "--slice-merge",
    help="With --slice: nms (keep the best of boxes at IoU > 0.5) or nmm (sahi's greedy merge of boxes "
    "overlapping > 0.5 of the smaller one into their union).",
    show_default="nms",
)


SLICE_DROP_CUT = typer.Option(
    None,
    "--slice-drop-cut/--no-slice-drop-cut",
    help="With --slice and --slice-full: drop a slice's boxes that touch a slice border inside the image "
    "(fragments of an object longer than the slice; a neighbouring slice or the whole-image pass sees it whole).",
    show_default="on with --slice-full",
)


def slicing(
    size: int | None,
    overlap: float | None = None,
    full: bool | None = None,
    merge: str | None = None,
    drop_cut: bool | None = None,
):
    """The checked slice settings of the CLI options (None without --slice)."""
    from wood.eval.slicing import slice_settings

    return slice_settings(size, overlap, full, merge, drop_cut)


def eval_detect(
    run: Path = typer.Option(None, "--run", help="Run folder of `wood finetune yolo` (or give --weights and --data)."),
    split: str = typer.Option("test", "--split", help="One of: train | val | test."),
    conf: float = typer.Option(
        0.25, "--conf", help="Confidence for the inspection view and confusion matrix (mAP uses all scores >= 0.001)."
    ),
    data: Path = typer.Option(None, "--data", help="Prepared dataset folder.", show_default="the run's"),
    weights: Path = typer.Option(
        None, "--weights", help="Checkpoint to evaluate.", show_default="<run>/weights/best.pt"
    ),
    out: Path = typer.Option(None, "--out", help="Output folder.", show_default="<run>/eval-<split>[-slice<S>]"),
    device: str = typer.Option("auto", "--device", help=device_help()),
    ultralytics_val: bool = typer.Option(
        True,
        "--ultralytics-val/--no-ultralytics-val",
        help="Also run Ultralytics' own val for comparison (not with --slice).",
    ),
    slice_size: int = SLICE,
    slice_overlap: float | None = SLICE_OVERLAP,
    slice_full: bool | None = SLICE_FULL,
    slice_merge: str | None = SLICE_MERGE,
    slice_drop_cut: bool | None = SLICE_DROP_CUT,
) -> None:
    """COCO mAP (pycocotools, the reference) beside Ultralytics' val, plus image-level recall and false alarms."""
    from wood.eval.detect import evaluate
    from wood.eval.detect_text import format_summary

    result = evaluate(
        run,
        split,
        conf=conf,
        data=data,
        weights=weights,
        out=out,
        device=ultralytics_device(device),
        ultralytics_val=ultralytics_val,
        slicing=slicing(slice_size, slice_overlap, slice_full, slice_merge, slice_drop_cut),
    )
    console.print(format_summary(result))
    typer.echo(result["files"]["json"])


def predict(
    images: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    run: Path = typer.Option(
        None, "--run", help="Run folder of `wood finetune yolo` (uses weights/best.pt), or give --weights."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder.", show_default="<run>/predict"),
    conf: float = typer.Option(0.25, "--conf", help="Confidence threshold."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint.", show_default="<run>/weights/best.pt"),
    device: str = typer.Option("auto", "--device", help=device_help()),
    prompt: list[str] = typer.Option(
        None,
        "--prompt",
        help="YOLO-World runs: detect this text instead of the trained classes (repeatable).",
        show_default="the trained classes",
    ),
    slice_size: int = SLICE,
    slice_overlap: float | None = SLICE_OVERLAP,
    slice_full: bool | None = SLICE_FULL,
    slice_merge: str | None = SLICE_MERGE,
    slice_drop_cut: bool | None = SLICE_DROP_CUT,
    coco: Path = typer.Option(
        None,
        "--coco",
        help="COCO ground truth holding every image: the results use its image ids, so they load against it.",
        show_default="the prepared split's coco/<split>.json when all images are in one, else ids 1..N",
    ),
) -> None:
    """Predict boxes (and masks) on images; writes overlay PNGs, predictions.json and COCO results
    (predictions_coco.json, with the ground truth's image ids; the id -> file table in predictions_coco_images.json)."""
    from wood.eval.predict import predict_images

    settings = slicing(slice_size, slice_overlap, slice_full, slice_merge, slice_drop_cut)
    out_json = predict_images(
        run,
        images,
        out=out,
        conf=conf,
        weights=weights,
        device=ultralytics_device(device),
        prompts=prompt or None,
        slicing=settings,
        coco=coco,
    )
    console.print(f"predictions: {out_json}")
    typer.echo(str(out_json))


def register(app: typer.Typer, finetune_app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app.command("yolo")(finetune_yolo)
    eval_app.command("detect")(eval_detect)
    app.command("predict")(predict)
