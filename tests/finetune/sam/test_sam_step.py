"""finetune/sam/step.py: a micro-batch's samples (instance pick, flips, prompts) and the batched decode, which
must give every image the logits it gets decoded alone (the promise that lets --batch B match --batch 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wood.finetune.sam.config import SamTrainConfig
from wood.finetune.sam.data import SamImage, SamInstance, resize_image
from wood.finetune.sam.models import build_sam
from wood.finetune.sam.predictor import encode_batch
from wood.finetune.sam.step import SamStep, make_sample

SIZE = 64


def instance(k: int, x0: int, y0: int, x1: int, y1: int, shape=(48, 64)) -> SamInstance:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return SamInstance(k, 1, np.array([x0, y0, x1, y1], np.float32), mask)


def image(k: int, instances: list[SamInstance], shape=(48, 64)) -> SamImage:
    return SamImage(k, f"{k}.png", Path(f"{k}.png"), shape[0], shape[1], instances)


def cfg(**kw) -> SamTrainConfig:
    return SamTrainConfig(data="unused", model="tiny", imgsz=SIZE, **kw)


def test_make_sample_without_rng_is_deterministic_and_unflipped():
    insts = [instance(k, 2 * k, 2, 2 * k + 6, 10) for k in range(5)]
    view = np.zeros((48, 64, 3), np.uint8)
    a = make_sample(image(1, insts), view, cfg(max_instances=3, box_jitter=0.0), SIZE, None, flip=True)
    b = make_sample(image(1, insts), view, cfg(max_instances=3, box_jitter=0.0), SIZE, None, flip=True)
    picked = sorted(np.random.default_rng(0).choice(5, 3, replace=False))
    assert [i.ann_id for i in a.instances] == [int(k) for k in picked] == [i.ann_id for i in b.instances]
    assert not a.augmented and a.view is view
    # 64 px wide -> the model frame is 64 px wide too (scale 1): the boxes are the instances' own
    expected = np.stack([insts[k].bbox_xyxy for k in picked])
    assert np.array_equal(a.prompts["boxes"], expected)
    assert a.target.shape == (3, 48, 64) and a.target.dtype == torch.bool


def test_make_sample_keeps_all_instances_under_the_limit():
    insts = [instance(k, 0, 0, 4, 4) for k in range(2)]
    s = make_sample(image(1, insts), np.zeros((48, 64, 3), np.uint8), cfg(max_instances=2), SIZE, None, flip=False)
    assert [i.ann_id for i in s.instances] == [0, 1]


@pytest.mark.parametrize("seed, corner", [(2, (slice(0, 4), slice(56, 64))), (1, (slice(44, 48), slice(0, 8)))])
def test_flip_moves_the_mask_box_and_view_together(seed, corner):
    """Seed 2 draws (horizontal, not vertical), seed 1 (not horizontal, vertical): the white top-left corner,
    its mask and its box all end up in the mirrored corner."""
    inst = instance(0, 0, 0, 8, 4)
    view = np.zeros((48, 64, 3), np.uint8)
    view[0:4, 0:8] = 255
    s = make_sample(image(1, [inst]), view, cfg(box_jitter=0.0), SIZE, np.random.default_rng(seed), flip=True)
    expected = np.zeros((48, 64), bool)
    expected[corner] = True
    assert s.augmented
    assert np.array_equal(s.view[..., 0] > 0, expected) and np.array_equal(s.instances[0].mask, expected)
    ys, xs = corner
    assert s.prompts["boxes"].tolist() == [[xs.start, ys.start, xs.stop, ys.stop]]


@pytest.mark.parametrize("prompt", ["box", "points"])
def test_batched_decode_gives_each_image_its_own_logits(prompt):
    torch.manual_seed(0)
    sam = build_sam("tiny", SIZE)
    step = SamStep(sam)
    c = cfg(prompt=prompt, box_jitter=0.0)
    rng = np.random.default_rng(0)
    images = [
        image(1, [instance(0, 4, 4, 20, 16)]),
        image(2, [instance(0, 30, 10, 50, 40), instance(1, 2, 30, 12, 44), instance(2, 40, 2, 60, 8)]),
    ]
    views = [resize_image(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), SIZE) for _ in images]
    samples = [make_sample(im, v, c, SIZE, None, flip=False) for im, v in zip(images, views, strict=True)]
    with torch.no_grad():
        batched = step(encode_batch(sam, views, "cpu"), None, samples)
        alone = [step(encode_batch(sam, [v], "cpu"), None, [s])[0] for v, s in zip(views, samples, strict=True)]
    for (logits, iou), (ref_logits, ref_iou) in zip(batched, alone, strict=True):
        assert logits.shape == ref_logits.shape and logits.shape[1:] == (1, 48, 64)
        assert torch.allclose(logits, ref_logits, atol=1e-5) and torch.allclose(iou, ref_iou, atol=1e-6)
    assert [b[0].shape[0] for b in batched] == [1, 3]
