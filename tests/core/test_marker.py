"""wood/marker.py: what a `.wood-output.json` proves. A path is wood's only while it is listed and still
matches (by inode+mtime, else by its bytes); anything else under the folder is the user's."""

from __future__ import annotations

import json
import os

from wood.marker import MARKER, nested_outputs, prove, read_marker, write_marker


def make_output(folder, kind: str = "prep"):
    (folder / "yolo" / "labels").mkdir(parents=True)
    (folder / "manifest.json").write_text("{}\n")
    (folder / "yolo" / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    write_marker(folder, kind)
    return folder


def test_a_fresh_output_proves_itself(tmp_path):
    out = make_output(tmp_path / "p")
    marker = read_marker(out)
    assert marker["format"] == "wood-output/2" and marker["kind"] == "prep" and marker["state"] == "complete"
    assert sorted(marker["entries"]) == ["manifest.json", "yolo", "yolo/labels", "yolo/labels/a.txt"]
    assert marker["entries"]["yolo"] == {"dir": True}
    proof = prove(out, "prep")
    assert (proof.marked, proof.foreign, proof.why) == (True, [], None)
    assert prove(out, "report").marked is False  # another kind's marker proves nothing
    assert prove(tmp_path, "prep").marked is False  # no marker


def test_user_files_and_edits_are_foreign(tmp_path):
    out = make_output(tmp_path / "p")
    (out / "notes.txt").write_text("mine")
    (out / "yolo" / "labels" / "a.txt").write_text("1 0.5 0.5 0.1 0.1\n")  # same size, other bytes
    (out / "empty").mkdir()
    assert prove(out, "prep").foreign == ["empty", "notes.txt", "yolo/labels/a.txt"]


def test_same_bytes_rewritten_are_still_wood_s(tmp_path):
    out = make_output(tmp_path / "p")
    path = out / "manifest.json"
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)  # a new inode and mtime: the bytes decide
    assert prove(out, "prep").foreign == []


def test_engine_caches_and_dead_staging_siblings_are_the_output_s(tmp_path):
    out = make_output(tmp_path / "p")
    (out / "yolo" / "labels" / "train.cache").write_bytes(b"ultralytics")
    dead = 2**22 + 12345  # above any pid_max: no such process
    (out / f".wood-tmp-{'a' * 12}-{dead}-1").mkdir()
    (out / f".wood-old-{'b' * 12}-{os.getpid()}-1").write_text("live writer's")
    assert prove(out, "prep").foreign == [f".wood-old-{'b' * 12}-{os.getpid()}-1"]
    assert prove(out, "report").marked is False


def test_a_nested_output_proves_itself(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    make_output(run / "eval-test", kind="eval-detect")
    write_marker(run, "yolo-run", outputs={"eval-test": "eval-detect"})
    assert nested_outputs(read_marker(run)) == {"eval-test": "eval-detect"}
    assert prove(run, "yolo-run").foreign == []
    (run / "eval-test" / "extra.txt").write_text("mine")
    assert prove(run, "yolo-run").foreign == ["eval-test/extra.txt"]


def test_an_open_output_of_a_dead_writer_is_unfinished(tmp_path):
    out = make_output(tmp_path / "p")
    marker = json.loads((out / MARKER).read_text())
    marker.update({"open": True, "pid": 2**22 + 54321, "fills": []})
    (out / MARKER).write_text(json.dumps(marker))
    (out / "half.bin").write_bytes(b"left by a killed writer, or added by the user")
    proof = prove(out, "prep")
    assert (proof.foreign, proof.why) == (["half.bin"], "unfinished")


def test_old_format_proves_top_level_files_only(tmp_path):
    out = tmp_path / "old"
    (out / "sub").mkdir(parents=True)
    (out / "a.json").write_text("{}")
    (out / MARKER).write_text(json.dumps({"format": "wood-output/1", "kind": "prep", "entries": ["a.json", "sub"]}))
    proof = prove(out, "prep")
    assert (proof.marked, proof.foreign, proof.why) == (True, ["sub"], "old")
