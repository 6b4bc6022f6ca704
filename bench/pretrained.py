"""Pretrained vs random on a few real defects: both halves of the comparison in one command.

Runs ``bench/pretrained_sam.py`` (zero-shot LiteMedSAM vs + LoRA / + adapter / + decoder-only, and
random-init tiny SAM + LoRA at the same steps) and ``bench/pretrained_classify.py`` (scratch ResNet18
vs ImageNet MobileNetV2 transfer and transfer + fine-tune) on the same MVTec-layout folder and groups
file, one after the other, each printing its own table of ratios to its baseline and training times.
Every argument after ``--sam`` / ``--classify`` goes to that half only:

    python bench/pretrained.py DATA --groups DATA/sources.csv
    python bench/pretrained.py DATA --groups DATA/sources.csv --sam --steps 2 --seeds 1 --classify --epochs 1 --seeds 1
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def split_args(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(common, sam-only, classify-only) arguments: ``--sam`` and ``--classify`` switch the bucket."""
    buckets: dict[str, list[str]] = {"common": [], "sam": [], "classify": []}
    current = "common"
    for arg in argv:
        if arg in ("--sam", "--classify"):
            current = arg[2:]
            continue
        buckets[current].append(arg)
    return buckets["common"], buckets["sam"], buckets["classify"]


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    common, sam, classify = split_args(sys.argv[1:])
    status = 0
    for script, extra in (("pretrained_sam.py", sam), ("pretrained_classify.py", classify)):
        print(f"== {script}", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / script), *common, *extra])
    return status


if __name__ == "__main__":
    sys.exit(main())
