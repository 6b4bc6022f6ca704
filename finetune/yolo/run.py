"""Loading a YOLO run folder (`wood finetune yolo`) or a bare Ultralytics checkpoint.

- :func:`read_run`: the run as eval, predict, export and label need it (:class:`YoloRun`: checkpoint,
  dataset, task, image size, run_info.json), read by :func:`wood.runs.load_run`; a run of another
  family is one DataError line.
- :func:`load_checkpoint`: an Ultralytics ``.pt`` checkpoint loaded offline (a broken file is a
  WeightsError).
- :func:`load`: both, ``(model, run)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from wood.errors import DataError, WeightsError
from wood.runs import WEIGHTS
from wood.runs import load_run as read_folder


@dataclass
class YoloRun:
    """What eval and predict need from a run: the checkpoint, its dataset and image size."""

    run_dir: Path | None
    weights: Path
    data: Path | None  # prep folder the run was trained on (None for a bare checkpoint)
    task: str | None  # detect | segment (None: read from the checkpoint)
    imgsz: int | None
    info: dict[str, Any]  # run_info.json (classes, manifest_sha256), {} if absent


class LoadedYolo(NamedTuple):
    """:func:`load`'s result: the Ultralytics model and the run it came from."""

    model: Any
    config: YoloRun


def read_run(run_dir: Path | None, weights: Path | None = None) -> YoloRun:
    """Read ``run_dir`` (wood.runs.load_run); ``weights`` overrides its weights/best.pt.

    With ``run_dir`` None, ``weights`` alone is used: any Ultralytics checkpoint works.
    """
    if run_dir is None and weights is None:
        raise DataError("give a run folder (--run) or a checkpoint (--weights)")
    cfg: dict[str, Any] = {}
    info: dict[str, Any] = {}
    data = None
    if run_dir is not None:
        run_dir = Path(run_dir)
        run = read_folder(run_dir)  # a missing folder is a DataError
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


def load_checkpoint(weights: Path, task: str | None = None) -> Any:
    """The Ultralytics model of ``weights``, loaded offline; a file it cannot load is a WeightsError."""
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task=task)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a corrupt file
        raise WeightsError(f"cannot load checkpoint ({exc.__class__.__name__}: {str(exc)[:120]})", weights) from exc
    return model


def load(run_dir: Path | None, device: str | None = None, weights: Path | None = None) -> LoadedYolo:
    """The run's (or ``weights``') ``.pt`` checkpoint loaded offline, with the run (:func:`read_run`);
    ``device`` (torch's spelling, ``cpu``, ``cuda:0``): where the model's weights go (None: where they load)."""
    run = read_run(run_dir, weights)
    if run.weights.suffix.lower() != ".pt":
        raise WeightsError("checkpoint must be an Ultralytics .pt file (weights/best.pt of a run)", run.weights)
    model = load_checkpoint(run.weights)
    if device is not None:
        model.to(device)
    return LoadedYolo(model, run)
