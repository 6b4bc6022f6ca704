"""The config of `wood finetune classify`: one dataclass, help text per field, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wood.device import parse_device

ARCHS = ("simple-cnn", "resnet18")
OPTIMIZERS = ("sgd", "adam")
STRATEGIES = ("scratch", "transfer", "finetune")
BALANCES = ("none", "sampler", "loss")
PRETRAINED_STRATEGIES = ("transfer", "finetune")


@dataclass
class ClassifyConfig:
    """Train an image classifier (defect type or good) on the `classify/` split of `wood prep`."""

    data: str = field(default="", metadata={"help": "Prepared dataset folder (`wood prep --out`); reads DATA/classify/<split>/<class>/."})
    arch: str = field(default="simple-cnn", metadata={"help": "Architecture: simple-cnn (small, documented) or resnet18 (torchvision)."})
    optimizer: str = field(default="adam", metadata={"help": "Optimizer: sgd or adam."})
    lr: float = field(default=1e-3, metadata={"help": "Learning rate of the first (or only) phase."})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum (ignored by adam)."})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay for either optimizer."})
    epochs: int = field(default=30, metadata={"help": "Epochs of the first phase (scratch: all training; transfer/finetune: head only)."})
    strategy: str = field(
        default="scratch",
        metadata={"help": "scratch: random init, train all. transfer: pretrained ResNet18, train the head only. "
                  "finetune: transfer for `epochs`, then unfreeze everything for `finetune_epochs` at `finetune_lr`."},
    )
    finetune_epochs: int = field(default=10, metadata={"help": "Second-phase epochs of strategy finetune (all layers trainable)."})
    finetune_lr: float = field(default=1e-4, metadata={"help": "Learning rate of the second phase of strategy finetune."})
    weights: str | None = field(
        default=None,
        metadata={"help": "torchvision ResNet18 state dict (.pth) for transfer/finetune. Default: torchvision's hub cache "
                  "(<torch.hub.get_dir()>/checkpoints/resnet18-*.pth)."},
    )
    imgsz: int = field(default=224, metadata={"help": "Images are resized to imgsz x imgsz pixels."})
    batch: int = field(default=16, metadata={"help": "Batch size (>= 2: BatchNorm needs two images)."})
    balance: str = field(
        default="none",
        metadata={"help": "Long tail: none; sampler (class-balanced sampling with replacement); "
                  "loss (logit-adjusted cross-entropy, tau=1)."},
    )
    augment: bool = field(default=True, metadata={"help": "Train-time augmentation: flips, 90-degree rotations, mild colour jitter."})
    seed: int = field(default=0, metadata={"help": "Seed for init, shuffling and augmentation (recorded in metrics.json)."})
    device: str = field(default="auto", metadata={"help": "auto (cuda when available), cpu, cuda or cuda:N."})
    out: str = field(default="runs/classify", metadata={"help": "Parent folder of run folders."})
    name: str | None = field(default=None, metadata={"help": "Run folder name (default <arch>-<strategy>-<optimizer>)."})
    exist_ok: bool = field(default=False, metadata={"help": "Replace a run folder of the same name (default: add -2, -3, ...)."})

    def __post_init__(self) -> None:
        choices = {"arch": ARCHS, "optimizer": OPTIMIZERS, "strategy": STRATEGIES, "balance": BALANCES}
        for key, allowed in choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ValueError(f"{key} must be one of {list(allowed)}, but got {value!r}")
        parse_device(self.device)  # spelling only; train() checks it against the devices torch sees
        for key in ("lr", "finetune_lr"):
            value = float(getattr(self, key))
            if not value > 0:
                raise ValueError(f"{key} must be > 0, but got {value}")
            setattr(self, key, value)
        for key, low in (("epochs", 1), ("finetune_epochs", 0), ("batch", 2), ("imgsz", 16)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be an integer >= {low}, but got {value!r}")
        if self.momentum < 0 or self.weight_decay < 0:
            raise ValueError("momentum and weight_decay must be >= 0")
        if self.strategy in PRETRAINED_STRATEGIES and self.arch != "resnet18":
            raise ValueError(f"strategy {self.strategy} needs pretrained weights, which exist for arch resnet18 only; "
                             f"use --arch resnet18 or --strategy scratch")
        if not self.data:
            raise ValueError("data is required: the folder written by `wood prep --out`")
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
    def classify_dir(self) -> Path:
        return Path(self.data) / "classify"
