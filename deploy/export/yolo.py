"""YOLO / YOLO-World run -> ONNX (or OpenVINO) with Ultralytics' exporter, offline, then parity.

The checkpoint is copied into a staging folder under ``out`` and exported there, so the run's own
``weights/`` stays as training left it. YOLO-World checkpoints carry their trained ``txt_feats``,
which the exporter bakes into the graph: the export detects the trained classes, no text encoder.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from wood.deploy.export.parity import SCORE_TOL, SCORE_TOL_HALF, match_image, parity_summary
from wood.errors import DataError, WeightsError
from wood.eval.detections import COCO_MIN_CONF, Detections
from wood.eval.yolo_run import check_out_folder, load_yolo, model_names
from wood.finetune.yolo.run import read_run

STEM = "model"
"""Exported files are named <out>/model.onnx (or <out>/model_openvino_model/)."""


def parity_images(data: Path | None, n: int) -> list[Path]:
    """The first ``n`` images (sorted) of the prepared dataset's yolo/images/test (val, train if empty)."""
    from wood.prep.mvtec import IMAGE_EXTENSIONS

    if data is None:
        raise DataError("the run does not name its dataset (config.yaml data:), so parity has no images")
    for split in ("test", "val", "train"):
        folder = Path(data) / "yolo" / "images" / split
        if folder.is_dir():
            files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
            if files:
                return files[:n]
    raise DataError("no images under yolo/images/{test,val,train} for the parity check", data)


def run_exporter(weights: Path, out: Path, *, fmt: str, imgsz: int, half: bool) -> Path:
    """Ultralytics' export of ``weights`` into ``out``; returns the exported file or folder."""
    from wood.extras import has_module

    stage = out / f".staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        shutil.copyfile(weights, stage / f"{STEM}.pt")
        model = load_yolo(stage / f"{STEM}.pt", "cpu")
        # simplify needs onnxslim; without it Ultralytics would try to pip-install it
        kwargs = dict(format=fmt, imgsz=imgsz, half=half, device="cpu", simplify=has_module("onnxslim"))
        try:
            produced = Path(model.export(**kwargs))
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
            raise WeightsError(f"export failed ({exc.__class__.__name__}: {str(exc)[:160]})", weights) from exc
        target = out / produced.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(produced, target)
        return target
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def detections(model, images: list[np.ndarray], imgsz: int) -> tuple[list[Detections], list[float]]:
    """Each image's Detections (boxes only) at COCO_MIN_CONF, so that a box near the parity CONF still finds
    its partner, and the ms each prediction took (after one warm-up)."""
    kwargs = dict(imgsz=imgsz, conf=COCO_MIN_CONF, verbose=False, device="cpu")
    model.predict(images[0], **kwargs)
    found, ms = [], []
    for bgr in images:
        t0 = time.perf_counter()
        r = model.predict(bgr, **kwargs)[0]
        ms.append((time.perf_counter() - t0) * 1000)
        found.append(Detections.from_ultralytics(r, masks=False))
    return found, ms


def raw_output_diff(torch_model, onnx_path: Path, imgsz: int) -> dict[str, float] | None:
    """Largest difference of the raw graph outputs (before NMS) on one fixed random input: box
    coordinates in pixels and class scores. Informative even when no box clears the threshold (an
    early run); None when the export is not a single-output .onnx."""
    import onnxruntime as ort
    import torch

    if Path(onnx_path).suffix != ".onnx":
        return None
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    module = torch_model.model.eval()
    with torch.inference_mode():
        ref = module(x)
    while isinstance(ref, (list, tuple)):  # segment models return (output0 + protos, ...) nested
        ref = ref[0]
    ref = ref.float().numpy()
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0].astype(np.float32)
    if ref.shape != got.shape or ref.ndim != 3:
        return None
    diff = np.abs(ref - got)
    return {"box_px": round(float(diff[:, :4].max()), 6), "score": round(float(diff[:, 4:].max()), 6)}


def model_stride(model) -> int:
    """The largest stride of an Ultralytics YOLO model (32 for P5 models)."""
    try:
        return int(max(model.model.stride))
    except (AttributeError, TypeError, ValueError):
        return 32


def latency(ms: list[float]) -> dict[str, float]:
    return {"median": round(float(np.median(ms)), 2), "mean": round(float(np.mean(ms)), 2), "n": len(ms)}


def describe_export(exported: Path, task: str, imgsz: int, names: list[str]) -> dict[str, Any]:
    """The export's pre- and post-processing (wood.deploy.export.onnx_meta), also written into an .onnx file's
    metadata_props, so a station with ONNX Runtime alone knows how to feed it."""
    from wood.deploy.export.onnx_meta import graph_outputs, write_metadata, yolo_metadata, yolo_processing

    is_onnx = Path(exported).suffix == ".onnx"
    processing = yolo_processing(task, imgsz, names, graph_outputs(exported) if is_onnx else None)
    if is_onnx:
        write_metadata(exported, yolo_metadata(processing))
    return processing


def export_yolo(
    run_dir: Path, out: Path, *, fmt: str = "onnx", imgsz: int | None = None, half: bool = False, n_images: int = 4
) -> dict[str, Any]:
    """Export the YOLO run's weights/best.pt, compare it with PyTorch on ``n_images`` test images and write
    ``out/export.json``; return its content (``ok`` False and ``problems`` when parity failed)."""
    from wood.deploy.export.deps import check_imgsz, write_export_json
    from wood.eval.yolo_run import checkpoint_imgsz
    from wood.imageio import read_image_rgb

    run = read_run(run_dir)
    files = parity_images(run.data, n_images)
    images = [np.ascontiguousarray(read_image_rgb(f)[:, :, ::-1]) for f in files]  # BGR, as Ultralytics reads
    check_out_folder(out)
    torch_model = load_yolo(run.weights, "cpu")
    check_imgsz(imgsz, model_stride(torch_model))  # a P6 model's largest stride is 64
    size = int(imgsz or run.imgsz or checkpoint_imgsz(torch_model))
    exported = run_exporter(run.weights, out, fmt=fmt, imgsz=size, half=half)
    processing = describe_export(exported, torch_model.task, size, model_names(torch_model))
    from ultralytics import YOLO

    export_model = YOLO(str(exported), task=torch_model.task)
    ref, ms_torch = detections(torch_model, images, size)
    got, ms_export = detections(export_model, images, size)
    parity = parity_summary(
        [match_image(a, b) for a, b in zip(ref, got, strict=True)], score_tol=SCORE_TOL_HALF if half else SCORE_TOL
    )
    raw = parity["raw_max_abs_diff"] = raw_output_diff(torch_model, exported, size)
    if raw is not None and raw["score"] > parity["tolerances"]["score_diff"]:  # scores before NMS, too
        parity["problems"].append(
            f"raw class scores differ by {raw['score']:.4g} > {parity['tolerances']['score_diff']}"
        )
        parity["ok"] = False
    runtime = "onnxruntime" if fmt == "onnx" else "openvino"
    result = {
        "run": str(run.run_dir),
        "kind": "yolo",
        "format": fmt,
        "imgsz": size,
        "half": half,
        "files": {"model": str(exported), "weights": str(run.weights)},
        "images": [str(f) for f in files],
        "processing": processing,
        "parity": parity,
        "latency_ms": {"pytorch": latency(ms_torch), runtime: latency(ms_export)},
        "ok": parity["ok"],
        "problems": parity["problems"],
    }
    return write_export_json(out, result)
