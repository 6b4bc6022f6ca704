"""`wood eval detect`: COCO mAP (pycocotools, the reference) for a YOLO run, beside Ultralytics' val.

``evaluate(run_dir, split, ...) -> dict`` predicts every image of ``coco/<split>.json``, writes
the COCO results JSON, runs COCOeval (bbox; segm too for segment models, with RLE masks at full
image resolution), runs Ultralytics' own val on the same split, and adds the inspection view
(image-level defect recall, false-alarm rate on good images). Files in the output folder
(default ``<run>/eval-<split>``): eval_detect.json, eval_detect.md, predictions_bbox.json
(+ predictions_segm.json), pr_curve.png, confusion_matrix.png, ultralytics_val/.

Ultralytics' mAP differs from COCO's (ultralytics #10326): it interpolates precision over
1000 recall points and matches detections differently, so both are reported with the
difference (COCO - Ultralytics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from wood.console import console, track
from wood.device import check_device
from wood.errors import DataError, MisMatchError
from wood.eval.coco_metrics import check_gt, coco_eval, confusion_matrix, image_level
from wood.eval.yolo_run import check_out_folder, check_split, checkpoint_imgsz, load_run, load_yolo, model_names
from wood.prep.coco_masks import encode_rle

PREDICT_CONF = 0.001
"""Score floor for mAP predictions (the same as Ultralytics val): AP needs the low-score tail."""
MAX_DET = 100
"""COCO evaluates at most 100 detections per image."""


def load_split(prep_dir: Path, split: str) -> tuple[dict[str, Any], Path, dict[str, dict[str, Any]]]:
    """COCO ground truth of ``split``, its image folder, and manifest entries by image name."""
    path = Path(prep_dir) / "coco" / f"{split}.json"
    if not Path(prep_dir).is_dir():
        raise DataError("prepared dataset folder does not exist; pass --data", prep_dir)
    if not path.is_file():
        raise DataError(f"no coco/{split}.json: the dataset has no {split!r} split", prep_dir)
    try:
        gt = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc})", path) from exc
    check_gt(gt, str(path))
    images_dir = path.parent / gt.get("info", {}).get("images_dir", f"../yolo/images/{split}")
    manifest: dict[str, dict[str, Any]] = {}
    if (Path(prep_dir) / "manifest.json").is_file():
        data = json.loads((Path(prep_dir) / "manifest.json").read_text(encoding="utf-8"))
        manifest = {im["name"]: im for im in data.get("images", []) if im.get("split") == split}
    return gt, images_dir.resolve(), manifest


def check_classes(model_classes: list[str], gt: dict[str, Any], source: str) -> list[str]:
    """The dataset's class names by category id; MisMatchError if they differ from the model's."""
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    names = [c["name"] for c in cats]
    if [c["id"] for c in cats] != list(range(1, len(cats) + 1)):
        raise DataError(f"category ids must be 1..{len(cats)} (class_id + 1), but got {[c['id'] for c in cats]}", source)
    if names != model_classes:
        raise MisMatchError(f"the model was trained on classes {model_classes} but the dataset has {names}: "
                            "evaluate on the dataset the run was trained on (--data)", source)
    return names


def predict_split(model, gt: dict[str, Any], images_dir: Path, imgsz: int, device: str | None, segment: bool):
    """Run the model on every image of ``gt``; COCO results (bbox, segm) and max score per image."""
    from wood.prep.imageio import read_image_rgb

    boxes: list[dict[str, Any]] = []
    masks: list[dict[str, Any]] = []
    max_score: dict[int, float] = {}
    for im in track(sorted(gt["images"], key=lambda i: i["id"]), "predict"):
        path = images_dir / im["file_name"]
        rgb = read_image_rgb(path)
        if rgb.shape[:2] != (im["height"], im["width"]):
            raise MisMatchError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but the COCO json says {im['width']}x{im['height']}", path)
        kwargs = dict(imgsz=imgsz, conf=PREDICT_CONF, max_det=MAX_DET, verbose=False, retina_masks=segment)
        if device is not None:
            kwargs["device"] = device
        result = model.predict(np.ascontiguousarray(rgb[:, :, ::-1]), **kwargs)[0]
        xyxy = result.boxes.xyxy.cpu().numpy()
        scores = result.boxes.conf.cpu().numpy()
        classes = result.boxes.cls.cpu().numpy().astype(int)
        max_score[im["id"]] = float(scores.max()) if len(scores) else 0.0
        for (x0, y0, x1, y1), s, c in zip(xyxy.tolist(), scores.tolist(), classes.tolist()):
            boxes.append({"image_id": im["id"], "category_id": c + 1, "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)], "score": round(s, 5)})
        if segment and result.masks is not None:
            data = result.masks.data.cpu().numpy() > 0.5
            for m, s, c in zip(data, scores.tolist(), classes.tolist()):
                masks.append({"image_id": im["id"], "category_id": c + 1, "segmentation": encode_rle(m), "score": round(s, 5)})
    return boxes, masks, max_score


def ultralytics_val(model, prep_dir: Path, subdir: str, split: str, imgsz: int, device: str | None, out: Path, segment: bool) -> dict[str, Any]:
    """Ultralytics' own val on the same split (its mAP definition), or {"error": ...} if it fails."""
    from ultralytics.utils import LOGGER

    from wood.finetune.yolo.data import read_prep_data_yaml

    names = read_prep_data_yaml(prep_dir, subdir)["names"]
    root = (Path(prep_dir) / subdir).resolve()
    data = {"path": str(root), "names": dict(enumerate(names))}
    data.update({s: f"images/{s}" for s in ("train", "val", "test") if (root / "images" / s).is_dir()})
    data.setdefault("train", data.get(split))
    data.setdefault("val", data.get(split))
    data_yaml = out / "ultralytics_data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    kwargs = dict(data=str(data_yaml), split=split, imgsz=imgsz, batch=4, conf=PREDICT_CONF, plots=False,
                  project=str(out), name="ultralytics_val", exist_ok=True, verbose=False)
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
) -> dict[str, Any]:
    """Evaluate a YOLO run (or any Ultralytics checkpoint via ``weights``) on ``split``; see module doc."""
    from wood.eval.plots import plot_confusion, plot_pr_curves

    if not 0.0 < conf < 1.0:
        raise DataError(f"conf must be in (0, 1), but got {conf}")
    check_split(split)
    check_device(device)
    run = load_run(run_dir, weights)
    prep_dir = Path(data) if data is not None else run.data
    if prep_dir is None:
        raise DataError("the checkpoint does not name its dataset: pass --data (a `wood prep` folder)")
    gt, images_dir, manifest = load_split(prep_dir, split)
    out = Path(out) if out is not None else (run.run_dir or run.weights.parent) / f"eval-{split}"
    check_out_folder(out)
    model = load_yolo(run.weights, device)
    segment = model.task == "segment"
    classes = check_classes(model_names(model), gt, str(prep_dir / "coco" / f"{split}.json"))
    size = imgsz or run.imgsz or checkpoint_imgsz(model)
    out.mkdir(parents=True, exist_ok=True)

    boxes, masks, max_score = predict_split(model, gt, images_dir, size, device, segment)
    files = {"predictions_bbox": str(out / "predictions_bbox.json")}
    (out / "predictions_bbox.json").write_text(json.dumps(boxes), encoding="utf-8")
    coco = {"bbox": coco_eval(gt, boxes, "bbox")}
    if segment:
        (out / "predictions_segm.json").write_text(json.dumps(masks), encoding="utf-8")
        files["predictions_segm"] = str(out / "predictions_segm.json")
        coco["segm"] = coco_eval(gt, masks, "segm")

    ultra = ultralytics_val_safe(model, prep_dir, segment, split, size, device, out) if ultralytics_val else {}
    comparison = {}
    for kind, res in coco.items():
        for key in ("mAP50", "mAP50-95"):
            u = ultra.get(kind, {}).get(key)
            c = res[key]
            comparison[f"{kind} {key}"] = {"coco": c, "ultralytics": u, "difference": None if c is None or u is None else c - u}

    with_instances = {a["image_id"] for a in gt["annotations"]}
    defective = {}
    for im in gt["images"]:
        entry = manifest.get(im["file_name"])
        defective[im["id"]] = (entry["defect"] != "good") if entry else im["id"] in with_instances
    inspection = image_level(defective, max_score, conf)
    by_defect: dict[str, list[bool]] = {}
    for im in gt["images"]:
        entry = manifest.get(im["file_name"])
        if entry and entry["defect"] != "good":
            by_defect.setdefault(entry["defect"], []).append(max_score.get(im["id"], 0.0) >= conf)
    inspection["defect_recall_by_type"] = {k: sum(v) / len(v) for k, v in sorted(by_defect.items())}

    matrix, names = confusion_matrix(gt, boxes, conf)
    files["pr_curve"] = str(plot_pr_curves(coco["bbox"]["pr_curve"], coco["bbox"]["recall_thresholds"], out / "pr_curve.png", f"PR at IoU 0.5 (COCO), {split}"))
    files["confusion_matrix"] = str(plot_confusion(matrix, names, out / "confusion_matrix.png", f"conf >= {conf}, IoU >= 0.5, {split}"))
    notes = [res["note"] for res in coco.values() if res.get("note")]
    trained_sha = run.info.get("manifest_sha256")
    from wood.finetune.yolo.data import manifest_sha256

    if trained_sha and manifest_sha256(prep_dir) not in (None, trained_sha):
        notes.append("evaluated on a different prepared dataset than the run was trained on (same classes)")
    if "error" in ultra:
        notes.append(f"Ultralytics val failed: {ultra['error']}")
    result = {
        "split": split,
        "run": str(run.run_dir) if run.run_dir else None,
        "weights": str(run.weights),
        "data": str(Path(prep_dir).resolve()),
        "task": model.task,
        "imgsz": size,
        "images": len(gt["images"]),
        "instances": len(gt["annotations"]),
        "classes": classes,
        "coco": {k: {kk: vv for kk, vv in v.items() if kk not in ("pr_curve", "recall_thresholds")} for k, v in coco.items()},
        "ultralytics": ultra,
        "comparison": comparison,
        "inspection": inspection,
        "confusion_matrix": {"names": names, "rows_true_cols_pred": matrix.tolist(), "conf": conf, "iou": 0.5},
        "notes": notes,
        "files": files,
    }
    files["json"] = str(out / "eval_detect.json")
    files["markdown"] = str(out / "eval_detect.md")
    (out / "eval_detect.md").write_text(markdown(result), encoding="utf-8")
    (out / "eval_detect.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def ultralytics_val_safe(model, prep_dir: Path, segment: bool, split: str, imgsz: int, device: str | None, out: Path) -> dict[str, Any]:
    subdir = "yolo-seg" if segment else "yolo"
    if not (Path(prep_dir) / subdir / "images" / split).is_dir():
        return {"error": f"no {subdir}/images/{split} folder"}
    console.print("Ultralytics val (for comparison) ...")
    return ultralytics_val(model, prep_dir, subdir, split, imgsz, device, out, segment)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:+.4f}" if value < 0 else f"{value:.4f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: COCO vs Ultralytics, per-class AP, inspection view."""
    lines = [f"# Detection eval: {result['split']} ({result['images']} images, {result['instances']} instances)", "",
             f"Weights `{result['weights']}`, imgsz {result['imgsz']}, task {result['task']}.", "",
             "| metric | COCO (pycocotools, reference) | Ultralytics | COCO - Ultralytics |", "|---|---|---|---|"]
    for name, row in result["comparison"].items():
        lines.append(f"| {name} | {_fmt(row['coco'])} | {_fmt(row['ultralytics'])} | {_fmt(row['difference'])} |")
    for kind, res in result["coco"].items():
        lines += ["", f"## Per-class AP ({kind}, COCO)", "", "| class | instances | AP50 | AP50-95 |", "|---|---|---|---|"]
        for cls, row in res["per_class"].items():
            lines.append(f"| {cls} | {row['instances']} | {_fmt(row['AP50'])} | {_fmt(row['AP50-95'])} |")
    ins = result["inspection"]
    lines += ["", f"## Inspection view (an image is flagged with >= 1 detection at conf >= {ins['conf']})", "",
              "| defective images | defect recall | good images | false-alarm rate |", "|---|---|---|---|",
              f"| {ins['defective_images']} | {_fmt(ins['defect_recall'])} | {ins['good_images']} | {_fmt(ins['false_alarm_rate'])} |"]
    if ins["defect_recall_by_type"]:
        lines += ["", "| defect type | recall |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in ins["defect_recall_by_type"].items()]
    if result["notes"]:
        lines += ["", "Notes:"] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def format_summary(result: dict[str, Any]) -> str:
    """A few console lines: COCO mAP, Ultralytics mAP, inspection numbers, where the files are."""
    parts = [f"{k}: COCO {_fmt(v['coco'])}  Ultralytics {_fmt(v['ultralytics'])}  diff {_fmt(v['difference'])}"
             for k, v in result["comparison"].items()]
    ins = result["inspection"]
    parts.append(f"defect recall {_fmt(ins['defect_recall'])}, false-alarm rate {_fmt(ins['false_alarm_rate'])} (conf {ins['conf']})")
    parts += [f"note: {n}" for n in result["notes"]]
    parts.append(f"written: {Path(result['files']['json']).parent}")
    return "\n".join(parts)
