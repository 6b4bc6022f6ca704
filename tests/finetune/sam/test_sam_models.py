"""SAM registry, weights loading and the trainable parts of each adapter mode (tiny model, offline)."""

from __future__ import annotations

import pytest
import torch

from wood.errors import ConfigError, WeightsError
from wood.finetune.sam.adapters import AdapterSettings, apply_adapters, format_report, trainable_report
from wood.finetune.sam.models import SAM_VARIANTS, build_sam, load_sam, missing_weights_message
from wood.torchutil import read_state_dict

SIZE = 64


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No official checkpoint anywhere: cwd and the weights cache are empty temp folders."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WOOD_WEIGHTS", str(tmp_path / "cache"))
    return tmp_path


def test_registry_has_the_five_variants():
    assert set(SAM_VARIANTS) == {"vit_b", "vit_l", "vit_h", "tiny", "litemedsam"}
    assert SAM_VARIANTS["vit_b"].url.endswith("sam_vit_b_01ec64.pth")


def test_missing_official_weights_is_one_line_saying_where(no_weights):
    with pytest.raises(WeightsError) as err:
        load_sam("vit_b")
    msg = str(err.value)
    assert "\n" not in msg
    assert "sam_vit_b_01ec64.pth" in msg and "https://dl.fbaipublicfiles.com" in msg
    assert str(no_weights / "cache") in msg and "--random-init" in msg
    assert msg == missing_weights_message("vit_b")


def test_tiny_random_init_warns_and_checkpoint_round_trips(tmp_path, capsys):
    sam, source = load_sam("tiny", image_size=SIZE)
    assert source == "random"
    assert "random initialisation" in capsys.readouterr().err
    path = tmp_path / "tiny.pth"
    torch.save(sam.state_dict(), path)
    again, source = load_sam("tiny", checkpoint=path, image_size=SIZE)
    assert source == str(path)
    for (k, a), (_, b) in zip(sam.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_wrapped_state_dict_and_bad_files(tmp_path):
    sam = build_sam("tiny", SIZE)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"model": sam.state_dict()}, wrapped)
    assert set(read_state_dict(wrapped)) == set(sam.state_dict())
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_sam("tiny", checkpoint=broken, image_size=SIZE)
    other = tmp_path / "other.pth"
    torch.save(build_sam("tiny", 128).state_dict(), other)  # different grid: pos_embed shape differs
    with pytest.raises(WeightsError, match="do not fit"):
        load_sam("tiny", checkpoint=other, image_size=SIZE)
    with pytest.raises(WeightsError, match="does not exist"):
        load_sam("tiny", checkpoint=tmp_path / "absent.pth", image_size=SIZE)


def _trainable(sam):
    return {n for n, p in sam.named_parameters() if p.requires_grad}


def test_lora_trains_only_lora_and_decoder(capsys):
    sam = build_sam("tiny", SIZE)
    apply_adapters(sam, AdapterSettings(mode="lora", lora_r=4))
    report = trainable_report(sam)
    print(format_report(report, "lora"))
    names = _trainable(sam)
    assert names and all("lora_" in n or n.startswith("mask_decoder.") for n in names)
    lora = [n for n in names if "lora_" in n]
    assert lora and all(".attn.qkv." in n for n in lora)
    dim, depth, r = 128, 2, 4
    assert report["encoder_added_trainable"] == depth * (r * dim + 3 * dim * r)
    decoder = sum(p.numel() for p in build_sam("tiny", SIZE).mask_decoder.parameters())
    assert report["trainable"] == report["encoder_added_trainable"] + decoder
    assert report["total"] == sum(p.numel() for p in build_sam("tiny", SIZE).parameters()) + 4096
    assert report["trainable_fraction"] == pytest.approx(report["trainable"] / report["total"])
    assert "lora: trainable" in capsys.readouterr().out


def test_lora_decoder_freezes_the_wrapped_decoder_projections():
    sam = build_sam("tiny", SIZE)
    apply_adapters(sam, AdapterSettings(mode="lora", lora_decoder=True))
    names = _trainable(sam)
    assert any(n.startswith("mask_decoder.") and "q_proj.lora_A" in n for n in names)
    assert not any("base_layer" in n or "original_module" in n for n in names)
    # the decoder's parts without LoRA train as peft modules_to_save copies (saved inside the adapter)
    assert "mask_decoder.output_upscaling.modules_to_save.default.0.weight" in names


def test_adapter_starts_as_identity_and_trains_only_adapters_and_decoder():
    torch.manual_seed(0)
    sam = build_sam("tiny", SIZE)
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        before = sam.image_encoder(x)
    apply_adapters(sam, AdapterSettings(mode="adapter", adapter_dim=8))
    with torch.no_grad():
        after = sam.image_encoder(x)
    assert torch.equal(before, after)  # zero-initialised up-projection
    names = _trainable(sam)
    assert all(".adapter." in n or n.startswith("mask_decoder.") for n in names)
    assert sum(".adapter." in n for n in names) == 2 * 2 * 4  # blocks x (attn, mlp) x (down, up) x (weight, bias)
    print(format_report(trainable_report(sam), "adapter"))


def test_decoder_mode_freezes_everything_but_the_decoder():
    sam = build_sam("tiny", SIZE)
    apply_adapters(sam, AdapterSettings(mode="decoder", train_prompt_encoder=True))
    names = _trainable(sam)
    assert all(n.startswith(("mask_decoder.", "prompt_encoder.")) for n in names)
    assert any(n.startswith("prompt_encoder.") for n in names)
    report = trainable_report(sam)
    assert report["by_part"]["image_encoder"]["trainable"] == 0


def test_box_mask_prompt_marks_exactly_the_box_and_changes_the_output():
    from wood.finetune.sam.models import BOX_MASK_LOGIT, box_mask_logits, decode_masks

    torch.manual_seed(0)
    sam = build_sam("tiny", 64, patch_size=8)  # 8x8 tokens, mask input 32x32 = 2 px per cell
    assert sam.image_encoder.patch_embed.proj.kernel_size == (8, 8)
    assert tuple(sam.prompt_encoder.mask_input_size) == (32, 32)
    boxes = torch.tensor([[8.0, 16.0, 40.0, 24.0]])
    m = box_mask_logits(sam, boxes)
    assert m.shape == (1, 1, 32, 32)
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[8:12, 4:20] = True  # cell centres (2k+1) px within [x0, x1) x [y0, y1)
    assert torch.equal(m[0, 0] > 0, inside) and set(m.unique().tolist()) == {-BOX_MASK_LOGIT, BOX_MASK_LOGIT}
    emb = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        plain, _ = decode_masks(sam, emb, (64, 64), (64, 64), boxes_xyxy=boxes)
        dense, _ = decode_masks(sam, emb, (64, 64), (64, 64), boxes_xyxy=boxes, box_mask=True)
    assert plain.shape == dense.shape == (1, 1, 64, 64) and not torch.allclose(plain, dense)


def test_patch_size_only_for_tiny():
    from wood.finetune.sam.config import SamTrainConfig

    with pytest.raises(ConfigError, match="patch_size"):
        SamTrainConfig(data="x", model="vit_b", patch_size=8)
    with pytest.raises(ConfigError, match="patch_size"):
        SamTrainConfig(data="x", model="tiny", patch_size=5)
    with pytest.raises(ConfigError, match="threads"):
        SamTrainConfig(data="x", model="tiny", threads=0)
