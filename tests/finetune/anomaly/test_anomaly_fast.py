"""The fast scoring path of PatchCore / PaDiM gives the same numbers as the direct one (float tolerance)."""

from __future__ import annotations

import pytest
import torch

from wood.finetune.anomaly import features as feat
from wood.finetune.anomaly import patchcore
from wood.finetune.anomaly.backbones import build_backbone


def test_nearest_distance_equals_cdist_min():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(700, 24, generator=g) * 3
    f = torch.randn(2, 24, 40, 60, generator=g) * 3  # 4800 patches: more than one NN_CHUNK
    got = patchcore.nearest_distance(f, bank)
    want = torch.cdist(f.permute(0, 2, 3, 1).reshape(-1, 24), bank).amin(dim=1).view(2, 40, 60)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    ops = patchcore.bank_operands(bank)
    assert ops[0].is_contiguous() and ops[0].shape == (24, 700)
    torch.testing.assert_close(patchcore.nearest_distance(f, bank, ops), got, atol=0, rtol=0)
    # a bank row itself: 0 up to the cancellation of |x|^2 (about 216 here) in float32, then the sqrt
    assert float(patchcore.nearest_distance(bank[3].view(1, 24, 1, 1), bank)) == pytest.approx(0.0, abs=1e-2)


@pytest.mark.parametrize(
    ("h", "w", "imgsz", "sigma"), [(8, 8, 64, 4.0), (4, 6, 32, 2.5), (2, 2, 16, 4.0), (8, 8, 64, 0.0)]
)
def test_map_operator_equals_upsample_then_smooth(h, w, imgsz, sigma):
    # (2, 2, 16, 4.0): the map is smaller than the 33-tap kernel, so smooth() reflects, then replicates
    scores = torch.rand(3, h, w, generator=torch.Generator().manual_seed(1)) * 5
    maps, top = feat.to_maps(scores, imgsz, sigma)
    ref_maps, ref_top = feat.to_maps_reference(scores, imgsz, sigma)
    assert maps.shape == (3, imgsz, imgsz)
    torch.testing.assert_close(maps, ref_maps, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(top, ref_top, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_inference_backbone_equals_the_saved_one(name):
    torch.manual_seed(0)
    backbone = build_backbone(name)
    x = torch.randn(2, 3, 64, 64)
    fast = feat.inference_backbone(backbone)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())  # folded into the convs
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())  # the original is untouched
    for pool in (True, False):
        want = feat.patch_features(backbone, x, pool)
        got = feat.patch_features(fast, x, pool)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
