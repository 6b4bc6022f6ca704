"""Optional packages (the `export` extra, OpenVINO, onnxslim): checked without importing the heavy ones.

In the core layer because both eval (scoring an .onnx export with `wood eval detect`) and deploy
(`wood export`) need the same check and the same one-line hint.
"""

from __future__ import annotations

import importlib.util

from wood.errors import WeightsError

INSTALL_EXPORT = "ONNX export needs onnx and onnxruntime: pip install 'wood[export]'"


def require_onnx() -> None:
    """onnx and onnxruntime must be importable (a WeightsError naming the extra otherwise)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise WeightsError(INSTALL_EXPORT) from exc


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
