"""`wood export`: a run's model to ONNX (or OpenVINO), checked against PyTorch on test images.

- YOLO / YOLO-World runs: :mod:`wood.deploy.export.yolo` (Ultralytics' exporter, offline);
- SAM runs: ``wood.deploy.export.sam.export_sam`` (image encoder + prompt decoder), when installed.

Both write ``<out>/export.json``: files, parity, latency per runtime, tolerances.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.deploy.export.deps import (
    EXPORT_JSON,
    FORMATS,
    INSTALL_OPENVINO,
    OUTPUT_KIND,
    check_imgsz,
    write_export_json,
)
from wood.errors import ConfigError, DataError, WeightsError
from wood.extras import has_module, require_onnx

__all__ = [
    "EXPORT_JSON",
    "FORMATS",
    "check_format",
    "check_imgsz",
    "export_run",
    "format_summary",
    "has_module",
    "require_onnx",
    "write_export_json",
]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {list(FORMATS)}, but got {fmt!r}")
    require_onnx()
    if fmt == "openvino" and not has_module("openvino"):
        raise WeightsError(INSTALL_OPENVINO)


def export_run(
    run_dir: Path,
    *,
    fmt: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    out: Path | None = None,
    n_images: int = 4,
) -> dict[str, Any]:
    """Export the run at ``run_dir`` (kind yolo or sam) and check it; return what export.json holds."""
    from wood.eval.yolo_run import check_out_folder
    from wood.names import check_path_length
    from wood.outdir import atomic_output, check_replaceable, relocated
    from wood.runs import claim_in_run, load_run

    check_imgsz(imgsz)  # before any work: Ultralytics would round it (0 -> 64) or fail half-way (63)
    if out is not None:
        check_path_length(out)
    check_format(fmt)
    if n_images < 1:
        raise ConfigError(f"--images must be at least 1, but got {n_images}")
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.path / "export"
    if run.kind == "yolo":
        from wood.deploy.export.yolo import export_yolo

        check_out_folder(out)
        check_replaceable(out, OUTPUT_KIND)  # a folder wood did not write is never replaced
        claim_in_run(out, OUTPUT_KIND)
        with atomic_output(out, OUTPUT_KIND, relocate=True) as tmp:  # the old export stays until the new is whole
            result = export_yolo(run.path, tmp, fmt=fmt, imgsz=imgsz, half=half, n_images=n_images)
        return relocated(result, tmp, out.expanduser().absolute())
    if run.kind == "sam":
        if fmt != "onnx" or half or imgsz is not None:
            raise ConfigError(
                "SAM runs export to ONNX only, in FP32 at the run's image size (drop --format/--half/--imgsz)"
            )
        check_out_folder(out)
        if not has_module("wood.deploy.export.sam"):
            raise WeightsError("SAM export is not available in this install")
        from wood.deploy.export.sam import export_sam  # type: ignore[import-not-found]

        if run.weights is None or not run.weights.exists():
            raise WeightsError("run folder has no weights/ (training did not finish?)", run.path)
        check_replaceable(out, OUTPUT_KIND)
        claim_in_run(out, OUTPUT_KIND)
        with atomic_output(out, OUTPUT_KIND, relocate=True) as tmp:
            record = {"run": str(run.path), "kind": "sam", "format": "onnx"}
            result = write_export_json(tmp, {**record, **export_sam(run.path, tmp, n_images=n_images)})
        return relocated(result, tmp, out.expanduser().absolute())
    raise DataError(
        f"cannot export a {run.kind} run; pass a folder `wood finetune yolo` or `wood finetune sam` wrote", run_dir
    )


def cell(value: Any) -> str:
    """A number for the summary table: integers as they are, floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_summary(result: dict[str, Any]) -> str:
    """A short table of export.json: parity numbers and latency per runtime, then any problems."""
    parity = result.get("parity", {})
    files = [str(v) for k, v in result.get("files", {}).items() if k not in ("json", "weights")]
    lines = [f"exported: {', '.join(files)}", f"  {'parity':<30} {'value':>12}"]
    for key, value in parity.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"  {key:<30} {cell(value):>12}")
    for key, value in (parity.get("raw_max_abs_diff") or {}).items():
        lines.append(f"  {'raw output diff ' + key:<30} {cell(value):>12}")
    tol = parity.get("tolerances", {})
    if tol:
        lines.append("  tolerances: " + ", ".join(f"{k} {v}" for k, v in tol.items()))
    for runtime, stats in result.get("latency_ms", {}).items():
        value = stats.get("median", stats) if isinstance(stats, dict) else stats
        lines.append(f"  {'latency ms/image ' + runtime:<30} {cell(value):>12}")
    verdict = "parity OK" if result.get("ok") else "PARITY FAILED: " + "; ".join(result.get("problems", []))
    return "\n".join([*lines, verdict])
