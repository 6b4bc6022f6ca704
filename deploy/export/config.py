"""The options of `wood export` (a config dataclass, built by wood/cli/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wood.config import option


@dataclass
class ExportConfig:
    """Which run `wood export` exports, to what, and how many images check it."""

    run: Path = option("Run folder of `wood finetune yolo` or `wood finetune sam`.")
    fmt: str = option("One of: onnx | openvino (OpenVINO needs `pip install openvino`).", "onnx", flag="--format")
    imgsz: int | None = option("Input size of the exported graph.", None, default_text="the run's")
    half: bool = option("FP16 weights (YOLO; parity then allows a larger score difference).", False, negatable=False)
    out: Path | None = option("Output folder.", None, default_text="<run>/export")
    images: int = option("Test images of the run's dataset for the parity check.", 4)
