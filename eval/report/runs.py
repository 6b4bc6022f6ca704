"""Finding and reading the run folders a report covers (no plotting, no HTML).

A run folder is a folder holding ``config.yaml`` or ``metrics.json`` (what every `wood finetune`
command writes); an experiments folder holds ``table.json`` (`wood experiments classify`).
What kind of run it is comes from its config keys (or, without a config, its metrics keys):

- ``yolo``: YoloConfig (``task``, ``world``), metrics with ``val``; evals ``**/eval_detect.json``;
- ``sam``: SamTrainConfig (``adapter``, ``lora_r``), metrics with ``params`` and ``history``;
  evals ``**/segment_metrics.json`` (GT-box or detector-box prompts);
- ``classify``: ClassifyConfig (``arch``, ``strategy``), metrics with ``train``/``test`` blocks.

A folder with a config but no readable metrics.json is kept with a ``problems`` message, so the
report can say so instead of failing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wood.errors import DataError

MARKERS = ("config.yaml", "metrics.json", "table.json")
"""Files that make a folder a run (or experiments) folder."""
SKIP_DIRS = {"weights", "checkpoints", "embeddings", "overlays", "predict", "ultralytics_val", "__pycache__", ".git"}
"""Sub-folders never searched for runs (they are parts of a run)."""
SPLIT_ORDER = {"test": 0, "val": 1, "train": 2}
"""Preferred split for the headline numbers when a run was evaluated on several."""


@dataclass
class Run:
    """One run folder: its kind, config, metrics, evaluation files and what is wrong with it."""

    path: Path
    kind: str  # yolo | sam | classify | unknown
    config: dict[str, Any]
    metrics: dict[str, Any] | None
    evals: list[dict[str, Any]] = field(default_factory=list)  # each with "_file": Path of the JSON
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path | None:
        path = self.path / "config.yaml"
        return path if path.is_file() else None

    @property
    def usable(self) -> bool:
        return self.metrics is not None and self.kind != "unknown"

    @property
    def data(self) -> Path | None:
        """The prepared dataset folder the run was trained on (config ``data``)."""
        value = self.config.get("data") or (self.metrics or {}).get("data")
        return Path(value).resolve() if value else None


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
        return None, f"{path.name} is not readable JSON ({exc.__class__.__name__}: {str(exc)[:80]})"


def _read_yaml(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, f"config.yaml is not readable YAML ({exc.__class__.__name__})"
    return (data if isinstance(data, dict) else {}), None


def run_kind(config: dict[str, Any], metrics: dict[str, Any] | None) -> str:
    """yolo | sam | classify | unknown, from the config keys first, then the metrics keys."""
    if "adapter" in config and "lora_r" in config:
        return "sam"
    if "arch" in config and "strategy" in config:
        return "classify"
    if "task" in config and "world" in config:
        return "yolo"
    m = metrics or {}
    if "params" in m and "history" in m:
        return "sam"
    if "phases" in m or ("classes" in m and isinstance(m.get("test"), dict) and "acc" in m["test"]):
        return "classify"
    if "task" in m and "val" in m:
        return "yolo"
    return "unknown"


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
    filename = {"yolo": "eval_detect.json", "sam": "segment_metrics.json"}.get(run.kind)
    paths = find_eval_files(run.path, filename) if filename else sorted(run.path.glob("eval_*.json"))
    for path in paths:
        data, problem = _read_json(path)
        if problem:
            run.problems.append(f"{path.relative_to(run.path)}: {problem}")
        elif isinstance(data, dict):
            run.evals.append({**data, "_file": path})


def load_run(path: Path) -> Run:
    """Read one run folder; never raises for a broken run (its problems are recorded)."""
    path = Path(path).resolve()
    problems: list[str] = []
    config: dict[str, Any] = {}
    if (path / "config.yaml").is_file():
        config, problem = _read_yaml(path / "config.yaml")
        if problem:
            problems.append(problem)
    metrics = None
    if (path / "metrics.json").is_file():
        metrics, problem = _read_json(path / "metrics.json")
        if problem:
            problems.append(problem)
        elif not isinstance(metrics, dict):
            problems.append("metrics.json does not hold a JSON object")
            metrics = None
    else:
        problems.append("no metrics.json (training did not finish, or was interrupted)")
    if not config and metrics:
        config = metrics.get("config") if isinstance(metrics.get("config"), dict) else {}
    kind = run_kind(config, metrics)
    if kind == "unknown" and metrics is not None:
        problems.append("not a wood run: config.yaml/metrics.json have none of the YOLO, SAM or classify keys")
    run = Run(path, kind, config, metrics, problems=problems)
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
    """
    found = []
    for folder, dirs, files in os.walk(root):
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
