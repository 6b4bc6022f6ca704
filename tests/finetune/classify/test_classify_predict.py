"""finetune/classify/predict.py: near-equal batches, predictions in order whatever the batch size, and
"precise BN" replacing the training-time running statistics by the plain average over the batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wood.finetune.classify.data import normalize, to_unit
from wood.finetune.classify.predict import batches, predict, recalibrate_batchnorm


def test_batches_are_near_equal():
    assert [len(b) for b in batches(torch.arange(19), 16)] == [10, 9]
    assert [len(b) for b in batches(torch.arange(32), 16)] == [16, 16]
    assert [len(b) for b in batches(torch.arange(3), 16)] == [3]
    assert torch.equal(torch.cat(batches(torch.arange(7), 3)), torch.arange(7))


class MeanColour(nn.Module):
    """Class = the brightest channel of the image (a model whose answer is known)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_predict_keeps_the_order_across_batches():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 40, (7, 3, 4, 4)).astype(np.uint8)
    want = rng.integers(0, 3, 7)
    for k, c in enumerate(want):
        images[k, c] = 250
    images = torch.from_numpy(images)
    for batch in (1, 3, 64):
        assert predict(MeanColour(), images, "cpu", batch).tolist() == want.tolist()
    assert predict(MeanColour(), images[:0], "cpu").shape == (0,)


def test_recalibrate_batchnorm_is_the_average_over_the_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(48, 2))
    images = torch.randint(0, 255, (6, 3, 4, 4), dtype=torch.uint8)
    model[0].running_mean.fill_(99.0)  # stale statistics of moving weights
    assert recalibrate_batchnorm(model, images, "cpu", 3) == 1
    x = normalize(to_unit(images, "cpu"))
    means = [x[:3].mean(dim=(0, 2, 3)), x[3:].mean(dim=(0, 2, 3))]
    assert torch.allclose(model[0].running_mean, (means[0] + means[1]) / 2, atol=1e-6)
    assert model[0].momentum == 0.1 and not model.training
    assert recalibrate_batchnorm(nn.Linear(2, 2), images, "cpu", 3) == 0  # nothing to recalibrate
    assert recalibrate_batchnorm(model, images[:1], "cpu", 3) == 0  # one image gives no statistics
