"""SAM run folders other tools load: peft + segment-anything reproduce `eval segment`'s logits from the
model card's code alone; the architecture is in config.yaml; bottleneck adapters under their own names."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import yaml
from _sam_fixtures import make_prep_dataset, train_tiny_sam

from wood.finetune.sam.architecture import build_from_architecture, build_from_run_config, sam_architecture
from wood.finetune.sam.data import box_prompts, load_split, read_rgb
from wood.finetune.sam.io import load_run
from wood.finetune.sam.predictor import SamPredictor

SIZE = 64


@pytest.fixture(scope="module")
def prep(tmp_path_factory):
    return make_prep_dataset(
        tmp_path_factory.mktemp("sam-export") / "prep", size=96, counts={"train": (2, 0), "test": (1, 0)}
    )


def _image_and_box(prep):
    image = [im for im in load_split(prep, "test")[0] if im.instances][0]
    return read_rgb(image), image.instances[0].bbox_xyxy[None].astype(np.float32)


def _wood_logits(run, rgb, box):
    """What `wood eval segment` computes: the run loaded by wood, wood's predictor."""
    sam, _ = load_run(run)
    predictor = SamPredictor(sam, "cpu")
    with torch.inference_mode():
        predictor.set_image(rgb)
        logits, _ = predictor.predict(box_prompts(box, rgb.shape[:2], predictor.target))
    return logits


def _card_code(run) -> str:
    card = (run / "weights" / "README.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", card, re.S).group(1)


def _plain_logits(predictor, rgb, box):
    """segment-anything's own SamPredictor, logits at the original size."""
    predictor.set_image(rgb)
    boxes = predictor.transform.apply_boxes_torch(torch.from_numpy(box), rgb.shape[:2])
    with torch.no_grad():
        logits, _, _ = predictor.predict_torch(None, None, boxes=boxes, multimask_output=False, return_logits=True)
    return logits


@pytest.mark.slow
@pytest.mark.parametrize("lora_decoder,train_prompt_encoder", [(False, False), (True, True)])
def test_lora_run_loads_with_peft_and_segment_anything_only(
    prep, tmp_path, monkeypatch, lora_decoder, train_prompt_encoder
):
    run = train_tiny_sam(
        prep, tmp_path, adapter="lora", lora_decoder=lora_decoder, train_prompt_encoder=train_prompt_encoder
    )
    rgb, box = _image_and_box(prep)
    ref = _wood_logits(run, rgb, box)

    weights = run / "weights"
    peft_config = json.loads((weights / "adapter_config.json").read_text())
    assert peft_config["base_model_name_or_path"] == "tiny"
    saved = set(peft_config["modules_to_save"])
    assert ("mask_decoder" in saved) is not lora_decoder and ("prompt_encoder" in saved) is train_prompt_encoder
    card = (weights / "README.md").read_text(encoding="utf-8")
    assert "More Information Needed" not in card and "base_model: tiny" in card

    code = _card_code(run)
    assert "wood" not in code and "mask_decoder.safetensors" not in code  # the decoder comes from the adapter
    monkeypatch.chdir(run)
    namespace: dict = {}
    exec(code, namespace)  # segment-anything + peft + safetensors only
    plain = _plain_logits(namespace["predictor"], rgb, box)
    assert plain.shape == ref.shape == (1, 1, *rgb.shape[:2])
    assert (plain - ref).abs().max().item() < 1e-5

    untrained = build_from_run_config(run)  # the base without the adapter: the trained decoder matters
    untrained.load_state_dict(namespace["load_file"]("weights/base_model.safetensors"))
    other = _plain_logits(namespace["SamPredictor"](untrained), rgb, box)
    assert (other - ref).abs().max().item() > 1e-3


@pytest.mark.slow
def test_config_yaml_holds_the_full_architecture(prep, tmp_path, monkeypatch):
    run = train_tiny_sam(prep, tmp_path, adapter="decoder", patch_size=8, train_prompt_encoder=True, name="d")
    arch = yaml.safe_load((run / "config.yaml").read_text())["architecture"]
    assert arch["image_size"] == SIZE and arch["patch_size"] == 8
    assert arch["image_encoder"]["embed_dim"] == 128 and arch["image_encoder"]["depth"] == 2
    sam, _ = load_run(run)
    rebuilt = build_from_run_config(run)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in sam.state_dict().items()}
    code = _card_code(run)
    assert "mask_decoder.safetensors" in code and "prompt_encoder.safetensors" in code
    assert "peft" not in code and "wood" not in code
    rgb, box = _image_and_box(prep)
    ref = _wood_logits(run, rgb, box)
    monkeypatch.chdir(run)
    namespace: dict = {}
    exec(code, namespace)
    assert (_plain_logits(namespace["predictor"], rgb, box) - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize("variant", ["vit_b", "vit_l", "vit_h"])
def test_official_architectures_match_segment_anything(variant):
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        ours = build_from_architecture(sam_architecture(variant))
        theirs = sam_model_registry[variant]()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


@pytest.mark.slow
def test_adapter_run_uses_its_own_file_names_and_old_names_still_load(prep, tmp_path):
    run = train_tiny_sam(prep, tmp_path, adapter="adapter", name="a")
    weights = run / "weights"
    names = {p.name for p in weights.iterdir()}
    assert not names & {"adapter_config.json", "adapter_model.safetensors"}
    assert {"wood_adapters.safetensors", "wood_adapters.json", "README.md"} <= names
    assert "peft_type" not in json.loads((weights / "wood_adapters.json").read_text())
    rgb, box = _image_and_box(prep)
    ref = _wood_logits(run, rgb, box)
    (weights / "wood_adapters.safetensors").rename(weights / "adapter_model.safetensors")  # a run from before
    (weights / "wood_adapters.json").rename(weights / "adapter_config.json")
    assert torch.equal(_wood_logits(run, rgb, box), ref)
