"""Does ImageNet transfer pay on a few dozen real defects? Scratch ResNet18 vs packaged MobileNetV2.

Not a timed test. On an MVTec-layout folder DATA (a few dozen real defect images), prepared once with a
grouped split (`wood prep --groups`, as bench/few_shot.py does), the same split for every arm, several
seeds, CPU:

- scratch ResNet18:               random init, every layer trains (the study's attempt 2)
- MobileNetV2 transfer:           packaged ImageNet backbone frozen, the head trains (attempt 3)
- MobileNetV2 transfer + finetune: then every layer trains at a lower rate, BatchNorm statistics kept (attempt 4)
- with ``--ablate-bn``, also that fine-tune with BatchNorm statistics trained (what ResNet18's attempt 4 does)

Every arm uses the study's optimizer and rates (Adam, 1e-3, fine-tune 1e-4) and epochs (30, + 10).
Prints test accuracy (mean ± sd over seeds), val accuracy, training seconds, and each as a ratio to
scratch ResNet18 measured in the same run. Choices are made on val; test is only reported.

    python bench/pretrained_classify.py DATA --groups DATA/sources.csv         # about 15 CPU minutes
    python bench/pretrained_classify.py DATA --groups DATA/sources.csv --seeds 1 --epochs 2 --finetune-epochs 1

Runs in-process (the wood next to this script), offline, in a work folder (default: a temp folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from few_shot import mean_sd  # noqa: E402 - the sibling benchmark's helpers

ARMS = {
    "scratch ResNet18": {"arch": "resnet18", "strategy": "scratch"},
    "MobileNetV2 transfer": {"arch": "mobilenet_v2", "strategy": "transfer"},
    "MobileNetV2 transfer + finetune": {"arch": "mobilenet_v2", "strategy": "finetune"},
}
ABLATION = {
    "MobileNetV2 finetune, BatchNorm trained": {"arch": "mobilenet_v2", "strategy": "finetune", "finetune_bn": "train"}
}
"""With --ablate-bn: the fine-tune phase trains BatchNorm statistics too (then recalibrates them), which
``--finetune-bn auto`` does not do for MobileNetV2; compare on val."""
BASELINE = "scratch ResNet18"
GROUP_PATTERN = r"([a-z]+_[0-9]+)(\.png)?$"
"""Derived copies name their original last (`barrdistorted_1001_0.3_0.3_hole_3.png` -> `hole_3`)."""


def prepare(args: argparse.Namespace, work: Path) -> Path:
    """`wood prep DATA` with the grouped split, once per work folder."""
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep

    prep = work / "prep"
    if not (prep / "manifest.json").is_file():
        extra = {"groups": args.groups, "group_pattern": args.group_pattern} if args.groups else {}
        run_prep(PrepConfig(source=args.data, out=prep, seed=args.split_seed, preview=0, **extra))
    return prep


def train_and_score(args: argparse.Namespace, work: Path, prep: Path, dataset, arm: str, seed: int) -> dict:
    from wood.finetune.classify.config import ClassifyConfig
    from wood.finetune.classify.train import train

    slug = arm.replace(",", "").replace(" ", "-").replace("+", "plus")
    name = f"{slug}-s{seed}"
    run = work / "runs" / name
    if not (run / "metrics.json").is_file():
        cfg = ClassifyConfig(
            data=str(prep),
            **{**ARMS, **ABLATION}[arm],
            optimizer="adam",
            lr=args.lr,
            epochs=args.epochs,
            finetune_epochs=args.finetune_epochs,
            finetune_lr=args.finetune_lr,
            imgsz=args.imgsz,
            batch=args.batch,
            seed=seed,
            device="cpu",
            out=str(work / "runs"),
            name=name,
            exist_ok=True,
        )
        train(cfg, dataset)
    m = json.loads((run / "metrics.json").read_text())
    return {"test": m["test"]["acc"], "val": m["val"]["acc"], "train": m["train"]["acc"], "seconds": m["train_time_s"]}


def ratio(value: float, base: float) -> str:
    """value / base, spelled out where the base is 0 (a from-scratch model can score 0 on a dozen images)."""
    if base == 0:
        return "n/a (scratch 0)" if value else "1.00"
    return f"{value / base:.2f}"


def majority_accuracy(dataset) -> tuple[str, float]:
    """The train split's most frequent class and the test accuracy of always predicting it (no training)."""
    classes, splits = dataset
    top = int(splits["train"].labels.bincount().argmax())
    return classes[top], float((splits["test"].labels == top).float().mean())


def report(results: dict[str, list[dict]], dataset, args: argparse.Namespace) -> None:
    sizes = {s: len(dataset[1][s]) for s in ("train", "val", "test")}
    base = statistics.mean(r["test"] for r in results[BASELINE])
    base_s = statistics.mean(r["seconds"] for r in results[BASELINE])
    top, top_acc = majority_accuracy(dataset)
    print(
        f"\nsplit images train/val/test {sizes['train']}/{sizes['val']}/{sizes['test']}; imgsz {args.imgsz}; "
        f"epochs {args.epochs} (+ {args.finetune_epochs} fine-tune); seeds {args.seeds}; CPU; "
        f"always predicting the commonest train class ({top}) scores {top_acc:.3f} on test"
    )
    print("\n| arm | test acc (mean ± sd) | × scratch ResNet18 | val acc | train acc | train s | × scratch |")
    print("|---|---|---|---|---|---|---|")
    for arm, runs in results.items():
        test = [r["test"] for r in runs]
        secs = statistics.mean(r["seconds"] for r in runs)
        print(
            f"| {arm} | {mean_sd(test)} | {ratio(statistics.mean(test), base)} | "
            f"{mean_sd([r['val'] for r in runs])} | {mean_sd([r['train'] for r in runs])} | "
            f"{secs:.0f} | {ratio(secs, base_s)} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="MVTec-layout category folder with a few dozen defect images")
    ap.add_argument("--groups", type=Path, default=None, help="groups CSV for `wood prep --groups` (derived copies)")
    ap.add_argument("--group-pattern", default=GROUP_PATTERN, help="`wood prep --group-pattern` (with --groups)")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30, help="scratch epochs, and the transfer phase's")
    ap.add_argument("--finetune-epochs", type=int, default=10, help="second phase of transfer + finetune")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--finetune-lr", type=float, default=1e-4)
    ap.add_argument("--imgsz", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument(
        "--only-seed", type=int, default=None, help="train this seed only, no table (run seeds in parallel, then all)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--ablate-bn", action="store_true", help="also fine-tune MobileNetV2 with BatchNorm trained")
    ap.add_argument("--work", type=Path, default=None, help="work folder (reused: finished runs are not redone)")
    args = ap.parse_args()

    import torch

    from wood.finetune.classify.data import load_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="wood-pretrained-classify-"))
    work.mkdir(parents=True, exist_ok=True)
    prep = prepare(args, work)
    dataset = load_dataset(prep, args.imgsz)
    arms = {**ARMS, **(ABLATION if args.ablate_bn else {})}
    results: dict[str, list[dict]] = {arm: [] for arm in arms}
    for seed in range(args.seeds) if args.only_seed is None else [args.only_seed]:
        for arm in arms:
            results[arm].append(train_and_score(args, work, prep, dataset, arm, seed))
            r = results[arm][-1]
            print(f"seed {seed} {arm}: test {r['test']:.3f} val {r['val']:.3f} ({r['seconds']:.0f} s)", flush=True)
    print(f"\nwork folder: {work}")
    if args.only_seed is not None:
        return
    report(results, dataset, args)


if __name__ == "__main__":
    main()
