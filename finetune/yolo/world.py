"""YOLO-World fine-tuning, validation and prediction with text prompts, fully offline.

Where the text embeddings enter (the one hook): :class:`WoodWorldTrainer`, a WorldTrainer subclass
built on first use (Ultralytics is imported lazily), replaces the two places Ultralytics reaches
CLIP during training:

- ``generate_text_embeddings`` (the per-batch text features) returns our encoder's class vectors
  from a cache keyed by encoder + prompts hash (``wood.finetune.yolo.text_encoders``). Ultralytics'
  names-only cache ``text_embeddings_clip_ViT-B_32.pt`` is never read, so a stale one cannot leak in;
- the ``on_pretrain_routine_end`` callback, which calls ``set_classes`` (CLIP) on the EMA model
  even when the cache exists, is replaced by one that sets the same vectors with
  :func:`apply_text_embeddings`.

Nothing is patched globally. The EMA model carries ``txt_feats`` (one vector per class), so the
saved ``best.pt`` validates and predicts with no encoder at all. New prompts (``wood predict
--prompt``) are encoded with the run's encoder (recorded in ``text_prompts.json``) and set with
the same :func:`apply_text_embeddings`.

How far the open vocabulary holds after fine-tuning: offline there are no pretrained YOLO-World
weights, so a run trains from scratch and learns one visual prototype per class vector. A new
prompt then works to the extent that its text vector lies near a trained one. Measured with
``bench/yolo_world.py`` (synthetic wood, 128 px, 5 CPU minutes, two seeds): "pit in wood" for
hole (cosine 0.82 to hole's prompt ensemble) keeps 41-72 % of hole AP50 (0.40 -> 0.16 and
0.74 -> 0.54); an unrelated prompt (cosine 0.19) scores 0. Pretrained CLIP YOLO-World weights
are known to forget their vocabulary when fine-tuned (Ultralytics #10038); with MiniLM vectors on
CLIP-pretrained weights the text path is relearned outright.

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
from wood.finetune.yolo.text_encoders import DEFAULT_ENCODER, TEXT_DIM, check_encoder_name, class_embeddings
from wood.prep.dataset import PreparedDataset

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


def resolve_prompts(
    names: list[str], category: str | None = None, prompts_file: str | Path | None = None
) -> dict[str, list[str]]:
    """Class name -> prompts, in class order: ``prompts_file`` if given, else the dataset config."""
    if prompts_file is not None:
        return read_prompts_file(prompts_file, names)
    from wood.dataset_config import load_dataset_config

    config = load_dataset_config(category or "")
    config.check_classes(names)
    bare = [n for n in names if not (n in config.classes and config.classes[n].prompts)]
    if bare:
        from wood.console import console

        console.print(
            f"note: no prompts for {bare} in datasets/{category}.yaml; "
            'using "a <name> defect" (--prompts FILE to set them)'
        )
    return {n: config.prompts_for(n) for n in names}


def dataset_names_and_category(data_yaml: str | Path) -> tuple[list[str], str | None]:
    """Class names (in id order) from a data.yaml, and the category from the prep manifest.json
    next to its ``path:`` folder (None when there is none)."""
    data = read_yaml(data_yaml)
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise DataError("data.yaml has no `names` list", data_yaml)
    root = Path(str(data.get("path", Path(data_yaml).parent)))
    return [str(n) for n in names], _manifest_category(root.parent)


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
def _base_trainer_class() -> type:
    """WoodWorldTrainer, defined on first use so that importing this module stays light."""
    from ultralytics.models.yolo.world import WorldTrainer
    from ultralytics.nn.tasks import WorldModel
    from ultralytics.utils import RANK

    def on_pretrain_routine_end(trainer) -> None:
        """Set the EMA model's classes with our vectors (replaces Ultralytics' CLIP set_classes)."""
        names = trainer.test_loader.dataset.data["names"]
        names = [names[i] for i in sorted(names)]
        emb = trainer.wood_embeddings()
        apply_text_embeddings(trainer.ema.ema, names, _stack(names, emb))

    class WoodWorldTrainer(WorldTrainer):
        """WorldTrainer whose text embeddings come from ``wood_text_encoder`` and ``wood_prompts``.

        Use :func:`world_trainer_class` to get a subclass with both set (class attributes, so
        that Ultralytics can build it itself, for ``model.train(trainer=...)`` and resume).
        """

        wood_text_encoder: str = DEFAULT_ENCODER
        wood_prompts: dict[str, list[str]] = {}
        wood_cache_file: Path | None = None

        def wood_embeddings(self, cache_dir: Path | None = None) -> dict[str, "torch.Tensor"]:
            """Class name -> unit vector, computed once per trainer (cached on disk in ``cache_dir``)."""
            if getattr(self, "_wood_emb", None) is None:
                self._wood_emb, self.wood_cache_file = class_embeddings(
                    self.wood_text_encoder, self.wood_prompts, cache_dir
                )
            return self._wood_emb

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
            """Dataset texts -> our class vectors; the cache in ``cache_dir`` is keyed by encoder + prompts."""
            emb = self.wood_embeddings(Path(cache_dir))
            by_part = {p.strip(): vec for name, vec in emb.items() for p in name.split("/")}
            missing = sorted(set(texts) - set(by_part))
            if missing:
                raise WoodError(f"no text prompts for dataset name(s) {missing}")
            return {t: by_part[t].to(self.device) for t in texts}

    return WoodWorldTrainer


def world_trainer_class(text_encoder: str, prompts: dict[str, list[str]]) -> type:
    """A WoodWorldTrainer subclass bound to one encoder and one class -> prompts mapping."""
    attrs = {"wood_text_encoder": check_encoder_name(text_encoder), "wood_prompts": dict(prompts)}
    return type("WoodWorldTrainer", (_base_trainer_class(),), attrs)


# ---------------------------------------------------------------- train
DEFAULT_WORLD_MODEL = "yolov8s-worldv2.yaml"


def world_model_arg(cfg: Any) -> str:
    """The model for ``YOLO(...)``: cfg.model if it is a YOLO-World yaml or .pt, else an error.

    ``cfg.model`` left at YoloConfig's plain-YOLO default means DEFAULT_WORLD_MODEL.
    """
    import dataclasses

    from wood.finetune.yolo.model import resolve_model

    default = next((f.default for f in dataclasses.fields(cfg) if f.name == "model"), None)
    if str(cfg.model) == str(default):
        return DEFAULT_WORLD_MODEL
    if str(cfg.model).endswith((".yaml", ".yml")) and "world" not in Path(str(cfg.model)).stem:
        raise ConfigError(f"--world needs a YOLO-World model such as yolov8s-worldv2.yaml, but got {cfg.model!r}")
    return resolve_model(cfg)


def train_world(cfg: Any, data_yaml: str | Path, run_dir: str | Path):
    """Train (or resume) YOLO-World for ``wood finetune yolo --world``; returns the Ultralytics model.

    ``cfg`` is a YoloConfig (model, text_encoder, prompts, data, ...); ``data_yaml`` the run's
    data.yaml; ``run_dir`` the run folder, where ``text_prompts.json`` records the encoder and
    prompts (``wood predict --prompt`` encodes new text with the same encoder).
    """
    from ultralytics import YOLO
    from ultralytics.nn.tasks import WorldModel

    from wood.console import console
    from wood.finetune.yolo.model import load_model, train_kwargs

    run_dir = Path(run_dir)
    if cfg.resume:
        info = world_run_info(run_dir)
        model = YOLO(str(run_dir / "weights" / "last.pt"))
        model.train(resume=True, trainer=world_trainer_class(info["encoder"], info["prompts"]))
        return model
    names, _ = dataset_names_and_category(data_yaml)
    category = _manifest_category(Path(cfg.data))
    encoder = check_encoder_name(cfg.text_encoder)
    prompts = resolve_prompts(names, category, cfg.prompts)
    # Encode now (or read the keyed cache): a missing encoder fails before any training starts,
    # and the trainer then reads the same cache file instead of encoding again.
    data_root = Path(str(read_yaml(data_yaml).get("path", Path(data_yaml).parent)))
    class_embeddings(encoder, prompts, cache_dir=data_root / "images")
    model_arg = world_model_arg(cfg)
    model = load_model(cfg, model_arg)
    if not isinstance(model.model, WorldModel):
        raise ConfigError(f"--world needs a YOLO-World model, but {model_arg} is a plain YOLO model")
    if model_arg.endswith(".pt") and encoder != "clip:ViT-B/32":
        console.print(
            f"note: {Path(model_arg).name} was pretrained with CLIP text vectors; with {encoder} the "
            "text path is relearned from your prompts (open-vocabulary transfer is lost)"
        )
    record = {"encoder": encoder, "dim": TEXT_DIM, "model": model_arg, "classes": names, "prompts": prompts}
    (run_dir / PROMPTS_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    trainer_cls = world_trainer_class(encoder, prompts)
    model.train(trainer=trainer_cls, **train_kwargs(cfg, Path(data_yaml), run_dir))
    record["cache"] = str(model.trainer.wood_cache_file) if model.trainer.wood_cache_file else None
    (run_dir / PROMPTS_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return model


def _manifest_category(prep_dir: Path) -> str | None:
    """The category ``prep_dir``'s manifest records; None without a readable one (a hint, never an error)."""
    try:
        dataset = PreparedDataset.read(prep_dir)
    except DataError:
        return None
    return None if dataset is None else dataset.category


# ---------------------------------------------------------------- load / predict
def world_run_info(run: str | Path) -> dict[str, Any]:
    """The run's text_prompts.json (encoder, classes, prompts); DataError if it is not a world run."""
    path = Path(run) / PROMPTS_FILE
    if not path.is_file():
        raise DataError(f"not a YOLO-World run (no {PROMPTS_FILE}); train one with `wood finetune yolo --world`", run)
    return json.loads(path.read_text(encoding="utf-8"))


def set_world_prompts(yolo: Any, prompts: dict[str, list[str]], text_encoder: str) -> None:
    """Point a loaded YOLOWorld at new classes: name -> prompts, encoded with ``text_encoder``."""
    emb, _ = class_embeddings(text_encoder, prompts)
    names = list(prompts)
    apply_text_embeddings(yolo.model, names, _stack(names, emb))
    yolo.predictor = None  # a predictor built earlier holds the old names


def set_run_prompts(yolo: Any, run: str | Path | None, prompts: list[str]) -> None:
    """``wood predict --prompt``: each text becomes a class of ``yolo``, encoded with the run's encoder."""
    if run is None:
        raise ConfigError("--prompt needs --run: the YOLO-World run folder that records its text encoder")
    if not prompts or any(not p.strip() for p in prompts):
        raise ConfigError("--prompt needs a non-empty text")
    info = world_run_info(run)
    set_world_prompts(yolo, {p.strip(): [p.strip()] for p in prompts}, info["encoder"])


def write_prompted_checkpoint(
    weights: str | Path, prompts: dict[str, list[str]], text_encoder: str, out: str | Path
) -> Path:
    """Copy a YOLO-World checkpoint with its class vectors re-encoded from ``prompts`` (same class
    names, so ``wood eval detect --weights OUT`` scores e.g. a renamed prompt on the same split)."""
    import torch

    ckpt = torch.load(str(weights), map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt.get("model")
    names = [model.names[i] for i in sorted(model.names)] if isinstance(model.names, dict) else list(model.names)
    if list(prompts) != names:
        raise ConfigError(f"prompts must name the checkpoint's classes {names} in order, but got {list(prompts)}")
    emb, _ = class_embeddings(text_encoder, prompts)
    model.txt_feats = _stack(names, emb).reshape(1, len(names), -1).to(model.txt_feats.dtype)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, str(out))
    return Path(out)
