"""wood/device.py: a --device value is checked against the devices torch sees, the same way in every command."""

from __future__ import annotations

import pytest

from wood.errors import ConfigError


def test_check_device_against_the_devices_torch_sees():
    """One helper, pure apart from torch.cuda.device_count() (``count`` stands in for it)."""
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
