"""Reading a YOLO run folder (or a bare Ultralytics checkpoint) for evaluation and prediction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wood.errors import ConfigError, DataError, WeightsError
from wood.names import check_path_length
from wood.runs import WEIGHTS
from wood.runs import load_run as read_run


@dataclass
class YoloRun:
    """What eval and predict need from a run: the checkpoint, its dataset and image size."""

    run_dir: Path | None
    weights: Path
    data: Path | None  # prep folder the run was trained on (None for a bare checkpoint)
    task: str | None  # detect | segment (None: read from the checkpoint)
    imgsz: int | None
    info: dict[str, Any]  # run_info.json (classes, manifest_sha256), {} if absent


def load_run(run_dir: Path | None, weights: Path | None = None) -> YoloRun:
    """Read ``run_dir`` (wood.runs.load_run) for eval; ``weights`` overrides its weights/best.pt.

    With ``run_dir`` None, ``weights`` alone is used: any Ultralytics checkpoint works.
    """
    if run_dir is None and weights is None:
        raise DataError("give a run folder (--run) or a checkpoint (--weights)")
    cfg: dict[str, Any] = {}
    info: dict[str, Any] = {}
    data = None
    if run_dir is not None:
        run_dir = Path(run_dir)
        run = read_run(run_dir)  # a missing folder is a DataError
        if run.kind not in ("yolo", "unknown"):
            raise DataError(
                f"this is a {run.kind} run, not a YOLO run; pass a folder `wood finetune yolo` wrote", run_dir
            )
        if run.problems:
            raise DataError(f"cannot read the run: {run.problems[0]}", run_dir)
        cfg, info, data = run.config, run.info, run.data
        if weights is None:
            weights = run_dir / WEIGHTS["yolo"]
            if not weights.is_file():
                raise WeightsError(
                    "run folder has no weights/best.pt (training did not finish?); pass --weights", run_dir
                )
    weights = Path(weights)
    if not weights.is_file():
        raise WeightsError("checkpoint does not exist", weights)
    return YoloRun(run_dir=run_dir, weights=weights, data=data, task=cfg.get("task"), imgsz=cfg.get("imgsz"), info=info)


SPLITS = ("train", "val", "test")


def check_split(split: str) -> None:
    """``split`` must be train, val or test (a ConfigError otherwise)."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, but got {split!r}")


def check_out_folder(out: Path) -> None:
    """An output folder may exist (as a folder) or not yet; a file of that name is a DataError."""
    check_path_length(out)
    out = Path(out)
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise DataError("output folder is a file (or under one); pass another --out", folder)
            return


def load_yolo(weights: Path, device: str | None = None):
    """Load an Ultralytics checkpoint offline; a broken file is a WeightsError."""
    from wood.offline import setup_ultralytics

    suffix = Path(weights).suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise WeightsError(
            "checkpoint must be an Ultralytics .pt file (weights/best.pt of a run) or a .onnx export", weights
        )
    task = check_onnx(weights).get("task") if suffix == ".onnx" else None
    setup_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task=task)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a corrupt file
        raise WeightsError(f"cannot load checkpoint ({exc.__class__.__name__}: {str(exc)[:120]})", weights) from exc
    return model


def check_onnx(path: Path) -> dict[str, str]:
    """Open an exported .onnx with onnxruntime (CPU); return its Ultralytics metadata. A file that does
    not load, or that carries no class names (not an Ultralytics export), is a WeightsError."""
    from wood.eval.export.deps import require_onnx

    require_onnx()
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception kinds
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        raise WeightsError(f"cannot load ONNX model ({exc.__class__.__name__}: {first})", path) from exc
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if "names" not in meta:
        raise WeightsError("ONNX model has no class names in its metadata; export it with `wood export`", path)
    return meta


def checkpoint_imgsz(model, default: int = 640) -> int:
    """The imgsz a checkpoint was trained at (train_args in the .pt; an ONNX export's fixed input size),
    else ``default``."""
    overrides = getattr(model, "overrides", None) or {}
    if str(overrides.get("model", "")).lower().endswith(".onnx"):
        import ast

        meta = check_onnx(Path(overrides["model"]))
        size = ast.literal_eval(meta.get("imgsz", str(default)))
        return int(size[0] if isinstance(size, (list, tuple)) else size)
    args = getattr(model, "ckpt", None) or {}
    args = args.get("train_args", {}) if isinstance(args, dict) else {}
    value = args.get("imgsz", default) if isinstance(args, dict) else default
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def model_names(model) -> list[str]:
    """Class names of an Ultralytics model in class-id order."""
    names = model.names
    if isinstance(names, dict):
        return [str(names[i]) for i in range(len(names))]
    return [str(n) for n in names]
