"""ms per image, PyTorch vs ONNX Runtime on CPU, for an exported detector (and SAM when available).

    python bench/export_bench.py                       # trains a tiny 256 px detector first (~1 min)
    python bench/export_bench.py --run runs/det        # a detector run of yours
    python bench/export_bench.py --sam-run runs/sam    # adds SAM (encoder + decoder), if export_sam is installed

Prints, measured in this one run on the same images:
1. end to end through Ultralytics' predict (pre-processing, graph, NMS), as `wood export` records it;
2. the bare graph: the PyTorch module's forward vs onnxruntime's session.run on the same input tensor.
Both with the same thread count (--threads). Absolute ms vary with load on a shared CPU; the ratio
is measured back to back. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def tiny_run(root: Path, imgsz: int) -> Path:
    """synth -> prep -> a 3-epoch yolov8n.yaml detector at ``imgsz`` under ``root``."""
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import train
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    src = write_synth(root / "synth" / "wood", size=imgsz, per_defect=4, good=3, train_good=3, seed=0)
    prep = root / "prep"
    run_prep(PrepConfig(source=src, out=prep, workers=1))
    cfg = YoloConfig(
        data=prep,
        model="yolov8n.yaml",
        epochs=3,
        imgsz=imgsz,
        batch=4,
        device="cpu",
        workers=0,
        out=root / "runs",
        name="det",
        plots=False,
        seed=0,
    )
    return train(cfg)


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ms)


def bare_graph(weights: Path, onnx_path: Path, imgsz: int, repeat: int) -> tuple[float, float]:
    """Median ms of the PyTorch forward and of onnxruntime's run on one random (1, 3, imgsz, imgsz) input."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from wood.eval.yolo_run import load_yolo

    module = load_yolo(weights, "cpu").model.fuse().eval().float()
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    feed = {name: x.numpy().astype(np.float32)}
    with torch.inference_mode():
        torch_ms = timed(lambda: module(x), repeat)
    return torch_ms, timed(lambda: session.run(None, feed), repeat)


def row(name: str, torch_ms: float, ort_ms: float) -> str:
    return f"{name:<34} {torch_ms:>10.2f} {ort_ms:>12.2f} {torch_ms / ort_ms:>16.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="YOLO run folder (default: train a tiny one)")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--images", type=int, default=8, help="test images for the end-to-end numbers")
    parser.add_argument("--repeat", type=int, default=30, help="bare-graph repetitions")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sam-run", type=Path, help="SAM run folder for the SAM numbers")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from wood.deploy.export import export_run, has_module

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or tiny_run(Path(tmp), args.imgsz)
        result = export_run(run, imgsz=args.imgsz, out=Path(tmp) / "export", n_images=args.images)
        lat = result["latency_ms"]
        torch_bare, ort_bare = bare_graph(
            Path(result["files"]["weights"]), Path(result["files"]["model"]), args.imgsz, args.repeat
        )
        print(f"detector yolov8n at {args.imgsz} px, {args.threads} threads, parity ok={result['ok']}")
        print(f"{'ms per image':<34} {'PyTorch':>10} {'onnxruntime':>12} {'PyTorch / ORT':>16}")
        print(
            row(
                f"end to end (median of {lat['pytorch']['n']} images)",
                lat["pytorch"]["median"],
                lat["onnxruntime"]["median"],
            )
        )
        print(row(f"bare graph (median of {args.repeat})", torch_bare, ort_bare))
        if args.sam_run is None:
            print("SAM: pass --sam-run RUN for encoder + decoder numbers")
        elif not has_module("wood.deploy.export.sam"):
            print("SAM: export is not available in this install")
        else:
            from wood.deploy.export.sam import export_sam

            sam = export_sam(args.sam_run, Path(tmp) / "sam", n_images=args.images)
            lat = sam.get("latency_ms", {})
            torch_ms, ort_ms = lat.get("torch", {}), lat.get("onnxruntime", {})
            print(f"SAM {args.sam_run.name}, parity ok={sam.get('ok')}")
            for part in ("encoder", "decoder", "median"):
                if isinstance(torch_ms.get(part), (int, float)) and isinstance(ort_ms.get(part), (int, float)):
                    label = "encoder + decoder (median)" if part == "median" else part
                    print(row(f"SAM {label}", torch_ms[part], ort_ms[part]))
    return None


if __name__ == "__main__":
    sys.exit(main())
