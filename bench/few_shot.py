"""Few labelled defects: does `wood paste` and/or synthetic pretraining help YOLO from scratch?

Not a timed test. On an MVTec-layout folder DATA (a few dozen real defect images), with the same
epochs and image size for every arm and several seeds:

- baseline:  yolov8n.yaml from scratch on `wood prep DATA`
- +paste:    the same on `wood paste` of that prep (train instances pasted onto train images)
- +synth:    started from a model trained on `wood synth` data (synthetic pretraining)
- both:      synthetic start and pasted data
- baseline, same images seen: the baseline trained for epochs x (train + pasted) / train, i.e. about
  the compute of the pasted arms (pasted data means more images per epoch, so equal epochs
  favour it); this separates what pasting adds from what longer training adds

Prints COCO mAP50 on the test split (mean ± sd over seeds), per-class AP50 with the rarest train
classes marked, training seconds, and each as a ratio to the baseline measured in the same run.
With ``--sam``, also tiny-SAM LoRA mIoU (GT boxes) trained on the prep vs the pasted prep.

    python bench/few_shot.py DATA --groups DATA/sources.csv            # about 40 CPU minutes
    python bench/few_shot.py DATA --seeds 1 --epochs 5 --pretrain-epochs 2 --paste-images 8  # smoke

Everything runs through the `wood` CLI, offline, in a work folder (default: a temp folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ARMS = ("baseline", "+paste", "+synth", "both", "baseline-long")


def wood(*args: object) -> float:
    """Run `wood ARGS`; returns the wall seconds. Output is kept out of the table (stderr shows errors)."""
    started = time.perf_counter()
    subprocess.run(["wood", *map(str, args)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def finetune_yolo(
    args: argparse.Namespace, data: Path, model: str, epochs: int, seed: int, out: Path, name: str
) -> float:
    """`wood finetune yolo` at the bench's --imgsz and --batch, with no data loader workers; the wall seconds."""
    return wood(
        "finetune",
        "yolo",
        "--data",
        data,
        "--model",
        model,
        "--epochs",
        epochs,
        "--imgsz",
        args.imgsz,
        "--batch",
        args.batch,
        "--workers",
        0,
        "--seed",
        seed,
        "--out",
        out,
        "--name",
        name,
    )


def prepare(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """(prep of DATA, pasted prep), built once per work folder."""
    prep, pasted = work / "prep", work / "pasted"
    if not (prep / "manifest.json").is_file():
        extra = ["--groups", args.groups] if args.groups else []
        wood("prep", args.data, "--out", prep, "--seed", args.split_seed, *extra)
    if not (pasted / "manifest.json").is_file():
        wood(
            "paste",
            prep,
            "--out",
            pasted,
            "--images",
            args.paste_images,
            "--per-image",
            args.per_image,
            "--blend",
            args.blend,
            "--seed",
            0,
            *(["--balance"] if args.balance else []),
        )
    return prep, pasted


def pretrain(args: argparse.Namespace, work: Path) -> tuple[Path, float]:
    """A yolov8n trained from scratch on synthetic wood: (its best.pt, training seconds)."""
    weights = work / "synth-runs" / "pretrain" / "weights" / "best.pt"
    seconds_file = work / "synth-runs" / "pretrain.seconds"
    if weights.is_file() and seconds_file.is_file():
        return weights, float(seconds_file.read_text())
    synth, prep = work / "synth" / "wood", work / "synth-prep"
    wood(
        "synth",
        synth,
        "--size",
        args.synth_size,
        "--per-defect",
        args.synth_per_defect,
        "--good",
        args.synth_per_defect // 2,
        "--train-good",
        0,
        "--seed",
        1,
    )
    wood("prep", synth, "--out", prep, "--seed", 1)
    seconds = finetune_yolo(args, prep, "yolov8n.yaml", args.pretrain_epochs, 0, work / "synth-runs", "pretrain")
    seconds_file.write_text(f"{seconds:.1f}")
    return weights, seconds


def train_and_score(
    args: argparse.Namespace, work: Path, arm: str, seed: int, data: Path, model: str, epochs: int
) -> dict:
    name = f"{arm.strip('+')}-s{seed}"
    run = work / "runs" / name
    if not (run / "eval-test" / "eval_detect.json").is_file():
        seconds = finetune_yolo(args, data, model, epochs, seed, work / "runs", name)
        (run / "bench.seconds").write_text(f"{seconds:.1f}")
        # scored on the ORIGINAL prep's test split (identical bytes in the pasted prep)
        wood("eval", "detect", "--run", run, "--split", "test", "--data", work / "prep", "--out", run / "eval-test")
    result = json.loads((run / "eval-test" / "eval_detect.json").read_text())
    bbox = result["coco"]["bbox"]
    return {
        "mAP50": bbox["mAP50"],
        "per_class": {k: v["AP50"] for k, v in bbox["per_class"].items()},
        "seconds": float((run / "bench.seconds").read_text()),
    }


def sam_arm(args: argparse.Namespace, work: Path, name: str, data: Path) -> float | None:
    """Tiny-SAM LoRA (random init, the demo's recipe) mIoU with GT boxes on the prep's test split."""
    run = work / "sam" / name
    metrics = run / "eval-test-gt" / "segment_metrics.json"
    if not metrics.is_file():
        wood(
            "finetune",
            "sam",
            "--data",
            data,
            "--model",
            "tiny",
            "--random-init",
            "--adapter",
            "lora",
            "--epochs",
            args.sam_epochs,
            "--device",
            "cpu",
            "--out",
            work / "sam",
            "--name",
            name,
            "--config",
            args.sam_config,
        )
        wood("eval", "segment", "--run", run, "--split", "test", "--data", work / "prep", "--out", run / "eval-test-gt")
    return json.loads(metrics.read_text()).get("mIoU")


def train_images(prep: Path) -> int:
    return json.loads((prep / "stats.json").read_text())["splits"]["train"]["images"]


def rare_classes(prep: Path, k: int = 2) -> list[str]:
    """The ``k`` classes with the fewest train instances in ``prep``."""
    counts = json.loads((prep / "stats.json").read_text())["splits"]["train"]["instances_per_class"]
    return sorted(counts, key=lambda c: (counts[c], c))[:k]


def mean_sd(values: list[float]) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def report(results: dict[str, list[dict]], rare: list[str], pretrain_s: float, sam: dict[str, float | None]) -> None:
    base = statistics.mean(r["mAP50"] for r in results["baseline"]) or float("nan")
    base_s = statistics.mean(r["seconds"] for r in results["baseline"])
    print("\n| arm | COCO mAP50 (test) | x baseline | train s | x baseline |")
    print("|---|---|---|---|---|")
    for arm in ARMS:
        maps = [r["mAP50"] for r in results[arm]]
        secs = [r["seconds"] for r in results[arm]]
        print(
            f"| {arm} | {mean_sd(maps)} | {statistics.mean(maps) / base:.2f} | {statistics.mean(secs):.0f} | "
            f"{statistics.mean(secs) / base_s:.2f} |"
        )
    print(f"\nsynthetic pretraining (once, shared by +synth and both): {pretrain_s:.0f} s")
    classes = sorted(results["baseline"][0]["per_class"])
    print("\nper-class AP50, mean over seeds (rare train classes marked *)\n")
    print("| arm | " + " | ".join(c + ("*" if c in rare else "") for c in classes) + " |")
    print("|---|" + "---|" * len(classes))
    for arm in ARMS:
        row = [statistics.mean(r["per_class"][c] or 0.0 for r in results[arm]) for c in classes]
        print(f"| {arm} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    if sam:
        print("\n| SAM tiny LoRA | mIoU (GT boxes, test) |\n|---|---|")
        for name, value in sam.items():
            print(f"| {name} | {'n/a' if value is None else f'{value:.3f}'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="MVTec-layout category folder with a few dozen defect images")
    ap.add_argument("--groups", type=Path, default=None, help="groups CSV for `wood prep --groups` (derived copies)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=80, help="every arm trains this many epochs")
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--paste-images", type=int, default=40, help="`wood paste --images`")
    ap.add_argument("--per-image", type=int, default=2, help="`wood paste --per-image`")
    ap.add_argument("--blend", default="alpha", help="`wood paste --blend`")
    ap.add_argument("--balance", action="store_true", help="`wood paste --balance`")
    ap.add_argument("--synth-per-defect", type=int, default=24, help="synthetic images per defect type (pretraining)")
    ap.add_argument("--synth-size", type=int, default=256)
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--sam", action="store_true", help="also the tiny-SAM LoRA arm (with and without pasted images)")
    ap.add_argument("--sam-epochs", type=int, default=6)
    ap.add_argument(
        "--sam-config",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "datasets" / "demo_sam.yaml",
        help="SAM settings (default: the demo's tiny-SAM recipe)",
    )
    ap.add_argument("--work", type=Path, default=None, help="work folder (reused: finished runs are not redone)")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="wood-few-shot-"))
    work.mkdir(parents=True, exist_ok=True)
    prep, pasted = prepare(args, work)
    weights, pretrain_s = pretrain(args, work)
    starts = {
        "baseline": (prep, "yolov8n.yaml"),
        "+paste": (pasted, "yolov8n.yaml"),
        "+synth": (prep, str(weights)),
        "both": (pasted, str(weights)),
        "baseline-long": (prep, "yolov8n.yaml"),
    }
    long_epochs = round(args.epochs * train_images(pasted) / train_images(prep))
    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for seed in range(args.seeds):
        for arm in ARMS:
            data, model = starts[arm]
            epochs = long_epochs if arm == "baseline-long" else args.epochs
            results[arm].append(train_and_score(args, work, arm, seed, data, model, epochs))
            print(
                f"seed {seed} {arm}: mAP50 {results[arm][-1]['mAP50']:.3f} ({results[arm][-1]['seconds']:.0f} s)",
                flush=True,
            )
    sam = (
        {"prep": sam_arm(args, work, "prep", prep), "+paste": sam_arm(args, work, "pasted", pasted)} if args.sam else {}
    )
    stats = json.loads((prep / "stats.json").read_text())
    print(
        f"\nwork folder: {work}\nsplit images: { {k: v['images'] for k, v in stats['splits'].items()} }; "
        f"pasted train images: {args.paste_images}; epochs {args.epochs} "
        f"(baseline-long {long_epochs}), imgsz {args.imgsz}, seeds {args.seeds}"
    )
    report(results, rare_classes(prep), pretrain_s, sam)


if __name__ == "__main__":
    main()
