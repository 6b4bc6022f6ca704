"""Fixtures for the labelling-loop tests: one tiny YOLO run (trained once per session) on the shared
prepared synthetic category, and the optional real tools (datumaro, label-studio-sdk's brush module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _yolo_fixtures import tiny_cfg


@pytest.fixture(scope="session")
def tiny_seg_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch yolov8n-seg.yaml run at 64 px on ``prepared`` (scores are low: predict with a low conf)."""
    from wood.finetune.yolo.train import train

    out = tmp_path_factory.mktemp("label-runs")
    return train(tiny_cfg(prepared, out, task="segment", model="yolov8n-seg.yaml", name="seg"))


def brush_module():
    """label-studio-sdk's ``converter/brush.py`` loaded on its own (it needs numpy and Pillow only; the
    package's ``__init__`` pulls in its HTTP client). label-studio-sdk comes from requirements-interop.txt."""
    spec = importlib.util.find_spec("label_studio_sdk")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps -r requirements-interop.txt"
    path = Path(list(spec.submodule_search_locations)[0]) / "converter" / "brush.py"
    module_spec = importlib.util.spec_from_file_location("label_studio_brush", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
