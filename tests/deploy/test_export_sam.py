"""`export_sam`: a tiny-SAM run as encoder.onnx + decoder.onnx, ONNX Runtime (CPU) vs PyTorch.

Tolerances are the module's: per-instance mask IoU >= 0.99 (binarised at logit 0), mask logits and
predicted IoU within 1e-3 (fp32 on CPU measures ~1e-6 on the tiny model)."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
import torch
from _sam_fixtures import make_prep_dataset, train_tiny_sam

from wood.config import write_config
from wood.deploy.export import sam as export
from wood.deploy.export.sam_parity import MASK_IOU_MIN, MAX_LOGIT_DIFF, problems_of
from wood.errors import ConfigError, DataError, WeightsError
from wood.eval.mask_metrics import iou as mask_iou
from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import resized_shape
from wood.finetune.sam.io import load_run
from wood.finetune.sam.models import decode_masks

SIZE = 64


@pytest.fixture(scope="module")
def prep(tmp_path_factory):
    return make_prep_dataset(
        tmp_path_factory.mktemp("sam-onnx") / "prep", size=96, counts={"train": (1, 0), "test": (1, 1)}
    )


def _check(result, run_out, n):
    assert result["ok"], result["problems"]
    assert set(result["files"]) == {"encoder", "decoder"}
    assert all((run_out / f).is_file() for f in ("encoder.onnx", "decoder.onnx"))
    p = result["parity"]
    assert p["instances"] == n and p["images"] == n
    assert p["mask_iou_min"] >= MASK_IOU_MIN and p["max_logit_diff"] <= MAX_LOGIT_DIFF
    assert set(result["latency_ms"]) == {"torch", "onnxruntime"}
    assert all(v > 0 for rt in result["latency_ms"].values() for v in rt.values())
    json.dumps(result)


@pytest.mark.slow
def test_lora_run_exports_with_parity_at_any_image_size(prep, tmp_path):
    import onnxruntime as ort

    run = train_tiny_sam(prep, tmp_path, adapter="lora", name="l")
    result = export.export_sam(run, tmp_path / "onnx", n_images=4)
    print(json.dumps({k: result[k] for k in ("parity", "latency_ms")}))
    _check(result, tmp_path / "onnx", 3)
    assert result["adapter"] == "lora" and not result["box_mask_prompt"]
    # one graph for every original size (segment-anything's orig_im_size handling), N boxes at once
    dec = ort.InferenceSession(result["files"]["decoder"], providers=["CPUExecutionProvider"])
    enc = ort.InferenceSession(result["files"]["encoder"], providers=["CPUExecutionProvider"])
    rgb = np.random.default_rng(0).integers(0, 255, (50, 120, 3), dtype=np.uint8)
    pre = result["preprocess"]
    (emb,) = enc.run(None, {"image": export.encoder_input(rgb, SIZE, pre["pixel_mean"], pre["pixel_std"])})
    boxes = np.array([[1, 2, 30, 20], [10, 5, 60, 25], [0, 0, 64, 26]], np.float32)
    masks, iou = dec.run(
        None, {"image_embeddings": emb, "boxes": boxes, "orig_im_size": np.array([50, 120], np.float32)}
    )
    assert masks.shape == (3, 1, 50, 120) and iou.shape == (3, 1)
    sam, _ = load_run(run)
    with torch.inference_mode():
        ref, ref_iou = decode_masks(
            sam, torch.from_numpy(emb), resized_shape(50, 120, SIZE), (50, 120), boxes_xyxy=torch.from_numpy(boxes)
        )
    assert np.abs(ref.numpy() - masks).max() <= MAX_LOGIT_DIFF
    assert np.abs(ref_iou.numpy() - iou).max() <= MAX_LOGIT_DIFF
    with pytest.raises(DataError):  # the dataset is checked before anything is written
        export.export_sam(run, tmp_path / "again", data=tmp_path / "no-such-prep")
    assert not (tmp_path / "again").exists()


@pytest.mark.slow
def test_box_mask_decoder_run_exports_with_parity(prep, tmp_path):
    run = train_tiny_sam(prep, tmp_path, adapter="decoder", box_mask_prompt=True, name="d")
    result = export.export_sam(run, tmp_path / "onnx", n_images=2)
    _check(result, tmp_path / "onnx", 2)
    assert result["adapter"] == "decoder" and result["box_mask_prompt"]


def test_bad_runs_and_missing_onnx(prep, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not a SAM run"):
        export.export_sam(tmp_path, tmp_path / "out")
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    write_config(SamTrainConfig(data=str(prep), model="tiny", imgsz=SIZE), run / "config.yaml")
    with pytest.raises(WeightsError, match="no weights"):
        export.export_sam(run, tmp_path / "out")
    real_import = builtins.__import__

    def no_onnx(name, *args, **kw):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(ConfigError, match=r"pip install 'wood\[export\]'") as err:
        export.export_sam(run, tmp_path / "out")
    assert "\n" not in str(err.value)


def test_parity_pieces():
    a = np.zeros((4, 4), bool)
    assert mask_iou(a, a) == 1.0
    b = a.copy()
    b[:2] = True
    c = a.copy()
    c[:1] = True
    assert mask_iou(b, c) == 0.5
    ok = {"mask_iou_min": 1.0, "max_logit_diff": 0.0, "max_iou_pred_diff": 0.0}
    assert problems_of(ok) == []
    assert len(problems_of(ok | {"mask_iou_min": 0.5, "max_logit_diff": 1.0})) == 2
