"""The run-folder contract (wood/runs.py): one naming policy for every trainer, exist_ok replaces only
wood runs, resume needs a run, metrics.json carries kind + schema, one loader for every kind.

Only the last tests train (one tiny SAM run, 1 step): the SAM resume and eval-from-another-folder bugs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from wood.errors import ConfigError, DataError
from wood.outdir import MARKER
from wood.runs import (
    SCHEMA,
    USER_ENTRIES,
    create_run_dir,
    finish_run_dir,
    guess_kind,
    load_run,
    pick_run_name,
    write_metrics_json,
)


def _marker(folder: Path) -> dict:
    return json.loads((folder / MARKER).read_text(encoding="utf-8"))


def _user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("keep", encoding="utf-8")
    return path


def _finished_run(out: Path, name: str) -> Path:
    run = create_run_dir(out, name)
    (run / "config.yaml").write_text("data: /x\n", encoding="utf-8")
    (run / "weights").mkdir()
    finish_run_dir(run)
    return run


# ---------------------------------------------------------------- naming
def test_pick_run_name_numbers_like_ultralytics():
    assert pick_run_name("detect", []) == "detect"
    assert pick_run_name("detect", ["detect"]) == "detect-2"
    assert pick_run_name("detect", ["detect", "detect-2", "other"]) == "detect-3"
    assert pick_run_name("detect", ["detect-2"]) == "detect"


def test_create_run_dir_numbers_taken_names_and_opens_a_marker(tmp_path):
    first = create_run_dir(tmp_path / "runs", "r")
    second = create_run_dir(tmp_path / "runs", "r")
    (tmp_path / "runs" / "r-3").write_text("a user's file named like a run", encoding="utf-8")
    fourth = create_run_dir(tmp_path / "runs", "r")
    assert [first.name, second.name, fourth.name] == ["r", "r-2", "r-4"]
    assert first.is_absolute()
    marker = _marker(first)
    assert marker["kind"] == "run" and marker["state"] == "building" and marker["open"] is True
    (first / "weights").mkdir()
    finish_run_dir(first)
    marker = _marker(first)
    assert marker["state"] == "complete" and "open" not in marker and list(marker["entries"]) == ["weights"]
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ConfigError, match="plain folder name"):
            create_run_dir(tmp_path / "runs", bad)


def test_every_trainer_names_its_runs_by_the_same_policy(tmp_path):
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.classify.train import run_dir_for
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import prepare_run_dir
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import make_run_dir

    data = tmp_path / "prep"
    data.mkdir()
    yolo = YoloConfig(data=data, out=tmp_path / "yolo")
    assert [make_run_dir(yolo).name for _ in range(3)] == ["detect", "detect-2", "detect-3"]
    assert make_run_dir(replace(yolo, world=True)).name == "world"
    assert [make_run_dir(replace(yolo, name="mine")).name for _ in range(2)] == ["mine", "mine-2"]  # was an error

    sam = SamTrainConfig(data=str(data), model="tiny", out=str(tmp_path / "sam"))
    assert [prepare_run_dir(sam).name for _ in range(3)] == ["tiny-lora", "tiny-lora-2", "tiny-lora-3"]  # was name2

    classify = ClassifyConfig(data=str(data), out=str(tmp_path / "classify"))
    first = run_dir_for(classify)
    first.mkdir(parents=True)
    assert (first.name, run_dir_for(classify).name) == ("simple-cnn-scratch-adam", "simple-cnn-scratch-adam-2")
    assert run_dir_for(replace(classify, exist_ok=True)) == first
    for run in (tmp_path / "yolo" / "detect", tmp_path / "sam" / "tiny-lora"):
        assert _marker(run)["kind"] == "run"


# ---------------------------------------------------------------- exist_ok
def test_exist_ok_replaces_a_wood_run(tmp_path):
    run = _finished_run(tmp_path, "r")
    again = create_run_dir(tmp_path, "r", exist_ok=True)
    assert again == run and sorted(p.name for p in run.iterdir()) == [MARKER]
    assert _marker(run)["open"] is True


def test_exist_ok_refuses_a_user_folder_and_user_files_in_a_run(tmp_path):
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import prepare_run_dir
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import make_run_dir

    mine = _user_folder(tmp_path / "runs" / "mine")
    with pytest.raises(DataError, match="not a wood run output"):
        create_run_dir(tmp_path / "runs", "mine", exist_ok=True)
    with pytest.raises(DataError, match="not a wood run output"):
        make_run_dir(YoloConfig(data=tmp_path / "prep", out=tmp_path / "runs", name="mine", exist_ok=True))
    with pytest.raises(DataError, match="not a wood run output"):
        prepare_run_dir(
            SamTrainConfig(data=str(tmp_path / "prep"), out=str(tmp_path / "runs"), name="mine", exist_ok=True)
        )
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"] and (mine / "thesis.tex").read_text() == "keep"

    run = _finished_run(tmp_path / "runs", "r")
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataError, match="wood did not write"):
        create_run_dir(tmp_path / "runs", "r", exist_ok=True)
    assert (run / "notes.txt").read_text() == "mine" and (run / "config.yaml").is_file()
    (tmp_path / "runs" / "file").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="not a folder"):
        create_run_dir(tmp_path / "runs", "file", exist_ok=True)
    with pytest.raises(ConfigError, match="lies inside the input"):
        create_run_dir(tmp_path / "prep" / "runs", "r", inputs=[tmp_path / "prep"])


@pytest.mark.parametrize("kind", ["yolo", "sam", "classify"])
def test_exist_ok_never_replaces_a_folder_without_a_run_marker(tmp_path, kind):
    """What each trainer wrote before markers (config.yaml + args.yaml ...) is what a user's folder can
    hold too: no marker, no replacing, whatever the names."""
    run = tmp_path / "r"
    run.mkdir()
    files = {
        "yolo": ["config.yaml", "args.yaml", "results.csv"],
        "sam": ["config.yaml", "metrics.json"],
        "classify": ["config.yaml", "metrics.json", "weights.pt", "confusion_test.png"],
    }[kind]
    for name in files:
        (run / name).write_text("adapter: lora\nlora_r: 4\n" if kind == "sam" and name == "config.yaml" else "x")
    if kind != "classify":
        (run / "weights").mkdir()
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(DataError, match="not a wood run output"):
        create_run_dir(tmp_path, "r", exist_ok=True)
    assert sorted(p.name for p in run.iterdir()) == before


def test_a_config_yaml_alone_is_not_a_legacy_sam_run(tmp_path):
    folder = tmp_path / "r"
    (folder / "weights").mkdir(parents=True)
    (folder / "config.yaml").write_text("my: own config\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a wood run output"):
        create_run_dir(tmp_path, "r", exist_ok=True)
    assert (folder / "config.yaml").read_text() == "my: own config\n"


# ---------------------------------------------------------------- resume
def test_resume_needs_an_existing_run_and_keeps_user_files_the_users(tmp_path):
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import check_resume
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import make_run_dir

    with pytest.raises(ConfigError, match="nothing to resume"):
        create_run_dir(tmp_path, "gone", resume=True)
    with pytest.raises(ConfigError, match="exclude each other"):
        create_run_dir(tmp_path, "r", resume=True, exist_ok=True)
    with pytest.raises(ConfigError, match="nothing to resume"):
        make_run_dir(YoloConfig(data=tmp_path / "prep", out=tmp_path, name="gone", resume=True))
    with pytest.raises(ConfigError, match="no checkpoints/last.pt"):
        check_resume(SamTrainConfig(data=str(tmp_path / "prep"), out=str(tmp_path), name="gone", resume=True))
    assert not (tmp_path / "gone").exists()

    run = _finished_run(tmp_path, "r")
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    assert create_run_dir(tmp_path, "r", resume=True) == run
    assert _marker(run)["open"] is True and (run / USER_ENTRIES).is_file()
    (run / "checkpoints").mkdir()  # what the resumed training writes
    finish_run_dir(run)
    assert (
        list(_marker(run)["entries"]) == ["checkpoints", "config.yaml", "weights"] and not (run / USER_ENTRIES).exists()
    )
    with pytest.raises(DataError, match="notes.txt"):  # still the user's: never replaced
        create_run_dir(tmp_path, "r", exist_ok=True)


# ---------------------------------------------------------------- metrics.json and load_run
def test_write_metrics_json_puts_kind_and_schema_first(tmp_path):
    written = write_metrics_json(tmp_path, "sam", {"kind": "stale", "history": []})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == written == {"kind": "sam", "schema": SCHEMA, "history": []} and SCHEMA == 1
    assert list(saved)[:2] == ["kind", "schema"] and not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="kind must be one of"):
        write_metrics_json(tmp_path, "detector", {})


def _fake_run(folder: Path, config: dict, metrics: dict | None, kind: str | None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    if metrics is not None and kind is not None:
        write_metrics_json(folder, kind, metrics)
    elif metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


@pytest.mark.parametrize("kind, weights", [("yolo", "weights/best.pt"), ("sam", "weights"), ("classify", "weights.pt")])
def test_load_run_reads_the_kind_from_metrics_never_guessing(tmp_path, kind, weights):
    data = tmp_path / "prep"
    misleading = {"data": str(data), "task": "detect", "world": False}  # yolo keys, whatever the kind
    run = load_run(_fake_run(tmp_path / "r", misleading, {"x": 1}, kind))
    assert (run.kind, run.schema, run.weights, run.data) == (kind, SCHEMA, run.path / weights, data)
    assert run.usable and run.problems == [] and run.config["task"] == "detect" and run.metrics["x"] == 1

    from wood.reporting.runs import load_run as report_load_run

    assert report_load_run(run.path).kind == kind


@pytest.mark.parametrize(
    "kind, config, metrics",
    [
        ("yolo", {"task": "detect", "world": False}, {"task": "detect", "val": {}}),
        ("sam", {"adapter": "lora", "lora_r": 4}, {"params": {}, "history": []}),
        ("classify", {"arch": "resnet18", "strategy": "scratch"}, {"phases": []}),
        ("sam", {}, {"params": {}, "history": []}),
    ],
)
def test_load_run_guesses_the_kind_of_runs_written_before_it(tmp_path, kind, config, metrics):
    run = load_run(_fake_run(tmp_path / "r", {**config, "data": "rel/prep"}, metrics, None))
    assert run.kind == kind == guess_kind(config, metrics) and run.schema is None and run.usable
    assert run.data == (Path.cwd() / "rel" / "prep").resolve()  # legacy relative data: as before, from the cwd


def test_load_run_prefers_the_absolute_dataset_and_records_problems(tmp_path):
    config = {"task": "detect", "world": False, "data": "prep"}
    run = _fake_run(tmp_path / "y", config, {"task": "detect", "val": {}}, None)
    (run / "run_info.json").write_text(json.dumps({"data": str(tmp_path / "prep"), "classes": ["a"]}), encoding="utf-8")
    loaded = load_run(run)
    assert loaded.data == tmp_path / "prep" and loaded.info["classes"] == ["a"]

    broken = _fake_run(tmp_path / "b", {}, None, None)
    (broken / "metrics.json").write_text("{not json", encoding="utf-8")
    loaded = load_run(broken)
    assert loaded.metrics is None and not loaded.usable
    assert loaded.problems[0].startswith("metrics.json is not readable JSON (JSONDecodeError")
    odd = _fake_run(tmp_path / "o", {}, {"kind": "detector"}, None)
    assert load_run(odd).kind == "unknown" and "unknown kind 'detector'" in load_run(odd).problems[0]
    with pytest.raises(DataError, match="run folder does not exist"):
        load_run(tmp_path / "nope")


def test_eval_loaders_refuse_a_run_of_another_kind(tmp_path):
    from wood.finetune.sam.run import read_run as read_sam_run
    from wood.finetune.yolo.run import read_run as read_yolo_run

    sam = _fake_run(tmp_path / "s", {"adapter": "lora", "lora_r": 4}, {"history": []}, "sam")
    with pytest.raises(DataError, match="this is a sam run, not a YOLO run"):
        read_yolo_run(sam)
    yolo = _fake_run(tmp_path / "y", {"task": "detect"}, {"val": {}}, "yolo")
    with pytest.raises(ConfigError, match="this is a yolo run, not a SAM run"):
        read_sam_run(yolo)


# ---------------------------------------------------------------- a real (tiny) SAM run: bugs 1 and 2
@pytest.fixture(scope="module")
def sam_run(tmp_path_factory):
    """A tiny SAM run started from a folder with a relative --data and --checkpoint (1 step)."""
    import torch
    from _sam_fixtures import make_prep_dataset

    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.models import build_sam
    from wood.finetune.sam.train import train

    home = tmp_path_factory.mktemp("runs_home")
    make_prep_dataset(home / "prep", size=96, counts={"train": (1, 0), "test": (1, 1)})
    torch.manual_seed(0)
    torch.save(build_sam("tiny").state_dict(), home / "ck.pth")
    cfg = SamTrainConfig(
        data="prep",
        checkpoint="ck.pth",
        model="tiny",
        epochs=1,
        max_steps=1,
        out="runs",
        name="r",
        device="cpu",
        val_split="none",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        run = train(cfg)
    return {"home": home, "cfg": cfg, "run": run}


@pytest.mark.slow
def test_sam_run_records_absolute_paths_kind_and_leaves_the_callers_config_alone(sam_run):
    home, cfg, run = sam_run["home"], sam_run["cfg"], sam_run["run"]
    assert (cfg.data, cfg.checkpoint) == ("prep", "ck.pth")  # not mutated by train()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["data"], saved["checkpoint"]) == (str((home / "prep").resolve()), str((home / "ck.pth").resolve()))
    loaded = load_run(run)
    assert (loaded.kind, loaded.schema, loaded.data) == ("sam", SCHEMA, (home / "prep").resolve())
    assert loaded.metrics["data"] == saved["data"] and _marker(run)["state"] == "complete"


@pytest.mark.slow
def test_bug1_resume_with_the_same_checkpoint_is_not_a_mismatch(sam_run, monkeypatch):
    from wood.finetune.sam.train import train

    monkeypatch.chdir(sam_run["home"])
    again = train(replace(sam_run["cfg"], resume=True))  # the identical command line, plus --resume
    assert again == sam_run["run"]
    assert _marker(again)["state"] == "complete" and not (again / USER_ENTRIES).exists()


@pytest.mark.slow
def test_bug2_eval_segment_from_another_folder_finds_the_dataset(sam_run, tmp_path, monkeypatch):
    from wood.eval.segment.evaluate import evaluate

    monkeypatch.chdir(tmp_path)  # `wood eval segment --run /abs/run` from anywhere
    result = evaluate(sam_run["run"], "test", out=tmp_path / "ev", overlays=0, device="cpu")
    assert result["images"] == 4 and Path(result["data"]) == (sam_run["home"] / "prep").resolve()
    assert (tmp_path / "ev" / "segment_metrics.json").is_file()


def test_evaluations_written_into_a_run_are_its_own(tmp_path):
    """`wood eval` writes eval-<split>/ into the run: --exist-ok may still replace the run, a user file not."""
    from wood.outdir import check_replaceable, foreign_entries, write_marker
    from wood.runs import claim_in_run, create_run_dir, finish_run_dir

    run = create_run_dir(tmp_path / "runs", "detect")
    (run / "weights").mkdir()
    finish_run_dir(run)
    (run / "eval-test").mkdir()
    (run / "eval-test" / "eval_detect.json").write_text("{}")
    write_marker(run / "eval-test", "eval-detect")
    claim_in_run(run / "eval-test", "eval-detect")
    assert foreign_entries(run, "run") == []
    check_replaceable(run, "run")
    (run / "eval-test" / "mine.txt").write_text("mine")  # inside the nested output: still the user's
    assert foreign_entries(run, "run") == ["eval-test/mine.txt"]
    (run / "eval-test" / "mine.txt").unlink()
    (run / "notes.txt").write_text("mine")
    assert foreign_entries(run, "run") == ["notes.txt"]
    elsewhere = tmp_path / "user"
    elsewhere.mkdir()
    claim_in_run(elsewhere / "eval-test", "eval-detect")  # not a run folder: nothing is written there
    assert list(elsewhere.iterdir()) == []
