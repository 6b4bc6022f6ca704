"""YOLO-World end to end, offline (sockets disabled): train 1 epoch with MiniLM, eval, predict a new prompt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from wood.dataset_config import load_dataset_config

CLASSES = ["color", "combined", "hole", "liquid", "scratch"]


def minilm_class_vector(prompts: list[str]) -> torch.Tensor:
    """Independent reference: MiniLM unit vectors, zero-padded to 512, averaged, re-normalised."""
    from wood.finetune.yolo.text_encoders import _load_minilm

    emb = torch.as_tensor(_load_minilm("cpu").encode(prompts, normalize_embeddings=True))
    emb = torch.cat([emb, torch.zeros(len(prompts), 512 - emb.shape[1])], dim=1)
    return torch.nn.functional.normalize(emb.mean(0), dim=0)


@pytest.fixture(scope="module")
def world_data(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the prepared split with a stale names-only Ultralytics cache planted in it."""
    data = tmp_path_factory.mktemp("world") / "wood"
    shutil.copytree(prepared, data)
    bogus = {n: torch.nn.functional.normalize(torch.ones(512), dim=0) for n in CLASSES}
    torch.save(bogus, data / "yolo" / "images" / "text_embeddings_clip_ViT-B_32.pt")
    return data


@pytest.fixture(scope="module")
def world_run(world_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import train

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WOOD_HOME", str(tmp_path_factory.mktemp("wood_home")))
        cfg = YoloConfig(
            data=world_data,
            world=True,
            model="yolov8n-worldv2.yaml",
            epochs=1,
            imgsz=64,
            batch=4,
            workers=0,
            device="cpu",
            out=tmp_path_factory.mktemp("runs"),
            name="world",
            plots=False,
        )
        return train(cfg)


@pytest.mark.slow
def test_world_training_writes_a_run(world_run: Path):
    for name in ("config.yaml", "metrics.json", "text_prompts.json", "weights/best.pt"):
        assert (world_run / name).is_file(), name
    metrics = json.loads((world_run / "metrics.json").read_text())
    assert metrics["world"] is True and metrics["epochs_run"] == 1
    assert (metrics["kind"], metrics["schema"]) == ("yolo", 1)
    record = json.loads((world_run / "text_prompts.json").read_text())
    wood_yaml = load_dataset_config("wood")
    assert record["encoder"] == "minilm" and record["classes"] == CLASSES
    assert (
        record["prompts"]["hole"]
        == wood_yaml.prompts_for("hole")
        == ["a hole in a wooden surface", "a dark pit in wood"]
    )
    assert Path(record["cache"]).name.startswith("wood_text_embeddings_minilm_")


@pytest.mark.slow
def test_checkpoint_carries_minilm_vectors_not_the_stale_cache(world_run: Path, world_data: Path):
    ckpt = torch.load(world_run / "weights" / "best.pt", map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"]
    assert type(model).__name__ == "WorldModel" and model.names == dict(enumerate(CLASSES))
    feats = model.txt_feats.float().reshape(len(CLASSES), 512)
    prompts = json.loads((world_run / "text_prompts.json").read_text())["prompts"]
    for i, name in enumerate(CLASSES):
        assert torch.allclose(feats[i], minilm_class_vector(prompts[name]), atol=1e-4), name
    bogus = torch.load(world_data / "yolo" / "images" / "text_embeddings_clip_ViT-B_32.pt")
    assert not torch.allclose(feats[2], bogus["hole"], atol=0.1)  # the names-only file was not used


@pytest.mark.slow
def test_eval_detect_runs_offline_on_a_world_run(world_run: Path, tmp_path: Path):
    from wood.eval.detect.evaluate import evaluate

    result = evaluate(world_run, "test", out=tmp_path / "eval")
    assert result["classes"] == CLASSES
    assert 0.0 <= result["coco"]["bbox"]["mAP50"] <= 1.0
    assert "error" not in result["ultralytics"]  # WorldValidator did not try to reach CLIP
    assert Path(result["files"]["json"]).is_file()


@pytest.mark.slow
def test_predict_with_an_unseen_prompt(world_run: Path, world_data: Path, tmp_path: Path):
    from wood.deploy.predict import predict_images
    from wood.eval.yolo_run import load_yolo
    from wood.finetune.yolo.world import set_run_prompts

    model = load_yolo(world_run / "weights" / "best.pt")
    set_run_prompts(model, world_run, ["pit in wood"])
    assert model.model.names == {0: "pit in wood"} and model.model.model[-1].nc == 1
    assert torch.allclose(model.model.txt_feats.float().reshape(512), minilm_class_vector(["pit in wood"]), atol=1e-4)

    out = predict_images(
        world_run, [world_data / "yolo" / "images" / "test"], out=tmp_path, conf=0.001, prompts=["pit in wood"]
    )
    records = json.loads(out.read_text())["images"]
    assert len(records) == len(list((world_data / "yolo" / "images" / "test").iterdir()))
    assert {d["class"] for r in records for d in r["detections"]} <= {"pit in wood"}


@pytest.mark.slow
def test_renamed_prompts_make_a_new_cache_file(world_run: Path, world_data: Path):
    from wood.finetune.yolo.text_encoders import class_embeddings

    cache_dir = world_data / "yolo" / "images"
    record = json.loads((world_run / "text_prompts.json").read_text())
    original = Path(record["cache"])
    before = original.read_bytes()
    renamed = {**record["prompts"], "hole": ["pit in wood"]}
    emb, path = class_embeddings("minilm", renamed, cache_dir)
    assert path != original and path.is_file() and original.read_bytes() == before
    assert torch.allclose(emb["hole"], minilm_class_vector(["pit in wood"]), atol=1e-4)
    assert torch.allclose(emb["scratch"], minilm_class_vector(record["prompts"]["scratch"]), atol=1e-4)


def test_missing_clip_fails_before_training_with_one_line(prepared: Path, tmp_path: Path, capsys, monkeypatch):
    import importlib.util

    from wood.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "clip" else real(name, *a))
    monkeypatch.setenv("WOOD_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "finetune",
                "yolo",
                "--data",
                str(prepared),
                "--world",
                "--text-encoder",
                "clip",
                "--model",
                "yolov8n-worldv2.yaml",
                "--epochs",
                "1",
                "--imgsz",
                "64",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "runs"),
                "--name",
                "clip",
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install" in err and "clip" in err
    assert not (tmp_path / "runs" / "clip" / "weights").exists()
