"""finetune/anomaly/features.py: the preprocessing and the map smoothing PatchCore and PaDiM share, checked
against values worked out by hand (ImageNet normalisation, the Gaussian kernel, a blurred impulse)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wood.finetune.anomaly.features import MEAN, STD, batched, gaussian_kernel, load_image, smooth, to_maps, to_tensor


def test_to_tensor_normalises_with_imagenet_statistics():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 1] = 255
    x = to_tensor([rgb])
    assert x.shape == (1, 3, 2, 3)
    assert x[0, 0, 0, 0].item() == pytest.approx(-MEAN[0] / STD[0])
    assert x[0, 1, 1, 2].item() == pytest.approx((1 - MEAN[1]) / STD[1])


def test_batched_keeps_order_and_the_short_last_batch():
    assert list(batched(list(range(5)), 2)) == [[0, 1], [2, 3], [4]]


def test_gaussian_kernel_radius_4_sigma_and_sum_1():
    k = gaussian_kernel(1.0)
    assert k.numel() == 9 and k.sum().item() == pytest.approx(1.0)
    norm = sum(math.exp(-0.5 * t * t) for t in range(-4, 5))
    assert k[4].item() == pytest.approx(1 / norm) and k[0].item() == pytest.approx(math.exp(-8) / norm)
    assert gaussian_kernel(0.1).numel() == 3  # radius at least 1


def test_smooth_blurs_an_impulse_into_the_outer_product_of_the_kernel():
    maps = torch.zeros(1, 1, 21, 21)
    maps[0, 0, 10, 10] = 1.0
    out = smooth(maps, 1.0)
    k = gaussian_kernel(1.0)
    assert out.shape == maps.shape
    assert torch.allclose(out[0, 0, 6:15, 6:15], k[:, None] * k[None, :], atol=1e-7)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-6)  # far from the borders nothing is lost
    assert smooth(maps, 0) is maps


def test_smooth_handles_maps_smaller_than_the_kernel():
    maps = torch.full((1, 1, 3, 3), 2.0)
    assert torch.allclose(smooth(maps, 4.0), maps)  # a constant map stays constant


def test_to_maps_upsamples_and_scores_by_the_maximum():
    scores = torch.tensor([[[0.0, 1.0], [0.0, 0.0]], [[3.0, 3.0], [3.0, 3.0]]])
    maps, image = to_maps(scores, 8, 0.0)
    assert maps.shape == (2, 8, 8)
    assert image.tolist() == [1.0, 3.0]
    assert maps[0, 0, 7].item() == 1.0 and maps[0, 7, 0].item() == 0.0


def test_load_image_resizes_to_a_square(tmp_path):
    import cv2

    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((40, 60, 3), (10, 20, 30), np.uint8))  # BGR on disk
    rgb = load_image(path, 16)
    assert rgb.shape == (16, 16, 3) and tuple(rgb[8, 8]) == (30, 20, 10)
    assert load_image(path, 100).shape == (100, 100, 3)
