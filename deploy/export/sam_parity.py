"""ONNX Runtime (CPU) vs PyTorch for an exported SAM run: masks, logits and latency on test images.

The PyTorch side is what `wood eval segment --boxes gt` runs: the run loaded by
`wood.finetune.sam.run.load` (LoRA not merged, so the check also covers the merge) and
`SamPredictor` with the run's box_mask_prompt; GT boxes of the first ``n_images`` images with
instances are the prompts. Per instance: the IoU of the two masks binarised at logit 0; over all
pixels: the largest absolute logit difference; and the largest difference of predicted IoU.

Latency per image (ms, median over the images after one warm-up image): ``encoder`` is normalising,
padding and the image encoder (the resize is shared and not timed), ``decoder`` all the image's box
prompts at once, with masks at the original size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import DataError
from wood.eval.mask_metrics import iou

MASK_IOU_MIN = 0.99
"""Smallest per-instance IoU of the ONNX and PyTorch masks (binarised at logit 0) that passes. Measured in
fp32 on CPU: 1.0 on tiny runs (lora, decoder + box_mask_prompt, adapter); 0.99999 on a randomly
initialised vit_b at 1024 px (700 x 1000 image), whose logits all sit near 0 so a few pixels flip."""
MAX_LOGIT_DIFF = 1e-3
"""Largest absolute difference of mask logits (any pixel) that passes. Measured: 3e-7 to 1.4e-6 on tiny
runs, 6e-6 on the random vit_b (embeddings 1.2e-5)."""
MAX_IOU_PRED_DIFF = 1e-3
"""Largest absolute difference of SAM's predicted IoU that passes. Measured: <= 1.2e-7."""


def tolerances() -> dict[str, float]:
    return {"mask_iou_min": MASK_IOU_MIN, "max_logit_diff": MAX_LOGIT_DIFF, "max_iou_pred_diff": MAX_IOU_PRED_DIFF}


def normalise_pad(resized_rgb: np.ndarray, size: int, pixel_mean: list[float], pixel_std: list[float]) -> np.ndarray:
    """(1, 3, size, size) float32: (x - mean) / std of a resized uint8 RGB image, zero-padded bottom/right."""
    x = (resized_rgb.astype(np.float32) - np.asarray(pixel_mean, np.float32)) / np.asarray(pixel_std, np.float32)
    out = np.zeros((1, 3, size, size), np.float32)
    out[0, :, : x.shape[0], : x.shape[1]] = x.transpose(2, 0, 1)
    return out


def prompt_images(data: Path, split: str, n_images: int) -> list[Any]:
    """The first ``n_images`` images of ``split`` with at least one GT instance."""
    from wood.finetune.sam.data import load_split

    images = [im for im in load_split(data, split)[0] if im.instances][:n_images]
    if not images:
        raise DataError(f"the {split} split has no image with instances to prompt the parity check with", data)
    return images


def problems_of(parity: dict[str, Any]) -> list[str]:
    """One line per tolerance the parity numbers miss."""
    out = []
    if parity["mask_iou_min"] < MASK_IOU_MIN:
        out.append(f"mask IoU ONNX vs PyTorch {parity['mask_iou_min']:.4f} < {MASK_IOU_MIN} (worst instance)")
    if parity["max_logit_diff"] > MAX_LOGIT_DIFF:
        out.append(f"mask logits differ by up to {parity['max_logit_diff']:.2e} > {MAX_LOGIT_DIFF:.0e}")
    if parity["max_iou_pred_diff"] > MAX_IOU_PRED_DIFF:
        out.append(f"predicted IoU differs by up to {parity['max_iou_pred_diff']:.2e} > {MAX_IOU_PRED_DIFF:.0e}")
    return out


RUNTIMES = (("torch", "torch"), ("onnxruntime", "ort"))


def latency_of(encoder_ms: list[float], decoder_ms: list[float]) -> dict[str, float]:
    """Medians (ms per image) of the encoder, the decoder and their sum (``median``: encoder + decoder)."""
    total = np.add(encoder_ms, decoder_ms)
    return {
        k: round(float(np.median(v)), 3)
        for k, v in (("encoder", encoder_ms), ("decoder", decoder_ms), ("median", total))
    }


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1000


def parity_check(
    run_dir: Path, files: dict[str, Path], images: list[Any], preprocess: dict[str, Any]
) -> dict[str, Any]:
    """Parity, latency, tolerances, ok and problems of the exported ``files`` against the run in PyTorch on
    ``images`` (`prompt_images`)."""
    import onnxruntime as ort
    import torch

    from wood.finetune.sam.data import box_prompts, read_rgb, resize_image
    from wood.finetune.sam.predictor import SamPredictor
    from wood.finetune.sam.run import load

    sam, cfg = load(run_dir, "cpu")
    predictor = SamPredictor(sam, "cpu", box_mask=bool(cfg.box_mask_prompt))
    sessions = {k: ort.InferenceSession(str(v), providers=["CPUExecutionProvider"]) for k, v in files.items()}
    size, mean, std = preprocess["image_size"], preprocess["pixel_mean"], preprocess["pixel_std"]
    ious, logit_diff, iou_diff, embed_diff = [], 0.0, 0.0, 0.0
    times: dict[str, list[float]] = {"torch_encoder": [], "torch_decoder": [], "ort_encoder": [], "ort_decoder": []}
    for k, image in enumerate([images[0], *images]):  # the first image twice: a warm-up, not timed
        rgb = read_rgb(image)
        resized = resize_image(rgb, size)
        boxes = box_prompts(np.stack([i.bbox_xyxy for i in image.instances]), image.original_size, size)["boxes"]
        with torch.inference_mode():
            _, t_enc = _timed(predictor.set_resized_image, resized, image.original_size)
            (logits, iou_pred), t_dec = _timed(predictor.predict, {"boxes": boxes})
        logits, iou_pred = logits.numpy(), iou_pred.numpy()
        x, o_enc = _timed(normalise_pad, resized, size, mean, std)
        (embedding,), o_run = _timed(sessions["encoder"].run, None, {"image": x})
        feeds = {
            "image_embeddings": embedding,
            "boxes": boxes.astype(np.float32),
            "orig_im_size": np.asarray(image.original_size, np.float32),
        }
        (masks, iou_onnx), o_dec = _timed(sessions["decoder"].run, None, feeds)
        if k == 0:
            continue
        for name, value in zip(times, (t_enc, t_dec, o_enc + o_run, o_dec), strict=True):
            times[name].append(value)
        ious += [iou(a > 0, b > 0) for a, b in zip(logits[:, 0], masks[:, 0], strict=True)]
        logit_diff = max(logit_diff, float(np.abs(logits - masks).max()))
        iou_diff = max(iou_diff, float(np.abs(iou_pred - iou_onnx).max()))
        embed_diff = max(embed_diff, float(np.abs(predictor.embedding.numpy() - embedding).max()))
    parity = {
        "mask_iou_min": min(ious),
        "mask_iou_mean": float(np.mean(ious)),
        "max_logit_diff": logit_diff,
        "max_iou_pred_diff": iou_diff,
        "max_embedding_diff": embed_diff,
        "instances": len(ious),
        "images": len(images),
    }
    problems = problems_of(parity)
    latency = {name: latency_of(times[f"{key}_encoder"], times[f"{key}_decoder"]) for name, key in RUNTIMES}
    return {
        "parity": parity,
        "latency_ms": latency,
        "tolerances": tolerances(),
        "ok": not problems,
        "problems": problems,
    }
