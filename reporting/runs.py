"""Finding and reading the run folders a report covers (no plotting, no HTML).

A run folder is a folder holding ``config.yaml`` or ``metrics.json`` (what every `wood finetune`
command writes); an experiments folder holds ``table.json`` (`wood experiments classify`).
Each run is read by :func:`wood.runs.load_run`, which takes its kind from metrics.json (runs
written before metrics.json had ``kind`` are recognised by their keys there, in one place).
The report adds the evaluations found inside the run folder:

- ``yolo``: ``**/eval_detect.json``;
- ``sam``: ``**/segment_metrics.json`` (GT-box or detector-box prompts);
- ``classify``: ``eval_*.json``;
- ``anomaly``: ``**/anomaly_metrics.json`` (`wood eval anomaly`).

A folder with a config but no readable metrics.json is kept with a ``problems`` message, so the
report can say so instead of failing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from wood import runs
from wood.errors import DataError

MARKERS = ("config.yaml", "metrics.json", "table.json")
"""Files that make a folder a run (or experiments) folder."""
SKIP_DIRS = {"weights", "checkpoints", "embeddings", "overlays", "predict", "ultralytics_val", "__pycache__", ".git"}
"""Sub-folders never searched for runs (they are parts of a run)."""
SPLIT_ORDER = {"test": 0, "val": 1, "train": 2}
"""Preferred split for the headline numbers when a run was evaluated on several."""


@dataclass
class Run(runs.Run):
    """One run folder as wood.runs reads it, plus its evaluation files."""

    evals: list[dict[str, Any]] = field(default_factory=list)  # each with "_file": Path of the JSON


@dataclass
class Experiments:
    """A `wood experiments classify` folder: table.json (meta + rows) and its run folders."""

    path: Path
    meta: dict[str, Any]
    rows: list[dict[str, Any]]


@dataclass
class Collection:
    runs: list[Run]
    experiments: list[Experiments]
    messages: list[str]  # folders that could not be used, one line each

    def of_kind(self, kind: str) -> list[Run]:
        return [r for r in self.runs if r.kind == kind and r.usable]


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:80]
        return None, f"{path.name} is not readable JSON ({exc.__class__.__name__}: {detail})"


def find_eval_files(run_dir: Path, filename: str, max_depth: int = 3) -> list[Path]:
    """``filename`` anywhere under ``run_dir`` (at most ``max_depth`` folders down), sorted by path."""
    found = []
    base = len(run_dir.parts)
    for root, dirs, files in os.walk(run_dir):
        depth = len(Path(root).parts) - base
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and depth < max_depth)
        if filename in files:
            found.append(Path(root) / filename)
    return sorted(found)


def _load_evals(run: Run) -> None:
    filename = {"yolo": "eval_detect.json", "sam": "segment_metrics.json", "anomaly": "anomaly_metrics.json"}.get(
        run.kind
    )
    paths = find_eval_files(run.path, filename) if filename else sorted(run.path.glob("eval_*.json"))
    for path in paths:
        data, problem = _read_json(path)
        if problem:
            run.problems.append(f"{path.relative_to(run.path)}: {problem}")
        elif isinstance(data, dict):
            run.evals.append({**data, "_file": path})


def load_run(path: Path) -> Run:
    """Read one run folder (wood.runs.load_run) and its evaluations; never raises for a broken run
    (its problems are recorded)."""
    base = runs.load_run(path)
    run = Run(**{f.name: getattr(base, f.name) for f in fields(base)})
    if not (run.path / runs.METRICS_FILE).is_file():
        run.problems.append("no metrics.json (training did not finish, or was interrupted)")
    if run.kind == "unknown" and run.metrics is not None and not run.problems:
        run.problems.append("not a wood run: config.yaml/metrics.json have none of the YOLO, SAM or classify keys")
    if run.usable:
        _load_evals(run)
    return run


def load_experiments(path: Path) -> tuple[Experiments | None, str | None]:
    """Read ``path/table.json``; (None, message) when it is not a readable experiments table."""
    data, problem = _read_json(path / "table.json")
    if problem:
        return None, problem
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return None, "table.json has no `rows` list (not a `wood experiments classify` table)"
    return Experiments(Path(path).resolve(), data.get("meta") or {}, data["rows"]), None


def find_run_dirs(root: Path) -> list[Path]:
    """Every folder under ``root`` (itself included) holding config.yaml, metrics.json or table.json.

    The parts of a run (weights/, checkpoints/, overlays/, eval folders without a marker) are not
    searched; folders nested inside a run folder are (an experiments folder holds runs/<row>/).
    A symbolic link to a folder is followed (a run linked in from elsewhere is found), each real folder
    searched once, so a link loop ends.
    """
    found = []
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # reached again through a link (or a loop): searched already
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if any(m in files for m in MARKERS):
            found.append(Path(folder))
    return sorted(found)


def collect(run_dirs: list[Path], runs_root: Path | None = None) -> Collection:
    """Read the given run folders and every run folder under ``runs_root``.

    A given path that does not exist is a DataError (a typo must not pass as "no runs"); a given
    folder that is not itself a run folder is searched like ``runs_root``.
    """
    folders: list[Path] = []
    for given in list(run_dirs) + ([runs_root] if runs_root is not None else []):
        given = Path(given)
        if not given.is_dir():
            raise DataError("run folder does not exist", given)
        folders += find_run_dirs(given)
    runs: list[Run] = []
    experiments: list[Experiments] = []
    messages: list[str] = []
    seen: set[Path] = set()
    for folder in folders:
        folder = folder.resolve()
        if folder in seen:
            continue
        seen.add(folder)
        if (folder / "table.json").is_file() and not (folder / "config.yaml").is_file():
            table, problem = load_experiments(folder)
            if table is not None:
                experiments.append(table)
            else:
                messages.append(f"{folder}: {problem}")
            continue
        run = load_run(folder)
        runs.append(run)
        if not run.usable:
            messages.append(f"{folder}: " + "; ".join(run.problems))
    return Collection(runs, experiments, messages)


def pick_eval(run: Run, boxes: str | None = None) -> dict[str, Any] | None:
    """The run's headline evaluation: test split first, then val, then train; the newest file wins ties.

    ``boxes`` (SAM only): "gt" for GT-box prompts, "detector" for prompts from a YOLO run.
    """
    evals = run.evals
    if boxes is not None:
        evals = [e for e in evals if (e.get("boxes", "gt") == "gt") == (boxes == "gt")]
    if not evals:
        return None

    def key(e: dict[str, Any]) -> tuple[int, float]:
        return SPLIT_ORDER.get(str(e.get("split")), 9), -e["_file"].stat().st_mtime

    return min(evals, key=key)


def prepared_dirs(collection: Collection, given: Path | None = None) -> list[Path]:
    """The prepared dataset folders the runs name (``given`` alone when it is set), most used first."""
    if given is not None:
        return [Path(given)]
    counts: dict[Path, int] = {}
    for run in collection.runs:
        if run.usable and run.data is not None:
            counts[run.data] = counts.get(run.data, 0) + 1
    for table in collection.experiments:
        if table.meta.get("data"):
            path = Path(table.meta["data"]).resolve()
            counts[path] = counts.get(path, 0) + 1
    return sorted(counts, key=lambda p: (-counts[p], str(p)))
