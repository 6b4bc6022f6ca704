"""Loading a classification run folder (`wood finetune classify`): the one place that rebuilds its model.

- :func:`read_run`: the run folder checked (it holds ``weights.pt``) and its config.yaml read
  (:func:`wood.runs.read_config`): a :class:`ClassifyRun`;
- :func:`load_model`: the model saved in ``weights.pt`` (format :data:`WEIGHTS_FORMAT`, written by
  finetune/classify/train.py) on a device in eval mode, with its :class:`Classifier` record;
- :func:`load`: both, ``(model, classifier)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from wood.errors import DataError
from wood.finetune.classify.models import build_model
from wood.runs import WEIGHTS, read_config

WEIGHTS_FORMAT = "wood-classify/1"
"""The ``format`` of a classify run's weights.pt."""


@dataclass(frozen=True)
class ClassifyRun:
    """A classify run folder as :func:`read_run` checked it."""

    path: Path
    weights: Path  # <run>/weights.pt
    config: dict[str, Any]  # config.yaml
    data: Path  # the prepared dataset config.yaml names (as written there)


@dataclass(frozen=True)
class Classifier:
    """What weights.pt records beside the state dict."""

    arch: str
    classes: list[str]
    imgsz: int


class LoadedClassify(NamedTuple):
    """:func:`load`'s result, unpacked as ``model, classifier = load(run_dir, device)``."""

    model: Any  # torch module on the device, eval mode
    config: Classifier


def read_run(run_dir: str | Path) -> ClassifyRun:
    """The classify run ``run_dir``: a folder without weights.pt is a DataError, a missing or broken
    config.yaml a ConfigError (one line each)."""
    run = Path(run_dir)
    weights = run / WEIGHTS["classify"]
    if not weights.is_file():
        raise DataError(
            "not a classify run folder (no weights.pt); pass the folder `wood finetune classify` wrote", run
        )
    cfg = read_config(run)
    return ClassifyRun(run, weights, cfg, Path(cfg.get("data", "")))


def load_model(weights: str | Path, device: Any) -> LoadedClassify:
    """Rebuild the model saved in ``weights`` (a run's weights.pt) on ``device`` in eval mode."""
    import torch

    try:
        saved = torch.load(str(weights), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"cannot read classify weights ({exc.__class__.__name__})", weights) from exc
    if not isinstance(saved, dict) or saved.get("format") != WEIGHTS_FORMAT:
        raise DataError(f"not a classify weights file (expected format {WEIGHTS_FORMAT})", weights)
    model = build_model(saved["arch"], len(saved["classes"]))
    model.load_state_dict(saved["state_dict"])
    model.to(device).eval()
    return LoadedClassify(model, Classifier(saved["arch"], saved["classes"], saved["imgsz"]))


def load(run_dir: str | Path, device: Any = "cpu") -> LoadedClassify:
    """The run's model on ``device`` (a torch device or its name) in eval mode, and its record."""
    return load_model(read_run(run_dir).weights, device)
