"""`wood eval detect`: COCO mAP (pycocotools, the reference) for a YOLO run, beside Ultralytics' val.

``evaluate(run_dir, split, ...) -> dict`` predicts every image of ``coco/<split>.json``, writes
the COCO results JSON, runs COCOeval (bbox; segm too for segment models, with RLE masks at full
image resolution), runs Ultralytics' own val on the same split, and adds the inspection view
(image-level defect recall, false-alarm rate on good images). Files in the output folder
(default ``<run>/eval-<split>``): eval_detect.json, eval_detect.md, predictions_bbox.json
(+ predictions_segm.json), pr_curve.png, confusion_matrix.png, ultralytics_val/.

Ultralytics' val mAP differs from COCO's (ultralytics #10326), so both are reported with the
difference (COCO - Ultralytics). Not because of its AP code: on the same predictions it is within
0.002 of pycocotools. Ultralytics' val makes its own predictions: one box may carry several
classes, and up to 300 detections per image are kept (here: one class per box, at most 100).
APs and APm (COCO small and medium objects) are reported beside mAP50 and mAP50-95.

With ``slicing`` (`--slice`, wood.eval.slicing) each full image is predicted slice by slice and the
merged boxes are scored the same way (default output ``<run>/eval-<split>-slice<S>``); the JSON
records ``slice`` (null without) and ``inference_ms_per_image`` (median, slicing and merging included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wood.console import console, track
from wood.device import check_device
from wood.errors import DataError, MisMatchError
from wood.eval.coco_metrics import check_gt, coco_eval, confusion_matrix, image_level
from wood.eval.coco_results import detection_results, segm_results
from wood.eval.detect.text import markdown
from wood.eval.detections import COCO_MIN_CONF, Detections
from wood.eval.manifest import manifest_entries
from wood.eval.slicing import Predictor, SliceSettings, Timer, check_fits, check_sliceable, sliced_predictor
from wood.eval.yolo_run import check_out_folder, check_split, checkpoint_imgsz, load_yolo, model_names
from wood.finetune.yolo.run import read_run
from wood.outdir import check_replaceable
from wood.prep.formats.coco_split import coco_path, images_dir, read_coco
from wood.runs import claim_in_run

OUTPUT_KIND = "eval-detect"
"""The kind of output folder this command writes (its marker; wood.outdir)."""

MAX_DET = 100
"""COCO evaluates at most 100 detections per image."""


def load_ground_truth(prep_dir: Path, split: str) -> tuple[dict[str, Any], Path]:
    """COCO ground truth of ``split`` (checked for COCOeval's traps) and its image folder."""
    if not Path(prep_dir).is_dir():
        raise DataError("prepared dataset folder does not exist; pass --data", prep_dir)
    gt = read_coco(prep_dir, split)
    check_gt(gt, str(coco_path(prep_dir, split)))
    return gt, images_dir(prep_dir, split, gt)


def check_classes(model_classes: list[str], gt: dict[str, Any], source: str) -> list[str]:
    """The dataset's class names by category id; MisMatchError if they differ from the model's."""
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    names = [c["name"] for c in cats]
    if [c["id"] for c in cats] != list(range(1, len(cats) + 1)):
        ids = [c["id"] for c in cats]
        raise DataError(f"category ids must be 1..{len(cats)} (class_id + 1), but got {ids}", source)
    if names != model_classes:
        raise MisMatchError(
            f"the model was trained on classes {model_classes} but the dataset has {names}: "
            "evaluate on the dataset the run was trained on (--data)",
            source,
        )
    return names


def predict_split(
    model,
    gt: dict[str, Any],
    images_dir: Path,
    imgsz: int,
    device: str | None,
    segment: bool,
    sliced: Predictor | None = None,
    timer: Timer | None = None,
):
    """Run the model on every image of ``gt``; COCO results (bbox, segm) and max score per image.
    ``sliced`` (boxes only): predict with it instead (sliced inference); ``timer`` times each prediction."""
    from wood.imageio import read_image_rgb

    timer = timer if timer is not None else Timer()
    boxes: list[dict[str, Any]] = []
    masks: list[dict[str, Any]] = []
    max_score: dict[int, float] = {}
    for im in track(sorted(gt["images"], key=lambda i: i["id"]), "predict"):
        path = images_dir / im["file_name"]
        rgb = read_image_rgb(path)
        if rgb.shape[:2] != (im["height"], im["width"]):
            size = f"{rgb.shape[1]}x{rgb.shape[0]} but the COCO json says {im['width']}x{im['height']}"
            raise MisMatchError(f"image is {size}", path)
        if sliced is not None:
            with timer:
                found = sliced(rgb)
        else:
            kwargs = dict(imgsz=imgsz, conf=COCO_MIN_CONF, max_det=MAX_DET, verbose=False, retina_masks=segment)
            if device is not None:
                kwargs["device"] = device
            with timer:
                result = model.predict(np.ascontiguousarray(rgb[:, :, ::-1]), **kwargs)[0]
            found = Detections.from_ultralytics(result, masks=segment)
        max_score[im["id"]] = float(found.scores.max()) if len(found) else 0.0
        boxes += detection_results(im["id"], found, score_digits=5, with_masks=False)
        masks += segm_results(im["id"], found, score_digits=5)
    return boxes, masks, max_score


def ultralytics_val(
    model, prep_dir: Path, subdir: str, split: str, imgsz: int, device: str | None, out: Path, segment: bool
) -> dict[str, Any]:
    """Ultralytics' own val on the same split (its mAP definition), or {"error": ...} if it fails."""
    from ultralytics.utils import LOGGER

    from wood.finetune.yolo.data import read_prep_data_yaml, write_linked_data_yaml

    names = read_prep_data_yaml(prep_dir, subdir)["names"]
    root = (Path(prep_dir) / subdir).resolve()
    # linked beside the eval output: Ultralytics' label cache lands there, never in the prepared folder
    folder = out / "ultralytics_data"
    folder.mkdir(parents=True, exist_ok=True)
    data_yaml = write_linked_data_yaml(root, names, folder / "data.yaml", {k: split for k in ("train", "val", split)})
    kwargs = dict(
        data=str(data_yaml),
        split=split,
        imgsz=imgsz,
        batch=4,
        conf=COCO_MIN_CONF,
        plots=False,
        project=str(out),
        name="ultralytics_val",
        exist_ok=True,
        verbose=False,
    )
    if device is not None:
        kwargs["device"] = device
    level = LOGGER.level
    try:
        metrics = model.val(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a secondary number: record why it is missing
        return {"error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}
    finally:
        LOGGER.setLevel(level)
    out_metrics = {"bbox": {"mAP50": float(metrics.box.map50), "mAP50-95": float(metrics.box.map)}}
    if segment and hasattr(metrics, "seg"):
        out_metrics["segm"] = {"mAP50": float(metrics.seg.map50), "mAP50-95": float(metrics.seg.map)}
    return out_metrics


@dataclass
class DetectJob:
    """What :func:`evaluate` loads before it predicts: the run, its model and the split's ground truth."""

    run: Any
    prep_dir: Path
    split: str
    gt: dict[str, Any]
    images_dir: Path
    manifest: dict[str, dict[str, Any]]
    out: Path
    model: Any
    classes: list[str]
    imgsz: int
    device: str | None
    slice: SliceSettings | None = None

    @property
    def segment(self) -> bool:
        return self.model.task == "segment"


def evaluate(
    run_dir: Path | None,
    split: str = "test",
    *,
    conf: float = 0.25,
    data: Path | None = None,
    weights: Path | None = None,
    out: Path | None = None,
    device: str | None = None,
    imgsz: int | None = None,
    ultralytics_val: bool = True,
    slicing: SliceSettings | None = None,
) -> dict[str, Any]:
    """Evaluate a YOLO run (or any Ultralytics checkpoint via ``weights``) on ``split``; see module doc.

    ``slicing``: sliced inference (wood.eval.slicing, boxes only) on the full images of the split, scored
    the same way; Ultralytics' val cannot slice, so it is skipped then."""
    from dataclasses import replace

    from wood.outdir import atomic_output, relocated

    job = load_job(run_dir, split, conf, data, weights, out, device, imgsz, slicing)
    final = job.out
    with atomic_output(final, OUTPUT_KIND, relocate=True) as tmp:  # the old output stays until the new is whole
        job = replace(job, out=tmp)
        sliced = None
        if job.slice is not None:
            sliced = sliced_predictor(job.model, job.slice, job.imgsz, job.device, COCO_MIN_CONF, MAX_DET)
        timer = Timer()
        boxes, masks, max_score = predict_split(
            job.model, job.gt, job.images_dir, job.imgsz, job.device, job.segment, sliced, timer
        )
        files = write_predictions(job.out, boxes, masks if job.segment else None)
        coco = coco_scores(job.gt, boxes, masks if job.segment else None)
        ultra = ultralytics_val_safe(job) if ultralytics_val and job.slice is None else {}
        matrix, names = confusion_matrix(job.gt, boxes, conf)
        files |= write_plots(job.out, coco["bbox"], matrix, names, split, conf)
        result = summarise(job, coco, ultra, inspection_view(job, max_score, conf), matrix, names, conf, files)
        result["inference_ms_per_image"] = timer.ms_per_image
        from wood.eval.anomaly.scale import coco_scale  # image AUROC etc., comparable with anomaly runs

        result["anomaly_scale"] = coco_scale(job.gt, job.manifest, boxes, masks if job.segment else None)
        if job.slice is not None and ultralytics_val:
            result["notes"].append("Ultralytics val skipped: it predicts whole images and cannot slice")
        write_result(job.out, result)
    return relocated(result, tmp, final)


def load_job(
    run_dir: Path | None,
    split: str,
    conf: float,
    data: Path | None,
    weights: Path | None,
    out: Path | None,
    device: str | None,
    imgsz: int | None,
    slicing: SliceSettings | None = None,
) -> DetectJob:
    """Check the options, find the run, read the split's ground truth, load the model; the output folder is made."""
    if not 0.0 < conf < 1.0:
        raise DataError(f"conf must be in (0, 1), but got {conf}")
    check_split(split)
    check_device(device)
    run = read_run(run_dir, weights)
    prep_dir = Path(data) if data is not None else run.data
    if prep_dir is None:
        raise DataError("the checkpoint does not name its dataset: pass --data (a `wood prep` folder)")
    gt, folder = load_ground_truth(prep_dir, split)
    manifest = manifest_entries(prep_dir, split)
    check_fits(slicing, ((im["width"], im["height"]) for im in gt["images"]), str(coco_path(prep_dir, split)))
    tail = "" if slicing is None else f"-slice{slicing.size}"
    out = Path(out) if out is not None else (run.run_dir or run.weights.parent) / f"eval-{split}{tail}"
    check_out_folder(out)
    check_replaceable(out, OUTPUT_KIND)  # a folder wood did not write is never replaced
    model = load_yolo(run.weights, device)
    check_sliceable(slicing, model.task, "eval detect")
    classes = check_classes(model_names(model), gt, str(coco_path(prep_dir, split)))
    claim_in_run(out, OUTPUT_KIND)
    size = imgsz or run.imgsz or checkpoint_imgsz(model)
    return DetectJob(run, Path(prep_dir), split, gt, folder, manifest, out, model, classes, size, device, slicing)


def write_predictions(out: Path, boxes: list[dict[str, Any]], masks: list[dict[str, Any]] | None) -> dict[str, str]:
    """predictions_bbox.json (+ predictions_segm.json with masks, i.e. for segment models); returns {name: path}."""
    files = {"bbox": boxes} | ({} if masks is None else {"segm": masks})
    for kind, results in files.items():
        (out / f"predictions_{kind}.json").write_text(json.dumps(results), encoding="utf-8")
    return {f"predictions_{kind}": str(out / f"predictions_{kind}.json") for kind in files}


def coco_scores(gt: dict[str, Any], boxes: list[dict[str, Any]], masks: list[dict[str, Any]] | None) -> dict[str, Any]:
    """COCO AP of the boxes, and of the masks when there are (segment models)."""
    return {"bbox": coco_eval(gt, boxes, "bbox")} | ({} if masks is None else {"segm": coco_eval(gt, masks, "segm")})


def comparison_rows(coco: dict[str, Any], ultra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """COCO vs Ultralytics mAP per kind and threshold, with the difference (COCO - Ultralytics)."""
    rows = {}
    for kind, res in coco.items():
        for key in ("mAP50", "mAP50-95"):
            u, c = ultra.get(kind, {}).get(key), res[key]
            difference = None if c is None or u is None else c - u
            rows[f"{kind} {key}"] = {"coco": c, "ultralytics": u, "difference": difference}
    return rows


def inspection_view(job: DetectJob, max_score: dict[int, float], conf: float) -> dict[str, Any]:
    """Image-level defect recall and false-alarm rate (an image is defective per the manifest, else per the GT),
    and the recall per defect type."""
    with_instances = {a["image_id"] for a in job.gt["annotations"]}
    defective, by_defect = {}, {}
    for im in job.gt["images"]:
        entry = job.manifest.get(im["file_name"])
        defective[im["id"]] = (entry["defect"] != "good") if entry else im["id"] in with_instances
        if entry and entry["defect"] != "good":
            by_defect.setdefault(entry["defect"], []).append(max_score.get(im["id"], 0.0) >= conf)
    inspection = image_level(defective, max_score, conf)
    inspection["defect_recall_by_type"] = {k: sum(v) / len(v) for k, v in sorted(by_defect.items())}
    return inspection


def write_plots(
    out: Path, bbox: dict[str, Any], matrix: np.ndarray, names: list[str], split: str, conf: float
) -> dict[str, str]:
    """pr_curve.png and confusion_matrix.png; returns {name: path}."""
    from wood.eval.plots import plot_confusion, plot_pr_curves

    title = f"PR at IoU 0.5 (COCO), {split}"
    pr = plot_pr_curves(bbox["pr_curve"], bbox["recall_thresholds"], out / "pr_curve.png", title)
    cm = plot_confusion(matrix, names, out / "confusion_matrix.png", f"conf >= {conf}, IoU >= 0.5, {split}")
    return {"pr_curve": str(pr), "confusion_matrix": str(cm)}


def notes_for(job: DetectJob, coco: dict[str, Any], ultra: dict[str, Any]) -> list[str]:
    """What a reader of the numbers must know: COCOeval's notes, a different dataset, a failed Ultralytics val."""
    from wood.prep.dataset import manifest_sha256

    notes = [res["note"] for res in coco.values() if res.get("note")]
    trained_sha = job.run.info.get("manifest_sha256")
    if trained_sha and manifest_sha256(job.prep_dir) not in (None, trained_sha):
        notes.append("evaluated on a different prepared dataset than the run was trained on (same classes)")
    if "error" in ultra:
        notes.append(f"Ultralytics val failed: {ultra['error']}")
    return notes


def summarise(
    job: DetectJob,
    coco: dict[str, Any],
    ultra: dict[str, Any],
    inspection: dict[str, Any],
    matrix: np.ndarray,
    names: list[str],
    conf: float,
    files: dict[str, str],
) -> dict[str, Any]:
    """The eval_detect.json dict."""
    curves = ("pr_curve", "recall_thresholds")
    return {
        "split": job.split,
        "run": str(job.run.run_dir) if job.run.run_dir else None,
        "weights": str(job.run.weights),
        "data": str(job.prep_dir.resolve()),
        "task": job.model.task,
        "imgsz": job.imgsz,
        "slice": None if job.slice is None else job.slice.record(),
        "images": len(job.gt["images"]),
        "instances": len(job.gt["annotations"]),
        "classes": job.classes,
        "coco": {k: {kk: vv for kk, vv in v.items() if kk not in curves} for k, v in coco.items()},
        "ultralytics": ultra,
        "comparison": comparison_rows(coco, ultra),
        "inspection": inspection,
        "confusion_matrix": {"names": names, "rows_true_cols_pred": matrix.tolist(), "conf": conf, "iou": 0.5},
        "notes": notes_for(job, coco, ultra),
        "files": files | {"json": str(job.out / "eval_detect.json"), "markdown": str(job.out / "eval_detect.md")},
    }


def write_result(out: Path, result: dict[str, Any]) -> None:
    (out / "eval_detect.md").write_text(markdown(result), encoding="utf-8")
    (out / "eval_detect.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


def ultralytics_val_safe(job: DetectJob) -> dict[str, Any]:
    """:func:`ultralytics_val` on the job's split, or {"error": ...} when the prepared folder has no YOLO images."""
    subdir = "yolo-seg" if job.segment else "yolo"
    if not (job.prep_dir / subdir / "images" / job.split).is_dir():
        return {"error": f"no {subdir}/images/{job.split} folder"}
    console.print("Ultralytics val (for comparison) ...")
    return ultralytics_val(job.model, job.prep_dir, subdir, job.split, job.imgsz, job.device, job.out, job.segment)
