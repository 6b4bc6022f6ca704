"""`wood predict`: run a YOLO run's checkpoint on image files; overlay PNGs and a JSON of boxes.

predictions.json: ``{"weights", "conf", "images": [{"file", "width", "height", "detections":
[{"class", "class_id", "score", "bbox_xyxy": [x0, y0, x1, y1]}]}]}`` with boxes in pixels of
the original image (XYXY, pixel-edge coordinates). Overlays are ``<out>/<stem>_pred.png``.

Beside it, the same detections as a COCO results file for other tools (pycocotools' loadRes,
faster-coco-eval, FiftyOne): predictions_coco.json, a list of ``{"image_id", "category_id",
"bbox": [x, y, w, h], "score"}`` (+ ``"segmentation"`` RLE for segment models), with the image ids
of the ground truth the images belong to (``coco`` given, or a prepared split's ``coco/<split>.json``:
see wood.deploy.predict_ids), else 1..N in the order of predictions.json, and category ids class_id + 1;
predictions.json names that ground truth (``coco_gt``, null for 1..N); predictions_coco_images.json
maps the ids back: ``{"images": [{"id", "file_name", "width", "height"}], "categories": [{"id", "name"}]}``
(see wood.eval.coco_results).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wood.console import track
from wood.deploy.predict_ids import image_ids
from wood.device import check_device
from wood.errors import DataError
from wood.eval.coco_results import detection_results, images_table, write_json
from wood.eval.detections import Detections
from wood.eval.slicing import Predictor, SliceSettings, Timer, check_fits, check_sliceable, sliced_predictor
from wood.eval.yolo_run import check_out_folder, checkpoint_imgsz, load_yolo, model_names
from wood.finetune.yolo.run import read_run
from wood.outdir import atomic_output, check_replaceable
from wood.prep.mvtec import IMAGE_EXTENSIONS
from wood.runs import claim_in_run

OUTPUT_KIND = "predict"
"""The kind of output folder this command writes (its marker; wood.outdir)."""

PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
]


def collect_images(paths: list[Path]) -> list[Path]:
    """Image files from files and folders (folders: their image files, sorted); DataError if none."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.is_file():
            files.append(p)
        else:
            raise DataError("image file or folder does not exist", p)
    if not files:
        raise DataError(f"no images found in {', '.join(map(str, paths))}")
    return files


def draw_overlay(rgb: np.ndarray, detections: list[dict[str, Any]], masks: np.ndarray | None) -> np.ndarray:
    """RGB image with masks blended at 40 % and labelled boxes drawn (cv2, no font download)."""
    import cv2

    out = rgb.copy()
    for i, det in enumerate(detections):
        color = PALETTE[det["class_id"] % len(PALETTE)]
        if masks is not None and i < len(masks):
            m = masks[i]
            out[m] = (0.6 * out[m] + 0.4 * np.array(color)).astype(np.uint8)
        x0, y0, x1, y1 = (int(round(v)) for v in det["bbox_xyxy"])
        thick = max(1, round(max(rgb.shape[:2]) / 400))
        cv2.rectangle(out, (x0, y0), (x1, y1), color, thick)
        label = f"{det['class']} {det['score']:.2f}"
        scale = max(0.35, max(rgb.shape[:2]) / 1600)
        cv2.putText(out, label, (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    return out


MAX_DET = 300
"""Ultralytics' default detections per image, kept for sliced inference too."""


def predict_one(
    model, rgb: np.ndarray, imgsz: int, conf: float, device: str | None, sliced: Predictor | None, timer: Timer
) -> Detections:
    """One image's Detections (pixels of ``rgb``; a segment model's masks (N, H, W) bool at full size),
    timed by ``timer``."""
    if sliced is not None:
        with timer:
            return sliced(rgb)
    kwargs = dict(imgsz=imgsz, conf=conf, verbose=False, retina_masks=True)
    if device is not None:
        kwargs["device"] = device
    with timer:
        result = model.predict(np.ascontiguousarray(rgb[:, :, ::-1]), **kwargs)[0]
    return Detections.from_ultralytics(result)


def predict_images(
    run_dir: Path | None,
    images: list[Path],
    *,
    out: Path | None = None,
    conf: float = 0.25,
    weights: Path | None = None,
    device: str | None = None,
    imgsz: int | None = None,
    prompts: list[str] | None = None,
    slicing: SliceSettings | None = None,
    coco: Path | None = None,
) -> Path:
    """Predict ``images`` with the run's checkpoint; write overlays, predictions.json and the COCO results
    (predictions_coco.json, predictions_coco_images.json); return the path of predictions.json.

    Every image is decoded once before the model loads, so a missing, corrupt or non-image file
    stops with one DataError and nothing written (each image is then read again to predict).

    ``prompts`` (YOLO-World runs only): detect these texts instead of the trained classes.
    ``slicing``: sliced inference (wood.eval.slicing; boxes only, so a YOLO-seg run is refused).
    ``coco``: a COCO ground truth holding every image, whose image ids the results use (wood.deploy.predict_ids).
    """
    import cv2

    from wood.imageio import read_image_rgb

    if not 0.0 < conf < 1.0:
        raise DataError(f"conf must be in (0, 1), but got {conf}")
    check_device(device)
    files = collect_images(images)
    ids, gt_file = image_ids(files, coco)
    run = read_run(run_dir, weights)
    out = Path(out) if out is not None else (run.run_dir or run.weights.parent) / "predict"
    check_out_folder(out)
    for path in track(files, "check images"):  # a corrupt image stops here, before anything is written
        rgb = read_image_rgb(path)
        check_fits(slicing, [(rgb.shape[1], rgb.shape[0])], str(path))
    check_replaceable(out, OUTPUT_KIND)  # a folder wood did not write is never replaced
    model = load_yolo(run.weights, device)
    check_sliceable(slicing, getattr(model, "task", None), "wood predict")
    if prompts:
        from wood.finetune.yolo.world import set_run_prompts

        set_run_prompts(model, run.run_dir, prompts)
    names = model_names(model)
    fixed = run.weights.suffix.lower() == ".onnx"  # an export's input size is fixed in the graph
    size = imgsz or (checkpoint_imgsz(model) if fixed else run.imgsz or checkpoint_imgsz(model))
    sliced = None if slicing is None else sliced_predictor(model, slicing, size, device, conf, MAX_DET)
    final = out
    claim_in_run(final, OUTPUT_KIND)
    with atomic_output(final, OUTPUT_KIND, relocate=True) as out:  # the old output stays until the new is whole
        records, coco, timer = [], [], Timer()
        for path in track(files, "predict"):
            rgb = read_image_rgb(path)
            found = predict_one(model, rgb, size, conf, device, sliced, timer)
            rows = zip(found.xyxy.tolist(), found.scores.tolist(), found.class_ids.tolist(), strict=True)
            dets = [
                {"class": names[c], "class_id": c, "score": round(s, 4), "bbox_xyxy": [round(v, 1) for v in box]}
                for box, s, c in rows
            ]
            coco += detection_results(ids[len(records)], found)
            overlay = draw_overlay(rgb, dets, found.masks)
            target = out / f"{path.stem}_pred.png"
            ok, png = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
            if not ok:
                raise DataError("could not encode overlay PNG", target)
            target.write_bytes(png.tobytes())  # bytes, not cv2.imwrite: non-ASCII paths work
            records.append(
                {
                    "id": ids[len(records)],
                    "file": str(path),
                    "overlay": str(target),
                    "width": rgb.shape[1],
                    "height": rgb.shape[0],
                    "detections": dets,
                }
            )
        out_json = out / "predictions.json"
        summary = {
            "weights": str(run.weights),
            "conf": conf,
            "imgsz": size,
            "slice": None if slicing is None else slicing.record(),
            "coco_gt": None if gt_file is None else str(gt_file),
            "inference_ms_per_image": timer.ms_per_image,
            "images": records,
        }
        out_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_json(out / "predictions_coco.json", coco)
        write_json(out / "predictions_coco_images.json", images_table(records, names))
    return Path(final) / out_json.name
