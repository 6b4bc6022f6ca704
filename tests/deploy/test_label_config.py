"""deploy/label/config.py: `wood label`'s options are checked when the config is made; ``floor`` is where the
review order starts looking at candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from wood.deploy.label.config import LabelConfig
from wood.errors import ConfigError


def test_defaults_and_floor():
    cfg = LabelConfig(run="r", out="o")
    assert (cfg.run, cfg.out, cfg.sam, cfg.fmt, cfg.conf) == (Path("r"), Path("o"), None, "cvat", 0.25)
    assert cfg.floor == 0.125
    assert LabelConfig(run="r", out="o", conf=0.5, near=0.2, sam="s").floor == 0.2
    assert LabelConfig(run="r", out="o", sam="s").sam == Path("s")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"fmt": "voc"}, "--format must be one of cvat | label-studio | coco | yolo, but got 'voc'"),
        ({"conf": 0.0}, "--conf must be in (0, 1), but got 0.0"),
        ({"conf": 1.0}, "--conf must be in (0, 1), but got 1.0"),
        ({"near": 0.3}, "--near must be in (0, conf], but got 0.3"),
        ({"near": 0.0}, "--near must be in (0, conf], but got 0.0"),
    ],
)
def test_bad_values_are_one_config_error(kw, message):
    with pytest.raises(ConfigError) as exc:
        LabelConfig(run="r", out="o", **kw)
    assert str(exc.value) == message
