"""`wood finetune yolo`: fine-tune Ultralytics YOLO (detect or segment) on a `wood prep` folder.

``train(cfg) -> run_dir`` writes one run folder::

    <out>/<name>/
      config.yaml      the resolved YoloConfig
      data.yaml        the data.yaml given to Ultralytics (absolute path; balanced train list)
      train_list.txt   only with --balance: the repeated train images
      args.yaml, results.csv, *.png     Ultralytics' own outputs
      weights/best.pt, weights/last.pt
      metrics.json     final val metrics of best.pt, classes, dataset, timing

YOLO-World (``cfg.world``) plugs in through ``wood.finetune.yolo.world.train_world(cfg,
data_yaml, run_dir)``, which trains and returns the Ultralytics model (with ``.trainer``);
``train_kwargs`` and ``write_metrics`` here are shared with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import yaml

from wood.config import config_to_dict, write_config
from wood.console import console
from wood.device import check_device
from wood.errors import ConfigError, DataError, WeightsError
from wood.finetune.yolo.config import RESERVED_TRAIN_ARGS, YoloConfig
from wood.outdir import check_replaceable, prepare_parent, remove_tree, write_marker

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SCRATCH_HINT = "use --model yolov8n.yaml to train from scratch, or --download on a machine with network"


# ---------------------------------------------------------------- dataset
def read_prep_data_yaml(prep_dir: Path, subdir: str) -> dict[str, Any]:
    """Read ``<prep_dir>/<subdir>/data.yaml``; names become a list in class-id order."""
    prep_dir = Path(prep_dir)
    if not prep_dir.is_dir():
        raise DataError("prepared dataset folder does not exist (run `wood prep` first)", prep_dir)
    path = prep_dir / subdir / "data.yaml"
    if not path.is_file():
        raise DataError(f"no {subdir}/data.yaml: not a `wood prep` output folder", prep_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML ({exc.__class__.__name__})", path) from exc
    if not isinstance(data, dict) or "names" not in data:
        raise DataError("data.yaml has no `names`", path)
    names = data["names"]
    if isinstance(names, dict):
        try:
            names = [names[i] for i in range(len(names))]
        except KeyError as exc:
            raise DataError(f"names must have ids 0..{len(names) - 1}, but got {sorted(names)}", path) from exc
    if not isinstance(names, list) or not names:
        raise DataError("names must be a non-empty list or {id: name} mapping", path)
    data["names"] = [str(n) for n in names]
    return data


def check_prep_folder(prep_dir: Path, subdir: str) -> dict[str, Any]:
    """Check a `wood prep` output before any run folder exists; return its ``subdir/data.yaml``.

    Needs manifest.json of format ``wood-prep/1``, ``subdir/data.yaml`` and, for train and val,
    ``subdir/images/<split>/`` with at least one image and ``subdir/labels/<split>/`` with label
    files. Each problem is one DataError naming the missing or wrong file or folder.
    """
    from wood.prep.pipeline import FORMAT

    prep_dir = Path(prep_dir)
    if not prep_dir.is_dir():
        raise DataError("prepared dataset folder does not exist (run `wood prep` first)", prep_dir)
    manifest = prep_dir / "manifest.json"
    if not manifest.is_file():
        raise DataError("no manifest.json: not a `wood prep` output folder (run `wood prep SRC --out DIR`)", prep_dir)
    try:
        fmt = json.loads(manifest.read_text(encoding="utf-8")).get("format")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        problem = exc.__class__.__name__
        raise DataError(f"manifest.json is not a JSON object ({problem}); re-run `wood prep`", manifest) from exc
    if fmt != FORMAT:
        raise DataError(f"manifest format must be {FORMAT!r}, but got {fmt!r}; re-run `wood prep`", manifest)
    data = read_prep_data_yaml(prep_dir, subdir)
    root = prep_dir / subdir
    for split in ("train", "val"):
        images, labels = root / "images" / split, root / "labels" / split
        if not images.is_dir():
            raise DataError("image folder is missing (Ultralytics needs train and val); re-run `wood prep`", images)
        if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in images.iterdir()):
            raise DataError(f"no images in the {split} split (Ultralytics needs train and val images); "
                            "re-run `wood prep` with more images or another --val-fraction", images)
        if not labels.is_dir():
            raise DataError("label folder is missing; re-run `wood prep`", labels)
        if not any(f.suffix == ".txt" for f in labels.iterdir()):
            raise DataError("label folder has no .txt label files; re-run `wood prep`", labels)
    return data


def write_run_data_yaml(cfg: YoloConfig, run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Write ``run_dir/data.yaml`` for Ultralytics: absolute ``path:``, optional balanced train list."""
    root = (cfg.data / cfg.data_subdir).resolve()
    data = read_prep_data_yaml(cfg.data, cfg.data_subdir)
    splits = {}
    for split in ("train", "val", "test"):
        if (root / "images" / split).is_dir():
            splits[split] = f"images/{split}"
    for split in ("train", "val"):
        if split not in splits:
            raise DataError(f"no images/{split} folder: Ultralytics needs train and val", root)
    summary: dict[str, Any] = {}
    if cfg.balance:
        from wood.finetune.yolo.balance import write_balanced_list

        summary = write_balanced_list(root / "images" / "train", root / "labels" / "train", run_dir / "train_list.txt", cfg.balance_max_repeat)
        splits["train"] = str((run_dir / "train_list.txt").resolve())
        reps = {data["names"][c]: r for c, r in summary["class_repeat"].items() if c < len(data["names"])}
        console.print(f"balance: {summary['images']} -> {summary['images_balanced']} train images; repeats {reps}")
        summary = {**summary, "class_repeat": reps}
    out = {"path": str(root), **splits, "names": dict(enumerate(data["names"]))}
    path = run_dir / "data.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False), encoding="utf-8")
    return path, {"names": data["names"], "balance": summary}


def manifest_sha256(prep_dir: Path) -> str | None:
    """sha256 of the prep folder's manifest.json (identifies the dataset a run was trained on)."""
    path = Path(prep_dir) / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


# ---------------------------------------------------------------- run folder
def next_run_dir(out: Path, base: str) -> Path:
    """``out/base``, or ``out/base-2``, ``-3``... the first that does not exist."""
    candidate, n = out / base, 2
    while candidate.exists():
        candidate, n = out / f"{base}-{n}", n + 1
    return candidate


def make_run_dir(cfg: YoloConfig) -> Path:
    """Create (or, with --resume, find) the run folder; never mix two trainings in one folder."""
    if cfg.name is None:
        run_dir = next_run_dir(cfg.out, "world" if cfg.world else cfg.task)
    else:
        run_dir = cfg.out / cfg.name
    if cfg.resume:
        if not (run_dir / "weights" / "last.pt").is_file():
            raise ConfigError("nothing to resume: no weights/last.pt in the run folder", run_dir)
        return run_dir.resolve()
    prepare_parent(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not cfg.overwrite:
            raise ConfigError("run folder exists; pass --resume to continue it, --overwrite to start clean, or another --name", run_dir)
        check_replaceable(run_dir, "run", inputs=[cfg.data], legacy=is_legacy_run)
        remove_tree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_marker(run_dir, "run", state="building", open_=True)  # Ultralytics fills it; closed when training ends
    return run_dir.resolve()


def is_legacy_run(folder: Path) -> bool:
    """A run folder written before output markers: wood's config.yaml beside Ultralytics' args.yaml."""
    return (folder / "config.yaml").is_file() and (folder / "args.yaml").is_file()


# ---------------------------------------------------------------- model
def resolve_model(cfg: YoloConfig) -> str:
    """The model argument for ``YOLO(...)``: a .yaml name/path, or a resolved local .pt path."""
    from wood.offline import default_weights_dir
    from wood.weights import resolve_weights, ultralytics_user_weights_dir

    model = str(cfg.model)
    if model.endswith((".yaml", ".yml")):
        return model
    if not model.endswith(".pt"):
        raise ConfigError(f"model must be a .pt weights file or a .yaml model config, but got {model!r}")
    dirs = [cfg.weights_dir or default_weights_dir(), ultralytics_user_weights_dir()]
    download = _ultralytics_download if cfg.download else None
    return str(resolve_weights(model, [d for d in dirs if d], hint=SCRATCH_HINT, download=download))


def _ultralytics_download(name: str, folder: Path) -> Path | None:
    from ultralytics.utils.downloads import attempt_download_asset

    try:
        return Path(attempt_download_asset(folder / name))
    except Exception as exc:  # noqa: BLE001 - any download failure becomes one WeightsError line
        raise WeightsError(f"download of {name} failed ({exc.__class__.__name__}); {SCRATCH_HINT}") from exc


def load_model(cfg: YoloConfig, model_arg: str):
    """``YOLO(model_arg)`` with its task checked against ``cfg.task``."""
    from ultralytics import YOLO

    try:
        model = YOLO(model_arg)  # task from the model itself: passing task= would mislabel a detect head
    except FileNotFoundError as exc:
        raise ConfigError(f"model {model_arg} not found: use a model yaml such as yolov8n.yaml or yolov8n-seg.yaml") from exc
    except Exception as exc:  # noqa: BLE001 - a corrupt .pt raises many things inside torch
        raise WeightsError(f"cannot load model ({exc.__class__.__name__}: {str(exc)[:120]})", model_arg) from exc
    if model.task != cfg.task:
        fix = "yolov8n-seg.yaml" if cfg.task == "segment" else "yolov8n.yaml"
        raise ConfigError(f"model {model_arg} is a {model.task} model but --task is {cfg.task}; use e.g. --model {fix}")
    return model


def check_train_args(cfg: YoloConfig) -> None:
    """``train_args`` may only hold Ultralytics arguments that no config field sets."""
    bad = sorted(set(cfg.train_args) & RESERVED_TRAIN_ARGS)
    if bad:
        raise ConfigError(f"train_args may not set {bad}: use the config fields of the same name")
    from ultralytics.cfg import DEFAULT_CFG_DICT

    unknown = sorted(set(cfg.train_args) - set(DEFAULT_CFG_DICT))
    if unknown:
        raise ConfigError(f"train_args has unknown Ultralytics argument(s) {unknown}")


def train_kwargs(cfg: YoloConfig, data_yaml: Path, run_dir: Path) -> dict[str, Any]:
    """Ultralytics ``train()`` arguments for this config, writing into ``run_dir``."""
    check_train_args(cfg)
    kwargs: dict[str, Any] = dict(
        data=str(data_yaml),
        epochs=cfg.epochs,
        imgsz=cfg.imgsz,
        batch=cfg.batch,
        seed=cfg.seed,
        deterministic=True,
        workers=cfg.workers,
        patience=cfg.patience,
        nbs=cfg.nbs or (cfg.batch if cfg.batch > 0 else 64),
        project=str(run_dir.parent),
        name=run_dir.name,
        exist_ok=True,
        plots=cfg.plots,
        amp=cfg.amp,
        **cfg.train_args,
    )
    if cfg.device is not None:
        kwargs["device"] = cfg.device
    return kwargs


# ---------------------------------------------------------------- metrics
def _clean(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _param_counts(model: Any) -> dict[str, int] | None:
    """Total and trainable parameters of the trained model (the report's cost column)."""
    if model is None:
        return None
    params = list(model.parameters())
    return {"total": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


def write_metrics(cfg: YoloConfig, run_dir: Path, trainer: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """Write ``run_dir/metrics.json`` from an Ultralytics trainer after ``train()``."""
    import ultralytics

    raw = {k: _clean(v) for k, v in (trainer.metrics or {}).items()}
    suffix = "(M)" if cfg.task == "segment" else "(B)"
    metrics = {
        "task": cfg.task,
        "world": cfg.world,
        "model": str(cfg.model),
        "epochs": cfg.epochs,
        "epochs_run": int(trainer.epoch) + 1,
        "best_fitness": _clean(trainer.best_fitness) if trainer.best_fitness is not None else None,
        "val": {
            "precision": raw.get(f"metrics/precision{suffix}"),
            "recall": raw.get(f"metrics/recall{suffix}"),
            "mAP50": raw.get(f"metrics/mAP50{suffix}"),
            "mAP50-95": raw.get(f"metrics/mAP50-95{suffix}"),
        },
        "val_raw": raw,
        "weights": "weights/best.pt",
        "device": str(trainer.device),
        "params": _param_counts(trainer.model),
        "ultralytics": ultralytics.__version__,
        **extra,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


# ---------------------------------------------------------------- train
def train(cfg: YoloConfig) -> Path:
    """Train YOLO (or YOLO-World with ``cfg.world``) and return the run folder."""
    from wood.offline import setup_ultralytics

    # Everything a user can get wrong fails here, before the run folder exists.
    names = check_prep_folder(cfg.data, cfg.data_subdir)["names"]
    check_device(cfg.device, multi=True)
    setup_ultralytics()
    check_train_args(cfg)
    if cfg.world and not cfg.resume:
        _check_world(cfg, names)
    model = None if cfg.resume or cfg.world else load_model(cfg, resolve_model(cfg))
    run_dir = make_run_dir(cfg)
    started = time.perf_counter()
    if cfg.resume:
        from ultralytics import YOLO

        if cfg.world:  # resume with the same offline text encoder (Ultralytics' own would call CLIP)
            model = _train_world(cfg, run_dir / "data.yaml", run_dir)
        else:
            model = YOLO(str(run_dir / "weights" / "last.pt"))
            try:
                model.train(resume=True)
            except AssertionError as exc:  # Ultralytics: "training to N epochs is finished, nothing to resume"
                raise ConfigError(f"cannot resume: {str(exc).splitlines()[0]} Use --overwrite to start clean", run_dir) from exc
        info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8")) if (run_dir / "run_info.json").is_file() else {}
    else:
        data_yaml, data_info = write_run_data_yaml(cfg, run_dir)
        write_config(cfg, run_dir / "config.yaml")
        info = {
            "classes": data_info["names"],
            "data": str(cfg.data.resolve()),
            "manifest_sha256": manifest_sha256(cfg.data),
            "balance": data_info["balance"] or None,
        }
        (run_dir / "run_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        if cfg.world:
            model = _train_world(cfg, data_yaml, run_dir)
        else:
            model.train(**train_kwargs(cfg, data_yaml, run_dir))
    trainer = model.trainer
    if trainer is None or Path(trainer.save_dir).resolve() != run_dir:
        raise ConfigError(f"Ultralytics wrote its run to {getattr(trainer, 'save_dir', None)}, not the run folder", run_dir)
    if not (run_dir / "weights" / "best.pt").is_file():
        raise DataError("training ended without weights/best.pt (no epoch finished?)", run_dir)
    extra = {**info, "train_seconds": round(time.perf_counter() - started, 2), "config": config_to_dict(cfg)}
    write_metrics(cfg, run_dir, trainer, extra)
    write_marker(run_dir, "run")  # from now on only these entries are the run's to replace
    return run_dir


def _check_world(cfg: YoloConfig, names: list[str]) -> None:
    """The YOLO-World model name and a --prompts file, checked before the run folder exists."""
    try:
        from wood.finetune.yolo.world import read_prompts_file, world_model_arg
    except ImportError:
        return  # _train_world says so
    world_model_arg(cfg)
    if cfg.prompts is not None:
        read_prompts_file(cfg.prompts, names)


def _train_world(cfg: YoloConfig, data_yaml: Path, run_dir: Path):
    try:
        from wood.finetune.yolo.world import train_world
    except ImportError as exc:
        raise ConfigError("YOLO-World training is not available in this install (wood.finetune.yolo.world is missing)") from exc
    return train_world(cfg, data_yaml, run_dir)
