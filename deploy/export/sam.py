"""A fine-tuned SAM run as two ONNX graphs, checked against PyTorch (`wood export` for SAM runs).

``encoder.onnx``: ``image`` (1, 3, S, S) float32, the image resized (longest side S, SAM's
ResizeLongestSide), normalised with the run's pixel mean/std and zero-padded bottom/right
(`encoder_input` does it in numpy) -> ``image_embeddings`` (1, C, S/p, S/p).

``decoder.onnx``: ``image_embeddings``, ``boxes`` (N, 4) float32 XYXY in the model frame (the resized
image: original coordinates x S / max(H, W)), ``orig_im_size`` (2,) float32 (H, W) -> ``masks`` (N, 1, H, W)
logits at the original size (a pixel belongs to the mask where the logit > 0) and ``iou_predictions``
(N, 1). The original size is handled as segment-anything's own ONNX decoder does (SamOnnxModel's
mask_postprocessing: upscale to S x S, crop the unpadded part, resize to H x W), so one graph serves
every image size.

Runs trained with ``box_mask_prompt`` also give every box as a dense mask prompt; their decoder graph
rasterises the boxes itself (`wood.finetune.sam.models.box_mask_logits`, +4 inside / -4 outside at the
prompt encoder's mask input size), so both kinds of run take the same inputs. ``export_sam`` says
which in its result (``box_mask_prompt``).

Weights: LoRA runs are merged into plain SAM weights (peft ``merge_and_unload``); decoder runs export
the trained decoder (and prompt encoder) as they are; bottleneck-adapter runs (not mergeable) export
with their adapter layers inside the encoder graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wood.errors import ConfigError, DataError, WeightsError

ENCODER_ONNX = "encoder.onnx"
DECODER_ONNX = "decoder.onnx"
INSTALL_HINT = "pip install 'wood[export]'"


def require_onnx() -> tuple[Any, Any]:
    """(onnx, onnxruntime), or a ConfigError of one line naming the extra to install."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            f"exporting to ONNX needs onnx and onnxruntime ({exc.name} is missing): {INSTALL_HINT}"
        ) from exc
    return onnx, onnxruntime


def encoder_input(rgb: np.ndarray, size: int, pixel_mean: list[float], pixel_std: list[float]) -> np.ndarray:
    """(1, 3, size, size) float32 input of ``encoder.onnx`` from a uint8 (H, W, 3) RGB image: SAM's
    ResizeLongestSide, (x - mean) / std, zero padding bottom/right (what `Sam.preprocess` does)."""
    from wood.deploy.export.sam_parity import normalise_pad
    from wood.finetune.sam.data import resize_image

    return normalise_pad(resize_image(rgb, size), size, pixel_mean, pixel_std)


def export_model(run_dir: Path) -> tuple[Any, Any]:
    """(SAM to export: LoRA merged, eval mode, on CPU; the run config). A folder that is not a SAM run is a
    ConfigError, one without trained weights a WeightsError."""
    from wood.finetune.sam.run import DECODER_FILE, load, read_run

    cfg = read_run(run_dir)
    weights = run_dir / "weights"
    if not (weights / DECODER_FILE).is_file():
        raise WeightsError(f"run has no weights/{DECODER_FILE}: training did not finish an epoch", run_dir)
    return load(run_dir, "cpu", merged=cfg.adapter == "lora").model, cfg


def decoder_module(sam: Any, box_mask: bool) -> Any:
    """The prompt decoder as one traceable module (see `_decoder_class`)."""
    return _decoder_class()(sam, box_mask).eval()


def _decoder_class() -> type:
    import torch
    import torch.nn.functional as F
    from segment_anything.utils.onnx import SamOnnxModel

    from wood.finetune.sam.models import box_mask_logits

    class SamBoxDecoder(SamOnnxModel):
        """segment-anything's SamOnnxModel with our forward.

        Kept from it: the point embedding (a box is its two corners labelled 2 and 3, as
        PromptEncoder._embed_boxes does), the dense embedding and mask_postprocessing (orig_im_size as
        an input). Ours because SamOnnxModel falls short for wood's runs: with ``return_single_mask`` it
        picks the best of the three multimask outputs whenever there are fewer than 3 points (a box is
        2), while wood trains and evaluates the single-mask output (token 0, ``multimask_output=False``);
        and box_mask_prompt runs need each box rasterised as the dense mask prompt, which SamOnnxModel
        takes only as a separate ``mask_input`` for all prompts at once.
        """

        def __init__(self, model: Any, box_mask: bool) -> None:
            super().__init__(model, return_single_mask=False)
            self.box_mask = box_mask

        @torch.no_grad()
        def forward(self, image_embeddings: Any, boxes: Any, orig_im_size: Any) -> tuple[Any, Any]:  # type: ignore[override]
            corners = boxes.reshape(-1, 2, 2)
            labels = torch.zeros_like(boxes[:, :2]) + torch.tensor([2.0, 3.0])
            sparse = self._embed_points(corners, labels)
            pe = self.model.prompt_encoder
            if self.box_mask:
                dense = pe.mask_downscaling(box_mask_logits(self.model, boxes))
            else:
                h, w = pe.image_embedding_size
                dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(boxes.shape[0], -1, h, w)
            masks, iou = self.mask_decoder.predict_masks(
                image_embeddings=image_embeddings,
                image_pe=pe.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
            )
            return self.mask_postprocessing(masks[:, :1], orig_im_size), iou[:, :1]

        def mask_postprocessing(self, masks: Any, orig_im_size: Any) -> Any:
            """SamOnnxModel.mask_postprocessing with the crop traced: its ``masks[..., : int(h)]`` becomes a
            constant under torch 2.x's TorchScript exporter (the example's size, for every image); rows and
            columns kept by index (NonZero + Gather) stay in the graph. F.interpolate to ``orig_im_size``
            traces as is."""
            masks = F.interpolate(masks, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
            prepadded = self.resize_longest_image_size(orig_im_size, self.img_size)
            index = torch.arange(self.img_size)
            masks = masks.index_select(2, torch.nonzero(index < prepadded[0])[:, 0])
            masks = masks.index_select(3, torch.nonzero(index < prepadded[1])[:, 0])
            size = orig_im_size.to(torch.int64)
            return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)

    return SamBoxDecoder


def export_graphs(sam: Any, box_mask: bool, out: Path, opset: int) -> dict[str, Path]:
    """Write ``out/encoder.onnx`` and ``out/decoder.onnx`` (TorchScript exporter: it needs onnx only, and
    traces SamOnnxModel's size arithmetic on ``orig_im_size`` into the graph) and check them with onnx."""
    import torch

    onnx, _ = require_onnx()
    size = sam.image_encoder.img_size
    image = torch.zeros(1, 3, size, size)
    out.mkdir(parents=True, exist_ok=True)
    files = {"encoder": out / ENCODER_ONNX, "decoder": out / DECODER_ONNX}
    with torch.no_grad():
        embedding = sam.image_encoder(image)
    boxes = torch.tensor([[size * 0.1, size * 0.2, size * 0.6, size * 0.7], [0.0, 0.0, size * 0.5, size * 0.4]])
    orig = torch.tensor([size * 1.5, size * 1.0])
    jobs = [
        (_Encoder(sam.image_encoder), (image,), ["image"], ["image_embeddings"], {}, files["encoder"]),
        (
            decoder_module(sam, box_mask),
            (embedding, boxes, orig),
            ["image_embeddings", "boxes", "orig_im_size"],
            ["masks", "iou_predictions"],
            {
                "boxes": {0: "num_boxes"},
                "masks": {0: "num_boxes", 2: "height", 3: "width"},
                "iou_predictions": {0: "num_boxes"},
            },
            files["decoder"],
        ),
    ]
    for module, args, inputs, outputs, axes, path in jobs:
        tmp = path.with_name(path.name + ".tmp")
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(tmp),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
        onnx.checker.check_model(str(tmp))
        tmp.replace(path)
    return files


def _encoder_class() -> type:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, image_encoder: Any) -> None:
            super().__init__()
            self.image_encoder = image_encoder

        def forward(self, image: Any) -> Any:
            return self.image_encoder(image)

    return Encoder


def _Encoder(image_encoder: Any) -> Any:
    return _encoder_class()(image_encoder).eval()


def export_sam(
    run_dir: Path, out: Path, *, n_images: int = 4, opset: int = 17, data: Path | None = None, split: str = "test"
) -> dict[str, Any]:
    """Export the SAM run ``run_dir`` into ``out`` (encoder.onnx, decoder.onnx) and compare ONNX Runtime
    (CPU) with PyTorch on ``n_images`` images of the run's dataset (``data``, default the run's) with GT
    boxes as prompts. Returns files, parity, latency, tolerances, ok and problems (see `sam_parity`)."""
    from wood.deploy.export.sam_parity import parity_check, prompt_images

    require_onnx()
    run_dir, out = Path(run_dir), Path(out)
    if not run_dir.is_dir():
        raise DataError("run folder does not exist", run_dir)
    if n_images < 1:
        raise ConfigError(f"n_images must be >= 1, but got {n_images}")
    sam, cfg = export_model(run_dir)
    images = prompt_images(
        Path(data or cfg.data), split, n_images
    )  # a missing dataset fails before any file is written
    files = export_graphs(sam, bool(cfg.box_mask_prompt), out, opset)
    preprocess = {
        "image_size": int(sam.image_encoder.img_size),
        "pixel_mean": [float(v) for v in sam.pixel_mean.flatten()],
        "pixel_std": [float(v) for v in sam.pixel_std.flatten()],
    }
    del sam
    from wood.deploy.export.onnx_meta import sam_metadata, write_metadata

    for graph, path in files.items():  # what to feed each graph, inside the file (ONNX metadata_props)
        write_metadata(path, sam_metadata(preprocess, bool(cfg.box_mask_prompt), graph))
    report = parity_check(run_dir, files, images, preprocess)
    return {
        "run": str(run_dir),
        "kind": "sam",
        "adapter": cfg.adapter,
        "box_mask_prompt": bool(cfg.box_mask_prompt),
        "preprocess": preprocess,
        "opset": opset,
        "data": str(Path(data or cfg.data)),
        "split": split,
        "files": {k: str(v) for k, v in files.items()},
        **report,
        "notes": notes(cfg),
    }


def notes(cfg: Any) -> list[str]:
    """What a user of the graphs must know about this run."""
    out = ["decoder.onnx masks are logits at orig_im_size: a pixel is in the mask where the logit > 0"]
    if cfg.box_mask_prompt:
        out.append("box_mask_prompt run: decoder.onnx rasterises each box as the dense mask prompt itself")
    if cfg.prompt == "points":
        out.append("the run was trained with point prompts; decoder.onnx and the parity check use box prompts")
    return out
