"""reporting/classify.py: a classification run's approach, headline and the best run (test accuracy, then
val accuracy, then name), read from run folders written here."""

from __future__ import annotations

import json

from wood.reporting.classify import approach, best_run, headline
from wood.reporting.format import DASH
from wood.reporting.runs import load_run


def write_run(folder, test_acc, val_acc=None, config: str = "arch: small_cnn\nstrategy: scratch\n"):
    folder.mkdir()
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    metrics = {"kind": "classify", "schema": 1}
    if test_acc is not None:
        metrics["test"] = {"acc": test_acc}
    if val_acc is not None:
        metrics["val"] = {"acc": val_acc}
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return load_run(folder)


def test_approach_and_headline(tmp_path):
    run = write_run(tmp_path / "c1", 0.8766)
    assert approach(run) == "classify small_cnn scratch"
    assert headline(run) == ("test accuracy", "87.7%", "test")
    bare = write_run(tmp_path / "c2", None, config="epochs: 1\n")
    assert approach(bare) == "classify ?"
    assert headline(bare) == ("test accuracy", DASH, "test")


def test_best_run_breaks_ties_by_val_then_name(tmp_path):
    a = write_run(tmp_path / "a", 0.9, 0.5)
    b = write_run(tmp_path / "b", 0.9, 0.7)
    c = write_run(tmp_path / "c", 0.8, 0.99)
    d = write_run(tmp_path / "d", 0.9, 0.7)
    none = write_run(tmp_path / "e", None)
    assert best_run([a, b, c]).name == "b"
    assert best_run([b, d, a]).name == "d"  # same test and val: the last name
    assert best_run([c, none]).name == "c"
    assert best_run([none]) is None and best_run([]) is None
