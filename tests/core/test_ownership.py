"""One owner for every path wood writes: a folder or file wood did not write is never replaced, whatever
its name looks like, with --exist-ok or --force too; ownership is checked at every depth.

Each case puts a user's files where a command writes and asserts exit 2, one line, and the files
byte-identical. Nothing trains: every refusal happens before any model work.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _cli import run_cli
from _mvtec_fixtures import make_category

from wood.errors import DataError
from wood.outdir import MARKER, foreign_entries, write_marker
from wood.runs import create_run_dir, finish_run_dir

OLD_FORMAT = "wood-output/1"
"""The first marker format: top-level names only."""


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder``: files with the sha256 of their bytes, folders as 'dir'."""
    return {
        p.relative_to(folder).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def user_folder(folder: Path, files: dict[str, bytes]) -> dict[str, str]:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return snapshot(folder)


def refused(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.fixture(scope="module")
def prep(tmp_path_factory) -> Path:
    """A tiny prepared folder (32 px)."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    home = tmp_path_factory.mktemp("own")
    src = make_category(home / "src" / "cat", per_defect=3, good=2)
    out = home / "prep"
    run_prep(PrepConfig(source=src, out=out, workers=1))
    return out


def fake_yolo_run(folder: Path, data: Path) -> Path:
    """A run folder as eval/predict/export read it (their ownership checks come before the model loads)."""
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "best.pt").write_bytes(b"not loaded before the check")
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": str(data), "task": "detect", "imgsz": 64}))
    (folder / "metrics.json").write_text(json.dumps({"kind": "yolo", "schema": 1}))
    return folder


# ---------------------------------------------------------------- case 2: --exist-ok trusts no look-alike
def test_exist_ok_never_replaces_a_user_folder_that_looks_like_a_run(prep, tmp_path, capsys):
    """config.yaml + args.yaml was enough for the old legacy test: thesis.tex was deleted."""
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import prepare_run_dir

    proj = tmp_path / "runs" / "proj"
    proj.mkdir(parents=True)
    before = user_folder(
        proj, {"config.yaml": b"task: detect\nworld: false\n", "args.yaml": b"a: 1\n", "thesis.tex": b"ch1"}
    )
    common = ["--data", prep, "--out", tmp_path / "runs", "--name", "proj", "--exist-ok"]
    yolo = ["finetune", "yolo", *common, "--model", "yolov8n.yaml", "--epochs", "1", "--imgsz", "64", "--device", "cpu"]
    refused(*run_cli(yolo, capsys), "not a wood run output")
    classify = [
        "finetune",
        "classify",
        *common,
        "--arch",
        "simple-cnn",
        "--epochs",
        "1",
        "--imgsz",
        "32",
        "--device",
        "cpu",
    ]
    refused(*run_cli(classify, capsys), "not a wood run output")
    with pytest.raises(DataError, match="not a wood run output"):
        prepare_run_dir(SamTrainConfig(data=str(prep), out=str(tmp_path / "runs"), name="proj", exist_ok=True))
    assert snapshot(proj) == before
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["proj"]  # no .wood-resume-proj left


def test_a_refused_classify_exist_ok_leaves_no_checkpoint_folder(prep, tmp_path, capsys):
    run = create_run_dir(tmp_path / "runs", "c")
    (run / "weights.pt").write_bytes(b"w")
    finish_run_dir(run)
    (run / "notes.txt").write_text("mine")
    args = ["finetune", "classify", "--data", prep, "--out", tmp_path / "runs", "--name", "c", "--exist-ok"]
    refused(
        *run_cli([*args, "--arch", "simple-cnn", "--epochs", "1", "--imgsz", "32", "--device", "cpu"], capsys),
        "notes.txt",
    )
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["c"]
    assert (run / "notes.txt").read_text() == "mine"


def _killed_run(out: Path, name: str) -> Path:
    """A run folder whose trainer was SIGKILLed after writing a few files (a real process)."""
    code = (
        "import os, signal, sys\n"
        "from wood.runs import create_run_dir\n"
        "run = create_run_dir(sys.argv[1], sys.argv[2])\n"
        "(run / 'args.yaml').write_text('epochs: 3\\n')\n"
        "(run / 'weights').mkdir()\n"
        "(run / 'weights' / 'last.pt').write_bytes(b'x' * 100)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out), name], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    return out / name


def test_exist_ok_refuses_a_killed_run_a_user_then_wrote_into(tmp_path):
    run = _killed_run(tmp_path / "runs", "r")
    (run / "notes.txt").write_text("written after the kill")
    (run / "weights" / "mine.txt").write_text("and one level down")
    before = snapshot(run)
    with pytest.raises(DataError, match="unfinished wood run output whose writer stopped") as exc:
        create_run_dir(tmp_path / "runs", "r", exist_ok=True)
    assert "--resume" in str(exc.value) and len(str(exc.value).splitlines()) == 1
    assert snapshot(run) == before


def test_exist_ok_refuses_a_run_another_live_process_is_writing(tmp_path):
    code = (
        "import sys, time\nfrom wood.runs import create_run_dir\n"
        "create_run_dir(sys.argv[1], 'r')\nprint('ok', flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ok"
        with pytest.raises(DataError, match=f"pid {proc.pid}"):
            create_run_dir(tmp_path, "r", exist_ok=True)
        assert (tmp_path / "r" / MARKER).is_file()
    finally:
        proc.kill()
        proc.wait()


def test_a_completed_run_is_replaced_and_a_changed_file_in_it_is_not(tmp_path):
    run = create_run_dir(tmp_path, "r")
    (run / "weights").mkdir()
    (run / "weights" / "best.pt").write_bytes(b"trained")
    finish_run_dir(run)
    (run / "weights" / "best.pt").write_bytes(b"the user's own weights")
    with pytest.raises(DataError, match="weights/best.pt"):
        create_run_dir(tmp_path, "r", exist_ok=True)
    assert (run / "weights" / "best.pt").read_bytes() == b"the user's own weights"
    (run / "weights" / "best.pt").write_bytes(b"trained")  # as wood wrote it: wood's again
    assert create_run_dir(tmp_path, "r", exist_ok=True) == run and sorted(p.name for p in run.iterdir()) == [MARKER]


# ---------------------------------------------------------------- case 3: demo --force
def no_stages(monkeypatch) -> None:
    """The demo's stages never run here: a wrongly claimed folder fails at once instead of training."""

    def stop(*a, **k):
        raise SystemExit(3)

    monkeypatch.setattr("wood.cli.demo._run_stages", stop)


def test_demo_force_never_deletes_a_users_demo_json_and_data(tmp_path, capsys, monkeypatch):
    no_stages(monkeypatch)
    mine = tmp_path / "U"
    mine.mkdir()
    before = user_folder(mine, {"demo.json": b'{"mine": 1}', "data/raw.csv": b"a,b\n1,2\n"})
    refused(*run_cli(["demo", "--out", mine, "--force"], capsys), "not a wood demo output")
    assert snapshot(mine) == before


def test_demo_force_keeps_a_file_the_user_put_inside_a_previous_demo(tmp_path, capsys, monkeypatch):
    no_stages(monkeypatch)
    demo = tmp_path / "demo"
    (demo / "data" / "wood").mkdir(parents=True)
    (demo / "demo.json").write_text("{}")
    (demo / "data" / "wood" / "000.png").write_bytes(b"png")
    write_marker(demo, "demo")  # what a complete demo leaves: every path listed
    assert foreign_entries(demo, "demo") == []
    (demo / "data" / "raw.csv").write_bytes(b"a,b\n")
    before = snapshot(demo)
    refused(*run_cli(["demo", "--out", demo, "--force"], capsys), "data/raw.csv")
    assert snapshot(demo) == before


# ---------------------------------------------------------------- case 4: outputs never land on a user's files
def test_report_never_replaces_a_users_report_folder(tmp_path, capsys):
    mine = tmp_path / "report"
    mine.mkdir()
    (tmp_path / "runs").mkdir()
    before = user_folder(mine, {"report.md": b"# mine", "report.html": b"<p>mine", "images/fig1.png": b"\x89PNG"})
    refused(*run_cli(["report", tmp_path / "runs", "--out", mine], capsys), "not a wood report output")
    assert snapshot(mine) == before


def test_export_never_replaces_a_users_station_folder(prep, tmp_path, capsys):
    run = fake_yolo_run(tmp_path / "r", prep)
    station = tmp_path / "station"
    station.mkdir()
    before = user_folder(station, {"model.onnx": b"the deployed model", "export.json": b'{"mine": true}'})
    refused(*run_cli(["export", "--run", run, "--out", station], capsys), "not a wood export output")
    assert snapshot(station) == before


def test_predict_never_replaces_a_users_folder(prep, tmp_path, capsys):
    run = fake_yolo_run(tmp_path / "r", prep)
    mine = tmp_path / "mine"
    mine.mkdir()
    before = user_folder(mine, {"predictions.json": b"[]", "000_pred.png": b"\x89PNG mine"})
    image = next((prep / "yolo" / "images" / "test").iterdir())
    refused(*run_cli(["predict", image, "--run", run, "--out", mine], capsys), "not a wood predict output")
    assert snapshot(mine) == before


def test_eval_detect_never_replaces_a_users_figures(prep, tmp_path, capsys):
    run = fake_yolo_run(tmp_path / "r", prep)
    figs = tmp_path / "figs"
    figs.mkdir()
    before = user_folder(figs, {"pr_curve.png": b"\x89PNG a", "confusion_matrix.png": b"\x89PNG b"})
    refused(*run_cli(["eval", "detect", "--run", run, "--out", figs, "--device", "cpu"], capsys), "eval-detect")
    assert snapshot(figs) == before


def test_eval_segment_never_replaces_a_users_metrics(tmp_path, capsys):
    run = tmp_path / "sam"
    run.mkdir()
    mine = tmp_path / "m"
    mine.mkdir()
    before = user_folder(mine, {"segment_metrics.json": b'{"mine": 1}'})
    refused(*run_cli(["eval", "segment", "--run", run, "--out", mine, "--device", "cpu"], capsys), "eval-segment")
    assert snapshot(mine) == before


def test_a_file_written_into_a_run_replaces_only_a_file_wood_wrote(tmp_path):
    from wood.runs import write_in_run

    run = create_run_dir(tmp_path, "c")
    (run / "weights.pt").write_bytes(b"w")
    finish_run_dir(run)
    write_in_run(run, {"eval_test.json": b"{}"})  # a new file
    write_in_run(run, {"eval_test.json": b'{"again": 1}'})  # wood's own, listed unchanged: replaced
    assert foreign_entries(run, "run") == [] and (run / "eval_test.json").read_bytes() == b'{"again": 1}'
    (run / "eval_test.json").write_bytes(b"edited by the user")
    with pytest.raises(DataError, match="did not write"):
        write_in_run(run, {"confusion_test.png": b"png", "eval_test.json": b"{}"})
    assert (run / "eval_test.json").read_bytes() == b"edited by the user" and not (run / "confusion_test.png").exists()
    mine = tmp_path / "mine"  # no run marker: only new files
    mine.mkdir()
    (mine / "eval_test.json").write_bytes(b"mine")
    with pytest.raises(DataError, match="did not write"):
        write_in_run(mine, {"eval_test.json": b"{}"})
    assert (mine / "eval_test.json").read_bytes() == b"mine"


# ---------------------------------------------------------------- case 5: every depth, exact .wood- names
def test_prep_rerun_keeps_a_user_file_one_level_down(prep, tmp_path, capsys):
    src = make_category(tmp_path / "src" / "cat", per_defect=2, good=2)
    out = tmp_path / "out"
    assert run_cli(["prep", src, "--out", out], capsys)[0] == 0
    assert run_cli(["prep", src, "--out", out, "--seed", "1"], capsys)[0] == 0  # its own output: replaced
    for name in ("yolo/my_notes.txt", ".wood-notes.txt"):
        (out / name).write_text("mine")
        before = snapshot(out)
        refused(*run_cli(["prep", src, "--out", out, "--seed", "2"], capsys), name)
        assert snapshot(out) == before
        (out / name).unlink()
    stats = out / "stats.json"  # a file wood wrote, edited since: no longer wood's
    stats.write_text(stats.read_text() + " ")
    before = snapshot(out)
    refused(*run_cli(["prep", src, "--out", out, "--seed", "2"], capsys), "stats.json")
    assert snapshot(out) == before


def test_paste_rerun_keeps_a_user_file_one_level_down(tmp_path, capsys):
    src = make_category(tmp_path / "src" / "cat", per_defect=3, good=3, size=64)
    prep, out = tmp_path / "prep", tmp_path / "pasted"
    assert run_cli(["prep", src, "--out", prep], capsys)[0] == 0
    assert run_cli(["paste", prep, "--out", out, "--images", "2"], capsys)[0] == 0
    (out / "yolo" / "my_notes.txt").write_text("mine")
    before = snapshot(out)
    refused(*run_cli(["paste", prep, "--out", out, "--images", "2", "--seed", "1"], capsys), "yolo/my_notes.txt")
    assert snapshot(out) == before


def test_an_output_of_an_older_wood_proves_its_top_level_files_only(tmp_path, capsys):
    """A first-format marker listed top-level names only: what lies in its subfolders cannot be told
    from a user's, so such an output is refused (one line saying so) rather than trusted."""
    src = make_category(tmp_path / "src" / "cat", per_defect=2, good=2)
    out = tmp_path / "out"
    assert run_cli(["prep", src, "--out", out], capsys)[0] == 0
    names = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    (out / MARKER).write_text(json.dumps({"format": OLD_FORMAT, "kind": "prep", "state": "complete", "entries": names}))
    before = snapshot(out)
    refused(*run_cli(["prep", src, "--out", out, "--seed", "1"], capsys), "older wood")
    assert snapshot(out) == before
    flat = tmp_path / "flat"  # only listed top-level files: what the old marker does prove
    flat.mkdir()
    (flat / "a.json").write_text("{}")
    (flat / MARKER).write_text(json.dumps({"format": OLD_FORMAT, "kind": "report", "entries": ["a.json"]}))
    assert foreign_entries(flat, "report") == []


def test_marker_lists_every_path_with_size_and_hash(prep):
    marker = json.loads((prep / MARKER).read_text())
    listed = marker["entries"]
    on_disk = {p.relative_to(prep).as_posix() for p in prep.rglob("*") if p.name != MARKER}
    assert set(listed) == on_disk
    label = next(k for k in listed if k.startswith("yolo/labels/") and k.endswith(".txt"))
    data = (prep / label).read_bytes()
    assert listed[label]["size"] == len(data) and listed[label]["sha256"] == hashlib.sha256(data).hexdigest()
    assert os.path.isdir(prep / "yolo") and listed["yolo"] == {"dir": True}
