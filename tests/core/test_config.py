"""wood/config.py: build_config checks each value of a config file against the field's annotated type and
names the file and the key; what YAML and the CLI give (int for float, `1e-4`, `device: 0`) stays accepted."""

from __future__ import annotations

import pytest

from wood.errors import ConfigError


def write_file(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_config_value_of_the_wrong_type_names_the_key(tmp_path):
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
