"""Number formatting and the cost columns (training time, device, params trained) shared by the
report's tables. Pure functions of run metadata, except :func:`yolo_param_count`, which opens a
YOLO checkpoint when the run's metrics do not record its size."""

from __future__ import annotations

import functools
from typing import Any, Callable

from wood.reporting.render import RunRef
from wood.reporting.runs import Run
from wood.torchutil import count_params

DASH = "–"
COST_COLUMNS = ["train time", "device", "params trained"]


def _number(value: Any) -> float | None:
    """``value`` as a float; None for None, a bool or a non-number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def num(value: Any, digits: int = 3) -> str:
    """0.512 style; a dash for None or a non-number."""
    x = _number(value)
    return DASH if x is None else f"{x:.{digits}f}"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.1234 -> 12.3%."""
    x = _number(value)
    return DASH if x is None else f"{100 * x:.{digits}f}%"


def duration(seconds: Any) -> str:
    """12.3 s, 4.5 min or 1.2 h."""
    if seconds is None:
        return DASH
    s = float(seconds)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def count(n: Any) -> str:
    """Parameter counts: 147,456 below a million, 11.2M above."""
    if n is None:
        return DASH
    n = int(n)
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


def run_ref(run: Run, label: str | None = None) -> RunRef:
    return RunRef(run.path, run.config_file, label)


def breakdown_rows(
    entries: list[tuple[Run, dict[str, Any], dict[str, Any]]],
    keys: list[str],
    cell: Callable[[Any], str],
    extra: Callable[[dict[str, Any]], list[str]] = lambda ev: [],
) -> list[list[Any]]:
    """The rows of a per-class (or per-type) table: for each (run, eval, {key: numbers}) entry the run,
    ``extra(eval)``, the eval's split, then ``cell(numbers)`` for each of ``keys`` (None where it has none)."""
    return [
        [run_ref(run), *extra(ev), str(ev.get("split"))] + [cell(per.get(key)) for key in keys]
        for run, ev, per in entries
    ]


def _ultralytics_args(run: Run) -> dict[str, Any]:
    import yaml

    path = run.path / "args.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def yolo_param_count(run: Run) -> int | None:
    """Parameters of a YOLO run: metrics ``params`` when recorded, else counted in weights/best.pt."""
    recorded = (run.metrics or {}).get("params")
    if isinstance(recorded, dict):
        recorded = recorded.get("trainable", recorded.get("total"))
    if isinstance(recorded, (int, float)):
        return int(recorded)
    weights = run.path / "weights" / "best.pt"
    if not weights.is_file():
        return None
    return _checkpoint_params(str(weights), weights.stat().st_mtime)


@functools.lru_cache(maxsize=64)
def _checkpoint_params(weights: str, mtime: float) -> int | None:
    """Parameter count of an Ultralytics checkpoint (cached: the overview and the detection table ask)."""
    try:
        from wood.offline import setup_ultralytics

        setup_ultralytics()
        import torch
        import ultralytics.nn.tasks  # noqa: F401 - the checkpoint pickles Ultralytics classes

        ckpt = torch.load(weights, map_location="cpu", weights_only=False)
        model = ckpt.get("ema") or ckpt.get("model")
        return count_params(model)
    except Exception:  # noqa: BLE001 - a missing cost number must not stop the report
        return None


def yolo_cost(run: Run) -> list[str]:
    """[train time, device, params trained] of a YOLO run (Ultralytics trains every layer unless `freeze`)."""
    m = run.metrics or {}
    args = _ultralytics_args(run)
    device = m.get("device") or run.config.get("device") or args.get("device")
    n = yolo_param_count(run)
    freeze = (run.config.get("train_args") or {}).get("freeze") or args.get("freeze")
    params = DASH if n is None else (f"{count(n)} (all)" if not freeze else f"{count(n)} total, freeze={freeze}")
    return [
        duration(m.get("train_seconds")),
        str(device) if device not in (None, "") else "default (GPU if any)",
        params,
    ]


def sam_cost(run: Run) -> list[str]:
    m = run.metrics or {}
    seconds = sum(float(h.get("seconds", 0.0)) for h in m.get("history", []))
    p = m.get("params") or {}
    params = (
        DASH
        if not p
        else f"{count(p.get('trainable'))} ({pct(p.get('trainable_fraction'), 2)} of {count(p.get('total'))})"
    )
    return [
        duration(seconds if m.get("history") else None),
        str(m.get("device") or run.config.get("device") or DASH),
        params,
    ]


def classify_params(metrics: dict[str, Any]) -> str:
    """Trainable params per phase: '3,078 then 11.2M of 11.2M' (head only, then everything)."""
    phases = metrics.get("phases") or []
    if not phases:
        return DASH
    total = phases[0].get("total_params")
    parts = [count(p.get("trainable_params")) for p in phases]
    return " then ".join(parts) + (f" of {count(total)}" if total else "")


def classify_cost(run: Run) -> list[str]:
    m = run.metrics or {}
    return [
        duration(m.get("train_time_s")),
        str(m.get("device") or run.config.get("device") or DASH),
        classify_params(m),
    ]


def anomaly_cost(run: Run) -> list[str]:
    """[fit time, device, params trained: none (PatchCore and PaDiM fit statistics, no gradient step)]."""
    m = run.metrics or {}
    return [
        duration(m.get("train_time_s")),
        str(m.get("device") or run.config.get("device") or DASH),
        "0 (no training)",
    ]


def cost(run: Run) -> list[str]:
    return {"yolo": yolo_cost, "sam": sam_cost, "classify": classify_cost, "anomaly": anomaly_cost}[run.kind](run)
