"""`wood eval segment --model litemedsam`: a pretrained SAM scored with no training (the zero-shot row).

The same scoring as a run's evaluation (`wood.eval.segment.evaluate`: GT boxes or a YOLO run's boxes, the same
segment_metrics.json, predictions_segm.json and overlays), written into a folder wood owns (an output
marker of kind ``sam-zero-shot``, replaced atomically, never a folder wood did not write). The folder
also holds ``metrics.json`` (kind ``sam``, ``zero_shot: true``, nothing trained) and ``config.yaml``
(the model, its weights and architecture), so `wood report` lists it beside the fine-tuned runs as
"zero-shot", on the same split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wood.errors import ConfigError, DataError

ZERO_SHOT_KIND = "sam-zero-shot"
"""The output marker kind of a zero-shot folder (wood.outdir)."""
DEFAULT_OUT = Path("runs") / "sam"


def default_out(model: str, split: str, boxes: str, slicing: Any = None) -> Path:
    """runs/sam/<model>-zero-shot-<split>[-yolo][-slice<S>] (beside the fine-tuned runs `wood report` reads)."""
    tail = ("" if boxes == "gt" else "-yolo") + ("" if slicing is None else f"-slice{slicing.size}")
    return DEFAULT_OUT / f"{model}-zero-shot-{split}{tail}"


def zero_shot_record(model: str, source: str, sam: Any, data: Path, device: str) -> tuple[dict, dict]:
    """(config.yaml, metrics.json) of a zero-shot folder: what was scored, and that nothing was trained."""
    from wood.finetune.sam.architecture import sam_architecture
    from wood.torchutil import count_params

    total = count_params(sam)
    encoder = count_params(sam.image_encoder)
    config = {
        "model": model,
        "checkpoint": source,
        "zero_shot": True,
        "adapter": "none",
        "prompt": "box",
        "data": str(data),
        "device": device,
        "architecture": sam_architecture(model) if model != "tiny" else None,
    }
    metrics = {
        "zero_shot": True,
        "model": model,
        "source": source,
        "params": {
            "total": total,
            "trainable": 0,
            "trainable_fraction": 0.0,
            "encoder_params": encoder,
            "encoder_added_trainable": 0,
            "added_of_encoder": 0.0,
        },
        "device": device,
        "data": str(data),
        "history": [],
        "best": None,
    }
    return config, metrics


def evaluate_zero_shot(
    model: str,
    data: str | Path,
    split: str = "test",
    boxes: str = "gt",
    out: str | Path | None = None,
    overlays: int = 2,
    device: str = "auto",
    conf: float | None = None,
    crop_to_box: bool = False,
    slicing: Any = None,
    checkpoint: str | Path | None = None,
    embeddings: dict[Any, Any] | None = None,
    map_conf: float | None = None,
    zoom: float = 0.0,
) -> dict[str, Any]:
    """Score the pretrained SAM ``model`` (its packaged or cached weights, or ``checkpoint``) on ``split`` of
    the prepared dataset ``data``, prompted as `wood.eval.segment.evaluate.evaluate` is. Writes ``out`` (default
    `default_out`) and returns the metrics dict (``zero_shot: true``). ``embeddings``: a dict the caller keeps
    (filled here, by image path) to hand this model's image embeddings to a later evaluation whose image
    encoder is the same, e.g. a decoder-only run of ``model`` (`wood.eval.segment.evaluate.evaluate`)."""
    from wood.device import resolve_device
    from wood.eval.detections import COCO_MIN_CONF
    from wood.eval.manifest import defect_types
    from wood.eval.segment.evaluate import DEFAULT_CONF, SegmentJob, check_options, run_job, yolo_predictor
    from wood.eval.slicing import check_fits
    from wood.eval.yolo_run import check_out_folder
    from wood.finetune.sam.data import load_split
    from wood.finetune.sam.models import SAM_VARIANTS, load_sam
    from wood.finetune.sam.predictor import SamPredictor
    from wood.finetune.sam.zoom import check_zoom
    from wood.outdir import atomic_output
    from wood.prep.formats.coco_split import read_coco
    from wood.runs import write_metrics_json

    conf = DEFAULT_CONF if conf is None else conf
    map_conf = COCO_MIN_CONF if map_conf is None else map_conf
    check_options(split, conf, overlays, map_conf)
    zoom = check_zoom(zoom, False)
    if model not in SAM_VARIANTS:
        raise ConfigError(f"unknown SAM variant {model!r}; expected one of {sorted(SAM_VARIANTS)}")
    if model == "tiny" and checkpoint is None:
        raise ConfigError("SAM tiny has no pretrained weights: zero-shot needs --model litemedsam, or --checkpoint")
    if slicing is not None and boxes == "gt":
        raise ConfigError("--slice slices a detector's inference: give --boxes <a `wood finetune yolo` run>, not gt")
    data = Path(data).expanduser().absolute()
    if not data.is_dir():
        raise DataError("prepared dataset folder does not exist; pass --data <folder written by `wood prep`>", data)
    final = Path(out) if out is not None else default_out(model, split, boxes, slicing)
    final = final.expanduser().absolute()
    check_out_folder(final)
    device = resolve_device(device)
    images, categories = load_split(data, split)
    check_fits(slicing, ((im.width, im.height) for im in images), f"{data} ({split})")
    gt_coco = read_coco(data, split)
    defects = defect_types(data, split)
    sliced = {} if slicing is None else {"slicing": slicing}
    detector = None if boxes == "gt" else yolo_predictor(boxes, categories, device, map_conf, **sliced)
    sam, source = load_sam(model, checkpoint)
    sam = sam.to(device).eval()
    for p in sam.parameters():
        p.requires_grad_(False)
    config, metrics = zero_shot_record(model, source, sam, data, device)
    with atomic_output(final, ZERO_SHOT_KIND, inputs=[data]) as tmp:
        (tmp / "overlays").mkdir()
        job = SegmentJob(
            final,
            split,
            data,
            tmp,
            images,
            categories,
            gt_coco,
            SamPredictor(sam, device),
            "box",
            1,
            detector,
            boxes,
            None if detector is None else conf,
            bool(crop_to_box),
            overlays,
            defects,
            slicing,
            embeddings,
            map_conf,
            zoom,
        )
        summary = run_job(job, final) | {"zero_shot": True, "model": model, "checkpoint": source}
        (tmp / "segment_metrics.json").write_text(_dumps(summary), encoding="utf-8")
        (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        write_metrics_json(tmp, "sam", metrics)
    return summary


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, indent=2)
