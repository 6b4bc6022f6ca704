"""YoloConfig validation, --balance repeat factors, weights resolution and CLI errors (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _yolo_fixtures import wood_home  # noqa: F401 - pytest fixture

from wood.config import build_config
from wood.errors import ConfigError, WeightsError
from wood.finetune.yolo.balance import class_repeat, image_repeats, write_balanced_list
from wood.finetune.yolo.config import YoloConfig
from wood.weights import resolve_weights


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "classify"}, "task must be one of"),
        ({"imgsz": 100}, "multiple of 32"),
        ({"epochs": 0}, "epochs must be"),
        ({"batch": 0}, "batch must be"),
        ({"resume": True}, "resume needs --name"),
        ({"prompts": "p.yaml"}, "only apply to YOLO-World"),
        ({"world": True, "task": "segment"}, "detection only"),
        ({"text_encoder": "bert"}, "text_encoder must be"),
        ({"name": "a/b"}, "plain folder name"),
    ],
)
def test_bad_config_values_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(YoloConfig, None, data="prep", **overrides)


def test_config_file_with_unknown_key(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("data: prep\nepoch: 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        build_config(YoloConfig, tmp_path / "c.yaml")


def test_defaults_suit_1024_wood_images():
    cfg = YoloConfig(data=Path("prep"))
    assert cfg.imgsz == 1024 and cfg.data_subdir == "yolo"
    assert YoloConfig(data=Path("p"), task="segment").data_subdir == "yolo-seg"


def test_balance_repeats_rare_classes():
    images = [{0}, {0}, {0}, {0}, {0}, {1}, {1}, {2}, set(), {0, 2}]
    # freq: 0 -> 6, 1 -> 2, 2 -> 2; repeat = 6/freq rounded half up, capped at 4
    assert class_repeat(images, 4) == {0: 1, 1: 3, 2: 3}
    assert image_repeats(images, 4) == [1, 1, 1, 1, 1, 3, 3, 3, 1, 3]
    assert image_repeats(images, 2) == [1, 1, 1, 1, 1, 2, 2, 2, 1, 2]
    assert image_repeats([set(), set()], 4) == [1, 1]


def test_write_balanced_list(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for stem, label in [
        ("a", "0 .5 .5 .1 .1\n0 .2 .2 .1 .1"),
        ("b", "0 .5 .5 .1 .1"),
        ("c", "1 .5 .5 .1 .1"),
        ("d", ""),
    ]:
        (tmp_path / "images" / f"{stem}.png").write_bytes(b"")
        (tmp_path / "labels" / f"{stem}.txt").write_text(label)
    summary = write_balanced_list(tmp_path / "images", tmp_path / "labels", tmp_path / "list.txt", 4)
    names = [Path(line).stem for line in (tmp_path / "list.txt").read_text().split()]
    assert names == ["a", "b", "c", "c", "d"] and summary["images_balanced"] == 5


def test_weights_existing_path_is_used_as_is(tmp_path: Path):
    w = tmp_path / "my.pt"
    w.write_bytes(b"x")
    assert resolve_weights(str(w), []) == w.resolve()


def test_weights_name_found_in_search_dir(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "yolov8n.pt").write_bytes(b"x")
    assert resolve_weights("yolov8n.pt", [tmp_path / "a", tmp_path / "b"]) == (tmp_path / "b" / "yolov8n.pt").resolve()


def test_weights_absent_is_one_line_with_where_and_alternative(tmp_path: Path):
    with pytest.raises(WeightsError) as info:
        resolve_weights("yolov8n.pt", [tmp_path / "w"], hint="use --model yolov8n.yaml to train from scratch")
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "w") in msg and "yolov8n.yaml" in msg


def test_weights_missing_path_never_falls_back_to_search(tmp_path: Path):
    (tmp_path / "yolov8n.pt").write_bytes(b"x")
    with pytest.raises(WeightsError, match="does not exist"):
        resolve_weights(str(tmp_path / "typo" / "yolov8n.pt"), [tmp_path])


def test_weights_download_only_when_asked(tmp_path: Path):
    calls = []

    def fake_download(name: str, folder: Path) -> Path:
        calls.append(name)
        (folder / name).write_bytes(b"x")
        return folder / name

    assert resolve_weights("yolo11n.pt", [tmp_path / "w"], download=fake_download).name == "yolo11n.pt"
    assert calls == ["yolo11n.pt"]


def test_cli_missing_pretrained_weights_exit_2_one_line(prepared: Path, tmp_path: Path, capsys, wood_home):  # noqa: F811
    from wood.cli import main

    with pytest.raises(SystemExit) as info:
        main(["finetune", "yolo", "--data", str(prepared), "--model", "yolov8n.pt", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0
    assert "yolov8n.pt not found" in err and "yolov8n.yaml" in err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_cli_missing_prep_folder_exit_2(tmp_path: Path, capsys):
    from wood.cli import main

    with pytest.raises(SystemExit) as info:
        main(["finetune", "yolo", "--data", str(tmp_path / "nope"), "--model", "yolov8n.yaml"])
    assert info.value.code == 2 and "run `wood prep` first" in capsys.readouterr().err


def test_world_without_its_module_is_a_config_error_or_delegates(
    prepared: Path, tmp_path: Path, monkeypatch, wood_home
):  # noqa: F811
    """--world hands off to wood.finetune.yolo.world.train_world(cfg, data_yaml, run_dir)."""
    import sys
    import types

    from wood.finetune.yolo.train import train

    seen = {}

    def fake_train_world(cfg, data_yaml, run_dir):
        seen.update(cfg=cfg, data_yaml=data_yaml, run_dir=run_dir)
        raise ConfigError("stop here")

    monkeypatch.setitem(sys.modules, "wood.finetune.yolo.world", types.SimpleNamespace(train_world=fake_train_world))
    cfg = YoloConfig(data=prepared, model="yolov8s-worldv2.yaml", world=True, out=tmp_path, imgsz=64, epochs=1)
    with pytest.raises(ConfigError, match="stop here"):
        train(cfg)
    assert seen["data_yaml"] == seen["run_dir"] / "data.yaml" and seen["cfg"] == cfg  # a copy: data made absolute


def test_eval_corrupt_checkpoint_is_a_weights_error(prepared: Path, tmp_path: Path, wood_home):  # noqa: F811
    from wood.eval.detect.evaluate import evaluate

    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"not a checkpoint")
    (run / "config.yaml").write_text(f"data: {prepared}\ntask: detect\nimgsz: 64\n")
    with pytest.raises(WeightsError, match="cannot load checkpoint"):
        evaluate(run, "test")
    with pytest.raises(WeightsError, match="no weights/best.pt"):
        evaluate(tmp_path, "test")


def test_train_kwargs_nbs_follows_batch_and_train_args_are_checked(tmp_path: Path, wood_home):  # noqa: F811
    from wood.finetune.yolo.model import train_kwargs
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    run = tmp_path / "runs" / "r"
    kw = train_kwargs(YoloConfig(data=tmp_path, batch=8, train_args={"mosaic": 0.5}), tmp_path / "d.yaml", run)
    assert kw["nbs"] == 8 and kw["mosaic"] == 0.5 and kw["project"] == str(run.parent) and kw["name"] == "r"
    assert train_kwargs(YoloConfig(data=tmp_path, batch=8, nbs=64), tmp_path / "d.yaml", run)["nbs"] == 64
    with pytest.raises(ConfigError, match="unknown Ultralytics argument"):
        train_kwargs(YoloConfig(data=tmp_path, train_args={"mosaik": 1}), tmp_path / "d.yaml", run)
    with pytest.raises(ConfigError, match="may not set"):
        train_kwargs(YoloConfig(data=tmp_path, train_args={"epochs": 3}), tmp_path / "d.yaml", run)
