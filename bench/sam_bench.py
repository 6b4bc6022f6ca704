"""SAM fine-tuning cost: trainable parameters per mode, seconds/step and peak memory, cached embeddings.

    python bench/sam_bench.py                   # vit_b, random init, 1024 px, batch 1, CPU
    python bench/sam_bench.py --device cuda     # same on a GPU (adds CUDA max memory allocated)

Prints, measured in this one run on the same inputs:
1. trainable params and fraction for lora / adapter / decoder (and full fine-tuning); LoRA params as
   a fraction of the encoder (target <= 0.2%);
2. seconds per training step and peak memory for lora vs full fine-tuning vs decoder-only with
   cached embeddings (each mode in its own subprocess, so peak RSS is that mode's alone);
3. epoch time of decoder-only training with cached vs uncached embeddings on a few images
   (target: cached >= 10x faster).
Inputs: hand-made 1024 px images with one defect each, prompted by its GT box; the real training
path (`SamTrainer`: ResizeLongestSide + padding, loss at the original resolution, AdamW).
Not run by the test suite. On a shared CPU the absolute seconds vary with load; the ratios are
measured back to back.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_data(root: Path, size: int, images: int) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from _sam_fixtures import CLASSES, make_prep_dataset

    per_class = -(-images // len(CLASSES))
    return make_prep_dataset(root / "prep", size=size, counts={"train": (per_class, 0)}, seed=0)


def param_table(model: str) -> list[dict]:
    """Trainable counts per mode, built on the meta device (no memory, no weights needed)."""
    import torch

    from wood.finetune.sam.adapters import AdapterSettings, apply_adapters, trainable_report
    from wood.finetune.sam.models import build_sam

    rows = []
    for mode in ("lora", "adapter", "decoder", "full"):
        with torch.device("meta"):
            sam = build_sam(model)
        if mode == "full":
            report = trainable_report(sam)
        else:
            apply_adapters(sam, AdapterSettings(mode=mode))
            report = trainable_report(sam)
        rows.append(
            {
                "mode": mode,
                **{
                    k: report[k]
                    for k in (
                        "trainable",
                        "total",
                        "trainable_fraction",
                        "encoder_added_trainable",
                        "encoder_params",
                        "added_of_encoder",
                    )
                },
            }
        )
    return rows


def make_trainer(mode: str, model: str, data: Path, device: str, cache: str = "memory"):
    import torch

    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.models import build_sam
    from wood.finetune.sam.train import SamTrainer

    torch.manual_seed(0)
    adapter = "decoder" if mode in ("full", "decoder") else mode
    cfg = SamTrainConfig(
        data=str(data),
        model=model,
        adapter=adapter,
        lr=1e-5,
        warmup_steps=0,
        box_jitter=0.0,
        embedding_cache=cache,
        device=device,
        random_init=True,
    )
    sam = build_sam(model)
    apply_adapters(sam, cfg.adapter_settings())
    trainer = SamTrainer(cfg, sam, device, total_updates=1000)
    if mode == "full":  # every parameter trains; the encoder runs with gradients each step
        for p in sam.parameters():
            p.requires_grad_(True)
        trainer.frozen_encoder = False
        trainer.params = list(sam.parameters())
        trainer.optimizer = torch.optim.AdamW(trainer.params, lr=1e-5)
    return trainer


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> dict:
    import torch

    out = {"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}
    if device.startswith("cuda"):
        out["cuda_max_allocated_gb"] = torch.cuda.max_memory_allocated() / 1024**3
    return out


def child_steps(mode: str, model: str, data: Path, device: str, steps: int) -> dict:
    """Seconds per training step of ``mode`` (after one warm-up step) on one image."""
    from wood.finetune.sam.data import load_split

    images = [im for im in load_split(data, "train")[0] if im.instances]
    trainer = make_trainer(mode, model, data, device)
    trainer.train_step([images[0]])  # warm-up; for decoder this also fills the embedding cache
    _sync(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        trainer.train_step([images[0]])
        _sync(device)
        times.append(time.perf_counter() - t)
    return {"mode": mode, "seconds_per_step": sum(times) / len(times), "steps": steps, **_peak(device)}


def child_epochs(model: str, data: Path, device: str, epochs: int) -> dict:
    """Decoder-only epoch times over all images: embeddings recomputed (none) vs cached (memory)."""
    from wood.finetune.sam.data import load_split

    images = [im for im in load_split(data, "train")[0] if im.instances]
    out = {"images": len(images), "epochs": epochs}
    for cache in ("none", "memory"):
        trainer = make_trainer("decoder", model, data, device, cache)
        for im in images:
            trainer.images.get(im)  # PNG decode + resize kept out of both timings
        times = []
        for _ in range(epochs):
            _sync(device)
            t = time.perf_counter()
            for im in images:
                trainer.train_step([im])
            _sync(device)
            times.append(time.perf_counter() - t)
        out[cache] = times
    out["uncached_epoch_s"] = sum(out["none"]) / epochs  # every uncached epoch does the same work
    out["cached_epoch_s"] = sum(out["memory"][1:]) / (epochs - 1)  # epochs after the first
    out["first_cached_epoch_s"] = out["memory"][0]
    out["speedup"] = out["uncached_epoch_s"] / out["cached_epoch_s"]
    return out


def run_child(args: argparse.Namespace, what: str, data: Path) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        what,
        "--data",
        str(data),
        "--device",
        args.device,
        "--model",
        args.model,
        "--steps",
        str(args.steps),
        "--epochs",
        str(args.epochs),
        "--threads",
        str(args.threads),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {
            "mode": what,
            "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}",
        }
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vit_b", help="SAM variant (random init)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per mode after one warm-up step (default 1 on CPU, 5 on CUDA)",
    )
    parser.add_argument(
        "--images", type=int, default=None, help="images for the cached/uncached epochs (default 3 on CPU, 8 on CUDA)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=2,
        help="epochs for cached/uncached (>= 2; the cache-filling first epoch is reported apart)",
    )
    parser.add_argument("--modes", default="lora,full,decoder", help="modes timed per step (also: adapter)")
    parser.add_argument("--size", type=int, default=1024, help="image size (px)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's default; 1 avoids thread oversubscription on a shared CPU)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.steps = args.steps or (5 if cuda else 1)
    args.images = args.images or (8 if cuda else 3)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child:
        result = (
            child_epochs(args.model, args.data, args.device, args.epochs)
            if args.child == "epochs"
            else child_steps(args.child, args.model, args.data, args.device, args.steps)
        )
        print(json.dumps(result))
        return

    import torch

    started = time.perf_counter()
    print(
        f"SAM {args.model}, random init, {args.size} px, batch 1, device {args.device}"
        + (
            f" ({torch.cuda.get_device_name()})"
            if cuda
            else f" ({torch.get_num_threads()} torch threads; shared CPU: absolute times vary)"
        )
    )
    params = param_table(args.model)
    print(f"\n{'mode':<8} {'trainable':>12} {'of total':>9} {'added in encoder':>17} {'of encoder':>11}")
    for r in params:
        print(
            f"{r['mode']:<8} {r['trainable']:>12,} {100 * r['trainable_fraction']:>8.3f}% "
            f"{r['encoder_added_trainable']:>17,} {100 * r['added_of_encoder']:>10.3f}%"
        )
    lora = next(r for r in params if r["mode"] == "lora")
    print(
        f"LoRA params / encoder params = {100 * lora['added_of_encoder']:.3f}% "
        f"(target <= 0.2%: {'ok' if lora['added_of_encoder'] <= 0.002 else 'MISSED'})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp), args.size, max(args.images, 1))
        steps = [run_child(args, mode, data) for mode in args.modes.split(",")]
        print(f"\n{'mode':<8} {'s/step':>8} {'peak RSS GB':>12}" + (f" {'CUDA max GB':>12}" if cuda else ""))
        for r in steps:
            if "error" in r:
                print(f"{r['mode']:<8} failed: {r['error']}")
                continue
            print(
                f"{r['mode']:<8} {r['seconds_per_step']:>8.3f} {r['peak_rss_gb']:>12.2f}"
                + (f" {r['cuda_max_allocated_gb']:>12.2f}" if cuda else "")
            )
        by = {r["mode"]: r for r in steps if "error" not in r}
        if "lora" in by and "full" in by:
            print(
                f"full / lora: {by['full']['seconds_per_step'] / by['lora']['seconds_per_step']:.2f}x time per step, "
                f"{by['full']['peak_rss_gb'] / by['lora']['peak_rss_gb']:.2f}x peak RSS"
                + (
                    f", {by['full']['cuda_max_allocated_gb'] / by['lora']['cuda_max_allocated_gb']:.2f}x CUDA memory"
                    if cuda
                    else ""
                )
            )
        if "lora" in by and "decoder" in by:
            print(
                f"lora / decoder-cached: "
                f"{by['lora']['seconds_per_step'] / by['decoder']['seconds_per_step']:.1f}x time per step"
            )
        epochs = run_child(args, "epochs", data)
    if "error" in epochs:
        print(f"\ncached vs uncached failed: {epochs['error']}")
    else:
        print(
            f"\ndecoder-only, {epochs['images']} images: uncached epoch {epochs['uncached_epoch_s']:.2f} s, "
            "cached epoch "
            f"{epochs['cached_epoch_s']:.3f} s (first, filling the cache: {epochs['first_cached_epoch_s']:.2f} s) -> "
            f"{epochs['speedup']:.1f}x faster (target >= 10x: {'ok' if epochs['speedup'] >= 10 else 'MISSED'})"
        )
    total = time.perf_counter() - started
    print(f"\nbench wall time {total:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "params": params,
                    "steps": steps,
                    "epochs": epochs,
                    "wall_s": total,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
