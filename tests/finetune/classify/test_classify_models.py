"""Offline weights lookup, loading a ResNet18 state dict, freezing, and config checks."""

from __future__ import annotations

import pytest
import torch

from wood.errors import ConfigError, WeightsError
from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.models import (
    RESNET18_FILE,
    build_model,
    find_resnet18_weights,
    freeze_all_but_head,
    load_pretrained_backbone,
)
from wood.torchutil import count_params


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    """torchvision's hub cache pointed at an empty folder (as on an air-gapped machine)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def fake_resnet18_state(path, seed=1):
    """A torchvision ResNet18 state dict (1000-class head) with seeded random weights."""
    from torchvision.models import resnet18

    torch.manual_seed(seed)
    state = resnet18(weights=None).state_dict()
    torch.save(state, path)
    return state


def test_missing_weights_is_one_line_naming_file_and_place(empty_hub):
    with pytest.raises(WeightsError) as info:
        find_resnet18_weights(None)
    message = str(info.value)
    assert "\n" not in message
    assert RESNET18_FILE in message and str(empty_hub) in message and "--weights" in message and "scratch" in message


def test_weights_path_that_does_not_exist(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        find_resnet18_weights(tmp_path / "nope.pth")


def test_hub_cache_is_found(empty_hub):
    empty_hub.mkdir(parents=True)
    (empty_hub / RESNET18_FILE).write_bytes(b"x")
    assert find_resnet18_weights(None) == empty_hub / RESNET18_FILE


def test_backbone_loaded_head_kept_and_transfer_freezes_all_but_head(tmp_path):
    state = fake_resnet18_state(tmp_path / "r18.pth")
    model = build_model("resnet18", 6)
    head_before = model.fc.weight.clone()
    record = load_pretrained_backbone(model, tmp_path / "r18.pth")
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert torch.equal(model.fc.weight, head_before)  # the 1000-class head is not loaded
    assert record["skipped"] == ["fc.bias", "fc.weight"]
    freeze_all_but_head(model)
    assert count_params(model, trainable_only=True) == 512 * 6 + 6
    assert count_params(model) > 11_000_000


def test_not_a_resnet18_state_dict(tmp_path):
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="not a torchvision ResNet18 state dict"):
        load_pretrained_backbone(build_model("resnet18", 2), tmp_path / "bad.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_pretrained_backbone(build_model("resnet18", 2), tmp_path / "junk.pth")


def test_simple_cnn_shapes():
    model = build_model("simple-cnn", 6).eval()
    for size in (32, 64):
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 6)
    assert 50_000 < count_params(model) < 200_000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"arch": "vgg"}, "arch must be one of"),
        ({"strategy": "transfer", "arch": "simple-cnn"}, "resnet18 and mobilenet_v2 only"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"lr": 0}, "lr must be > 0"),
        ({"balance": "focal"}, "balance must be one of"),
        ({"data": ""}, "data is required"),
    ],
)
def test_config_rejects(kwargs, match):
    values = {"data": "somewhere", **kwargs}
    with pytest.raises(ConfigError, match=match):
        ClassifyConfig(**values)
