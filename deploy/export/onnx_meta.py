"""How to feed an exported model and read its output, stated in export.json AND inside every .onnx file.

A station without Ultralytics or wood has the .onnx file and ONNX Runtime only: the file's
``metadata_props`` (``InferenceSession(path).get_modelmeta().custom_metadata_map``) say the image size,
channel order, resize rule, pixel mean/std (``x_in = (x - mean) / std`` per RGB channel), the box frame,
the output layout, the post-processing and the class names. Values are strings (ONNX metadata is
string -> string); lists and numbers are JSON.

YOLO (Ultralytics' exporter at a fixed size S, the settings of `Predictor.pre_transform`):
- RGB (Ultralytics reads BGR and flips it), letterbox: scale r = min(S / H, S / W), resize to
  (round(W r), round(H r)) with cv2.INTER_LINEAR, pad with 114 to S x S, the padding split between both
  sides (top = round(dh / 2 - 0.1), left = round(dw / 2 - 0.1)); HWC -> NCHW float32 / 255 (mean 0, std 255).
- output0 ``[1, 4 + C, N]`` (``[1, 4 + C + 32, N]`` for segment models, with ``output1`` mask prototypes
  ``[1, 32, S/4, S/4]``): per candidate cx, cy, w, h in letterboxed input pixels, then C class scores
  (already sigmoid), then 32 mask coefficients. No NMS in the graph: keep candidates whose best class score
  >= conf, per-class NMS at IoU 0.7, at most 300; then boxes back to the image: (x - left) / r, (y - top) / r,
  clipped. Segment masks: sigmoid(coefficients @ prototypes), crop to the box, upsample to the letterboxed
  size, remove the padding, resize to (H, W), > 0.5; a detection whose mask is empty is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

YOLO_PAD = 114
YOLO_NMS_IOU = 0.7
YOLO_CONF = 0.25
YOLO_MAX_DET = 300


def graph_outputs(path: Path) -> dict[str, list[Any]]:
    """Output name -> shape (ints, or the symbolic name of a dynamic axis) of an .onnx file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    shapes = {}
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        shapes[out.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    return shapes


def yolo_processing(task: str, imgsz: int, names: list[str], outputs: dict[str, list[Any]] | None) -> dict[str, Any]:
    """The full pre- and post-processing of a YOLO export (see the module doc) as export.json states it."""
    segment = task == "segment"
    layout = f"[1, 4 + {len(names)}{' + 32' if segment else ''}, N]: cx, cy, w, h (letterboxed input pixels), "
    layout += f"{len(names)} class scores (sigmoid applied)" + (", 32 mask coefficients" if segment else "")
    return {
        "input": {
            "name": "images",
            "shape": [1, 3, imgsz, imgsz],
            "dtype": "float32",
            "channel_order": "RGB",
            "layout": "NCHW",
            "resize": f"letterbox: r = min({imgsz} / H, {imgsz} / W), resize to (round(W r), round(H r)) with "
            f"cv2.INTER_LINEAR, pad with {YOLO_PAD} to {imgsz} x {imgsz}, padding split between both sides "
            "(top = round(dh / 2 - 0.1), left = round(dw / 2 - 0.1))",
            "pad_value": YOLO_PAD,
            "scale": "x / 255",
            "pixel_mean": [0.0, 0.0, 0.0],
            "pixel_std": [255.0, 255.0, 255.0],
        },
        "output": {
            "shapes": outputs,
            "output0": layout,
            **({"output1": "[1, 32, S/4, S/4] mask prototypes"} if segment else {}),
            "box_frame": "cx, cy, w, h in letterboxed input pixels; in the image: x = (x - left) / r, "
            "y = (y - top) / r",
        },
        "postprocess": {
            "nms": "per class (boxes of different classes never suppress each other), after a score filter",
            "conf": YOLO_CONF,
            "iou": YOLO_NMS_IOU,
            "max_det": YOLO_MAX_DET,
            "score": "the best class score of a candidate; its class is that argmax",
            **(
                {
                    "masks": "sigmoid(coefficients @ prototypes), cropped to the box, upsampled, padding removed, "
                    "resized to (H, W), > 0.5; a detection whose mask is empty is dropped (as Ultralytics does)"
                }
                if segment
                else {}
            ),
        },
        "class_names": list(names),
    }


def yolo_metadata(processing: dict[str, Any]) -> dict[str, str]:
    """The ONNX metadata_props of a YOLO export (strings; lists as JSON)."""
    inp, out, post = processing["input"], processing["output"], processing["postprocess"]
    size = inp["shape"][2]
    return {
        "image_size": json.dumps([size, size]),
        "channel_order": inp["channel_order"],
        "layout": inp["layout"],
        "resize": inp["resize"],
        "pad_value": str(inp["pad_value"]),
        "pixel_mean": json.dumps(inp["pixel_mean"]),
        "pixel_std": json.dumps(inp["pixel_std"]),
        "box_frame": out["box_frame"],
        "output_layout": out["output0"],
        "nms": json.dumps({k: post[k] for k in ("conf", "iou", "max_det")} | {"per_class": True}),
        "class_names": json.dumps(processing["class_names"]),
        "preprocessing": json.dumps(processing),
    }


def sam_metadata(preprocess: dict[str, Any], box_mask_prompt: bool, graph: str) -> dict[str, str]:
    """The ONNX metadata_props of a SAM export's ``graph`` ("encoder" or "decoder")."""
    size = int(preprocess["image_size"])
    common = {
        "image_size": json.dumps([size, size]),
        "channel_order": "RGB",
        "layout": "NCHW",
        "resize": f"longest side to {size} (segment-anything ResizeLongestSide), then (x - mean) / std, "
        f"zero padding bottom/right to {size} x {size}",
        "pixel_mean": json.dumps(preprocess["pixel_mean"]),
        "pixel_std": json.dumps(preprocess["pixel_std"]),
        "box_frame": f"XYXY in the model frame: image pixel coordinates x {size} / max(H, W)",
        "class_names": json.dumps([]),
        "classes": "class-agnostic: a mask takes the class of the box that prompted it",
    }
    if graph == "decoder":
        common |= {
            "mask_threshold": "0.0",
            "output_layout": "masks [N, 1, H, W] logits at orig_im_size (in the mask where > 0); "
            "iou_predictions [N, 1]",
            "box_mask_prompt": json.dumps(bool(box_mask_prompt)),
        }
    return common


def write_metadata(path: Path, props: dict[str, str]) -> None:
    """Set ``props`` in the .onnx file's metadata_props (replacing keys of the same name, keeping the others).
    Weights stored as external data (graphs over 2 GB, e.g. a vit_h encoder) stay where they are: only the
    graph file is rewritten, its references to them unchanged."""
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    tmp = path.with_name(path.name + ".meta-tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)
