"""finetune/sam/card.py: the code a SAM run's model card shows builds, with segment-anything alone, the very
architecture wood trains (same parameter names and shapes), and the card says what was trained."""

from __future__ import annotations

import yaml

from wood.finetune.sam.architecture import sam_architecture
from wood.finetune.sam.card import model_card, tiny_code, trained_parts
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.models import build_sam


def test_tiny_code_builds_the_same_model_as_wood():
    arch = sam_architecture("tiny", 64, 8)
    scope: dict = {}
    exec("\n".join(["import torch", *tiny_code(arch)]), scope)  # noqa: S102 - the card's own code
    theirs = {k: tuple(v.shape) for k, v in scope["sam"].state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in build_sam("tiny", 64, 8).state_dict().items()}
    assert theirs == ours and len(ours) > 50


def test_trained_parts():
    cfg = SamTrainConfig(data="d", model="tiny", adapter="lora", lora_decoder=True, train_prompt_encoder=True)
    assert trained_parts(cfg) == (
        "LoRA (peft) on the image encoder's fused qkv and on the mask decoder's attention projections; "
        "trained: the mask decoder, the prompt encoder"
    )
    cfg = SamTrainConfig(data="d", model="tiny", adapter="decoder")
    assert trained_parts(cfg) == "Nothing added to the frozen image encoder; trained: the mask decoder"


def test_model_card_front_matter_and_sections():
    cfg = SamTrainConfig(data="prep/wood", model="tiny", imgsz=64, adapter="lora")
    card = model_card(cfg, "tiny", False)
    front = card.split("---\n")[1]
    assert yaml.safe_load(front) == {"base_model": "tiny", "library_name": "peft", "tags": ["segment-anything", "wood"]}
    assert "# SAM tiny fine-tuned by `wood finetune sam --adapter lora`" in card
    assert "- Base: `tiny`, 64 px input, patch 16" in card and "- Data: `prep/wood`, prompts: box." in card
    assert "## Load it without wood (from the run folder)" in card and card.endswith("\n")
    adapters = model_card(SamTrainConfig(data="d", model="tiny", adapter="adapter"), "tiny", False)
    assert "library_name" not in adapters and "from wood.finetune.sam.io import load_run" in adapters
