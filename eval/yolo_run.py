"""What evaluation and prediction add to a YOLO run (read by :func:`wood.finetune.yolo.run.read_run`):
loading an exported .onnx beside .pt checkpoints, the model's image size and class names, and the
split and output-folder checks the eval commands share."""

from __future__ import annotations

from pathlib import Path

from wood.errors import ConfigError, DataError, WeightsError
from wood.names import check_path_length

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
    """Load an Ultralytics checkpoint (.pt) or export (.onnx) offline; a broken file is a WeightsError."""
    from wood.finetune.yolo.run import load_checkpoint

    suffix = Path(weights).suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise WeightsError(
            "checkpoint must be an Ultralytics .pt file (weights/best.pt of a run) or a .onnx export", weights
        )
    task = check_onnx(weights).get("task") if suffix == ".onnx" else None
    return load_checkpoint(weights, task)


def check_onnx(path: Path) -> dict[str, str]:
    """Open an exported .onnx with onnxruntime (CPU); return its Ultralytics metadata. A file that does
    not load, or that carries no class names (not an Ultralytics export), is a WeightsError."""
    from wood.extras import require_onnx

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
