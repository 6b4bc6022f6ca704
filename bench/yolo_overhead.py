"""Overhead of `wood finetune yolo` over a bare `YOLO(...).train(...)`: same data, epochs, seed.

Both run in this process after one warm-up training (imports, first-call costs), alternating
bare/wood ``--repeats`` times; the printed ratios are median(wood) / median(bare) and min/min (the
least disturbed by other load). Target <= 1.03. On a busy machine training time itself varies by
+-30 % run to run, so the bench also times wood's own work (everything outside Ultralytics'
Model.train call, minus the same for bare: building YOLO(model)) and prints
(median bare + that extra) / median bare.
wood's extra work: config validation, weights resolution, the run's data.yaml, the offline
setup, metrics.json. The bare run gets the same offline environment (otherwise Ultralytics'
font HEAD request would time out and slow the baseline, not wood).

    python bench/yolo_overhead.py                                 # CPU, 3 epochs at 128 px
    python bench/yolo_overhead.py --device cuda --imgsz 640 --epochs 3 --size 640
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--imgsz", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128, help="synthetic image size")
    ap.add_argument("--per-defect", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="yolov8n.yaml")
    ap.add_argument("--data", type=Path, default=None, help="an existing `wood prep` folder (default: synthesise one)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="wood-yolo-overhead-"))
    prep = args.data
    if prep is None:
        prep = work / "prep"
        if not (prep / "manifest.json").is_file():
            subprocess.run(
                [
                    "wood",
                    "synth",
                    str(work / "synth"),
                    "--size",
                    str(args.size),
                    "--per-defect",
                    str(args.per_defect),
                    "--good",
                    str(args.per_defect),
                    "--seed",
                    "0",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            subprocess.run(
                ["wood", "prep", str(work / "synth"), "--out", str(prep)], check=True, stdout=subprocess.DEVNULL
            )

    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.train import train
    from wood.offline import setup_ultralytics

    setup_ultralytics()
    from ultralytics import YOLO

    common = dict(
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        nbs=args.batch,
        seed=0,
        workers=2,
        patience=50,
        plots=False,
        amp=True,
        device=args.device,
    )

    from ultralytics.engine.model import Model

    inner: dict[str, list[float]] = {"bare": [], "wood": []}  # seconds inside Ultralytics' Model.train
    original_train = Model.train

    def timed(kind: str):
        def timed_train(self, *a, **k):
            t = time.perf_counter()
            try:
                return original_train(self, *a, **k)
            finally:
                inner[kind].append(time.perf_counter() - t)

        return timed_train

    def bare(tag: str) -> float:
        t = time.perf_counter()
        Model.train = timed("bare")
        try:
            YOLO(args.model).train(
                data=str((prep / "yolo" / "data.yaml").resolve()),
                deterministic=True,
                project=str(work / "bare"),
                name=tag,
                exist_ok=True,
                **common,
            )
        finally:
            Model.train = original_train
        return time.perf_counter() - t

    def wood(tag: str) -> float:
        t = time.perf_counter()
        Model.train = timed("wood")
        try:
            train(YoloConfig(data=prep, model=args.model, out=work / "wood", name=tag, exist_ok=True, **common))
        finally:
            Model.train = original_train
        return time.perf_counter() - t

    bare("warmup")
    inner["bare"].clear()
    times: dict[str, list[float]] = {"bare": [], "wood": []}
    for i in range(args.repeats):
        order = (("bare", bare), ("wood", wood)) if i % 2 == 0 else (("wood", wood), ("bare", bare))
        for kind, fn in order:
            times[kind].append(fn(f"r{i}"))
    ratio = statistics.median(times["wood"]) / statistics.median(times["bare"])
    ratio_min = min(times["wood"]) / min(times["bare"])  # least disturbed by other load on the machine
    # wood's own time (outside Ultralytics' train call) is immune to the noise of training itself
    # outside Model.train: both build YOLO(model); wood also validates, resolves, writes its files
    own = {k: [total - i for total, i in zip(times[k], inner[k], strict=True)] for k in times}
    extra = statistics.median(own["wood"]) - statistics.median(own["bare"])
    ratio_own = (statistics.median(times["bare"]) + extra) / statistics.median(times["bare"])
    print(
        json.dumps(
            {
                "device": args.device,
                "epochs": args.epochs,
                "imgsz": args.imgsz,
                "model": args.model,
                "images": json.loads((prep / "stats.json").read_text())["images"]
                if (prep / "stats.json").is_file()
                else None,
                "seconds": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
                "outside_train_seconds": {k: [round(v, 3) for v in vs] for k, vs in own.items()},
                "load_avg": os.getloadavg(),
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
    )
    print(f"time ratio wood/bare = {ratio:.3f} (medians), {ratio_min:.3f} (minimums); target <= 1.03")
    print(
        f"wood's extra work outside Ultralytics' train: {extra:+.3f} s per run -> "
        f"ratio {ratio_own:.4f} (bare + extra) / bare"
    )


if __name__ == "__main__":
    main()
