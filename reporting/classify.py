"""The report's Classification section: the five-attempt table (`wood experiments classify`'s
table.json, skipped rows included, each row's Arch the one that ran, with a note where a pretrained
attempt ran MobileNetV2 for ResNet18), other classify runs, and the confusion matrix of the best run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.finetune.classify.experiments import COLUMNS as TABLE_COLUMNS
from wood.reporting.format import COST_COLUMNS, DASH, classify_params, cost, duration, pct, run_ref
from wood.reporting.plots import confusion_png, thumbnail
from wood.reporting.render import Figure, RunRef, Section, Table, Text, run_section
from wood.reporting.runs import Experiments, Run

COLUMNS = TABLE_COLUMNS + ["run"] + COST_COLUMNS  # the experiments table, then its run and cost


def approach(run: Run) -> str:
    return f"classify {run.config.get('arch', '?')} {run.config.get('strategy', '')}".strip()


def headline(run: Run) -> tuple[str, str, str]:
    test = (run.metrics or {}).get("test") or {}
    return "test accuracy", pct(test.get("acc")), "test"


def _acc_pair(train: Any, test: Any) -> str:
    return f"{pct(train)} / {pct(test)}"


def _study(row: dict[str, Any]) -> str:
    tr, te = row.get("study_train_acc"), row.get("study_test_acc")
    return DASH if tr is None else f"{float(tr):.1f}% / {float(te):.1f}%"


def table_rows(table: Experiments, by_path: dict[Path, Run]) -> tuple[list[list[Any]], list[Run]]:
    """Rows of one experiments table in the study's columns, and the runs they name."""
    rows, used = [], []
    for r in table.rows:
        run = None
        if r.get("run"):  # the recorded path, else the same row under this folder (the table was moved)
            run = by_path.get(Path(r["run"]).resolve()) or by_path.get(
                (table.path / "runs" / Path(r["run"]).name).resolve()
            )
        if r.get("status", "ok") != "ok":
            ours = str(r.get("status"))
        else:
            ours = _acc_pair(r.get("train_acc"), r.get("test_acc"))
        cells = [
            str(r.get("exp", "?")),
            str(r.get("arch", DASH)),
            str(r.get("epochs", DASH)),
            str(r.get("optimizer", DASH)),
            str(r.get("lr", DASH)),
            str(r.get("strategy", DASH)),
            ours,
            _study(r),
            pct(r.get("val_acc")),
            str(r.get("seed", DASH)),
        ]
        if run is not None:
            used.append(run)
            cells += [run_ref(run)] + cost(run)
        elif r.get("run"):
            cells += [
                RunRef(Path(r["run"]), None, "run folder missing or unreadable"),
                duration(r.get("train_time_s")),
                DASH,
                DASH,
            ]
        else:
            cells += [DASH, DASH, DASH, DASH]
        rows.append(cells)
    return rows, used


def standalone_row(run: Run) -> list[Any]:
    """A classify run outside any experiments table, in the same columns."""
    from wood.finetune.classify.experiments import ARCH_TEXT, OPTIMIZER_TEXT, lr_text

    cfg, m = run.config, run.metrics or {}
    two_phase = cfg.get("strategy") == "finetune" and int(cfg.get("finetune_epochs") or 0) > 0
    epochs = f"{cfg.get('epochs')} + {cfg.get('finetune_epochs')}" if two_phase else str(cfg.get("epochs", DASH))
    try:
        lr = lr_text(float(cfg["lr"])) + (f" then {lr_text(float(cfg['finetune_lr']))}" if two_phase else "")
    except (KeyError, TypeError, ValueError):
        lr = DASH
    acc = {s: (m.get(s) or {}).get("acc") for s in ("train", "val", "test")}
    return [
        run.name,
        ARCH_TEXT.get(cfg.get("arch"), str(cfg.get("arch", DASH))),
        epochs,
        OPTIMIZER_TEXT.get(cfg.get("optimizer"), str(cfg.get("optimizer", DASH))),
        lr,
        str(cfg.get("strategy", DASH)),
        _acc_pair(acc["train"], acc["test"]),
        DASH,
        pct(acc["val"]),
        str(m.get("seed", cfg.get("seed", DASH))),
        run_ref(run),
    ] + cost(run)


def best_run(runs: list[Run]) -> Run | None:
    """Highest test accuracy; ties broken by val accuracy, then by name."""
    scored = [r for r in runs if ((r.metrics or {}).get("test") or {}).get("acc") is not None]
    if not scored:
        return None

    def key(r: Run) -> tuple[float, float, str]:
        m = r.metrics or {}
        return (m["test"]["acc"], (m.get("val") or {}).get("acc") or 0.0, r.name)

    return max(scored, key=key)


def confusion_figure(run: Run) -> Figure | None:
    """The run's own confusion_test.png, else one drawn from metrics.json's test confusion."""
    path = run.path / "confusion_test.png"
    png = thumbnail(path, 640) if path.is_file() else None
    m = run.metrics or {}
    if png is None and (m.get("test") or {}).get("confusion") and m.get("classes"):
        png = confusion_png(m["test"]["confusion"], m["classes"], f"{run.name} test")
    if png is None:
        return None
    test = m.get("test") or {}
    return Figure(
        f"confusion_{run.name}",
        png,
        f"Confusion matrix of the best run {run.name} on test "
        f"(accuracy {pct(test.get('acc'))}, balanced {pct(test.get('balanced_acc'))}); rows true, columns predicted",
        width=min(560, 120 + 70 * len(m.get("classes") or [])),
    )


def classification_section(tables: list[Experiments], runs: list[Run]) -> Section:
    found = bool(tables or runs)
    missing = "No classification run found (`wood experiments classify` or `wood finetune classify`)."
    section = run_section("Classification", found, missing)
    if not found:
        return section
    by_path = {r.path: r for r in runs}
    used: list[Run] = []
    for table in tables:
        rows, in_table = table_rows(table, by_path)
        used += in_table
        meta = table.meta
        sizes = meta.get("split_sizes") or {}
        caption = f"Five-attempt table: {table.path / 'table.json'}"
        section.blocks.append(
            Text(
                f"Data {meta.get('data', '?')}; classes {', '.join(meta.get('classes') or [])}; images train/val/test "
                f"{sizes.get('train', '?')}/{sizes.get('val', '?')}/{sizes.get('test', '?')}; "
                f"config {meta.get('config', '?')}." + (f" {meta['note']}." if meta.get("note") else "")
            )
        )
        section.blocks.append(Table(COLUMNS, rows, caption=caption))
        for r in table.rows:  # a pretrained attempt that ran another arch than the study's (Arch names it)
            if r.get("arch_note"):
                section.blocks.append(Text(f"{r.get('exp')} ran {r.get('arch')}: {r['arch_note']}.", "note"))
        skipped = [r for r in table.rows if r.get("status", "ok") != "ok"]
        for r in skipped:
            section.blocks.append(
                Text(f"{r.get('exp')}: {r.get('status')}" + (f" ({r['message']})" if r.get("message") else ""), "note")
            )
    others = [r for r in runs if r not in used]
    if others:
        section.blocks.append(
            Table(
                COLUMNS,
                [standalone_row(r) for r in others],
                caption="Other classification runs (`wood finetune classify`)",
            )
        )
    best = best_run(runs)
    if best is not None:
        per_class = ((best.metrics or {}).get("test") or {}).get("per_class") or {}
        if per_class:
            section.blocks.append(
                Table(
                    ["run"] + list(per_class),
                    [[run_ref(best)] + [pct(v) for v in per_class.values()]],
                    caption=f"Per-class test accuracy (recall) of the best run, {best.name}; "
                    f"params trained {classify_params(best.metrics or {})}",
                )
            )
        fig = confusion_figure(best)
        if fig is not None:
            section.blocks.append(fig)
    return section
