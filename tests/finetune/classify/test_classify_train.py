"""`wood finetune classify` / `eval classify`: every strategy for one epoch on tiny data, offline."""

from __future__ import annotations

import json

import pytest
import torch
from _classify_fixtures import write_classify_tree, write_fake_resnet18

from wood.finetune.classify.config import ClassifyConfig
from wood.finetune.classify.data import epoch_order
from wood.finetune.classify.models import RESNET18_FILE, build_model
from wood.finetune.classify.train import configure_phase, plan_phases, train
from wood.torchutil import count_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify_tiny")
    data = write_classify_tree(root / "prep", size=40)
    state = write_fake_resnet18(root / "fake_resnet18.pth")
    return {"data": data, "weights": root / "fake_resnet18.pth", "state": state, "root": root}


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def _cfg(tiny, tmp_path, **kw):
    return ClassifyConfig(data=str(tiny["data"]), epochs=1, imgsz=32, batch=8, device="cpu", out=str(tmp_path), **kw)


def _saved(run):
    return torch.load(run / "weights.pt", map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("arch, optimizer", [("simple-cnn", "sgd"), ("resnet18", "adam")])
def test_scratch_one_epoch_writes_run_folder(tiny, tmp_path, arch, optimizer):
    run = train(_cfg(tiny, tmp_path, arch=arch, optimizer=optimizer))
    assert sorted(p.name for p in run.iterdir()) == [
        ".wood-output.json",
        "config.yaml",
        "confusion_test.png",
        "confusion_val.png",
        "metrics.json",
        "weights.pt",
    ]
    m = json.loads((run / "metrics.json").read_text())
    assert [m[s]["n"] for s in ("train", "val", "test")] == [18, 6, 12]
    assert set(m["test"]["per_class"]) == {"color", "combined", "good", "hole", "liquid", "scratch"}
    assert 0.0 <= m["test"]["acc"] <= 1.0 and m["seed"] == 0
    assert (m["kind"], m["schema"], m["data"]) == ("classify", 1, str(tiny["data"].resolve()))
    assert m["phases"][0]["trainable_params"] == m["phases"][0]["total_params"]


def test_transfer_trains_only_the_head(tiny, tmp_path):
    run = train(_cfg(tiny, tmp_path, arch="resnet18", strategy="transfer", weights=str(tiny["weights"])))
    m = json.loads((run / "metrics.json").read_text())
    assert [p["name"] for p in m["phases"]] == ["transfer"]
    assert m["phases"][0]["trainable_params"] == 512 * 6 + 6 < m["phases"][0]["total_params"]
    saved, fake = _saved(run), tiny["state"]
    assert torch.equal(saved["conv1.weight"], fake["conv1.weight"])
    assert torch.equal(saved["layer2.0.bn1.running_mean"], fake["layer2.0.bn1.running_mean"])  # frozen BN stats
    assert m["pretrained"]["path"] == str(tiny["weights"])


def test_finetune_unfreezes_everything_at_the_lower_lr(tiny, tmp_path):
    cfg = _cfg(
        tiny,
        tmp_path,
        arch="resnet18",
        strategy="finetune",
        finetune_epochs=1,
        finetune_lr=1e-4,
        weights=str(tiny["weights"]),
    )
    phases = plan_phases(cfg)
    assert [(p.name, p.lr, p.head_only) for p in phases] == [("transfer", 1e-3, True), ("finetune", 1e-4, False)]
    model = build_model("resnet18", 6)
    configure_phase(model, phases[0], cfg)
    optimizer = configure_phase(model, phases[1], cfg)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4]
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == count_params(model)

    run = train(cfg)
    m = json.loads((run / "metrics.json").read_text())
    second = m["phases"][1]
    assert second["lr"] == 1e-4 and second["trainable_params"] == second["total_params"] > 11_000_000
    assert not torch.equal(_saved(run)["conv1.weight"], tiny["state"]["conv1.weight"])  # the backbone moved


@pytest.mark.parametrize("balance", ["sampler", "loss"])
def test_balance_options_run(tiny, tmp_path, balance):
    run = train(_cfg(tiny, tmp_path, balance=balance))
    assert json.loads((run / "metrics.json").read_text())["test"]["n"] == 12


def test_sampler_draws_classes_equally():
    labels = torch.tensor([0] * 90 + [1] * 10)
    draws = epoch_order(labels, 2, "sampler", torch.Generator().manual_seed(0))
    minority = int((labels[draws] == 1).sum())
    assert len(draws) == 100 and 35 <= minority <= 65
    assert sorted(epoch_order(labels, 2, "none", torch.Generator().manual_seed(0)).tolist()) == list(range(100))


def test_same_seed_same_weights(tiny, tmp_path):
    a = train(_cfg(tiny, tmp_path, name="a"))
    b = train(_cfg(tiny, tmp_path, name="b"))
    assert all(torch.equal(v, _saved(b)[k]) for k, v in _saved(a).items())


def test_cli_missing_weights_one_line_exit_2(tiny, tmp_path, empty_hub, capsys):
    from wood.cli import main

    with pytest.raises(SystemExit) as info:
        main(
            [
                "finetune",
                "classify",
                "--data",
                str(tiny["data"]),
                "--arch",
                "resnet18",
                "--strategy",
                "transfer",
                "--out",
                str(tmp_path / "runs"),
            ]
        )
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err and RESNET18_FILE in err and "--weights" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_finetune_then_eval_on_prep_output(prepared, tmp_path, capsys):
    from wood.cli import main

    args = [
        "finetune",
        "classify",
        "--data",
        str(prepared),
        "--epochs",
        "1",
        "--imgsz",
        "32",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
        "--name",
        "r",
    ]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        main(["eval", "classify", str(tmp_path / "r"), "--device", "cpu"])
    assert info.value.code == 0
    evaluated = json.loads((tmp_path / "r" / "eval_test.json").read_text())
    trained = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert evaluated["confusion"] == trained["test"]["confusion"]  # eval reproduces the run's own test numbers
    scale = evaluated["anomaly_scale"]
    assert scale["image_score"] == "1 - p(good)" and 0.0 <= scale["image_auroc"] <= 1.0


def test_batchnorm_recalibration_uses_final_weights():
    from wood.finetune.classify.data import normalize, to_unit
    from wood.finetune.classify.train import batches, recalibrate_batchnorm

    torch.manual_seed(0)
    model = build_model("simple-cnn", 3)
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    assert recalibrate_batchnorm(model, images, "cpu", batch=16) == 4
    bn = model.features[0][1]
    with torch.no_grad():
        expected = model.features[0][0](normalize(to_unit(images))).mean(dim=(0, 2, 3))
    assert torch.allclose(bn.running_mean, expected, atol=1e-5) and bn.momentum == 0.1 and not model.training
    assert [len(b) for b in batches(torch.arange(19), 16)] == [10, 9]
