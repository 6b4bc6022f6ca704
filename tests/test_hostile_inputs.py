"""Hostile inputs to every command: one `error:` line, exit 2, nothing lost, nothing half-written.

The TABLE runs `wood ...` in-process (wood.cli.main) on tiny synthetic data. Each row gets a fresh
case folder (the working directory, holding a user file in ``out/``) and a shared module folder
(the source category, its `wood prep` output, run folders). Every file in both is hashed before and
after: a row passes only if the exit code is 2, stderr is exactly one ``error: ...`` line (no
traceback) and both folders are byte-identical afterwards (no user file touched, no run folder or
other output created). No row trains a model: each fails before training would start.

Below the table, one test per fix in the finetune/eval code (YOLO prep-folder check, device check,
config value types, predict reading every image first).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _cli import run_cli
from _hostile_world import (  # noqa: F401 (fixtures)
    World,
    assert_refused_and_unchanged,
    png,
    prep_copy,
    snapshot,
    src_copy,
    user_folder,
    world,
    write_file,
    yolo_checkpoint,
)

from wood.errors import ConfigError


# ---------------------------------------------------------------- prep rows
def _prep_corrupt(w, tmp):
    src = src_copy(w, tmp)
    image = src / "test" / "hole" / "000.png"
    image.write_bytes(image.read_bytes()[:120])
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_not_png(w, tmp):
    src = src_copy(w, tmp)
    write_file(src / "test" / "hole" / "000.png", "text with a .png name\n")
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_mask_size(w, tmp):
    src = src_copy(w, tmp)
    png(src / "ground_truth" / "hole" / "000_mask.png", np.full((32, 32), 255, np.uint8))
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_empty_mask(w, tmp):
    src = src_copy(w, tmp)
    png(src / "ground_truth" / "hole" / "000_mask.png", np.zeros((64, 64), np.uint8))
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_no_mask(w, tmp):
    src = src_copy(w, tmp)
    (src / "ground_truth" / "hole" / "000_mask.png").unlink()
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_no_image(w, tmp):
    src = src_copy(w, tmp)
    (src / "test" / "hole" / "000.png").unlink()
    return ["prep", src, "--out", tmp / "out" / "prep"]


def _prep_no_test(w, tmp):
    src = src_copy(w, tmp)
    shutil.rmtree(src / "test")
    return ["prep", src, "--out", tmp / "out" / "prep"]


PREP = {
    "prep-missing-source": lambda w, t: ["prep", t / "nope", "--out", t / "out" / "prep"],
    "prep-source-without-test": _prep_no_test,
    "prep-test-fraction-2": lambda w, t: ["prep", w.src, "--out", t / "out" / "prep", "--test-fraction", "2"],
    "prep-val-fraction-1": lambda w, t: ["prep", w.src, "--out", t / "out" / "prep", "--val-fraction", "1"],
    "prep-seed-negative": lambda w, t: ["prep", w.src, "--out", t / "out" / "prep", "--seed", "-1"],
    "prep-corrupt-png": _prep_corrupt,
    "prep-text-named-png": _prep_not_png,
    "prep-mask-size-mismatch": _prep_mask_size,
    "prep-empty-mask": _prep_empty_mask,
    "prep-image-without-mask": _prep_no_mask,
    "prep-mask-without-image": _prep_no_image,
    "prep-out-is-a-file": lambda w, t: ["prep", w.src, "--out", t / "out" / "user.txt"],
    "prep-out-is-a-user-folder": lambda w, t: ["prep", w.src, "--out", t / "out"],
    "prep-out-inside-source": lambda w, t: ["prep", w.src, "--out", w.src / "prepared"],
}


# ---------------------------------------------------------------- finetune rows
def _yolo(data, tmp, *extra):
    epochs = [] if "--config" in extra else ["--epochs", "1"]  # the config's own value is the one under test
    return [
        "finetune",
        "yolo",
        "--data",
        data,
        "--model",
        "yolov8n.yaml",
        "--imgsz",
        "64",
        *epochs,
        "--device",
        "cpu",
        "--out",
        tmp / "out",
        *extra,
    ]


def _yolo_config(text):
    def case(w, tmp):
        return _yolo(w.prep, tmp, "--config", write_file(tmp / "cfg.yaml", text))

    return case


def _sam(data, tmp, *extra):
    return ["finetune", "sam", "--data", data, "--model", "tiny", "--epochs", "1", "--out", tmp / "out", *extra]


def _classify(data, tmp, *extra):
    return [
        "finetune",
        "classify",
        "--data",
        data,
        "--epochs",
        "1",
        "--imgsz",
        "16",
        "--batch",
        "4",
        "--out",
        tmp / "out",
        *extra,
    ]


def _yolo_name_taken(w, tmp):
    """A taken --name gets -2 (wood.runs); --exist-ok would replace it, but it is not a wood run."""
    user_folder(tmp / "out", "detect")
    return _yolo(w.prep, tmp, "--name", "detect", "--exist-ok")


def _yolo_bad_manifest(w, tmp):
    data = prep_copy(w, tmp)
    write_file(data / "manifest.json", json.dumps({"format": "someone-else/3"}))
    return _yolo(data, tmp)


FINETUNE = {
    "yolo-missing-data": lambda w, t: _yolo(t / "nope", t),
    "yolo-data-not-a-prep-output": lambda w, t: _yolo(user_folder(t), t),
    "yolo-prep-without-manifest": lambda w, t: _yolo(prep_copy(w, t, "manifest.json"), t),
    "yolo-prep-manifest-other-format": _yolo_bad_manifest,
    "yolo-prep-without-labels": lambda w, t: _yolo(prep_copy(w, t, "yolo/labels"), t),
    "yolo-prep-without-train-images": lambda w, t: _yolo(prep_copy(w, t, "yolo/images/train"), t),
    "yolo-segment-prep-without-val-labels": lambda w, t: _yolo(
        prep_copy(w, t, "yolo-seg/labels/val"), t, "--task", "segment", "--model", "yolov8n-seg.yaml"
    ),
    "yolo-weights-do-not-exist": lambda w, t: _yolo(w.prep, t, "--model", "/nope.pt"),
    "yolo-model-is-a-txt": lambda w, t: _yolo(w.prep, t, "--model", w.text),
    "yolo-unknown-task": lambda w, t: _yolo(w.prep, t, "--task", "classify"),
    "yolo-epochs-0": lambda w, t: _yolo(w.prep, t, "--epochs", "0"),
    "yolo-epochs-negative": lambda w, t: _yolo(w.prep, t, "--epochs", "-1"),
    "yolo-imgsz-0": lambda w, t: _yolo(w.prep, t, "--imgsz", "0"),
    "yolo-batch-0": lambda w, t: _yolo(w.prep, t, "--batch", "0"),
    "yolo-device-cuda-7": lambda w, t: _yolo(w.prep, t, "--device", "cuda:7"),
    "yolo-device-gpu": lambda w, t: _yolo(w.prep, t, "--device", "gpu"),
    "yolo-config-wrong-type": _yolo_config("epochs: ten\n"),
    "yolo-config-unknown-key": _yolo_config("epoch: 3\n"),
    "yolo-config-not-a-mapping": _yolo_config("- epochs\n- 3\n"),
    "yolo-config-not-yaml": _yolo_config("epochs: [3\n"),
    "yolo-config-reserved-train-arg": _yolo_config("train_args: {epochs: 3}\n"),
    "yolo-run-name-is-a-user-folder": _yolo_name_taken,
    "yolo-resume-missing-run": lambda w, t: _yolo(w.prep, t, "--name", "gone", "--resume"),
    "yolo-world-prompts-file-missing": lambda w, t: _yolo(
        w.prep, t, "--world", "--model", "yolov8n-worldv2.yaml", "--prompts", t / "nope.yaml"
    ),
    "sam-missing-data": lambda w, t: _sam(t / "nope", t),
    "sam-prep-without-images": lambda w, t: _sam(prep_copy(w, t, "yolo/images"), t),
    "sam-adapter-bogus": lambda w, t: _sam(w.prep, t, "--adapter", "bogus"),
    "sam-lora-r-0": lambda w, t: _sam(w.prep, t, "--lora-r", "0"),
    "sam-device-cuda-7": lambda w, t: _sam(w.prep, t, "--device", "cuda:7"),
    "sam-device-index": lambda w, t: _sam(w.prep, t, "--device", "7"),
    "sam-config-wrong-type": lambda w, t: _sam(w.prep, t, "--config", write_file(t / "cfg.yaml", "lora_r: four\n")),
    "sam-official-weights-missing": lambda w, t: _sam(w.prep, t, "--model", "vit_b"),
    "sam-checkpoint-not-weights": lambda w, t: _sam(w.prep, t, "--checkpoint", w.text),
    "sam-resume-missing-run": lambda w, t: _sam(w.prep, t, "--name", "gone", "--resume"),
    "classify-missing-data": lambda w, t: _classify(t / "nope", t),
    "classify-unknown-arch": lambda w, t: _classify(w.prep, t, "--arch", "vgg"),
    "classify-device-cuda-7": lambda w, t: _classify(w.prep, t, "--device", "cuda:7"),
    "classify-config-wrong-type": lambda w, t: _classify(
        w.prep, t, "--config", write_file(t / "cfg.yaml", "lr: fast\n")
    ),
    "classify-pretrained-weights-missing": lambda w, t: _classify(
        w.prep, t, "--arch", "resnet18", "--strategy", "transfer", "--weights", t / "nope.pth"
    ),
    "classify-batch-1": lambda w, t: _classify(w.prep, t, "--batch", "1"),
}

CLICK_USAGE = {  # click's own option parsing: one line too (wood/cli.py), not its usage box
    "yolo-epochs-not-a-number": pytest.param(
        lambda w, t: _yolo(w.prep, t, "--epochs", "ten"), id="yolo-epochs-not-a-number"
    ),
}


# ---------------------------------------------------------------- eval, predict, report, demo rows
def _segment(w, tmp, *extra):
    return ["eval", "segment", "--run", w.sam_run, "--out", tmp / "out" / "eval", *extra]


def _sam_run_without_weights(w, tmp):
    run = tmp / "sam-run"
    shutil.copytree(w.sam_run, run)
    shutil.rmtree(run / "weights")
    return ["eval", "segment", "--run", run]


def _predict_corrupt(w, tmp):
    folder = tmp / "images"
    folder.mkdir()
    shutil.copy(w.image, folder / "a_good.png")
    (folder / "b_bad.png").write_bytes(w.image.read_bytes()[:100])
    return ["predict", folder, "--run", w.yolo_run, "--out", tmp / "out"]


def _predict_empty(w, tmp):
    (tmp / "empty").mkdir()
    return ["predict", tmp / "empty", "--run", w.yolo_run, "--out", tmp / "out"]


def _corrupt_yolo_run(w, tmp):
    run = tmp / "yolo-run"
    shutil.copytree(w.yolo_run, run)
    (run / "weights" / "best.pt").write_bytes(b"not a checkpoint")
    return run


def _report_on_user_folder(w, tmp):
    return ["report", w.classify_run, "--out", tmp / "out"]


EVAL = {
    "eval-detect-missing-run": lambda w, t: ["eval", "detect", "--run", t / "nope"],
    "eval-detect-run-without-weights": lambda w, t: ["eval", "detect", "--run", user_folder(t)],
    "eval-detect-split-bogus": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--split", "bogus"],
    "eval-detect-conf-2": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--conf", "2"],
    "eval-detect-device-cuda-7": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--device", "cuda:7"],
    "eval-detect-data-not-prep": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--data", user_folder(t)],
    "eval-detect-out-is-a-file": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--out", t / "out" / "user.txt"],
    "eval-detect-weights-txt": lambda w, t: ["eval", "detect", "--weights", w.text, "--data", w.prep],
    "eval-detect-corrupt-checkpoint": lambda w, t: ["eval", "detect", "--run", _corrupt_yolo_run(w, t)],
    "eval-detect-classes-differ": lambda w, t: ["eval", "detect", "--run", w.yolo_run, "--out", t / "out" / "e"],
    "eval-segment-missing-run": lambda w, t: ["eval", "segment", "--run", t / "nope"],
    "eval-segment-not-a-sam-run": lambda w, t: ["eval", "segment", "--run", user_folder(t)],
    "eval-segment-run-without-weights": _sam_run_without_weights,
    "eval-segment-split-bogus": lambda w, t: _segment(w, t, "--split", "bogus"),
    "eval-segment-boxes-not-a-run": lambda w, t: _segment(w, t, "--boxes", user_folder(t)),
    "eval-segment-boxes-missing": lambda w, t: _segment(w, t, "--boxes", t / "nope"),
    "eval-segment-device-cuda-7": lambda w, t: _segment(w, t, "--device", "cuda:7"),
    "eval-classify-missing-run": lambda w, t: ["eval", "classify", t / "nope"],
    "eval-classify-split-bogus": lambda w, t: ["eval", "classify", w.classify_run, "--split", "bogus"],
    "eval-classify-device-cuda-7": lambda w, t: ["eval", "classify", w.classify_run, "--device", "cuda:7"],
    "eval-classify-data-missing": lambda w, t: ["eval", "classify", w.classify_run, "--data", t / "nope"],
    "predict-missing-image": lambda w, t: ["predict", t / "nope.png", "--run", w.yolo_run, "--out", t / "out"],
    "predict-corrupt-image": _predict_corrupt,
    "predict-text-file": lambda w, t: ["predict", w.text, "--run", w.yolo_run, "--out", t / "out"],
    "predict-no-images-in-folder": _predict_empty,
    "predict-conf-2": lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--conf", "2", "--out", t / "out"],
    "predict-missing-run": lambda w, t: ["predict", w.image, "--run", t / "nope", "--out", t / "out"],
    "predict-out-is-a-file": lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--out", t / "out" / "user.txt"],
    "predict-device-cuda-7": lambda w, t: ["predict", w.image, "--run", w.yolo_run, "--device", "cuda:7"],
    "predict-corrupt-checkpoint": lambda w, t: ["predict", w.image, "--run", _corrupt_yolo_run(w, t)],
    "report-no-runs": lambda w, t: ["report", "--out", t / "out" / "report"],
    "report-missing-run": lambda w, t: ["report", t / "nope", "--out", t / "out" / "report"],
    "report-folder-without-runs": lambda w, t: ["report", user_folder(t), "--out", t / "out" / "report"],
    "report-out-is-a-file": lambda w, t: ["report", w.classify_run, "--out", t / "out" / "user.txt"],
    "report-out-under-a-file": lambda w, t: ["report", w.classify_run, "--out", t / "out" / "user.txt" / "r"],
    "report-out-is-a-user-folder": _report_on_user_folder,
    "report-samples-negative": lambda w, t: ["report", w.classify_run, "--out", t / "out" / "r", "--samples", "-1"],
    "demo-out-is-a-file": lambda w, t: ["demo", "--out", t / "out" / "user.txt"],
    "demo-out-is-a-user-folder": lambda w, t: ["demo", "--out", t / "out"],
    "demo-out-is-a-user-folder-force": lambda w, t: ["demo", "--out", t / "out", "--force"],
}

NEEDLES = {  # rows whose line must also say this (the rest: any one `error:` line)
    "yolo-prep-without-labels": "yolo/labels/train: label folder is missing",
    "yolo-prep-without-train-images": "yolo/images/train: image folder is missing",
    "yolo-segment-prep-without-val-labels": "yolo-seg/labels/val: label folder is missing",
    "eval-segment-boxes-not-a-run": "run folder has no weights/best.pt",
    "eval-segment-boxes-missing": "nope: run folder does not exist",
    "eval-segment-run-without-weights": "run has no weights/mask_decoder.safetensors",
    "yolo-device-cuda-7": "device 'cuda:7'",
    "sam-device-cuda-7": "device 'cuda:7'",
    "classify-device-cuda-7": "device 'cuda:7'",
    "yolo-config-wrong-type": "cfg.yaml: epochs must be an int, but got 'ten'",
    "sam-config-wrong-type": "cfg.yaml: lora_r must be an int, but got 'four'",
    "classify-config-wrong-type": "cfg.yaml: lr must be a float, but got 'fast'",
    "predict-corrupt-image": "b_bad.png: not a readable image",
    "yolo-run-name-is-a-user-folder": "is not a wood run output",
}

TABLE = [pytest.param(case, id=name) for name, case in {**PREP, **FINETUNE, **EVAL}.items()] + list(
    CLICK_USAGE.values()
)


@pytest.mark.parametrize("case", TABLE)
def test_hostile_input(case: Callable[[World, Path], list], world: World, tmp_path: Path, capsys, monkeypatch, request):
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd lands in the snapshot too
    write_file(tmp_path / "out" / "user.txt", "the user's own file\n")
    argv = case(world, tmp_path)
    assert_refused_and_unchanged(argv, (world.root, tmp_path), capsys, NEEDLES.get(request.node.callspec.id, ""))


def test_table_size():
    assert len(TABLE) >= 40


# ---------------------------------------------------------------- one test per fix
def test_yolo_prep_missing_labels_fails_before_the_run_folder(world, tmp_path, capsys):
    """Fix 1: a prep output without yolo/labels is one line naming the folder, and the same --name
    can be used again (no half run folder was left)."""
    data = prep_copy(world, tmp_path, "yolo/labels")
    for _ in range(2):
        code, err = run_cli(_yolo(data, tmp_path, "--name", "first"), capsys)
        assert code == 2, err
        labels = data / "yolo" / "labels" / "train"
        assert err.strip() == f"error: {labels}: label folder is missing; re-run `wood prep`"
        assert not (tmp_path / "out").exists()


def test_check_device_against_the_devices_torch_sees():
    """Fix 2: one helper, pure apart from torch.cuda.device_count() (``count`` stands in for it)."""
    from wood.device import check_device

    assert check_device(None) is None and check_device("auto") == "auto" and check_device("cpu") == "cpu"
    assert check_device("0", count=1) == "cuda:0" and check_device("cuda:1", count=2) == "cuda:1"
    assert check_device("cuda", count=1) == "cuda" and check_device("0,1", multi=True, count=2) == "0,1"
    for device, count, needle in [
        ("cuda:7", 0, "torch sees no CUDA device"),
        ("cuda:7", 2, "torch sees only 2"),
        ("0", 0, "no CUDA"),
        ("0,1", 1, "CUDA device 1"),
        ("cuda", 0, "no CUDA"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            check_device(device, multi=True, count=count)
    for bad in ("gpu", "cuda:x", "-1", "0,0"):
        with pytest.raises(ConfigError, match="device must be"):
            check_device(bad, multi=True, count=8)
    with pytest.raises(ConfigError, match="device must be"):
        check_device("0,1", count=8)  # a list only where Ultralytics takes one


def test_sam_and_classify_resolve_device_keep_their_types(monkeypatch):
    import torch

    from wood.device import resolve_device as sam_device
    from wood.finetune.classify.train import resolve_device as classify_device

    assert sam_device("cpu") == "cpu" and classify_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert sam_device("0") == "cuda:0" and classify_device("cuda:0") == torch.device("cuda:0")
    for resolve in (sam_device, classify_device):
        with pytest.raises(ConfigError, match="torch sees only 1"):
            resolve("cuda:7")


def test_config_value_of_the_wrong_type_names_the_key(tmp_path):
    """Fix 3: build_config checks each value against the field's annotated type."""
    from wood.config import build_config
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.yolo.config import YoloConfig

    cases = [
        (SamTrainConfig, "lora_r: four\n", "lora_r must be an int, but got 'four'"),
        (YoloConfig, "epochs: ten\n", "epochs must be an int, but got 'ten'"),
        (YoloConfig, "epochs: true\n", "epochs must be an int, but got True"),
        (YoloConfig, "epochs: 2.5\n", "epochs must be an int, but got 2.5"),
        (SamTrainConfig, "lora_alpha: high\n", "lora_alpha must be a float, but got 'high'"),
        (SamTrainConfig, "max_steps: [1]\n", "max_steps must be an int or None, but got [1]"),
        (YoloConfig, "amp: maybe\n", "amp must be a bool (true/false), but got 'maybe'"),
        (YoloConfig, "train_args: [1, 2]\n", "train_args must be a mapping, but got [1, 2]"),
        (
            SamTrainConfig,
            "adapter_positions: [attn, 3]\n",
            "adapter_positions must be a list of str, but got ['attn', 3]",
        ),
        (ClassifyConfig, "weights: {a: 1}\n", "weights must be a str or None, but got {'a': 1}"),
    ]
    for cls, text, message in cases:
        path = write_file(tmp_path / "c.yaml", text)
        with pytest.raises(ConfigError) as exc:
            build_config(cls, path, data=str(tmp_path))
        assert str(exc.value) == f"{path}: {message}", text
    # what YAML and the CLI give stays accepted: int for float, `1e-4` (a string in YAML 1.1), `device: 0`
    path = write_file(tmp_path / "c.yaml", "lora_alpha: 8\nlr: 1e-4\ndevice: cpu\nadapter_positions: attn\n")
    cfg = build_config(SamTrainConfig, path, data=str(tmp_path))
    assert (cfg.lora_alpha, cfg.lr, cfg.adapter_positions) == (8, 1e-4, ["attn"])
    yolo = build_config(YoloConfig, write_file(tmp_path / "y.yaml", "device: 0\n"), data=tmp_path)
    assert yolo.device == "0" and yolo.data == tmp_path


def test_predict_reads_every_image_before_writing(world, yolo_checkpoint, tmp_path, capsys):
    """Fix 4: one good and one corrupt image: one line, no overlay and no predictions.json."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(world.image, folder / "a_good.png")
    (folder / "b_bad.png").write_bytes(world.image.read_bytes()[:100])
    out = tmp_path / "pred"
    code, err = run_cli(["predict", folder, "--weights", yolo_checkpoint, "--out", out, "--device", "cpu"], capsys)
    assert code == 2, err
    assert err.strip() == f"error: {folder / 'b_bad.png'}: not a readable image (corrupt, truncated or not an image)"
    assert not out.exists()
    (folder / "b_bad.png").unlink()
    code, err = run_cli(["predict", folder, "--weights", yolo_checkpoint, "--out", out, "--device", "cpu"], capsys)
    assert code == 0, err
    written = [
        ".wood-output.json",
        "a_good_pred.png",
        "predictions.json",
        "predictions_coco.json",
        "predictions_coco_images.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == written
