"""Nothing a user owns is ever lost: wood replaces only folders it can prove it wrote, swaps them
in one step, recovers what a killed run left, lets one writer at a time at a destination, and
takes its worker processes down with it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _mvtec_fixtures import make_category

from wood.cli import main
from wood.errors import ConfigError, DataError
from wood.outdir import MARKER, atomic_output, exchange


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    return exc.value.code or 0, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_wood(args: list[str], patch: str = "", **popen) -> subprocess.Popen:
    """`wood ARGS` in a child process, after running the Python ``patch`` (fault injection)."""
    code = "import sys\n" + textwrap.dedent(patch) + "\nfrom wood.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def complete_prep(out: Path) -> dict:
    """The manifest of a complete prep output at ``out`` (every listed image is there, byte-exact)."""
    manifest = json.loads((out / "manifest.json").read_text())
    for image in manifest["images"]:
        data = (out / "yolo" / "images" / image["split"] / image["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == image["sha256"]
    assert json.loads((out / MARKER).read_text())["kind"] == "prep"
    return manifest


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    return make_category(tmp_path / "src" / "cat", per_defect=4, good=2)


# ---------------------------------------------------------------- ownership
def test_demo_force_never_deletes_a_folder_with_a_data_subfolder(tmp_path, capsys):
    mine = tmp_path / "thesis"
    (mine / "data").mkdir(parents=True)
    (mine / "src").mkdir()
    (mine / "src" / "thesis.tex").write_text("chapter 1")
    before = snapshot(mine)
    code, err = run_cli(["demo", "--out", str(mine), "--force"], capsys)
    assert code == 2 and "not a wood demo output" in err and len(err.strip().splitlines()) == 1
    assert snapshot(mine) == before


def test_prep_never_replaces_a_folder_that_merely_has_a_manifest(cat, tmp_path, capsys):
    webapp = tmp_path / "webapp"
    webapp.mkdir()
    (webapp / "manifest.json").write_text('{"name": "my app"}')
    (webapp / "background.js").write_text("chrome.runtime")
    before = snapshot(webapp)
    code, err = run_cli(["prep", str(cat), "--out", str(webapp)], capsys)
    assert code == 2 and "not a wood prep output" in err
    assert snapshot(webapp) == before


def test_prep_refuses_an_out_that_holds_its_source(cat, tmp_path, capsys):
    parent = cat.parent  # tmp/src, holding the category
    assert run_cli(["prep", str(cat), "--out", str(tmp_path / "p")], capsys)[0] == 0
    # an older prep output that the user put the source into
    (tmp_path / "p" / "cat2").mkdir()
    before = snapshot(cat)
    for out in (parent, tmp_path):
        code, err = run_cli(["prep", str(cat), "--out", str(out)], capsys)
        assert code == 2 and "holds the input" in err, err
    code, err = run_cli(["prep", str(cat), "--out", str(cat / "prepared")], capsys)
    assert code == 2 and "inside the input" in err
    assert snapshot(cat) == before


def test_source_inside_an_old_prep_output_is_kept(cat, tmp_path, capsys):
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    moved = out / "cat"
    cat.rename(moved)  # `wood prep p/cat --out p`
    before = snapshot(moved)
    code, err = run_cli(["prep", str(moved), "--out", str(out)], capsys)
    assert code == 2 and "holds the input" in err
    assert snapshot(moved) == before


def test_a_file_the_user_added_to_a_prep_output_blocks_replacing_it(cat, tmp_path, capsys):
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    (out / "notes.txt").write_text("my notes")
    code, err = run_cli(["prep", str(cat), "--out", str(out), "--seed", "3"], capsys)
    assert code == 2 and "notes.txt" in err
    assert (out / "notes.txt").read_text() == "my notes"


def test_a_prep_output_without_a_marker_is_never_replaced(cat, tmp_path, capsys):
    """Its manifest format and entry names prove nothing: a user's copy looks the same."""
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    (out / MARKER).unlink()
    before = snapshot(out)
    code, err = run_cli(["prep", str(cat), "--out", str(out), "--seed", "3"], capsys)
    assert code == 2 and "not a wood prep output" in err and len(err.strip().splitlines()) == 1
    assert snapshot(out) == before


def test_a_long_out_name_works_and_an_impossible_parent_is_one_line(cat, tmp_path, capsys):
    out = tmp_path / ("n" * 250)
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    complete_prep(out)
    (tmp_path / "afile").write_text("x")
    for bad in (tmp_path / "afile" / "out", Path("/proc/wood-out")):
        code, err = run_cli(["prep", str(cat), "--out", str(bad)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert (tmp_path / "afile").read_text() == "x"


def test_check_not_input_resolves_symlinks(tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="holds the input"):
        with atomic_output(tmp_path / "link", "prep", inputs=[src]):
            pass


# ---------------------------------------------------------------- the swap and left-overs
def test_swap_is_one_step_on_this_machine(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    assert exchange(a, b)
    assert (b / "x").read_text() == "a" and not (a / "x").exists()


PATCH_KILL_AFTER_EXCHANGE = """
import os, signal
import wood.outdir as o
o.remove_tree = lambda path: os.kill(os.getpid(), signal.SIGKILL)
"""

PATCH_TWO_RENAMES_KILLED_BETWEEN = """
import os, signal
from pathlib import Path
import wood.outdir as o
o.exchange = lambda a, b: False
real = Path.rename
def rename(self, target):
    result = real(self, target)
    if ".wood-old-" in Path(target).name:
        os.kill(os.getpid(), signal.SIGKILL)
    return result
Path.rename = rename
"""

PATCH_DISK_FULL_WHILE_WRITING = """
import errno
import wood.prep.pipeline as p
def full(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device", "label.txt")
p.write_tree = full
"""


def test_sigkill_after_the_swap_leaves_the_new_output_and_a_rerun_tidies(cat, tmp_path, capsys):
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    proc = run_wood(["prep", str(cat), "--out", str(out), "--seed", "7"], PATCH_KILL_AFTER_EXCHANGE)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert complete_prep(out)["seed"] == 7
    assert len(list(tmp_path.glob(".wood-tmp-*"))) == 1  # the previous output, marked as wood's
    assert run_cli(["prep", str(cat), "--out", str(out), "--seed", "8"], capsys)[0] == 0
    assert complete_prep(out)["seed"] == 8
    assert not list(tmp_path.glob(".wood-*"))


def test_killed_between_two_renames_the_old_output_is_recovered_not_deleted(cat, tmp_path, capsys):
    """Where no one-step exchange exists: a kill between the renames leaves the old copy aside;
    the next run puts it back first, even when that run itself fails (disk full)."""
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    before = snapshot(out)
    proc = run_wood(["prep", str(cat), "--out", str(out), "--seed", "7"], PATCH_TWO_RENAMES_KILLED_BETWEEN)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    proc = run_wood(["prep", str(cat), "--out", str(out), "--seed", "9"], PATCH_DISK_FULL_WHILE_WRITING)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "No space left" in err
    assert snapshot(out) == before


@pytest.mark.slow
def test_sigkill_at_any_instant_leaves_old_or_new_complete_output(tmp_path, capsys):
    cat = make_category(tmp_path / "src" / "cat", per_defect=12, good=6, size=96)
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out), "--workers", "1"], capsys)[0] == 0
    seeds = set()
    for i, delay in enumerate((0.5, 1.0, 1.5, 2.0, 2.5, 3.0)):
        proc = run_wood(["prep", str(cat), "--out", str(out), "--seed", str(10 + i), "--workers", "1"])
        time.sleep(delay)
        proc.kill()
        proc.communicate()
        seeds.add(complete_prep(out)["seed"])  # old or new, never missing or mixed
    assert run_cli(["prep", str(cat), "--out", str(out), "--seed", "99", "--workers", "1"], capsys)[0] == 0
    assert complete_prep(out)["seed"] == 99 and not list(tmp_path.glob(".wood-*"))


# ---------------------------------------------------------------- concurrent writers
def slow_patch(function: str, seconds: float) -> str:
    """A `run_wood` patch: wood.prep.pipeline's ``function`` sleeps ``seconds`` before each call."""
    return f"""
import time
import wood.prep.pipeline as p
real = p.{function}
def slow(*a, **k):
    time.sleep({seconds})
    return real(*a, **k)
p.{function} = slow
"""


PATCH_SLOW_WRITE = slow_patch("write_tree", 4)


def test_a_second_writer_on_one_out_stops_with_one_line(cat, tmp_path):
    out = tmp_path / "p"
    first = run_wood(["prep", str(cat), "--out", str(out), "--seed", "1"], PATCH_SLOW_WRITE)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".wood-tmp-*")) and time.time() < deadline:  # first is inside its swap
        time.sleep(0.05)
    second = run_wood(["prep", str(cat), "--out", str(out), "--seed", "2"])
    _, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and "another wood process" in err2 and len(err2.strip().splitlines()) == 1
    assert complete_prep(out)["seed"] == 1
    assert not list(tmp_path.glob(".wood-*"))


def test_another_live_process_temporary_folder_is_never_touched(cat, tmp_path, capsys):
    out = tmp_path / "p"
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stem = next(tmp_path.glob(".wood-lock-*"), None)
        assert stem is None  # the lock is released after a run
        from wood.outdir import _key

        live = tmp_path / f".wood-tmp-{_key(out)}-{sleeper.pid}-abc"
        live.mkdir()
        (live / MARKER).write_text(json.dumps({"format": "wood-output/1", "kind": "prep", "state": "building"}))
        assert run_cli(["prep", str(cat), "--out", str(out), "--seed", "4"], capsys)[0] == 0
        assert live.is_dir() and (live / MARKER).is_file()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_concurrent_preps_never_crash(cat, tmp_path):
    """Both start at once: each either writes a complete output or stops with one line."""
    out = tmp_path / "p"
    procs = [run_wood(["prep", str(cat), "--out", str(out), "--seed", str(s)]) for s in (1, 2, 3)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode in (0, 2) and "Traceback" not in err, err
        if proc.returncode == 2:
            assert "another wood process" in err
    assert complete_prep(out)["seed"] in (1, 2, 3)


# ---------------------------------------------------------------- worker processes
PATCH_SLOW_READ = slow_patch("process_sample", 0.5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_die_with_a_killed_prep(tmp_path, sig):
    import psutil  # a dependency of accelerate and ultralytics

    cat = make_category(tmp_path / "src" / "cat", per_defect=10, good=0)
    proc = run_wood(["prep", str(cat), "--out", str(tmp_path / "p"), "--workers", "2"], PATCH_SLOW_READ)
    parent = psutil.Process(proc.pid)
    deadline, workers = time.time() + 60, []
    while len(workers) < 2 and time.time() < deadline:
        workers = parent.children(recursive=True)
        time.sleep(0.1)
    assert len(workers) >= 2, "the read phase did not start worker processes"
    os.kill(proc.pid, sig)
    proc.communicate(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived their parent: {[w.pid for w in alive]}"
    assert not (tmp_path / "p").exists()


def test_synth_and_demo_refuse_to_overwrite_what_they_did_not_write(tmp_path):
    from wood.cli.demo import run_demo

    mvtec = tmp_path / "mvtec" / "wood"
    (mvtec / "train" / "good").mkdir(parents=True)
    (mvtec / "train" / "good" / "000.png").write_bytes(b"real")
    from wood.prep.synth.write import write_synth

    with pytest.raises(DataError):
        write_synth(mvtec, size=64, per_defect=1, good=1, train_good=1, exist_ok=True)
    assert (mvtec / "train" / "good" / "000.png").read_bytes() == b"real"
    with pytest.raises(DataError, match="not a wood demo output"):
        run_demo(tmp_path / "mvtec", force=True)
    assert (mvtec / "train" / "good" / "000.png").read_bytes() == b"real"


def test_a_source_image_changed_during_prep_stops_instead_of_mislabelling(cat, tmp_path, capsys, monkeypatch):
    import wood.prep.pipeline as pipeline

    real = pipeline.write_tree
    victim = cat / "test" / "hole" / "000.png"

    def overwrite_then_write(*args, **kwargs):  # after the images were hashed and annotated, before the copy
        victim.write_bytes((cat / "test" / "hole" / "001.png").read_bytes())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_tree", overwrite_then_write)
    code, err = run_cli(["prep", str(cat), "--out", str(tmp_path / "p"), "--workers", "1"], capsys)
    assert code == 2 and "changed while wood prep was running" in err and "000.png" in err
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".wood-*"))


def test_report_never_writes_into_a_folder_of_user_pictures(tmp_path, capsys):
    photos = tmp_path / "holiday"
    (photos / "images").mkdir(parents=True)
    (photos / "images" / "beach.png").write_bytes(b"\x89PNG my photo")
    before = snapshot(photos)
    code, err = run_cli(["report", str(tmp_path / "runs"), "--out", str(photos)], capsys)
    assert code == 2 and "not a wood report output" in err
    assert snapshot(photos) == before


def test_outputs_nested_in_a_demo_leave_no_foreign_entries(tmp_path):
    """A killed nested write (a report inside a demo folder) leaves .wood-* siblings; they are wood's."""
    from wood.outdir import foreign_entries, write_marker

    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "report").mkdir()
    write_marker(demo, "demo")
    (demo / ".wood-tmp-0123456789ab-99999999-abc").mkdir()
    (demo / ".wood-lock-0123456789ab").write_text("")
    (demo / "notes.txt").write_text("mine")
    assert foreign_entries(demo, "demo") == ["notes.txt"]


def test_a_temporary_folder_killed_before_its_marker_is_tidied(cat, tmp_path, capsys):
    from wood.outdir import _key

    out = tmp_path / "p"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    empty = tmp_path / f".wood-tmp-{_key(out)}-{dead.stdout.strip()}-abc"
    empty.mkdir()
    assert run_cli(["prep", str(cat), "--out", str(out)], capsys)[0] == 0
    assert not empty.exists()
