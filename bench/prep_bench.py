"""Prep time per image against the decode-only floor, on 1024x1024 images.

The floor reads the same images and masks with cv2 (one process, nothing else). Prep does
that plus hashing, components, edge polygons, RLE, the split and every writer, with its
default workers (one per core). Both run in this one process, on the same files, so the
ratio is robust to the machine's load; absolute times are printed for context.

    python bench/prep_bench.py [--images 60] [--size 1024] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2


def decode_floor(root: Path) -> float:
    start = time.perf_counter()
    for path in sorted(root.rglob("*.png")):
        if "train" in path.parts:
            continue
        if cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None:
            raise RuntimeError(path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60, help="test images (5 defect types + good)")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2, help="take the best of this many runs of each")
    args = parser.parse_args()

    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    work = Path(tempfile.mkdtemp(prefix="wood-prep-bench-"))
    try:
        per = max(1, args.images // 6)
        root = write_synth(work / "wood", size=args.size, per_defect=per, good=per, train_good=0, seed=0)
        n = per * 6
        floors, preps = [], []
        for i in range(args.repeat):
            floors.append(decode_floor(root))
            start = time.perf_counter()
            run_prep(PrepConfig(source=root, out=work / f"out{i}"))
            preps.append(time.perf_counter() - start)
        floor, prep = min(floors), min(preps)
        print(f"images: {n} at {args.size}x{args.size}, cores: {os.cpu_count()}, default workers")
        print(f"decode floor (cv2, 1 process): {floor / n * 1000:.1f} ms/image")
        print(f"wood prep (all formats):        {prep / n * 1000:.1f} ms/image")
        print(f"ratio prep / floor: {prep / floor:.2f}  (target <= 1.25)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
