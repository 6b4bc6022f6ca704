"""reporting/anomaly.py: an anomaly run's approach and headline, and the one anomaly scale (image / pixel
AUROC) every kind of run gets in the report, read from run folders written here."""

from __future__ import annotations

import json

from wood.reporting.anomaly import approach, headline, scale_cells
from wood.reporting.format import DASH
from wood.reporting.runs import load_run


def write_run(folder, kind: str, metrics: dict, evals: dict[str, dict], config: str = "x: 1\n"):
    folder.mkdir()
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps({"kind": kind, "schema": 1, **metrics}), encoding="utf-8")
    for rel, data in evals.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(json.dumps(data), encoding="utf-8")
    return load_run(folder)


def test_anomaly_run_headline_prefers_the_test_split(tmp_path):
    evals = {
        "eval_val/anomaly_metrics.json": {"split": "val", "overall": {"image_auroc": 0.5, "pixel_auroc": 0.6}},
        "eval_test/anomaly_metrics.json": {"split": "test", "overall": {"image_auroc": 0.91234, "pixel_auroc": 0.8}},
    }
    run = write_run(tmp_path / "a", "anomaly", {"method": "patchcore", "backbone": "resnet18"}, evals)
    assert run.kind == "anomaly" and len(run.evals) == 2
    assert approach(run) == "patchcore resnet18, good images only"
    assert headline(run) == ("image AUROC", "0.912", "test")
    assert scale_cells(run, "anomaly") == ["0.912", "0.800"]


def test_anomaly_run_without_evaluation(tmp_path):
    run = write_run(tmp_path / "a", "anomaly", {"method": "padim", "backbone": "wide", "pretrained": False}, {})
    assert approach(run) == "padim wide (random init), good images only"
    assert headline(run) == ("image AUROC", "not evaluated", DASH)
    assert scale_cells(run, "anomaly") == [DASH, DASH]


def test_sam_scale_prefers_detector_boxes_and_flags_gt_boxes_as_an_upper_bound(tmp_path):
    gt = {"split": "test", "boxes": "gt", "anomaly_scale": {"image_auroc": 1.0, "pixel_auroc": 0.7}}
    det = {"split": "test", "boxes": "detector", "anomaly_scale": {"image_auroc": 0.6, "pixel_auroc": 0.5}}
    both = write_run(tmp_path / "s1", "sam", {}, {"gt/segment_metrics.json": gt, "det/segment_metrics.json": det})
    assert scale_cells(both, "sam") == ["0.600", "0.500"]
    only_gt = write_run(tmp_path / "s2", "sam", {}, {"gt/segment_metrics.json": gt})
    assert scale_cells(only_gt, "sam") == ["1.000 (GT boxes: upper bound)", "0.700"]
