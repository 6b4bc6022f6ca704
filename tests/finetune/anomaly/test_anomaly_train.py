"""`wood finetune anomaly`: PatchCore / PaDiM fit on good train images only; run folders; bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._anomaly_fixtures import SMALL, anomaly_prep, prep_copy  # noqa: F401
from tests._cli import run_cli
from wood.finetune.anomaly import padim, patchcore


def fit(prep: Path, out: Path, capsys, *extra) -> tuple[int, str]:
    return run_cli(["finetune", "anomaly", "--data", prep, "--out", out, *SMALL, *extra], capsys)


def test_greedy_coreset_covers_every_cluster():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pool = torch.cat([c + 0.01 * torch.randn(50, 2, generator=g) for c in centres])
    picked = patchcore.greedy_coreset(pool, 3, projection=0, generator=g)
    assert sorted((picked // 50).tolist()) == [0, 1, 2]
    assert patchcore.bank_size(1000, 500, 0.1, 4096) == 100
    assert patchcore.bank_size(100000, 65536, 0.1, 4096) == 4096  # the cap
    assert patchcore.bank_size(100000, 300, 0.1, 4096) == 300  # never more than the pool


def test_nearest_distance_is_exact():
    bank = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    f = torch.tensor([[0.0, 3.0], [0.0, 4.0]]).view(1, 2, 1, 2)  # patches (0, 0) and (3, 4)
    np.testing.assert_allclose(patchcore.nearest_distance(f, bank).ravel().numpy(), [0.0, 0.0], atol=1e-5)
    f = torch.tensor([[6.0], [8.0]]).view(1, 2, 1, 1)  # (6, 8): 5 from (3, 4)
    assert float(patchcore.nearest_distance(f, bank)) == pytest.approx(5.0, abs=1e-4)


def test_padim_gaussians_match_numpy():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(20, 4, 1, 2, generator=g, dtype=torch.float64)
    sums = padim.GaussianSums(torch.tensor([0, 2, 3]))
    sums.add(feats[:7])
    sums.add(feats[7:])
    state = sums.finish()
    x = feats[:, [0, 2, 3], 0, 1].numpy()
    cov = np.cov(x, rowvar=False) + padim.EPS * np.eye(3)
    np.testing.assert_allclose(state["mean"][1].numpy(), x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(state["cov_inv"][1].numpy(), np.linalg.inv(cov), rtol=1e-4)
    at_mean = torch.zeros(1, 4, 1, 2)
    at_mean[0, [0, 2, 3], 0, 1] = state["mean"][1]
    assert float(padim.mahalanobis(at_mean, state)[0, 0, 1]) == pytest.approx(0.0, abs=1e-3)


def corrupt_defect_images(prep: Path) -> int:
    """Overwrite every defect image of the prepared folder (any split, any format) with bytes no reader takes."""
    manifest = json.loads((prep / "manifest.json").read_text())
    defects = {im["name"] for im in manifest["images"] if im["defect"] != "good"}
    hit = 0
    for path in prep.rglob("*.png"):
        if path.name in defects:
            path.write_bytes(b"not a png")
            hit += 1
    return hit


@pytest.mark.parametrize("method", ["patchcore", "padim"])
def test_fit_reads_good_train_images_only(prep_copy, tmp_path, capsys, method):
    assert corrupt_defect_images(prep_copy) > 0
    code, err = fit(prep_copy, tmp_path / "runs", capsys, "--method", method)
    assert code == 0, err
    run = tmp_path / "runs" / f"{method}-mobilenet_v2"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kind"] == "anomaly" and metrics["method"] == method and metrics["pretrained"] is True
    assert metrics["train_images"] == 6 + sum(
        1
        for im in json.loads((prep_copy / "manifest.json").read_text())["images"]
        if im["split"] == "train" and im["defect"] == "good" and not im["name"].startswith("train-good")
    )
    assert {"config.yaml", "metrics.json", "weights.pt"} <= {p.name for p in run.iterdir()}
    if method == "patchcore":
        assert metrics["bank"] == int(np.ceil(0.1 * metrics["patches"])) and metrics["feature_dim"] == 128


def test_saved_model_scores_like_the_fitted_one(anomaly_prep, tmp_path):
    from wood.finetune.anomaly import model as am
    from wood.finetune.anomaly.backbones import load_backbone
    from wood.finetune.anomaly.config import AnomalyConfig
    from wood.finetune.anomaly.data import good_train_images, split_images

    cfg = AnomalyConfig(data=str(anomaly_prep), imgsz=64, max_bank=50)
    backbone, source = load_backbone(cfg.backbone, None, True, 0)
    model, record = am.fit(cfg, backbone, good_train_images(anomaly_prep), "cpu")
    assert record["bank"] == 50 and record["bank_capped"] is True
    am.save(model, tmp_path / "weights.pt", source)
    again = am.load(tmp_path / "weights.pt")
    tests = [p for p, _ in split_images(anomaly_prep, "test")][:3]
    for (_, m1, s1), (_, m2, s2) in zip(model.predict(tests), again.predict(tests), strict=True):
        assert m1.shape == (64, 64) and s1 == pytest.approx(s2) and s1 == pytest.approx(float(m1.max()))
        np.testing.assert_allclose(m1, m2, rtol=1e-5)


def test_run_folder_policy_exist_ok_and_resume(anomaly_prep, tmp_path, capsys):
    out = tmp_path / "runs"
    assert fit(anomaly_prep, out, capsys, "--name", "a")[0] == 0
    assert fit(anomaly_prep, out, capsys, "--name", "a")[0] == 0
    assert (out / "a-2" / "weights.pt").is_file()  # numbered, as the other families
    before = (out / "a" / "weights.pt").stat().st_mtime_ns
    assert fit(anomaly_prep, out, capsys, "--name", "a", "--resume")[0] == 0
    assert (out / "a" / "weights.pt").stat().st_mtime_ns == before  # complete: nothing fitted again
    code, err = fit(anomaly_prep, out, capsys, "--name", "a", "--resume", "--coreset", "0.5")
    assert code == 2 and "other options (coreset)" in err and len(err.strip().splitlines()) == 1
    code, err = fit(anomaly_prep, out, capsys, "--name", "b", "--resume")
    assert code == 2 and "nothing to resume" in err
    assert fit(anomaly_prep, out, capsys, "--name", "a", "--exist-ok", "--coreset", "0.5")[0] == 0
    assert "coreset: 0.5" in (out / "a" / "config.yaml").read_text()
    (out / "mine").mkdir()
    (out / "mine" / "notes.txt").write_text("a user's file")
    code, err = fit(anomaly_prep, out, capsys, "--name", "mine", "--exist-ok")
    assert code == 2 and (out / "mine" / "notes.txt").read_text() == "a user's file"


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_options_are_one_line(anomaly_prep, tmp_path, capsys):
    out = tmp_path / "runs"
    for value in ("0", "1.5", "-0.1"):
        one_line_error(*fit(anomaly_prep, out, capsys, "--coreset", value), "coreset must be in (0, 1]")
    one_line_error(*fit(anomaly_prep, out, capsys, "--backbone", "vgg16"), "backbone must be one of")
    one_line_error(*fit(anomaly_prep, out, capsys, "--method", "knn"), "method must be one of")
    assert not out.exists()  # nothing written


def test_missing_and_wrong_weights_are_one_line(anomaly_prep, tmp_path, capsys, monkeypatch):
    out = tmp_path / "runs"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    one_line_error(*fit(anomaly_prep, out, capsys, "--backbone", "resnet18"), "no pretrained resnet18 weights")
    one_line_error(*fit(anomaly_prep, out, capsys, "--backbone", "wide_resnet50_2"), "wide_resnet50_2")
    from wood.packaged_weights import mobilenet_v2_features_state

    state = mobilenet_v2_features_state()
    key = next(iter(state))
    state[key] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "bad.pt")
    one_line_error(*fit(anomaly_prep, out, capsys, "--weights", tmp_path / "bad.pt"), "bad.pt", "shape")
    from torchvision.models import resnet18

    r18 = resnet18().state_dict()
    r18["layer2.0.conv1.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(r18, tmp_path / "r18.pth")
    one_line_error(
        *fit(anomaly_prep, out, capsys, "--backbone", "resnet18", "--weights", tmp_path / "r18.pth"), "r18.pth", "shape"
    )
    one_line_error(*fit(anomaly_prep, out, capsys, "--weights", tmp_path / "none.pt"), "does not exist")
    assert not out.exists()


def test_resnet18_weights_from_a_path_fit(anomaly_prep, tmp_path, capsys):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), tmp_path / "r18.pth")
    code, err = fit(
        anomaly_prep, tmp_path / "runs", capsys, "--backbone", "resnet18", "--weights", tmp_path / "r18.pth"
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "runs" / "patchcore-resnet18" / "metrics.json").read_text())
    assert metrics["feature_dim"] == 384 and metrics["weights"].endswith("r18.pth")


def test_no_good_train_images_and_tiled_prep_are_one_line(prep_copy, tmp_path, capsys):
    manifest = json.loads((prep_copy / "manifest.json").read_text())
    for im in manifest["images"]:
        if im["split"] == "train" and im["defect"] == "good":
            im["split"] = "val"
    (prep_copy / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(*fit(prep_copy, tmp_path / "runs", capsys), "no good images in the train split")
    manifest["tile"] = {"size": 32, "overlap": 0.2, "min_visible": 0.5, "background": 0.1, "splits": ["train", "val"]}
    (prep_copy / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(*fit(prep_copy, tmp_path / "runs", capsys), "tiled prep")
    one_line_error(*fit(tmp_path / "nowhere", tmp_path / "runs", capsys), "does not exist")
    assert not (tmp_path / "runs").exists()
