"""What the output marker costs `wood prep`: listing every path with its size and sha256 when the output
is written, and proving every path again before an output is replaced.

    python bench/marker_overhead.py                 # a 256 px synth, 10 images per defect type
    python bench/marker_overhead.py --per-defect 40

Prints, measured in this one run on the same output: the prep time (first run, and a re-run over its own
output, which proves the old output twice and lists the new one), the time to list the output once and to
prove it once, and their share of the re-run. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--per-defect", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="listing/proving repeats (the median is shown)")
    args = parser.parse_args()

    from wood.marker import listing, prove
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = write_synth(root / "wood", size=args.size, per_defect=args.per_defect, good=10, train_good=10)
        out = root / "prep"
        t0 = time.perf_counter()
        run_prep(PrepConfig(source=src, out=out, workers=1))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_prep(PrepConfig(source=src, out=out, workers=1, seed=1))
        rerun = time.perf_counter() - t0
        paths = files = 0
        lists, proofs = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            found = listing(out)
            lists.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            proof = prove(out, "prep")
            proofs.append(time.perf_counter() - t0)
            assert proof.marked and not proof.foreign
            paths, files = len(found), sum("sha256" in r for r in found.values())
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    lst, prv = sorted(lists)[len(lists) // 2], sorted(proofs)[len(proofs) // 2]
    print(f"prep output: {paths} paths, {files} files, {size / 1e6:.1f} MB ({args.size} px synth)")
    print(f"prep: first run {first:.2f} s, re-run over its own output {rerun:.2f} s")
    print(f"list every path (size + sha256): {lst * 1000:.0f} ms; prove every path: {prv * 1000:.0f} ms")
    marker = lst + 2 * prv  # a re-run lists the new output once and proves the old one twice
    print(f"marker share of the re-run: {marker / rerun:.1%} ({marker:.2f} s of {rerun:.2f} s)")
    print(f"marker share of a first run (listing only): {lst / first:.1%}")


if __name__ == "__main__":
    main()
