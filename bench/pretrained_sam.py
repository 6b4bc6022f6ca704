"""Pretrained vs random SAM on a few real defects: does fine-tuning LiteMedSAM beat zero-shot, and random init?

Not a timed test. On an MVTec-layout folder DATA (a few dozen real defect images) with its grouped split
(`wood prep --groups`, as bench/few_shot.py makes it), every arm trains the same number of optimizer
updates (``--steps``, batch 1) and is scored with GT boxes (and with a YOLO run's boxes, ``--yolo-epochs``):

- zero-shot:     LiteMedSAM untrained (`wood eval segment --model litemedsam`): the baseline
- zero-shot-zoom: the same, each box in its own crop (``--zoom``, `wood.finetune.sam.zoom`); only with --zoom
- lora:          LiteMedSAM + LoRA on the encoder's qkv (the decoder trains too)
- adapter:       LiteMedSAM + bottleneck adapters in the TinyViT blocks
- decoder:       LiteMedSAM, mask decoder only (cached embeddings)
  (with ``--zoom Z`` these three train and are scored on one crop per box, Z x its longer side)
- tiny-lora:     random-init tiny SAM + LoRA, the previous demo's recipe (128 px, patch 4, box mask prompt)

Prints mIoU (mean ± sd over seeds), each arm's ratio to zero-shot, and the training seconds (the runs'
own epoch times, model loading and evaluation excluded). Hyper-parameters are fixed up front; to tune
them, score ``--split val`` (never the test split).

    python bench/pretrained_sam.py DATA --groups DATA/sources.csv              # about 70 CPU minutes
    python bench/pretrained_sam.py ... --seeds 1 --first-seed K --work W       # K = 0, 1, 2 in parallel, then
    python bench/pretrained_sam.py ... --work W                                # the table of all (runs reused)
    python bench/pretrained_sam.py DATA --groups DATA/sources.csv --seeds 1 --steps 2   # smoke

Everything runs through the `wood` CLI, offline, one torch thread per process, in a work folder.

The defaults (100 updates, lr 1e-4, warmup 5, --zoom 2) were chosen on ``--split val`` (5 images, 10
instances, seed 0, GT boxes; zero-shot 0.628, zoomed 0.670), after training began to keep LiteMedSAM's
frozen BatchNorm in eval mode. Whole image: LoRA lr 1e-3 x 40 updates 0.509, lr 3e-4 x 19 0.629, x 40 0.606,
lr 3e-4 x 100 without box jitter 0.534, with --lora-decoder 0.626, lr 1e-4 x 100 0.644; decoder-only lr 1e-3
x 19 0.492, lr 1e-4 x 100 0.655, lr 3e-5 x 200 0.675. Zoomed (--zoom 2): LoRA lr 1e-4 x 100 0.693,
decoder-only lr 1e-4 x 100 0.710. One LoRA update costs about 5 CPU seconds (one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from few_shot import mean_sd, wood  # noqa: E402 - bench/ is not a package

ARMS = ("zero-shot", "zero-shot-zoom", "lora", "adapter", "decoder", "tiny-lora")
TRAINED = ("lora", "adapter", "decoder", "tiny-lora")
TINY_RECIPE = [
    "--model", "tiny", "--random-init", "--imgsz", "128", "--patch-size", "4", "--box-mask-prompt",
    "--train-prompt-encoder", "--adapter", "lora", "--lr", "3e-3",
]  # fmt: skip
"""The random-init tiny SAM as the demo trained it before LiteMedSAM (datasets/demo_sam.yaml then)."""


def prepare(args: argparse.Namespace, work: Path) -> Path:
    prep = work / "prep"
    if not (prep / "manifest.json").is_file():
        extra = ["--groups", args.groups] if args.groups else []
        wood("prep", args.data, "--out", prep, "--seed", args.split_seed, *extra)
    return prep


def yolo_run(args: argparse.Namespace, work: Path, prep: Path) -> Path | None:
    """A yolov8n trained from scratch on the prep (its boxes prompt SAM), or None with --yolo-epochs 0."""
    if args.yolo_epochs <= 0:
        return None
    run = work / "yolo" / "det"
    if not (run / "weights" / "best.pt").is_file():
        wood(
            "finetune", "yolo", "--data", prep, "--model", "yolov8n.yaml", "--epochs", args.yolo_epochs,
            "--imgsz", 512, "--batch", 8, "--workers", 0, "--seed", 0, "--out", work / "yolo", "--name", "det",
            "--exist-ok",
        )  # fmt: skip
    return run


def score(folder: Path, prompts: str) -> float | None:
    path = folder / f"eval-{prompts}" / "segment_metrics.json"
    return json.loads(path.read_text()).get("mIoU") if path.is_file() else None


def evaluate(args: argparse.Namespace, prep: Path, yolo: Path | None, target: Path, source: list) -> None:
    """GT-box (and YOLO-box) scores of a run (``source`` ["--run", RUN]) or of zero-shot (["--model", M])."""
    for prompts, boxes in (("gt", "gt"), ("yolo", yolo)):
        if boxes is None or (target / f"eval-{prompts}" / "segment_metrics.json").is_file():
            continue
        out = target / f"eval-{prompts}"
        # mIoU keeps boxes >= --conf 0.25 only, so the boxes below it (segm mAP's) are not segmented (zoomed: one
        # encoder pass each)
        floor = [] if prompts == "gt" else ["--map-conf", 0.25]
        wood("eval", "segment", *source, "--data", prep, "--split", args.split, "--boxes", boxes, "--out", out,
             "--overlays", 0, "--device", "cpu", *floor)  # fmt: skip


def train_arm(args: argparse.Namespace, work: Path, prep: Path, arm: str, seed: int) -> Path:
    name = f"{arm}-s{seed}"
    run = work / "sam" / name
    if not (run / "metrics.json").is_file() or not (run / "weights" / "mask_decoder.safetensors").is_file():
        model = TINY_RECIPE if arm == "tiny-lora" else ["--model", "litemedsam", "--adapter", arm, "--lr", args.lr]
        model += [] if arm == "tiny-lora" else ["--zoom", args.zoom]
        wood(
            "finetune", "sam", "--data", prep, *model, "--epochs", 1000, "--max-steps", args.steps,
            "--warmup-steps", args.warmup, "--val-split", "none", "--seed", seed, "--device", "cpu",
            "--threads", 1, "--out", work / "sam", "--name", name, "--exist-ok",
        )  # fmt: skip
    return run


def train_seconds(run: Path) -> float:
    history = json.loads((run / "metrics.json").read_text()).get("history") or []
    return sum(float(h.get("seconds", 0.0)) for h in history)


def report(results: dict[str, list[dict]], args: argparse.Namespace, has_yolo: bool) -> None:
    base = {p: statistics.mean(r[p] for r in results["zero-shot"] if r[p] is not None) for p in ("gt", "yolo") if
            any(r[p] is not None for r in results["zero-shot"])}  # fmt: skip
    cols = ["mIoU GT boxes", "x zero-shot"] + (["mIoU YOLO boxes", "x zero-shot"] if has_yolo else []) + ["train s"]
    print(f"\n| arm | {' | '.join(cols)} |\n|---|" + "---|" * len(cols))
    for arm in ARMS:
        rows = results[arm]
        if not rows:
            continue
        cells = []
        for prompts in ("gt", "yolo") if has_yolo else ("gt",):
            values = [r[prompts] for r in rows if r[prompts] is not None]
            ratio = statistics.mean(values) / base[prompts] if values and base.get(prompts) else float("nan")
            cells += [mean_sd(values), f"{ratio:.2f}"]
        cells.append(f"{statistics.mean(r['seconds'] for r in rows):.0f}")
        print(f"| {arm} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="MVTec-layout category folder with a few dozen defect images")
    ap.add_argument("--groups", type=Path, default=None, help="groups CSV for `wood prep --groups` (derived copies)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="train seeds FIRST..FIRST+SEEDS-1 (parallel processes)")
    ap.add_argument("--steps", type=int, default=100, help="optimizer updates of every trained arm (batch 1)")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate of the LiteMedSAM arms")
    ap.add_argument("--warmup", type=int, default=5, help="warmup updates")
    ap.add_argument("--zoom", type=float, default=2.0, help="LiteMedSAM arms: a crop per box, ZOOM x its side (0: off)")
    ap.add_argument("--split", default="test", help="scored split (tune on val, report test)")
    ap.add_argument("--yolo-epochs", type=int, default=0, help="train a YOLO from scratch for box prompts (0: skip)")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="work folder (reused: finished runs are not redone)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # every wood process: one torch thread (a shared small CPU)

    work = args.work or Path(tempfile.mkdtemp(prefix="wood-pretrained-sam-"))
    work.mkdir(parents=True, exist_ok=True)
    prep = prepare(args, work)
    yolo = yolo_run(args, work, prep)
    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for arm, zoom in (("zero-shot", 0.0), ("zero-shot-zoom", args.zoom)):
        if arm == "zero-shot" or zoom:
            zero = work / arm
            evaluate(args, prep, yolo, zero, ["--model", "litemedsam", "--zoom", zoom])
            results[arm].append({"gt": score(zero, "gt"), "yolo": score(zero, "yolo"), "seconds": 0.0})
            print(f"{arm}: mIoU GT boxes {results[arm][0]['gt']:.3f}", flush=True)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for arm in TRAINED:
            run = train_arm(args, work, prep, arm, seed)
            evaluate(args, prep, yolo, run, ["--run", run])
            results[arm].append({"gt": score(run, "gt"), "yolo": score(run, "yolo"), "seconds": train_seconds(run)})
            print(f"seed {seed} {arm}: mIoU GT boxes {results[arm][-1]['gt']:.3f} "
                  f"({results[arm][-1]['seconds']:.0f} s)", flush=True)  # fmt: skip
    stats = json.loads((prep / "stats.json").read_text())
    print(
        f"\nwork folder: {work}\nsplit images: { {k: v['images'] for k, v in stats['splits'].items()} }; "
        f"scored split {args.split}; {args.steps} updates per arm (batch 1), LiteMedSAM lr {args.lr}, "
        f"seeds {args.seeds}, zoom {args.zoom or 'off'}"
    )
    report(results, args, yolo is not None)


if __name__ == "__main__":
    main()
