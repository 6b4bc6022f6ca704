"""Loading an anomaly run folder (`wood finetune anomaly`): PatchCore or PaDiM.

- :func:`read_run`: the run folder read by :func:`wood.runs.load_run`, which must be of kind anomaly
  (one DataError line otherwise); its ``weights`` is the run's weights.pt;
- :func:`load_model`: the fitted model in that file (:func:`wood.finetune.anomaly.model.load`);
- :func:`load`: both, ``(model, run)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from wood.errors import DataError
from wood.runs import Run
from wood.runs import load_run as read_folder


class LoadedAnomaly(NamedTuple):
    """:func:`load`'s result, unpacked as ``model, run = load(run_dir, device)``."""

    model: Any  # wood.finetune.anomaly.model.AnomalyModel on the device
    config: Run  # the run folder as wood.runs read it (config, metrics, dataset)


def read_run(run_dir: str | Path) -> Run:
    """The anomaly run ``run_dir`` (a missing folder or a run of another kind is a DataError)."""
    run = read_folder(run_dir)
    if run.kind != "anomaly":
        raise DataError(f"not a `wood finetune anomaly` run (its kind is {run.kind}); pass one with --run", run.path)
    return run


def load_model(run: Run, device: Any = "cpu") -> Any:
    """The model fitted in ``run`` (its weights.pt) on ``device``; a missing or foreign file is a WeightsError."""
    from wood.finetune.anomaly.model import load as load_weights

    return load_weights(run.weights, device)


def load(run_dir: str | Path, device: Any = "cpu") -> LoadedAnomaly:
    """The fitted model of the anomaly run ``run_dir`` on ``device``, and the run."""
    run = read_run(run_dir)
    return LoadedAnomaly(load_model(run, device), run)
