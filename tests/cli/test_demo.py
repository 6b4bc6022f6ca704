"""`wood demo` glue: every stage runs offline on tiny settings and the report lists every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wood.cli.demo import run_demo
from wood.errors import DataError

TINY = {
    "synth": "size: 64\nper_defect: 3\ngood: 3\ntrain_good: 0\nseed: 0\n",
    "prep": "seed: 0\npreview: 2\n",
    "yolo": "model: yolov8n.yaml\nepochs: 1\nimgsz: 64\nbatch: 8\nworkers: 0\nplots: false\n",
    "world": "model: yolov8n-worldv2.yaml\nworld: true\nepochs: 1\nimgsz: 64\nbatch: 8\nworkers: 0\nplots: false\n",
    "sam": "model: tiny\nrandom_init: true\nimgsz: 64\nadapter: lora\nepochs: 1\nmax_steps: 2\ndevice: cpu\n",
    "classify": "epochs: 1\nfinetune_epochs: 1\nimgsz: 32\n",
    "anomaly": "method: patchcore\nimgsz: 64\n",
}


@pytest.fixture
def tiny_configs(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    for name, text in TINY.items():
        (folder / f"demo_{name}.yaml").write_text(text)
    return folder


@pytest.mark.slow
def test_demo_runs_every_stage_offline_and_reports_each_run(tmp_path: Path, tiny_configs: Path):
    result = run_demo(tmp_path / "demo", configs=tiny_configs)
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert list(summary["seconds"]) == ["synth", "prep", "yolo", "yolo-world", "sam", "classify", "anomaly", "report"]
    for key in ("yolo", "yolo-world", "sam"):
        assert (result.runs[key] / "config.yaml").is_file()
    html = (result.runs["report"] / "report.html").read_text()
    md = (result.runs["report"] / "report.md").read_text()
    assert "<table" in html and "http://" not in html.replace("http://www.w3.org", "")
    for run in ("yolo", "yolo-world", "sam-lora", "baseline", "patchcore"):
        assert run in md
    assert set(result.numbers) >= {
        "yolo_mAP50",
        "yolo-world_mAP50",
        "sam_mIoU_gt_boxes",
        "classify_best_test_acc",
        "patchcore_image_auroc",
    }
    with pytest.raises(DataError, match="--force"):
        run_demo(tmp_path / "demo", configs=tiny_configs)


def test_demo_never_deletes_a_folder_that_is_not_a_demo(tmp_path: Path, tiny_configs: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    with pytest.raises(DataError, match="not a wood demo output"):
        run_demo(mine, force=True, configs=tiny_configs)
    assert (mine / "thesis.tex").read_text() == "keep"
