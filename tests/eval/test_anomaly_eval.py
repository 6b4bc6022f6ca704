"""`wood eval anomaly`: metrics per defect type and overall, the val threshold, overlays, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests._anomaly_fixtures import SMALL, anomaly_prep, prep_copy  # noqa: F401
from tests._cli import run_cli


@pytest.fixture(scope="module")
def patchcore_run(anomaly_prep, tmp_path_factory) -> Path:
    from wood.finetune.anomaly.config import AnomalyConfig
    from wood.finetune.anomaly.train import train

    out = tmp_path_factory.mktemp("anomaly-runs")
    return train(AnomalyConfig(data=str(anomaly_prep), out=str(out), imgsz=64))


def test_eval_writes_metrics_threshold_and_overlays(patchcore_run, anomaly_prep, capsys):
    code, err = run_cli(["eval", "anomaly", "--run", patchcore_run, "--max-false-alarm", "0.2"], capsys)
    assert code == 0, err
    out = patchcore_run / "eval-test"
    s = json.loads((out / "anomaly_metrics.json").read_text())
    manifest = json.loads((anomaly_prep / "manifest.json").read_text())
    test = {im["name"]: im["defect"] for im in manifest["images"] if im["split"] == "test"}
    assert {r["name"]: r["defect"] for r in s["images"]} == test
    labels = np.array([r["defect"] != "good" for r in s["images"]])
    scores = np.array([r["score"] for r in s["images"]])
    assert s["overall"]["image_auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert set(s["per_defect"]) == {d for d in test.values() if d != "good"}
    for block in [s["overall"], *s["per_defect"].values()]:
        for key in ("image_auroc", "pixel_auroc", "aupro", "pixel_f1_max", "recall", "false_alarm"):
            assert block[key] is None or 0.0 <= block[key] <= 1.0
    assert s["overall"]["pixel_auroc"] > 0.6  # synthetic defects differ from the wood texture
    t = s["threshold"]
    assert t["max_false_alarm"] == 0.2 and t["val"]["false_alarm"] <= 0.2 and t["val"]["anomalous"] > 0
    flagged = scores > t["value"]
    assert s["overall"]["recall"] == pytest.approx(flagged[labels].mean())
    assert [r["flagged"] for r in s["images"]] == flagged.tolist()
    names = s["overlays"]
    assert any(n.startswith("best_") for n in names) and any(n.startswith("false_alarm_") for n in names)
    assert all((out / "overlays" / n).is_file() for n in names)
    marker = json.loads((patchcore_run / ".wood-output.json").read_text())
    assert "eval-test" in marker.get("entries", [])  # the run's own: --exist-ok may replace it


def test_no_defect_in_val_stops_unless_no_threshold(patchcore_run, prep_copy, tmp_path, capsys):
    manifest = json.loads((prep_copy / "manifest.json").read_text())
    manifest["images"] = [im for im in manifest["images"] if not (im["split"] == "val" and im["defect"] != "good")]
    (prep_copy / "manifest.json").write_text(json.dumps(manifest))
    args = ["eval", "anomaly", "--run", patchcore_run, "--data", prep_copy, "--out", tmp_path / "e"]
    code, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "val split has no defective image" in err
    assert not (tmp_path / "e").exists()
    code, err = run_cli([*args, "--no-threshold"], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "e" / "anomaly_metrics.json").read_text())
    assert s["threshold"] is None and "recall" not in s["overall"] and s["overall"]["aupro"] is not None


def test_bad_eval_inputs_are_one_line(patchcore_run, tmp_path, capsys):
    cases = [
        (["--run", tmp_path / "nothing"], "does not exist"),
        (["--run", patchcore_run, "--split", "dev"], "split must be one of"),
        (["--run", patchcore_run, "--max-false-alarm", "1.0"], "max-false-alarm must be in [0, 1)"),
    ]
    notrun = tmp_path / "notrun"
    notrun.mkdir()
    (notrun / "metrics.json").write_text(json.dumps({"kind": "classify", "schema": 1}))
    cases.append((["--run", notrun], "not a `wood finetune anomaly` run"))
    for extra, needle in cases:
        code, err = run_cli(["eval", "anomaly", *extra], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err


def test_padim_run_evaluates(anomaly_prep, tmp_path, capsys):
    code, err = run_cli(
        ["finetune", "anomaly", "--data", anomaly_prep, "--out", tmp_path, "--method", "padim", *SMALL], capsys
    )
    assert code == 0, err
    code, err = run_cli(["eval", "anomaly", "--run", tmp_path / "padim-mobilenet_v2", "--overlays", "0"], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "padim-mobilenet_v2" / "eval-test" / "anomaly_metrics.json").read_text())
    assert s["method"] == "padim" and s["overlays"] == [] and s["overall"]["image_auroc"] is not None


def test_report_has_an_anomaly_section_and_overview_row(patchcore_run, tmp_path):
    from wood.eval.anomaly.evaluate import evaluate
    from wood.reporting.build import build_report

    s = evaluate(patchcore_run, "test", out=patchcore_run / "eval-test", max_false_alarm=0.2, overlays=1)
    result = build_report([patchcore_run], tmp_path / "report")
    assert result["runs"]["anomaly"] == 1
    md = Path(result["markdown"]).read_text()
    overview = md.split("## Overview")[1].split("\n## ")[0]
    assert "patchcore mobilenet_v2, good images only" in overview and "pixel AUROC" in overview
    row = next(line for line in overview.splitlines() if "patchcore mobilenet_v2, good images only" in line)
    assert f"{s['overall']['image_auroc']:.3f}" in row and f"{s['overall']['pixel_auroc']:.3f}" in row
    section = md.split("## Anomaly detection (good images only)")[1]
    row = next(line for line in section.splitlines() if line.startswith("| **patchcore-mobilenet_v2**"))
    for key in ("image_auroc", "pixel_auroc", "aupro"):
        assert f"{s['overall'][key]:.3f}" in row
    assert "Per defect type" in section and "images/anomaly_patchcore-mobilenet_v2_best_" in section
