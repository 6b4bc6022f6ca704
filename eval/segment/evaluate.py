"""`wood eval segment`: score a SAM run on a split, prompted by GT boxes or by a YOLO run's boxes.

Metrics (all at the original image resolution, masks binarised at logit 0):
- per class: IoU and Dice of the union of predicted masks of the class against the union of
  its GT masks, pixels summed over the split (semantic IoU); ``mIoU`` is their mean over the
  classes present (in GT or predictions);
- with GT boxes (one prediction per GT instance): per-instance IoU/Dice, their mean per
  class (``instance_mIoU``) and over all instances;
- per image: class-agnostic IoU/Dice of all predictions vs all GT (an empty image with no
  prediction scores 1.0);
- pixel-level precision/recall/F1 over whole images of the split, good images included (any
  predicted pixel there is a false alarm);
- COCO segm AP from RLE predictions (score: SAM's IoU prediction, times the detector's
  confidence with YOLO boxes), via `wood.eval.coco_metrics.coco_eval`.
Overlay PNGs (GT contours green, predictions red, prompt boxes yellow) for a few images per class.

With a YOLO run's boxes, the detector runs at ``--map-conf`` (default ``COCO_MIN_CONF``, 0.001, COCO's
protocol, as `eval detect`) and SAM segments every box: segm mAP is scored on all of them (a PR curve cut
at 0.25 is truncated: mask mAP50 0.2823 vs 0.3433 on the same runs), while IoU/Dice, pixel scores,
per-image rows and overlays keep only boxes with confidence >= ``--conf`` (0.25). Every box is one mask
decode, so a higher ``--map-conf`` is faster (the demo's detector: 1,417 boxes >= 0.001 on 45 images, 207
>= 0.05) and changes segm mAP and ``anomaly_scale`` (which see every segmented box), not IoU/Dice or the
pixel scores (same run: segm mAP50 0.391 -> 0.385, pixel AUROC 0.986 -> 0.963, mIoU 0.368 both). The JSON
says both (``conf``, ``map_conf``).

A good image is one the manifest calls good (as `eval detect`); without a manifest entry, one
without instances. A defective image whose instances were all dropped (``--min-area``) is not good.

Files: segment_metrics.json, predictions_segm.json (COCO results of every scored mask, ids of the
prepared coco/<split>.json; see wood.eval.coco_results), overlays/*.png.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from wood.console import console, track
from wood.errors import ConfigError, DataError, MisMatchError, WeightsError
from wood.eval.coco_results import mask_results, write_json
from wood.eval.detections import COCO_MIN_CONF, Detections
from wood.eval.segment.masks import CROP_MARGIN, crop_masks_to_boxes, prompt_masks
from wood.eval.segment.overlay import _write_png, draw_overlay
from wood.eval.segment.scores import ImageResult, SegmentScorer, keep_confident
from wood.eval.segment.text import format_summary
from wood.outdir import check_replaceable
from wood.runs import claim_in_run

OUTPUT_KIND = "eval-segment"
"""The kind of output folder this command writes (its marker; wood.outdir)."""

DEFAULT_CONF = 0.25
"""Detector confidence threshold for `--boxes <yolo run>`: boxes below it count for segm mAP and anomaly_scale
only."""
MAX_DET = 100
"""COCO evaluates at most 100 detections per image."""


def yolo_predictor(
    yolo_run: str | Path, categories: dict[int, str], device: str, conf: float, slicing: Any = None
) -> Callable[[np.ndarray], Detections]:
    """A function rgb -> Detections (boxes xyxy (N, 4) pixel coords, scores, class ids; no masks) from a YOLO
    run; ``slicing`` (wood.eval.slicing.SliceSettings): sliced inference, boxes merged to the full image."""
    from wood.eval.slicing import sliced_predictor
    from wood.eval.yolo_run import checkpoint_imgsz, load_yolo, model_names
    from wood.finetune.yolo.run import read_run

    run = read_run(Path(yolo_run))
    model = load_yolo(run.weights)
    names = model_names(model)
    expected = [categories[c] for c in sorted(categories)]
    if names != expected:
        raise MisMatchError(f"the YOLO run predicts classes {names} but the split has {expected}", run.weights)
    imgsz = run.imgsz or checkpoint_imgsz(model)
    # Ultralytics spells cuda:0 as "0"
    yolo_device = "cpu" if device == "cpu" else (device.split(":", 1)[1] if ":" in device else "0")
    if slicing is not None:
        return sliced_predictor(model, slicing, imgsz, yolo_device, conf, MAX_DET)

    def predict(rgb: np.ndarray) -> Detections:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        res = model.predict(bgr, imgsz=imgsz, conf=conf, max_det=MAX_DET, verbose=False, device=yolo_device)[0]
        found = Detections.from_ultralytics(res, masks=False)
        return Detections(found.xyxy.astype(np.float32), found.scores, found.class_ids)

    return predict


@dataclass
class SegmentJob:
    """What :func:`evaluate` loads before it predicts: the run's SAM, the split and the prompt source."""

    run_dir: Path
    split: str
    data: Path
    out: Path
    images: list[Any]
    categories: dict[int, str]
    gt_coco: dict[str, Any]
    predictor: Any
    prompt: str
    n_points: int
    detector: Any = None
    boxes: str = "gt"
    conf: float | None = None
    crop: bool = False
    overlays: int = 2
    defects: dict[str, str] | None = None
    slicing: Any = None  # wood.eval.slicing.SliceSettings of the detector, or None
    embeddings: dict[Any, Any] | None = None  # image embeddings by image path, shared by evals of one model
    map_conf: float = COCO_MIN_CONF  # with a detector: the lowest confidence segmented (segm mAP)
    zoom: float = 0.0  # > 0: every box segmented in its own crop (wood.finetune.sam.zoom)


def evaluate(
    run_dir: str | Path,
    split: str = "test",
    boxes: str = "gt",
    data: str | Path | None = None,
    out: str | Path | None = None,
    overlays: int = 2,
    device: str = "auto",
    conf: float = DEFAULT_CONF,
    crop_to_box: bool = False,
    slicing: Any = None,
    embeddings: dict[Any, Any] | None = None,
    map_conf: float = COCO_MIN_CONF,
    zoom: float | None = None,
) -> dict[str, Any]:
    """Score the SAM run ``run_dir`` on ``split``. ``boxes``: "gt" or a YOLO run folder; ``slicing``
    (wood.eval.slicing.SliceSettings, with a YOLO run only): the detector predicts slices. ``embeddings``: a
    dict the caller keeps to share image embeddings between evaluations of the same run (filled here).
    ``map_conf``: with a YOLO run, the lowest detector confidence that is segmented (for segm mAP).
    ``zoom``: segment each box in its own crop (`wood.finetune.sam.zoom`); None: as the run was trained.

    Writes ``<out>/segment_metrics.json``, ``<out>/predictions_segm.json`` and ``<out>/overlays/*.png``
    (``out`` defaults to ``<run>/eval-<split>`` or ``<run>/eval-<split>-yolo``) and returns the metrics dict.
    ``crop_to_box`` zeroes mask pixels outside each prompt box (+5% margin); point prompts
    (``--prompt points`` runs with GT) are never cropped.
    """
    from dataclasses import replace

    from wood.outdir import atomic_output

    job = load_job(run_dir, split, boxes, data, out, overlays, device, conf, crop_to_box, slicing, map_conf, zoom)
    final = job.out
    with atomic_output(final, OUTPUT_KIND, relocate=True) as tmp:  # the old output stays until the new is whole
        job = replace(job, out=tmp, embeddings=embeddings)
        (tmp / "overlays").mkdir()
        summary = run_job(job, final)
    return summary


def run_job(job: SegmentJob, final: Path | None = None) -> dict[str, Any]:
    """Predict and score ``job``, writing its files into ``job.out``; the summary names them under ``final``
    (the folder ``job.out`` becomes, when it is a temporary one; default ``job.out``)."""
    from wood.eval.anomaly.scale import segment_row, segment_scale  # image/pixel AUROC, as anomaly runs

    scorer, results, drawn, scale_rows = SegmentScorer(job.categories), [], {}, []
    for rgb, r, prompt_boxes, det_scores in predict_split(job):
        results.extend(mask_results(r.image_id, r.pred_masks, r.pred_classes, r.pred_scores))
        scale_rows.append(segment_row(r))
        shown, shown_boxes = keep_confident(r, prompt_boxes, det_scores, job.conf)
        scorer.add(shown)
        write_overlay(job, drawn, rgb, shown, shown_boxes)
    write_json(job.out / "predictions_segm.json", results)
    summary = summarise(job, scorer, results, final or job.out)
    summary["anomaly_scale"] = segment_scale(scale_rows, job.detector is None)
    write_summary(job.out, summary, final or job.out)
    return summary


def check_options(split: str, conf: float, overlays: int, map_conf: float = COCO_MIN_CONF) -> None:
    from wood.eval.yolo_run import check_split

    check_split(split)
    if not 0.0 < conf < 1.0:
        raise ConfigError(f"conf must be in (0, 1), but got {conf}")
    if not 0.0 < map_conf <= conf:
        raise ConfigError(f"map-conf must be in (0, conf={conf}], but got {map_conf}")
    if overlays < 0:
        raise ConfigError(f"overlays must be >= 0, but got {overlays}")


def load_job(
    run_dir: str | Path,
    split: str,
    boxes: str,
    data: str | Path | None,
    out: str | Path | None,
    overlays: int,
    device: str,
    conf: float,
    crop_to_box: bool,
    slicing: Any = None,
    map_conf: float = COCO_MIN_CONF,
    zoom: float | None = None,
) -> SegmentJob:
    """Check the options and the run, read the split, load the detector (``boxes`` a YOLO run) and the run's
    SAM; the output folder is made last."""
    from wood.device import resolve_device
    from wood.eval.manifest import defect_types
    from wood.eval.slicing import check_fits
    from wood.eval.yolo_run import check_out_folder
    from wood.finetune.sam.data import load_split
    from wood.finetune.sam.predictor import SamPredictor
    from wood.finetune.sam.run import DECODER_FILE, load, read_run
    from wood.finetune.sam.zoom import check_zoom
    from wood.prep.formats.coco_split import read_coco

    check_options(split, conf, overlays, map_conf)
    if slicing is not None and boxes == "gt":
        raise ConfigError("--slice slices a detector's inference: give --boxes <a `wood finetune yolo` run>, not gt")
    device = resolve_device(device)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError("run folder does not exist", run_dir)
    tail = ("" if boxes == "gt" else "-yolo") + ("" if slicing is None else f"-slice{slicing.size}")
    out = Path(out) if out is not None else run_dir / f"eval-{split}{tail}"
    check_out_folder(out)
    check_replaceable(out, OUTPUT_KIND)  # a folder wood did not write is never replaced
    cfg = read_run(run_dir)
    zoom = check_zoom(cfg.zoom if zoom is None else zoom, boxes == "gt" and cfg.prompt == "points")
    if not (run_dir / "weights" / DECODER_FILE).is_file():
        raise WeightsError(f"run has no weights/{DECODER_FILE}: training did not finish an epoch", run_dir)
    data = Path(data or cfg.data)
    images, categories = load_split(data, split)
    check_fits(slicing, ((im.width, im.height) for im in images), f"{data} ({split})")
    gt_coco = read_coco(data, split)
    defects = defect_types(data, split)  # a tiled split is refused here
    sliced = {} if slicing is None else {"slicing": slicing}
    # the detector loads before SAM
    detector = None if boxes == "gt" else yolo_predictor(boxes, categories, device, map_conf, **sliced)
    sam, cfg = load(run_dir, device)
    claim_in_run(out, OUTPUT_KIND)  # only once every check has passed: a refused eval claims no name in the run
    gt_points = detector is None and cfg.prompt == "points"
    return SegmentJob(
        run_dir,
        split,
        data,
        out,
        images,
        categories,
        gt_coco,
        SamPredictor(sam, device, box_mask=cfg.box_mask_prompt),
        cfg.prompt,
        cfg.n_points,
        detector,
        boxes,
        None if detector is None else conf,
        bool(crop_to_box and not gt_points),
        overlays,
        defects,
        slicing,
        map_conf=map_conf,
        zoom=zoom,
    )


def predict_split(job: SegmentJob) -> Iterator[tuple[np.ndarray, ImageResult, np.ndarray, list[float]]]:
    """(RGB image, its result, its prompt boxes, their detector scores) for every image of the split, one
    image in memory at a time."""
    from wood.finetune.sam.data import read_rgb

    for image in track(job.images, f"segment {job.split}"):
        rgb = read_rgb(image)
        yield rgb, *predict_image(job, image, rgb)


def prompt_source(job: SegmentJob, image: Any, rgb: np.ndarray) -> tuple[np.ndarray, list[int], list[float], dict]:
    """Prompt boxes (N, 4) in the original frame, their classes and confidences, and the model-frame prompts:
    GT instances (boxes or points, as the run was trained) or the detector's boxes."""
    from wood.finetune.sam.data import box_prompts, build_prompts

    target = job.predictor.target
    if job.detector is not None:
        found = job.detector(rgb)
        scores = [float(s) for s in found.scores]
        return found.xyxy, found.category_ids(), scores, box_prompts(found.xyxy, image.original_size, target)
    boxes = np.stack([i.bbox_xyxy for i in image.instances]) if image.instances else np.zeros((0, 4), np.float32)
    classes = [i.category_id for i in image.instances]
    prompts = build_prompts(image.instances, image.original_size, target, job.prompt, job.n_points) if classes else {}
    return boxes, classes, [1.0] * len(classes), prompts


def predict_image(job: SegmentJob, image: Any, rgb: np.ndarray) -> tuple[ImageResult, np.ndarray, list[float]]:
    """SAM's masks for one image, with scores = SAM's IoU prediction x the detector's confidence; the prompt
    boxes and the detector's confidences (1.0 for GT prompts)."""
    prompt_boxes, classes, det_scores, prompts = prompt_source(job, image, rgb)
    masks, scores = np.zeros((0, *image.original_size), bool), []
    if len(classes):
        masks, iou = prompt_masks(job.predictor, rgb, prompts, prompt_boxes, job.zoom, job.embeddings, image.path)
        if job.crop:
            masks = crop_masks_to_boxes(masks, prompt_boxes, CROP_MARGIN)
        scores = [q * s for q, s in zip(iou, det_scores, strict=True)]
    gt_masks = np.zeros((0, *image.original_size), bool)
    if image.instances:
        gt_masks = np.stack([i.mask for i in image.instances])
    result = ImageResult(
        image.image_id,
        image.file_name,
        gt_masks,
        [i.category_id for i in image.instances],
        masks,
        list(classes),
        scores,
        paired=job.detector is None,
        defect=(job.defects or {}).get(image.file_name),
    )
    return result, prompt_boxes, list(det_scores)


def write_overlay(job: SegmentJob, drawn: dict[str, int], rgb: np.ndarray, r: ImageResult, boxes: np.ndarray) -> None:
    """overlays/<stem>.png for the first ``job.overlays`` images of each class (``drawn`` counts them)."""
    label = job.categories[r.gt_classes[0]] if r.gt_classes else (r.defect or "good")
    if drawn.get(label, 0) < job.overlays:
        drawn[label] = drawn.get(label, 0) + 1
        _write_png(draw_overlay(rgb, r, boxes), job.out / "overlays" / f"{Path(r.file_name).stem}.png")


def summarise(
    job: SegmentJob, scorer: SegmentScorer, results: list[dict[str, Any]], where: Path | None = None
) -> dict[str, Any]:
    """segment_metrics.json: the scorer's summary, COCO segm AP, and what was evaluated how (its files named
    under ``where``, default ``job.out``)."""
    where = where or job.out
    from wood.eval.coco_metrics import coco_eval

    summary = scorer.summary()
    summary["segm"] = coco_eval(job.gt_coco, results, "segm")
    summary.update(
        {
            "run": str(job.run_dir),
            "split": job.split,
            "data": str(job.data),
            "boxes": "gt" if job.detector is None else str(job.boxes),
            "prompt": job.prompt if job.detector is None else "box",
            "conf": job.conf,
            "map_conf": None if job.detector is None else job.map_conf,
            "images": len(job.images),
            "crop_to_box": job.crop,
            "zoom": job.zoom,
            "slice": None if job.slicing is None else job.slicing.record(),
        }
    )
    if job.detector is not None:
        summary["notes"] = [
            f"segm mAP from every detection with confidence >= {job.map_conf} ({map_protocol(job.map_conf)}); "
            f"IoU/Dice, pixel scores, per-image rows and overlays from detections >= {job.conf}"
        ]
    summary["files"] = {
        "json": str(where / "segment_metrics.json"),
        "predictions_segm": str(where / "predictions_segm.json"),
        "overlays": str(where / "overlays"),
    }
    return summary


def map_protocol(map_conf: float) -> str:
    """How segm mAP's confidence floor relates to COCO's, for the notes."""
    if map_conf == COCO_MIN_CONF:
        return "COCO's protocol, as eval detect"
    return f"above COCO's {COCO_MIN_CONF}: a truncated PR curve, fewer masks to decode"


def write_summary(out: Path, summary: dict[str, Any], final: Path | None = None) -> None:
    (out / "segment_metrics.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    console.print(format_summary(summary))
    console.print(f"metrics and overlays written to {final or out}")
