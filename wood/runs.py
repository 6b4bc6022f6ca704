"""The run-folder contract every trainer follows (`wood finetune yolo|sam|classify`).

Creating a run folder (one policy for every trainer)::

    <out>/<name>/        the first run of that name
    <out>/<name>-2/      the next one while <name> exists, then -3, ... (as Ultralytics numbers runs)

- ``exist_ok`` replaces an existing ``<out>/<name>`` instead, but only a complete run wood can prove
  it wrote: its ``run`` marker (:mod:`wood.marker`) lists every path in it, unchanged. Anything else
  is refused and left as it is: a folder without a marker whatever it holds (``config.yaml`` and
  ``args.yaml`` prove nothing), a run with a file the user added at any depth, a run another live
  process is training, and an unfinished run whose trainer was killed (its files cannot be told
  from files added since: ``--resume`` continues it).
- ``resume`` continues ``<out>/<name>``, which must exist.
- The folder carries an open ``run`` marker (with the trainer's pid) while the trainer (or
  Ultralytics) fills it; :func:`finish_run_dir` closes it, listing what the run wrote, less the
  entries that were the user's when it was reopened.
- Evaluations, predictions and exports written into a run are outputs of their own (their own
  marker, replaced in one step); the run's marker records them as nested outputs
  (:func:`claim_in_run`). Single files (classify's ``eval_<split>.json``) go through
  :func:`write_in_run`.

What every run folder holds:

- ``config.yaml``: the resolved config of the trainer, its dataset (``data``) as an absolute path,
  so eval and report work from any working folder;
- ``metrics.json``: ``{"kind": "yolo" | "sam" | "classify" | "anomaly", "schema": SCHEMA, ...}`` plus the
  trainer's own numbers (written atomically by :func:`write_metrics_json`);
- weights: ``weights/best.pt`` (yolo), ``weights/`` (sam: adapter, decoder...), ``weights.pt`` (classify;
  anomaly: backbone state, memory bank or Gaussians and preprocessing).

:func:`load_run` reads any run folder into a :class:`Run`. It takes the kind from metrics.json;
only runs written before ``kind`` existed fall back to guessing it from their keys
(:func:`guess_kind`, the one place that guesses). :func:`read_config` reads a run's config.yaml
strictly (a broken file is an error, not a note). Each family builds its model from a run in
``wood.finetune.<family>.run`` (``read_run`` checks the folder, ``load`` rebuilds the model), on
top of these two readers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wood.config import read_yaml
from wood.errors import ConfigError, DataError
from wood.marker import MARKER_FORMAT, RUN_NOTE, nested_outputs, prove, read_marker
from wood.names import check_path_length
from wood.outdir import (
    add_marker_entries,
    check_not_input,
    check_replaceable,
    prepare_parent,
    remove_tree,
    replace_file,
    write_marker,
)

SCHEMA = 1
"""Version of the metrics.json layout written by :func:`write_metrics_json`."""
KINDS = ("yolo", "sam", "classify", "anomaly")
MARKER_KIND = "run"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
INFO_FILE = "run_info.json"
WEIGHTS = {"yolo": "weights/best.pt", "sam": "weights", "classify": "weights.pt", "anomaly": "weights.pt"}
"""Where each kind keeps its trained weights, relative to the run folder."""
USER_ENTRIES = RUN_NOTE
"""While a resumed run is open: the entries that were not the run's own when it was reopened."""


# ---------------------------------------------------------------- naming (pure)
def numbered_name(name: str, n: int) -> str:
    """``name`` for the first run, ``name-2``, ``name-3``... after it."""
    return name if n == 1 else f"{name}-{n}"


def pick_run_name(name: str, taken: Iterable[str]) -> str:
    """The first of ``name``, ``name-2``, ``name-3``... that is not in ``taken``."""
    taken = set(taken)
    n = 1
    while numbered_name(name, n) in taken:
        n += 1
    return numbered_name(name, n)


def check_run_name(name: str) -> None:
    """A run name is one plain folder name (no separators, not . or ..)."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ConfigError(f"run name must be a plain folder name, but got {name!r}")


def _taken(out: Path) -> set[str]:
    try:
        return {p.name for p in out.iterdir()}
    except FileNotFoundError:
        return set()
    except NotADirectoryError as exc:
        raise DataError("the folder of run folders is a file; pass another --out", out) from exc


def choose_run_dir(out: str | Path, name: str, *, exist_ok: bool = False, resume: bool = False) -> Path:
    """The run folder the policy picks for ``name`` under ``out`` (creates nothing).

    ``resume`` or ``exist_ok``: ``out/name`` itself; otherwise the first free numbered name.
    """
    check_run_name(name)
    if exist_ok and resume:
        raise ConfigError("exist_ok and resume exclude each other: resume continues a run, exist_ok replaces it")
    out = Path(out).expanduser()
    check_path_length(out / name, "run folder")  # before listing `out`, which fails on an over-long path
    if exist_ok or resume:
        return out / name
    return out / pick_run_name(name, _taken(out))


# ---------------------------------------------------------------- creating and closing
def create_run_dir(
    out: str | Path,
    name: str,
    *,
    exist_ok: bool = False,
    resume: bool = False,
    inputs: Iterable[Path] = (),
) -> Path:
    """Create the run folder for ``name`` under ``out`` (see the module doc) and return it, absolute.

    ``inputs`` (the dataset): the run folder may neither be, hold nor lie inside one of them.
    The folder gets an open ``run`` marker; call :func:`finish_run_dir` when training ends.
    """
    inputs = list(inputs)
    run_dir = choose_run_dir(out, name, exist_ok=exist_ok, resume=resume).absolute()
    check_not_input(run_dir, inputs)
    if resume:
        return _reopen(run_dir)
    prepare_parent(run_dir)
    if exist_ok:
        if run_dir.is_dir() and any(run_dir.iterdir()):
            check_replaceable(run_dir, MARKER_KIND, inputs)
            remove_tree(run_dir)
        elif run_dir.exists() or run_dir.is_symlink():
            check_replaceable(run_dir, MARKER_KIND, inputs)  # a file: refused
        run_dir.mkdir(exist_ok=True)
    else:
        while True:  # another process may take the same number between the listing and mkdir
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                run_dir = choose_run_dir(out, name).absolute()
    write_marker(run_dir, MARKER_KIND, state="building", open_=True)  # the trainer fills it; finish_run_dir closes it
    return run_dir


def _reopen(run_dir: Path) -> Path:
    """Open an existing run for ``resume``; entries that are not the run's own stay the user's."""
    if not run_dir.is_dir():
        raise ConfigError("nothing to resume: the run folder does not exist; drop --resume to start it", run_dir)
    marker = read_marker(run_dir)
    if marker is None or marker.get("kind") != MARKER_KIND or marker["format"] != MARKER_FORMAT:
        return run_dir  # a run of an older wood: resumed as it was, never claimed
    proof = prove(run_dir, MARKER_KIND)
    if proof.why == "live":
        raise DataError(f"another wood process (pid {proof.pid}) is training this run; wait for it to finish", run_dir)
    # An earlier resume that stopped already recorded the user's entries; a killed first training
    # (an open marker) left files that are the trainer's as far as anyone can tell.
    if not marker.get("open") and not (run_dir / USER_ENTRIES).is_file():
        _write_json(run_dir / USER_ENTRIES, {"user_entries": proof.foreign})
    write_marker(run_dir, MARKER_KIND, state="building", entries=(), open_=True, outputs=nested_outputs(marker))
    return run_dir


def finish_run_dir(run_dir: str | Path) -> None:
    """Close the run's marker: from now on only the entries present now are the run's to replace."""
    run_dir = Path(run_dir)
    marker = read_marker(run_dir)
    if marker is None or marker.get("kind") != MARKER_KIND or marker["format"] != MARKER_FORMAT:
        return  # a resumed run of an older wood stays as it was
    note = run_dir / USER_ENTRIES
    user: set[str] = set()
    if note.is_file():
        try:
            user = {str(n) for n in json.loads(note.read_text(encoding="utf-8")).get("user_entries", [])}
        except (OSError, ValueError, AttributeError):
            user = set()
    write_marker(run_dir, MARKER_KIND, state="complete", exclude=user, outputs=nested_outputs(marker))
    if note.is_file():
        note.unlink()  # wood's own note, written by _reopen


# ---------------------------------------------------------------- writing
def claim_in_run(path: str | Path, kind: str) -> None:
    """Record ``path``, an output of ``kind`` wood writes (with :func:`wood.outdir.atomic_output`)
    directly inside a run folder (``eval-test/``, ``predict/``, ``export/``), as a nested output of
    the run, so `--exist-ok` may replace the run later while that output proves itself. Anywhere else
    (a user's --out folder) nothing is recorded."""
    path = Path(path).absolute()
    add_marker_entries(path.parent, MARKER_KIND, (), outputs={path.name: kind})


def write_in_run(run_dir: str | Path, files: dict[str, bytes]) -> None:
    """Write the files ``run_dir/<name>`` each in one step: new files, or ones the run's marker lists
    unchanged (never a file wood did not write: one DataError line, and nothing written)."""
    for name in files:
        replace_file(Path(run_dir), MARKER_KIND, name, None)
    for name, data in files.items():
        replace_file(Path(run_dir), MARKER_KIND, name, data)


def absolute_path(path: str | Path) -> str:
    """``path`` as an absolute path string (``~`` expanded, symlinks resolved): what a run records."""
    return str(Path(path).expanduser().resolve())


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def write_metrics_json(run_dir: str | Path, kind: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """Write ``run_dir/metrics.json`` atomically: ``kind`` and ``schema`` first, then ``metrics``.

    Returns what was written.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, but got {kind!r}")
    data = {"kind": kind, "schema": SCHEMA, **{k: v for k, v in metrics.items() if k not in ("kind", "schema")}}
    _write_json(Path(run_dir) / METRICS_FILE, data)
    return data


# ---------------------------------------------------------------- loading
@dataclass
class Run:
    """One run folder as :func:`load_run` read it."""

    path: Path  # absolute
    kind: str  # yolo | sam | classify | unknown
    config: dict[str, Any]  # config.yaml ({} if absent or unreadable)
    metrics: dict[str, Any] | None  # metrics.json (None: training did not finish, or unreadable)
    weights: Path | None  # where this kind keeps its weights (may not exist yet); None for an unknown kind
    data: Path | None  # the prepared dataset the run trained on, absolute
    schema: int | None = None  # metrics.json's schema; None for runs written before it (their kind was guessed)
    info: dict[str, Any] = field(default_factory=dict)  # run_info.json (yolo: classes, manifest_sha256), {} if absent
    problems: list[str] = field(default_factory=list)  # unreadable files, one line each

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path | None:
        path = self.path / CONFIG_FILE
        return path if path.is_file() else None

    @property
    def finished(self) -> bool:
        """metrics.json was written: the trainer got to the end of at least one epoch."""
        return self.metrics is not None

    @property
    def usable(self) -> bool:
        return self.metrics is not None and self.kind != "unknown"


def guess_kind(config: dict[str, Any], metrics: dict[str, Any] | None) -> str:
    """yolo | sam | classify | unknown of a run written before metrics.json had ``kind``:
    from the config keys first, then the metrics keys."""
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


def _read_mapping(path: Path, parse: Any, what: str) -> tuple[dict[str, Any] | None, str | None]:
    """(mapping, None), (None, None) when absent, or (None, problem)."""
    if not path.is_file():
        return None, None
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())[:80]  # YAML errors span lines: the problem stays one line
        return None, f"{path.name} is not readable {what} ({exc.__class__.__name__}: {detail})"
    if data is None and what == "YAML":
        return {}, None
    if not isinstance(data, dict):
        return None, f"{path.name} does not hold a {what} mapping (got {type(data).__name__})"
    return data, None


def _data_path(*candidates: Any) -> Path | None:
    """The first absolute dataset path of ``candidates``; else the first one, resolved against the
    working folder (runs written before datasets were stored absolute)."""
    given = [Path(str(c)).expanduser() for c in candidates if isinstance(c, (str, Path)) and str(c)]
    for path in given:
        if path.is_absolute():
            return path
    return given[0].resolve() if given else None


def load_run(path: str | Path) -> Run:
    """Read the run folder ``path`` (any kind). Broken files are recorded in ``problems``, not raised;
    a ``path`` that is not a folder is a DataError."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError("run folder does not exist", path)
    path = path.resolve()
    problems: list[str] = []
    config, problem = _read_mapping(path / CONFIG_FILE, yaml.safe_load, "YAML")
    problems += [problem] if problem else []
    metrics, problem = _read_mapping(path / METRICS_FILE, json.loads, "JSON")
    problems += [problem] if problem else []
    info, problem = _read_mapping(path / INFO_FILE, json.loads, "JSON")
    problems += [problem] if problem else []
    config = config or {}
    if not config and metrics and isinstance(metrics.get("config"), dict):
        config = metrics["config"]
    schema = None
    if metrics is not None and "kind" in metrics:
        kind, schema = metrics["kind"], metrics.get("schema")
        if kind not in KINDS:
            problems.append(f"metrics.json names an unknown kind {kind!r}; expected one of {list(KINDS)}")
            kind = "unknown"
        elif schema != SCHEMA:  # another layout (a newer wood's): its keys cannot be trusted
            problems.append(f"metrics.json has schema {schema!r}; this wood reads schema {SCHEMA}")
            kind = "unknown"
    else:
        kind = guess_kind(config, metrics)
    info = info or {}
    data = _data_path(config.get("data"), info.get("data"), (metrics or {}).get("data"))
    weights = path / WEIGHTS[kind] if kind in WEIGHTS else None
    return Run(path, kind, config, metrics, weights, data, schema, info, problems)


def read_config(path: str | Path) -> dict[str, Any]:
    """The run folder ``path``'s config.yaml as a mapping; a missing or broken file is a ConfigError
    naming it (:func:`wood.config.read_yaml`), where :func:`load_run` records a problem instead."""
    return read_yaml(Path(path) / CONFIG_FILE)
