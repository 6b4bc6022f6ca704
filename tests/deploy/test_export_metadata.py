"""Every .onnx file wood writes says how to feed it (ONNX metadata_props, read with plain onnxruntime), and a
YOLO export's stated processing, followed by hand with numpy + onnxruntime, gives Ultralytics' boxes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from _label_fixtures import tiny_seg_run  # noqa: F401 - pytest fixture
from _sam_fixtures import make_prep_dataset, train_tiny_sam

from wood.eval.boxes import box_iou_xyxy


def letterbox(rgb: np.ndarray, size: int, pad: int) -> tuple[np.ndarray, float, int, int]:
    """The letterbox export.json states: (NCHW float32 input, r, left, top)."""
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)
    canvas = np.full((size, size, 3), pad, np.uint8)
    canvas[top : top + nh, left : left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return (canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0), r, left, top


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order, keep = list(np.argsort(-scores)), []
    while order:
        i = order.pop(0)
        keep.append(i)
        ious = box_iou_xyxy(boxes[i : i + 1], boxes[order])[0]
        order = [j for j, v in zip(order, ious, strict=True) if v <= iou]
    return keep


def by_hand(model_path: Path, rgb: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (XYXY image pixels), scores, classes from the .onnx file and its metadata only."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    size = json.loads(meta["image_size"])[0]
    assert meta["channel_order"] == "RGB" and json.loads(meta["pixel_std"]) == [255.0] * 3
    x, r, left, top = letterbox(rgb, size, int(meta["pad_value"]))
    out = session.run(None, {session.get_inputs()[0].name: x})[0][0]  # (4 + C [+ 32], N)
    n_cls = len(json.loads(meta["class_names"]))
    cls_scores = out[4 : 4 + n_cls].T
    classes, scores = cls_scores.argmax(1), cls_scores.max(1)
    keep = scores >= conf
    cx, cy, w, h = out[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    classes, scores = classes[keep], scores[keep]
    settings = json.loads(meta["nms"])
    kept = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        kept += [idx[k] for k in nms(boxes[idx], scores[idx], settings["iou"])]
    kept = sorted(kept, key=lambda i: -scores[i])[: settings["max_det"]]
    boxes = boxes[kept]
    boxes[:, 0::2] = np.clip((boxes[:, 0::2] - left) / r, 0, rgb.shape[1])
    boxes[:, 1::2] = np.clip((boxes[:, 1::2] - top) / r, 0, rgb.shape[0])
    return boxes, scores[kept], classes[kept]


@pytest.mark.slow
def test_yolo_onnx_carries_its_processing_and_following_it_gives_ultralytics_boxes(
    tiny_seg_run: Path,  # noqa: F811
    prepared: Path,
    tmp_path: Path,
):
    from ultralytics import YOLO

    from wood.deploy.export import export_run

    result = export_run(tiny_seg_run, out=tmp_path / "export", n_images=1)
    written = json.loads((tmp_path / "export" / "export.json").read_text())
    proc = written["processing"]
    assert proc["input"]["pad_value"] == 114 and proc["input"]["channel_order"] == "RGB"
    assert proc["postprocess"]["iou"] == 0.7 and proc["class_names"] == [
        "color",
        "combined",
        "hole",
        "liquid",
        "scratch",
    ]
    n = len(proc["class_names"])
    assert proc["output"]["shapes"]["output0"][:2] == [1, 4 + n + 32]  # a segment model: + 32 mask coefficients
    model_path = Path(result["files"]["model"])
    meta = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).get_modelmeta()
    for key in ("image_size", "pixel_mean", "pixel_std", "box_frame", "class_names", "resize", "nms"):
        assert key in meta.custom_metadata_map, key
    assert "names" in meta.custom_metadata_map  # Ultralytics' own keys are kept

    image = sorted((prepared / "yolo" / "images" / "test").iterdir())[0]
    bgr = cv2.imread(str(image))
    ref = YOLO(str(model_path), task="segment").predict(bgr, conf=1e-4, verbose=False, imgsz=64)[0].boxes
    boxes, scores, classes = by_hand(model_path, bgr[:, :, ::-1], conf=1e-4)
    top = min(10, len(ref))
    assert top > 0
    # Ultralytics' segment predictor also drops detections whose mask comes out empty (stated in export.json),
    # so every one of its boxes is among those found by hand, with the same score and class
    for box, score, cls in zip(ref.xyxy.numpy()[:top], ref.conf.numpy()[:top], ref.cls.numpy()[:top], strict=True):
        same = (np.abs(boxes - box).max(1) < 0.05) & (np.abs(scores - score) < 1e-6) & (classes == int(cls))
        assert same.any(), (box, score, cls)
    assert len(scores) >= len(ref)


@pytest.mark.slow
def test_sam_onnx_files_carry_their_preprocessing(tmp_path: Path):
    from wood.deploy.export.sam import export_sam

    prep = make_prep_dataset(tmp_path / "prep", size=80, counts={"train": (1, 0), "test": (1, 0)})
    run = train_tiny_sam(prep, tmp_path, max_steps=1, box_mask_prompt=True)
    result = export_sam(run, tmp_path / "export", n_images=1)
    for graph in ("encoder", "decoder"):
        session = ort.InferenceSession(result["files"][graph], providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        assert json.loads(meta["image_size"]) == [64, 64]
        assert json.loads(meta["pixel_mean"]) == pytest.approx(result["preprocess"]["pixel_mean"])
        assert json.loads(meta["pixel_std"]) == pytest.approx(result["preprocess"]["pixel_std"])
        assert "model frame" in meta["box_frame"] and json.loads(meta["class_names"]) == []
    assert json.loads(meta["box_mask_prompt"]) is True and meta["mask_threshold"] == "0.0"


def test_metadata_is_written_without_touching_external_weights(tmp_path: Path):
    """A graph whose weights are external data (how > 2 GB exports are stored) keeps running after the metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from wood.deploy.export.onnx_meta import write_metadata

    weight = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="names", value="{0: 'a'}")
    model.metadata_props.add(key="task", value="detect")
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    data = (tmp_path / "m.data").read_bytes()
    write_metadata(path, {"image_size": "[64, 64]", "names": "replaced"})
    assert (tmp_path / "m.data").read_bytes() == data
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta == {"task": "detect", "names": "replaced", "image_size": "[64, 64]"}
    out = session.run(None, {"x": np.array([[1.0, 2.0]], np.float32)})[0]
    np.testing.assert_allclose(out, [[6.0, 9.0, 12.0]])
