"""`wood report`: one page comparing every run: which approach finds the defects, and at what cost.

``build_report(run_dirs, out, prepared=None) -> dict`` reads run folders (see
``wood.reporting.runs``: YOLO/YOLO-World, SAM and classification runs, experiments tables)
and writes ``out/report.md`` (figures in ``out/images/``) and ``out/report.html`` (one
self-contained file: CSS inline, figures as base64 data URIs, no scripts, opens from disk with no
server and no network). Sections: Overview (headline metric and cost of every run), Dataset,
Detection, Segmentation, Classification, Anomaly detection, and Runs not included. Every table row names its run
folder and links its config.yaml.

A run folder without (readable) metrics is listed with the reason and printed on the console;
only when no usable run is found at all is it a WoodError.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from wood.errors import ConfigError, DataError
from wood.outdir import atomic_output, check_replaceable
from wood.reporting.anomaly import anomaly_section, scale_cells
from wood.reporting.anomaly import approach as anomaly_approach
from wood.reporting.anomaly import headline as anomaly_headline
from wood.reporting.classify import approach as classify_approach
from wood.reporting.classify import classification_section
from wood.reporting.classify import headline as classify_headline
from wood.reporting.dataset import dataset_section
from wood.reporting.detect import approach as detect_approach
from wood.reporting.detect import detection_section
from wood.reporting.detect import headline as detect_headline
from wood.reporting.format import COST_COLUMNS, cost, run_ref
from wood.reporting.render import Section, Table, Text, write_report
from wood.reporting.runs import Collection, collect, prepared_dirs
from wood.reporting.segment import approach as sam_approach
from wood.reporting.segment import headline as sam_headline
from wood.reporting.segment import segmentation_section

TITLE = "wood report: which approach finds the defects, and at what cost?"
APPROACH = {
    "yolo": (detect_approach, detect_headline),
    "sam": (sam_approach, sam_headline),
    "classify": (classify_approach, classify_headline),
    "anomaly": (anomaly_approach, anomaly_headline),
}


def overview_section(collection: Collection) -> Section:
    """One row per usable run: approach, headline metric and the cost columns."""
    rows = []
    for kind in ("yolo", "sam", "classify", "anomaly"):
        name_of, headline = APPROACH[kind]
        for run in collection.of_kind(kind):
            metric, value, split = headline(run)
            rows.append([run_ref(run), name_of(run), metric, value, split] + scale_cells(run, kind) + cost(run))
    section = Section("Overview")
    section.blocks.append(
        Text(
            "One row per run. Detection: COCO box mAP50; segmentation: SAM mIoU; classification: "
            "test accuracy; anomaly (good images only): image AUROC. Image and pixel AUROC put every approach on "
            "the anomaly-detection scale (a run's evaluation scores images and pixels as anomaly maps would be). "
            "The sections below give the full numbers and where they come from."
        )
    )
    section.blocks.append(
        Table(
            ["run", "approach", "metric", "value", "split", "image AUROC", "pixel AUROC"] + COST_COLUMNS,
            rows,
            caption="All runs",
        )
    )
    return section


def problems_section(collection: Collection) -> Section | None:
    """Folders that could not be used and eval files that could not be read, one line each."""
    lines = list(collection.messages)
    lines += [f"{run.path}: {p}" for run in collection.runs if run.usable for p in run.problems]
    if not lines:
        return None
    section = Section("Runs not included")
    section.blocks.append(Text("These folders (or files in them) were found but could not be used:", "warn"))
    section.blocks.append(Text("\n".join(lines), "code"))
    return section


def build_report(
    run_dirs: list[Path], out: Path, prepared: Path | None = None, *, runs_root: Path | None = None, samples: int = 6
) -> dict[str, Any]:
    """Collect the runs under ``run_dirs`` (and ``runs_root``) and write the report to ``out``.

    ``prepared`` overrides the prepared dataset folder named by the runs' configs. Returns
    ``{"markdown", "html", "runs": {kind: n}, "experiments": n, "messages": [...]}``.
    Raises DataError when no usable run is found (the message lists what was wrong).
    """
    from rich.markup import escape

    from wood.console import console

    if not run_dirs and runs_root is None:
        raise DataError("no run folders given: pass RUN_DIRS or --runs-root DIR")
    if samples < 0:
        raise ConfigError(f"samples must be >= 0, but got {samples}")
    out = Path(out).expanduser().absolute()
    check_replaceable(out, "report", follow_link=True)  # before any work; again when swapping
    collection = collect([Path(p) for p in run_dirs], Path(runs_root) if runs_root is not None else None)
    usable = [r for r in collection.runs if r.usable]
    if not usable and not collection.experiments:
        where = ", ".join(str(p) for p in list(run_dirs) + ([runs_root] if runs_root is not None else []))
        detail = (
            f" ({len(collection.messages)} folder(s) without usable metrics: {collection.messages[0]})"
            if collection.messages
            else ""
        )
        raise DataError(
            f"no usable run folder (config.yaml + metrics.json of `wood finetune ...`) found{detail}", where
        )
    sections = [
        overview_section(collection),
        dataset_section(prepared_dirs(collection, Path(prepared) if prepared is not None else None), samples),
        detection_section(collection.of_kind("yolo")),
        segmentation_section(collection.of_kind("sam")),
        classification_section(collection.experiments, collection.of_kind("classify")),
        anomaly_section(collection.of_kind("anomaly")),
    ]
    problems = problems_section(collection)
    if problems is not None:
        sections.append(problems)
    counts = {kind: len(collection.of_kind(kind)) for kind in ("yolo", "sam", "classify", "anomaly")}
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    subtitle = (
        f"{counts['yolo']} detection, {counts['sam']} segmentation, {counts['classify']} classification, "
        f"{counts['anomaly']} anomaly run(s); "
        f"{len(collection.messages)} folder(s) skipped; written {stamp}."
    )
    with atomic_output(out, "report") as tmp:
        md_path, html_path = write_report(TITLE, subtitle, sections, out, into=tmp)
    for message in collection.messages:  # once the report is written: an error stays the only line
        console.print(f"[yellow]skipped[/yellow] {escape(message)}", soft_wrap=True)
    return {
        "markdown": md_path,
        "html": html_path,
        "runs": counts,
        "experiments": len(collection.experiments),
        "messages": list(collection.messages),
    }
