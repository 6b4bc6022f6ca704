"""How SAM is made trainable: LoRA (peft), Houlsby bottleneck adapters, or the decoder only.

In every mode the mask decoder is trainable and the rest of SAM is frozen, except the
parameters the mode adds (LoRA matrices, adapters) and, as an option, the prompt encoder.

- ``lora``: peft LoraConfig on the image encoder's fused ``qkv`` Linear (peft cannot adapt
  only q and v inside it). ``lora_decoder`` also adds LoRA to the mask decoder's attention
  projections (q/k/v/out_proj); those base Linears are then frozen and the rest of the decoder
  trains fully. The fully trained parts (the decoder, or its parts without LoRA, and the prompt
  encoder when it trains) are peft ``modules_to_save``: peft trains copies of them and saves
  them inside the adapter, so plain ``PeftModel.from_pretrained`` loads the trained model.
- ``adapter``: our `BottleneckAdapter` (Houlsby et al. 2019, arXiv 1902.00751) after the
  attention and/or the MLP of every encoder block, before the residual add.
- ``decoder``: nothing is added; the encoder is frozen, so image embeddings can be cached.
"""

from __future__ import annotations

import os
import re
from typing import Any

import torch
from torch import nn

from wood.finetune.sam.config import AdapterSettings
from wood.torchutil import count_params

ENCODER_QKV_PATTERN = r"image_encoder\.(layers\.\d+\.)?blocks\.\d+\.attn\.qkv"
"""The fused qkv of every attention block: ``blocks.N`` (ViT) or ``layers.L.blocks.N`` (TinyViT; its first,
convolutional stage has no attention)."""
DECODER_ATTN_PATTERN = r"mask_decoder\.transformer\..*(q_proj|k_proj|v_proj|out_proj)"


class BottleneckAdapter(nn.Module):
    """Houlsby adapter: x + up(act(down(x))) on the last dimension.

    The up-projection starts at zero, so a fresh adapter is the identity and training starts
    from the unchanged model.
    """

    def __init__(self, dim: int, bottleneck: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class WithAdapter(nn.Module):
    """``adapter(inner(x))``: puts an adapter after a sub-layer (attention or MLP) of a block."""

    def __init__(self, inner: nn.Module, adapter: BottleneckAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.inner(x))


def encoder_blocks(image_encoder: Any) -> list[nn.Module]:
    """The transformer blocks of an image encoder, each with ``attn`` and ``mlp``: ViT's ``blocks``, or the
    TinyViT blocks of every attention stage (``layers[1:]``; the first stage is MBConv convolutions)."""
    if hasattr(image_encoder, "blocks"):
        return list(image_encoder.blocks)
    return [b for layer in image_encoder.layers for b in layer.blocks if hasattr(b, "attn")]


def block_dim(block: nn.Module) -> int:
    """Channels of a block's residual stream (what its attention and MLP put out)."""
    return int(block.dim) if hasattr(block, "dim") else int(block.norm1.normalized_shape[0])


def add_bottleneck_adapters(sam: Any, bottleneck: int, positions: list[str]) -> int:
    """Wrap ``attn`` and/or ``mlp`` of every image-encoder block (`encoder_blocks`) with an adapter. Returns
    the number of adapter parameters added. The wrapped sub-layers keep their weights."""
    added = 0
    for block in encoder_blocks(sam.image_encoder):
        dim = block_dim(block)
        for position in positions:
            inner = getattr(block, position)
            if isinstance(inner, WithAdapter):
                raise ValueError(f"encoder block {position} already has an adapter")
            adapter = BottleneckAdapter(dim, bottleneck).to(next(inner.parameters()).device)
            setattr(block, position, WithAdapter(inner, adapter))
            added += count_params(adapter)
    return added


def import_peft() -> Any:
    """Import peft with the Hugging Face Hub kept offline (we only ever read local folders)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import peft

    return peft


def untargeted_modules(module: nn.Module, prefix: str, pattern: str) -> list[str]:
    """Full names of the largest sub-modules of ``module`` (named ``prefix``) that hold no module whose
    name full-matches ``pattern`` (the LoRA targets, left out themselves). ModuleLists are opened, since a
    wrapped ModuleList could no longer be indexed."""
    if not any(re.fullmatch(pattern, f"{prefix}.{n}") for n, _ in module.named_modules() if n):
        return [prefix]
    if list(module.parameters(recurse=False)):
        raise ValueError(f"{prefix} holds LoRA targets and parameters of its own; modules_to_save cannot cover them")
    names: list[str] = []
    for name, child in module.named_children():
        full = f"{prefix}.{name}"
        if re.fullmatch(pattern, full):
            continue
        if isinstance(child, nn.ModuleList):
            names += [n for i, c in enumerate(child) for n in untargeted_modules(c, f"{full}.{i}", pattern)]
        else:
            names += untargeted_modules(child, full, pattern)
    return names


def modules_to_save(sam: Any, settings: AdapterSettings) -> list[str]:
    """What trains fully besides LoRA, as peft ``modules_to_save``: the mask decoder (with ``lora_decoder``
    its parts without LoRA) and, when it trains, the prompt encoder."""
    names = ["mask_decoder"]
    if settings.lora_decoder:
        names = untargeted_modules(sam.mask_decoder, "mask_decoder", DECODER_ATTN_PATTERN)
    return names + (["prompt_encoder"] if settings.train_prompt_encoder else [])


def lora_config(settings: AdapterSettings, sam: Any) -> Any:
    """The peft LoraConfig for ``settings`` on ``sam`` (target modules as one full-match regex)."""
    LoraConfig = import_peft().LoraConfig

    pattern = ENCODER_QKV_PATTERN
    if settings.lora_decoder:
        pattern = f"({ENCODER_QKV_PATTERN})|({DECODER_ATTN_PATTERN})"
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=pattern,
        modules_to_save=modules_to_save(sam, settings),
        bias="none",
    )


def apply_adapters(sam: Any, settings: AdapterSettings) -> Any:
    """Make ``sam`` trainable as ``settings.mode`` says, in place. Returns the peft model for
    ``lora`` (LoRA layers are injected into ``sam`` itself, so ``sam`` stays usable), else None."""
    for p in sam.parameters():
        p.requires_grad_(False)
    if settings.mode == "lora":
        # peft makes the LoRA matrices and the modules_to_save copies trainable, nothing else
        return import_peft().get_peft_model(sam, lora_config(settings, sam))
    if settings.mode == "adapter":
        add_bottleneck_adapters(sam, settings.adapter_dim, settings.adapter_positions)
        for name, p in sam.named_parameters():
            if ".adapter." in name:
                p.requires_grad_(True)
    for p in sam.mask_decoder.parameters():
        p.requires_grad_(True)
    if settings.train_prompt_encoder:
        for p in sam.prompt_encoder.parameters():
            p.requires_grad_(True)
    return None


def is_added_param(name: str) -> bool:
    """True for parameters an adapter mode adds (LoRA matrices, bottleneck adapters)."""
    return "lora_" in name or ".adapter." in name


def trainable_report(sam: Any) -> dict[str, Any]:
    """Counts of total/trainable parameters, split by part, and the trainable fractions (model, encoder).

    ``added_of_encoder`` is (LoRA or adapter params inside the encoder) / (original encoder
    params): the number to compare with "LoRA trains about 0.16% of vit_b".
    """
    groups = {"image_encoder": [0, 0], "prompt_encoder": [0, 0], "mask_decoder": [0, 0]}
    encoder_added = encoder_base = 0
    total = trainable = 0
    for name, p in sam.named_parameters():
        if ".original_module." in name:
            continue  # peft's frozen original beside its trained modules_to_save copy: counted once
        n = p.numel()
        total += n
        trainable += n if p.requires_grad else 0
        for group, counts in groups.items():
            if f"{group}." in name or name.startswith(group):
                counts[0] += n
                counts[1] += n if p.requires_grad else 0
                if group == "image_encoder":
                    if is_added_param(name):
                        encoder_added += n if p.requires_grad else 0
                    else:
                        encoder_base += n
    return {
        "total": total,
        "trainable": trainable,
        "trainable_fraction": trainable / total if total else 0.0,
        "encoder_params": encoder_base,
        "encoder_added_trainable": encoder_added,
        "added_of_encoder": encoder_added / encoder_base if encoder_base else 0.0,
        "by_part": {g: {"params": c[0], "trainable": c[1]} for g, c in groups.items()},
    }


def format_report(report: dict[str, Any], mode: str) -> str:
    """One line for the console: trainable params and fractions."""
    return (
        f"{mode}: trainable {report['trainable']:,} of {report['total']:,} params "
        f"({100 * report['trainable_fraction']:.3f}%); added in encoder {report['encoder_added_trainable']:,} "
        f"= {100 * report['added_of_encoder']:.3f}% of the encoder's {report['encoder_params']:,}; "
        f"decoder {report['by_part']['mask_decoder']['trainable']:,} trainable"
    )


def trainable_state_dict(sam: Any) -> dict[str, torch.Tensor]:
    """The trainable parameters (name → detached tensor): what a resume checkpoint stores."""
    return {n: p.detach().clone() for n, p in sam.named_parameters() if p.requires_grad}
