"""What `wood export` needs installed (checked without importing the heavy packages), and export.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wood.errors import ConfigError

FORMATS = ("onnx", "openvino")
INSTALL_OPENVINO = "OpenVINO export needs the openvino package: pip install openvino (or use --format onnx)"
EXPORT_JSON = "export.json"
OUTPUT_KIND = "export"
"""The kind of output folder `wood export` writes (its marker; wood.outdir)."""


def write_export_json(out: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``out/export.json`` (its own path recorded under files.json); return ``result``."""
    result.setdefault("files", {})["json"] = str(Path(out) / EXPORT_JSON)
    (Path(out) / EXPORT_JSON).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return result


STRIDE = 32
"""YOLO's largest stride (P5 models): an exported graph's input side is a multiple of it."""


def check_imgsz(imgsz: object, stride: int = STRIDE) -> None:
    """``--imgsz`` (None: the run's) must be a positive multiple of the model's largest ``stride``."""
    if imgsz is None:
        return
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < stride or imgsz % stride:
        raise ConfigError(
            f"--imgsz must be a positive multiple of {stride} (the model's largest stride), e.g. {2 * stride} "
            f"or 640, but got {imgsz!r}"
        )
