"""YOLO-World fine-tuning, validation and prediction with text prompts, fully offline.

Where the text embeddings enter (the one hook): :class:`WoodWorldTrainer`, a WorldTrainer subclass
built on first use (Ultralytics is imported lazily), replaces the two places Ultralytics reaches
CLIP during training:

- ``generate_text_embeddings`` (the per-batch text features) returns our encoder's class vectors
  from a cache keyed by encoder + prompts hash (``wood.finetune.text_encoders``). Ultralytics'
  names-only cache ``text_embeddings_clip_ViT-B_32.pt`` is never read, so a stale one cannot leak in;
- the ``on_pretrain_routine_end`` callback, which calls ``set_classes`` (CLIP) on the EMA model
  even when the cache exists, is replaced by one that sets the same vectors with
  :func:`apply_text_embeddings`.

Nothing is patched globally. The EMA model carries ``txt_feats`` (one vector per class), so the
saved ``best.pt`` validates and predicts with no encoder at all. ``predict_world`` with new
prompts encodes them with the run's encoder (recorded in ``text_prompts.json``) and sets them
with the same :func:`apply_text_embeddings`.

Prompts come from ``datasets/<category>.yaml`` (``classes: {name: {prompts: [...]}}``) or a
``--prompts FILE`` of the same form (or simply ``name: [prompts]``). A class without a prompt
gets "a <name> defect".
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wood.config import read_yaml
from wood.errors import ConfigError, DataError, WoodError
from wood.finetune.text_encoders import DEFAULT_ENCODER, TEXT_DIM, check_encoder_name, class_embeddings

if TYPE_CHECKING:
    import torch

PROMPTS_FILE = "text_prompts.json"  # in the run folder: encoder, classes and prompts used


# ---------------------------------------------------------------- prompts
def read_prompts_file(path: str | Path, names: list[str]) -> dict[str, list[str]]:
    """Prompts from a YAML file: ``classes: {name: {prompts: [...]}}`` or ``{name: [..] | "..."}``.

    Every class of the dataset must be listed; an unknown class is a ConfigError.
    """
    data = read_yaml(path)
    raw = data.get("classes", data) if isinstance(data.get("classes"), dict) else data
    raw = {k: v for k, v in raw.items() if k != "category"}
    out: dict[str, list[str]] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            value = value.get("prompts", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(p, str) and p.strip() for p in value):
            raise ConfigError(f"class '{name}' needs a non-empty list of text prompts", path)
        out[str(name)] = [p.strip() for p in value]
    unknown = sorted(set(out) - set(names))
    if unknown:
        raise ConfigError(f"unknown class name(s) {unknown}; the dataset has {names}", path)
    missing = [n for n in names if n not in out]
    if missing:
        raise ConfigError(f"no prompts for class(es) {missing}; list every class of the dataset", path)
    return {n: out[n] for n in names}


def resolve_prompts(names: list[str], category: str | None = None, prompts_file: str | Path | None = None) -> dict[str, list[str]]:
    """Class name -> prompts, in class order: ``prompts_file`` if given, else the dataset config."""
    if prompts_file is not None:
        return read_prompts_file(prompts_file, names)
    from wood.dataset_config import load_dataset_config

    config = load_dataset_config(category or "")
    config.check_classes(names)
    return {n: config.prompts_for(n) for n in names}


def dataset_names_and_category(data_yaml: str | Path) -> tuple[list[str], str | None]:
    """Class names (in id order) from a prep data.yaml and the category from its manifest.json."""
    data = read_yaml(data_yaml)
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise DataError("data.yaml has no `names` list", data_yaml)
    manifest = Path(data_yaml).resolve().parent.parent / "manifest.json"
    category = None
    if manifest.is_file():
        try:
            category = json.loads(manifest.read_text(encoding="utf-8")).get("category")
        except ValueError:
            category = None
    return [str(n) for n in names], category


# ---------------------------------------------------------------- the hook
def apply_text_embeddings(model: Any, names: list[str], feats: "torch.Tensor") -> None:
    """Give a WorldModel one text embedding per class: what ``set_classes`` does, without CLIP.

    ``feats`` is (N, 512) or (1, N, 512) unit vectors, one per name, in class-id order.
    """
    feats = feats.reshape(1, len(names), -1)
    if feats.shape[-1] != TEXT_DIM:
        raise WoodError(f"text embeddings must have {TEXT_DIM} dims, but got shape {tuple(feats.shape)}")
    param = next(model.parameters())
    model.txt_feats = feats.detach().to(device=param.device, dtype=param.dtype if param.is_floating_point() else None)
    model.model[-1].nc = len(names)
    model.names = dict(enumerate(names))


def _stack(names: list[str], emb: dict[str, "torch.Tensor"]) -> "torch.Tensor":
    import torch

    return torch.stack([emb[n] for n in names])


@functools.lru_cache(maxsize=1)
def world_trainer_class() -> type:
    """WoodWorldTrainer, defined on first use so that importing this module stays light."""
    from ultralytics.models.yolo.world import WorldTrainer
    from ultralytics.nn.tasks import WorldModel
    from ultralytics.utils import RANK

    def on_pretrain_routine_end(trainer) -> None:
        """Set the EMA model's classes from the dataset names with our vectors (replaces CLIP's)."""
        names = [trainer.test_loader.dataset.data["names"][i] for i in sorted(trainer.test_loader.dataset.data["names"])]
        apply_text_embeddings(trainer.ema.ema, names, _stack(names, trainer.wood_class_embeddings))

    class WoodWorldTrainer(WorldTrainer):
        """WorldTrainer whose text embeddings come from ``wood_class_embeddings`` (set before train)."""

        wood_class_embeddings: dict[str, "torch.Tensor"] = {}

        def get_model(self, cfg=None, weights=None, verbose=True):
            model = WorldModel(
                cfg["yaml_file"] if isinstance(cfg, dict) else cfg,
                ch=self.data["channels"],
                nc=min(self.data["nc"], 80),
                verbose=verbose and RANK == -1,
            )
            if weights:
                model.load(weights)
            if on_pretrain_routine_end not in self.callbacks["on_pretrain_routine_end"]:
                self.add_callback("on_pretrain_routine_end", on_pretrain_routine_end)
            return model

        def generate_text_embeddings(self, texts, batch, cache_dir):
            """Category texts -> our class vectors (a text "a/b" part maps to its class's vector)."""
            by_part = {p.strip(): vec for name, vec in self.wood_class_embeddings.items() for p in name.split("/")}
            missing = sorted(set(texts) - set(by_part))
            if missing:
                raise WoodError(f"no text embedding for dataset name(s) {missing}")
            return {t: by_part[t].to(self.device) for t in texts}

    return WoodWorldTrainer


# ---------------------------------------------------------------- train
def train_world_model(
    data_yaml: str | Path,
    run_dir: str | Path,
    model: str = "yolov8n-worldv2.yaml",
    text_encoder: str = DEFAULT_ENCODER,
    prompts: dict[str, list[str]] | None = None,
    train_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train YOLO-World on a prep data.yaml into ``run_dir`` (Ultralytics save dir); offline.

    ``model`` is a worldv2 .yaml (from scratch) or a YOLO-World .pt file. ``prompts`` maps every
    dataset class to its prompts (default: :func:`resolve_prompts`). ``train_args`` go to the
    Ultralytics trainer (epochs, imgsz, batch, device, ...). Returns a summary dict: weights,
    text_prompts.json path, the cache file and the final Ultralytics metrics.
    """
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    names, category = dataset_names_and_category(data_yaml)
    text_encoder = check_encoder_name(text_encoder)
    prompts = prompts if prompts is not None else resolve_prompts(names, category)
    if list(prompts) != names:
        raise ConfigError(f"prompts must list the dataset classes {names} in order, but got {list(prompts)}")
    run_dir = Path(run_dir).resolve()
    cache_dir = Path(read_yaml(data_yaml).get("path", Path(data_yaml).parent)) / "images"
    emb, cache_file = class_embeddings(text_encoder, prompts, cache_dir=cache_dir)
    record = {"encoder": text_encoder, "dim": TEXT_DIM, "classes": names, "prompts": prompts,
              "cache": str(cache_file) if cache_file else None}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / PROMPTS_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")

    args = {"plots": False, "verbose": False, **(train_args or {})}
    args.update(model=str(model), data=str(Path(data_yaml).resolve()), task="detect",
                project=str(run_dir.parent), name=run_dir.name, exist_ok=True)
    trainer = world_trainer_class()(overrides=args)
    trainer.wood_class_embeddings = emb
    trainer.train()
    metrics = {k: float(v) for k, v in (trainer.metrics or {}).items() if isinstance(v, (int, float))}
    return {"weights": str(trainer.best if trainer.best.exists() else trainer.last),
            "prompts_file": str(run_dir / PROMPTS_FILE), "cache": record["cache"], "metrics": metrics}


# ---------------------------------------------------------------- load / predict
def world_run_info(run: str | Path) -> dict[str, Any]:
    """The run's text_prompts.json (encoder, classes, prompts); DataError if it is not a world run."""
    path = Path(run) / PROMPTS_FILE
    if not path.is_file():
        raise DataError(f"not a YOLO-World run (no {PROMPTS_FILE}); train one with `wood finetune yolo --world`", run)
    return json.loads(path.read_text(encoding="utf-8"))


def run_weights(run: str | Path) -> Path:
    """weights/best.pt of a run folder (else last.pt)."""
    for name in ("best.pt", "last.pt"):
        path = Path(run) / "weights" / name
        if path.is_file():
            return path
    raise DataError("run has no weights/best.pt or weights/last.pt", run)


def load_world(weights: str | Path):
    """An Ultralytics YOLOWorld from a checkpoint; it carries its txt_feats, no encoder needed."""
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics import YOLO
    from ultralytics.nn.tasks import WorldModel

    if not Path(weights).is_file():
        raise DataError("weights file does not exist", weights)
    yolo = YOLO(str(weights))
    if not isinstance(yolo.model, WorldModel):
        raise WoodError("not a YOLO-World checkpoint (its model is not a WorldModel)", weights)
    return yolo


def set_world_prompts(yolo: Any, prompts: dict[str, list[str]], text_encoder: str) -> None:
    """Point a loaded YOLOWorld at new classes: name -> prompts, encoded with ``text_encoder``."""
    emb, _ = class_embeddings(text_encoder, prompts)
    names = list(prompts)
    apply_text_embeddings(yolo.model, names, _stack(names, emb))
    yolo.predictor = None  # a predictor built earlier holds the old names


def predict_world(
    run: str | Path,
    source: str | Path | list,
    prompts: list[str] | dict[str, list[str]] | None = None,
    conf: float = 0.25,
    imgsz: int | None = None,
    device: str | None = None,
) -> list:
    """Detect with a YOLO-World run; with ``prompts`` (new, unseen text), detect those instead.

    ``prompts`` is a list of texts (each its own class, named by the text) or name -> prompts.
    They are encoded with the encoder the run was trained with. Returns Ultralytics Results.
    """
    info = world_run_info(run)
    yolo = load_world(run_weights(run))
    if prompts:
        mapping = {p: [p] for p in prompts} if isinstance(prompts, list) else dict(prompts)
        set_world_prompts(yolo, mapping, info["encoder"])
    kwargs: dict[str, Any] = {"conf": conf, "verbose": False}
    if imgsz:
        kwargs["imgsz"] = imgsz
    if device:
        kwargs["device"] = device
    return yolo.predict(source, **kwargs)
