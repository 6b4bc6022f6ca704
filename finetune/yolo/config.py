"""The `wood finetune yolo` config: one dataclass, help text per field, validated on creation.

Default image size, justified: MVTec AD wood images are 1024x1024. Measured on real wood masks
(36 warped MVTec wood images at 512 px, scaled to 1024), the smallest defect boxes have a short side of
about 26 px (holes; 10th percentile 32 px) and scratches are lines a few pixels wide. At the
Ultralytics default imgsz=640 every image is shrunk by 0.625, so those holes become 16 px (two
cells of the stride-8 P3 head) and thin scratches fall under 2 px, where they blur into the grain.
``imgsz=1024`` trains at native resolution: nothing is resampled away, at about 2.6x the compute
of 640. Pass ``--imgsz 640`` to trade recall on tiny defects for speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wood.config import option
from wood.device import device_help, parse_device
from wood.errors import ConfigError

TASKS = ("detect", "segment")
TEXT_ENCODERS = ("minilm", "clip", "clip:ViT-B/32")  # "clip": short for clip:ViT-B/32 (finetune/yolo/text_encoders.py)


@dataclass
class YoloConfig:
    """Options of `wood finetune yolo` (also the keys of its ``--config`` YAML file)."""

    data: Path = option("Prepared dataset folder (output of `wood prep`), holding yolo/ and yolo-seg/.")
    model: str = option(
        "Weights name (yolov8n.pt, yolo11n.pt: looked up locally), a .pt path, or a model .yaml "
        "(yolov8n.yaml) to train from scratch; with --world the default is yolov8s-worldv2.yaml.",
        "yolov8n.pt",
    )
    task: str = option("detect (boxes, yolo/) or segment (masks, yolo-seg/).", "detect", choices=TASKS)
    epochs: int = option("Training epochs.", 100)
    imgsz: int = option("Train/predict image size; 1024 keeps 1024x1024 wood defects at native size.", 1024)
    batch: int = option("Batch size (-1: Ultralytics AutoBatch on GPU).", 8)
    device: str = option(device_help(multi=True), "auto")
    seed: int = option("Random seed (Ultralytics also runs deterministic).", 0)
    workers: int = option("Data loader workers.", 2)
    patience: int = option("Stop after this many epochs without val improvement.", 50)
    nbs: int | None = option(
        "Nominal batch size: gradients are accumulated up to it before an optimizer step. Default: "
        "the batch size (one step per batch). Ultralytics' 64 gives ~1 step per epoch on a ~60-image "
        "wood train split, and under 3 on 170 images: too few updates to learn in a short run.",
        None,
        default_text="the batch size",
    )
    out: Path = option("Folder holding run folders.", Path("runs/yolo"))
    name: str | None = option("Run folder name.", None, default_text="<task> (world with --world)")
    resume: bool = option("Resume the interrupted run named by --name from its weights/last.pt.", False)
    exist_ok: bool = option(
        "Replace an existing run folder of the same name (only one wood wrote) instead of numbering a new one.", False
    )
    balance: bool = option(
        "Oversample rare classes: repeat train images of rare classes (see finetune/yolo/balance.py).", False
    )
    balance_max_repeat: int = option("Most times one image is repeated by --balance.", 4)
    weights_dir: Path | None = option(
        "Local folder of pretrained weights.", None, default_text="$WOOD_WEIGHTS or ~/.cache/wood/weights"
    )
    download: bool = option("Let Ultralytics download a missing pretrained weight (needs network).", False)
    plots: bool = option("Let Ultralytics write its training plots.", True)
    amp: bool = option("Mixed precision on GPU (checked offline first).", True)
    train_args: dict[str, Any] = option(
        "Extra Ultralytics train arguments (config file only), e.g. {mosaic: 0.5, lr0: 0.005}.",
        default_factory=dict,
        cli=False,
    )
    # YOLO-World options (finetune/yolo/world.py): open-vocabulary detection with text prompts.
    world: bool = option(
        "Train YOLO-World (text prompts) instead of plain YOLO; model e.g. yolov8s-worldv2.yaml.", False
    )
    text_encoder: str = option(
        "YOLO-World text encoder: minilm (offline, bundled) or clip (needs local ViT-B/32).",
        "minilm",
        choices=TEXT_ENCODERS,
    )
    prompts: str | None = option(
        "YOLO-World prompts: a YAML file mapping class name -> text.", None, default_text="the dataset config's prompts"
    )

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.out = Path(self.out)
        if self.weights_dir is not None:
            self.weights_dir = Path(self.weights_dir)
        parse_device(self.device, multi=True)  # spelling only; train() checks it against the devices torch sees
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {list(TASKS)}, but got {self.task!r}")
        for key in ("epochs", "imgsz", "balance_max_repeat"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"{key} must be an integer >= 1, but got {getattr(self, key)!r}")
        if self.imgsz % 32:
            raise ConfigError(f"imgsz must be a multiple of 32 (the largest YOLO stride), but got {self.imgsz}")
        if not isinstance(self.batch, int) or (self.batch < 1 and self.batch != -1):
            raise ConfigError(f"batch must be >= 1 or -1 (AutoBatch), but got {self.batch!r}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers must be an integer >= 0, but got {self.workers!r}")
        if self.nbs is not None and (not isinstance(self.nbs, int) or self.nbs < 1):
            raise ConfigError(f"nbs must be an integer >= 1, but got {self.nbs!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ConfigError(f"patience must be an integer >= 0, but got {self.patience!r}")
        if not str(self.model).strip():
            raise ConfigError("model must name weights, a .pt path or a .yaml, but got an empty string")
        if self.name is not None and (not self.name or "/" in self.name or self.name in (".", "..")):
            raise ConfigError(f"name must be a plain folder name, but got {self.name!r}")
        if self.resume and self.name is None:
            raise ConfigError("resume needs --name: the run folder to resume")
        if self.resume and self.exist_ok:
            raise ConfigError("resume and exist_ok exclude each other")
        if not isinstance(self.train_args, dict):
            raise ConfigError(f"train_args must be a mapping, but got {type(self.train_args).__name__}")
        if self.text_encoder not in TEXT_ENCODERS:
            raise ConfigError(f"text_encoder must be one of {list(TEXT_ENCODERS)}, but got {self.text_encoder!r}")
        if self.prompts is not None and not self.world:
            raise ConfigError("prompts only apply to YOLO-World: add --world")
        if self.world and self.task != "detect":
            raise ConfigError("YOLO-World trains detection only: use --task detect with --world")

    @property
    def data_subdir(self) -> str:
        """The prep sub-folder Ultralytics trains on for this task."""
        return "yolo" if self.task == "detect" else "yolo-seg"


RESERVED_TRAIN_ARGS = frozenset(
    {
        "data",
        "model",
        "epochs",
        "imgsz",
        "batch",
        "device",
        "seed",
        "workers",
        "patience",
        "nbs",
        "project",
        "name",
        "exist_ok",
        "resume",
        "plots",
        "amp",
        "task",
        "mode",
    }
)
"""Ultralytics arguments set from YoloConfig fields: not allowed in ``train_args``."""
