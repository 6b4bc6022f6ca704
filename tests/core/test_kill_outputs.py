"""Outputs written into a run (export/, eval-<split>/) are replaced in one step: real `wood` processes
SIGKILLed at several instants (inside the exporter's staging, after the model is written but before
export.json, after the swap, and at two timed instants) leave the old or the new complete output, and
the next run removes what the dead one left. One tiny 64 px YOLO run, trained once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _yolo_fixtures import tiny_cfg

from wood.outdir import foreign_entries

KILL = "import os, signal\nkill = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
PATCHES = {
    "in the exporter's staging": KILL + "import wood.deploy.export.yolo as y\ny.load_yolo = kill\n",
    "model written, export.json not": KILL
    + "import wood.deploy.export.yolo as y\nreal = y.run_exporter\n"
    + "def run(*a, **k):\n    real(*a, **k)\n    kill()\ny.run_exporter = run\n",
    "after the swap": KILL
    + "import wood.outdir as o\nreal = o.swap_into_place\n"
    + "def swap(*a, **k):\n    real(*a, **k)\n    kill()\no.swap_into_place = swap\n",
}


def wood(args: list, patch: str = "") -> subprocess.Popen:
    code = "import sys\n" + textwrap.dedent(patch) + "\nfrom wood.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def tiny_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wood.finetune.yolo.train import train

    return train(tiny_cfg(prepared, tmp_path_factory.mktemp("kill-runs"), name="det"))


def onnx_imgsz(model: Path) -> int:
    import onnxruntime as ort

    return int(ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].shape[-1])


def complete_export(export: Path) -> int:
    """The imgsz of the complete export at ``export``: export.json and model.onnx agree, all of it wood's."""
    record = json.loads((export / "export.json").read_text())
    assert Path(record["files"]["model"]) == export / "model.onnx"
    assert onnx_imgsz(export / "model.onnx") == record["imgsz"]
    assert foreign_entries(export, "export") == []
    return record["imgsz"]


def leftovers(run: Path) -> list[str]:
    return sorted(
        p.relative_to(run).as_posix() for p in run.rglob("*") if ".wood-tmp" in p.name or ".staging" in p.name
    )


@pytest.mark.slow
def test_killed_exports_leave_the_old_or_the_new_export_and_the_next_run_tidies(tiny_run: Path):
    export = tiny_run / "export"
    first = wood(["export", "--run", tiny_run, "--imgsz", "64", "--images", "1"])
    started = time.perf_counter()
    assert first.wait(timeout=300) == 0, first.stderr.read()
    took = time.perf_counter() - started
    assert complete_export(export) == 64
    seen = []
    for what, patch in PATCHES.items():
        proc = wood(["export", "--run", tiny_run, "--imgsz", "96", "--images", "1"], patch)
        proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, what
        seen.append(complete_export(export))
        assert leftovers(tiny_run), what  # the dead process's staging (or the old export it swapped out)
    assert seen == [64, 64, 96]  # killed before the swap: the old export; after it: the new one
    for fraction in (0.4, 0.8):  # two instants of an unpatched run
        proc = wood(["export", "--run", tiny_run, "--imgsz", "96" if fraction < 0.5 else "64", "--images", "1"])
        time.sleep(took * fraction)
        proc.kill()
        proc.communicate()
        assert complete_export(export) in (64, 96)
    done = wood(["export", "--run", tiny_run, "--imgsz", "96", "--images", "1"])
    assert done.wait(timeout=300) == 0, done.stderr.read()
    assert complete_export(export) == 96
    assert leftovers(tiny_run) == [] and not list(tiny_run.glob(".wood-lock-*"))
    assert foreign_entries(tiny_run, "run") == []  # --exist-ok may still replace the run


@pytest.mark.slow
def test_a_killed_eval_leaves_the_previous_evaluation_whole(tiny_run: Path):
    evaluation = tiny_run / "eval-val"
    args = ["eval", "detect", "--run", tiny_run, "--split", "val", "--device", "cpu", "--no-ultralytics-val"]
    first = wood(args)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    before = json.loads((evaluation / "eval_detect.json").read_text())
    assert Path(before["files"]["json"]) == evaluation / "eval_detect.json"
    patch = KILL + "import wood.eval.detect.evaluate as d\nd.write_result = kill\n"  # plots written, the summary not
    proc = wood([*args, "--conf", "0.5"], patch)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((evaluation / "eval_detect.json").read_text()) == before
    assert foreign_entries(evaluation, "eval-detect") == []
    done = wood([*args, "--conf", "0.5"])
    assert done.wait(timeout=300) == 0, done.stderr.read()
    after = json.loads((evaluation / "eval_detect.json").read_text())
    assert after["confusion_matrix"]["conf"] == 0.5 and leftovers(tiny_run) == []
