"""SAM training throughput: images/s and peak memory per --batch x --precision, batched vs the per-image loop.

    python bench/sam_bench.py                                   # tiny, 256 px, CPU: batch 1,2,4,8 x fp32,bf16
    python bench/sam_bench.py --model vit_b --device cuda --per-image-batches 1,8   # a GPU (random init)

For every (precision, batch) it times the real training step (`SamTrainer`, LoRA by default) two ways,
each in its own subprocess (so peak RSS is that configuration's alone):

- ``batched``: what wood does now: the ``batch`` images stacked into ONE image-encoder pass;
- ``per-image``: what wood did before (the baseline): the same batch as ``batch`` single-image
  encoder passes whose losses add up to the same mean, then one optimizer update.

Prints images/s, peak memory (RSS on CPU, ``torch.cuda.max_memory_allocated`` on CUDA) and per image,
the batched / per-image ratio at the same batch and precision (target on CPU: >= 1.5x), and the best
row against the per-image batch-1 fp32 baseline (target on a GPU: >= 4x, memory per image no higher).
Also the trainable-parameter table per adapter mode (on the meta device), and with ``--cache-check``
decoder-only epochs with cached vs recomputed image embeddings. Inputs: hand-made images
with one defect each, prompted by the GT box. Not run by the test suite; on a shared CPU absolute
numbers vary with load, the ratios are measured back to back in one run.
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
    for mode in ("lora", "adapter", "decoder"):
        with torch.device("meta"):
            sam = build_sam(model)
        apply_adapters(sam, AdapterSettings(mode=mode))
        report = trainable_report(sam)
        keys = ("trainable", "total", "trainable_fraction", "encoder_added_trainable", "added_of_encoder")
        rows.append({"mode": mode, **{k: report[k] for k in keys}})
    return rows


def make_trainer(args: argparse.Namespace, data: Path, precision: str, batch: int):
    import torch

    from wood.finetune.sam.adapters import apply_adapters
    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.models import build_sam
    from wood.finetune.sam.trainer import SamTrainer

    torch.manual_seed(0)
    cfg = SamTrainConfig(
        data=str(data),
        model=args.model,
        adapter=args.mode,
        lr=1e-5,
        warmup_steps=0,
        box_jitter=0.0,
        flip=False,
        batch=batch,
        precision=precision,
        grad_checkpoint=args.grad_checkpoint,
        device=args.device,
        random_init=True,
        imgsz=args.imgsz,
        patch_size=args.patch_size,
    )
    sam = build_sam(args.model, cfg.imgsz, cfg.patch_size)
    apply_adapters(sam, cfg.adapter_settings())
    return SamTrainer(cfg, sam, args.device, total_updates=10_000)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def child(args: argparse.Namespace, data: Path, precision: str, batch: int, loop: str) -> dict:
    """images/s of training steps of ``batch`` images (one warm-up step, then at least ``--seconds``)."""
    import torch

    from wood.finetune.sam.data import load_split

    images = [im for im in load_split(data, "train")[0] if im.instances][:batch]
    trainer = make_trainer(args, data, precision, batch)
    for im in images:
        trainer.images.get(im)  # PNG decode + resize kept out of the timing

    def step() -> None:
        if loop == "batched":
            trainer.backward_batch(images)
        else:  # the per-image loop: one encoder pass per image, losses adding up to the batch mean
            for im in images:
                trainer.backward_batch([im], group_size=len(images))
        trainer.optimizer_step()

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    step()
    _sync(args.device)
    steps, started = 0, time.perf_counter()
    while steps < args.min_steps or time.perf_counter() - started < args.seconds:
        step()
        _sync(args.device)
        steps += 1
    seconds = time.perf_counter() - started
    out = {"precision": precision, "batch": batch, "loop": loop, "steps": steps, "seconds": seconds}
    out["images_per_s"] = batch * steps / seconds
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    if args.device.startswith("cuda"):
        out["cuda_max_allocated_gb"] = torch.cuda.max_memory_allocated() / 1024**3
    return out


def child_cache(args: argparse.Namespace, data: Path, epochs: int = 3) -> dict:
    """Decoder-only epochs over all images at --batch 1: embeddings recomputed (none) vs cached (memory)."""
    from wood.finetune.sam.data import load_split

    images = [im for im in load_split(data, "train")[0] if im.instances]
    out: dict = {"images": len(images)}
    args.mode = "decoder"
    for cache in ("none", "memory"):
        trainer = make_trainer(args, data, "fp32", 1)
        trainer.embeddings = type(trainer.embeddings)(cache)
        times = []
        for _ in range(epochs):
            _sync(args.device)
            started = time.perf_counter()
            for im in images:
                trainer.train_step([im])
            _sync(args.device)
            times.append(time.perf_counter() - started)
        out[cache] = times
    out["speedup"] = (sum(out["none"]) / epochs) / (sum(out["memory"][1:]) / (epochs - 1))  # after the filling epoch
    return out


def run_child(args: argparse.Namespace, data: Path, precision: str, batch: int, loop: str) -> dict:
    what = "cache" if loop == "cache" else f"{precision},{batch},{loop}"
    cmd = [sys.executable, __file__, "--child", what, "--data", str(data)]
    cmd += ["--model", args.model, "--device", args.device, "--mode", args.mode, "--threads", str(args.threads)]
    cmd += ["--seconds", str(args.seconds), "--min-steps", str(args.min_steps)]
    cmd += ["--grad-checkpoint"] if args.grad_checkpoint else []
    cmd += ["--imgsz", str(args.imgsz)] if args.imgsz else []
    cmd += ["--patch-size", str(args.patch_size)] if args.patch_size else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        return {"precision": precision, "batch": batch, "loop": loop, "error": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(row: dict) -> float:
    return row.get("cuda_max_allocated_gb", row.get("peak_rss_gb", float("nan")))


def print_table(rows: list[dict], cuda: bool) -> None:
    by = {(r["precision"], r["batch"], r["loop"]): r for r in rows if "error" not in r}
    mem = "CUDA max GB" if cuda else "peak RSS GB"
    print(f"\n{'precision':<9} {'batch':>5} {'loop':<9} {'images/s':>9} {mem:>12} {'GB/image':>9} {'batched/loop':>13}")
    for r in rows:
        head = f"{r['precision']:<9} {r['batch']:>5} {r['loop']:<9}"
        if "error" in r:
            print(f"{head} failed: {r['error']}")
            continue
        other = by.get((r["precision"], r["batch"], "per-image"))
        ratio = f"{r['images_per_s'] / other['images_per_s']:.2f}x" if r["loop"] == "batched" and other else ""
        print(f"{head} {r['images_per_s']:>9.2f} {memory(r):>12.3f} {memory(r) / r['batch']:>9.3f} {ratio:>13}")


def summary(rows: list[dict], cuda: bool) -> list[str]:
    """The target lines: batched vs per-image at each batch and precision, and the best vs batch-1 fp32."""
    ok = [r for r in rows if "error" not in r]
    by = {(r["precision"], r["batch"], r["loop"]): r for r in ok}
    lines = []
    ratios = [
        (r, r["images_per_s"] / by[(r["precision"], r["batch"], "per-image")]["images_per_s"])
        for r in ok
        if r["loop"] == "batched" and r["batch"] > 1 and (r["precision"], r["batch"], "per-image") in by
    ]
    if ratios:
        text = ", ".join(f"{r['precision']} b{r['batch']} {x:.2f}x" for r, x in ratios)
        best = max(x for _, x in ratios)
        lines.append(f"batched vs per-image loop at the same batch: {text}")
        if not cuda:
            lines.append(f"  best {best:.2f}x (CPU target >= 1.5x: {'ok' if best >= 1.5 else 'MISSED'})")
    base = by.get(("fp32", 1, "per-image")) or by.get(("fp32", 1, "batched"))
    batched = [r for r in ok if r["loop"] == "batched"]
    if base and batched:
        top = max(batched, key=lambda r: r["images_per_s"])
        speed = top["images_per_s"] / base["images_per_s"]
        per_image = (memory(top) / top["batch"]) / memory(base)
        lines.append(
            f"best: {top['precision']} batch {top['batch']} = {speed:.2f}x the images/s of batch-1 fp32 "
            f"(the per-image loop), memory per image {per_image:.2f}x"
            + (
                f" (GPU target >= 4x at <= 1x memory: {'ok' if speed >= 4 and per_image <= 1 else 'MISSED'})"
                if cuda
                else ""
            )
        )
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        default=None,
        help="SAM variant (random init): tiny (256 px) or vit_b/l/h (default: tiny, vit_b on cuda)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--imgsz", type=int, default=None, help="tiny only: input size (default 256)")
    parser.add_argument("--patch-size", type=int, default=None, help="tiny only: ViT patch size (default 16)")
    parser.add_argument("--mode", default="lora", help="adapter mode: lora, adapter or decoder")
    parser.add_argument("--batches", default="1,2,4,8", help="--batch values")
    parser.add_argument("--precisions", default="fp32,bf16", help="--precision values")
    parser.add_argument(
        "--per-image-batches", default=None, help="batches also timed as the per-image loop (default: all; 1 on cuda)"
    )
    parser.add_argument("--grad-checkpoint", action="store_true", help="train with --grad-checkpoint")
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds per row (default 2 CPU, 3 CUDA)")
    parser.add_argument("--min-steps", type=int, default=3, help="timed steps per row at least")
    parser.add_argument(
        "--cache-check", action="store_true", help="also: decoder-only epochs with cached vs recomputed embeddings"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.seconds = args.seconds or (3.0 if cuda else 2.0)
    args.model = args.model or ("vit_b" if cuda else "tiny")
    args.per_image_batches = args.per_image_batches or ("1" if cuda else args.batches)
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child == "cache":
        print(json.dumps(child_cache(args, args.data)))
        return
    if args.child:
        precision, batch, loop = args.child.split(",")
        print(json.dumps(child(args, args.data, precision, int(batch), loop)))
        return

    import torch

    cuda = args.device.startswith("cuda")
    batches = [int(b) for b in args.batches.split(",")]
    loops = [int(b) for b in args.per_image_batches.split(",")]
    started = time.perf_counter()
    where = torch.cuda.get_device_name() if cuda else f"{torch.get_num_threads()} torch threads, shared CPU"
    shape = f", {args.imgsz or 256} px, patch {args.patch_size or 16}" if args.model == "tiny" else ", 1024 px"
    print(f"SAM {args.model} {args.mode}{shape}, random init, device {args.device} ({where})")
    params = param_table(args.model)
    print(f"\n{'mode':<8} {'trainable':>12} {'of total':>9} {'added in encoder':>17} {'of encoder':>11}")
    for r in params:
        print(
            f"{r['mode']:<8} {r['trainable']:>12,} {100 * r['trainable_fraction']:>8.3f}% "
            f"{r['encoder_added_trainable']:>17,} {100 * r['added_of_encoder']:>10.3f}%"
        )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        size = (args.imgsz or 256) if args.model == "tiny" else 1024
        data = make_data(Path(tmp), size, max(batches))
        for precision in args.precisions.split(","):
            for batch in batches:
                rows.append(run_child(args, data, precision, batch, "batched"))
                if batch in loops:
                    rows.append(run_child(args, data, precision, batch, "per-image"))
                print(".", end="", flush=True, file=sys.stderr)
        cache = run_child(args, data, "fp32", 1, "cache") if args.cache_check else None
    print_table(rows, cuda)
    lines = summary(rows, cuda)
    if cache and "speedup" in cache:
        lines.append(f"decoder-only, {cache['images']} images: cached embeddings {cache['speedup']:.1f}x faster epochs")
    elif cache:
        lines.append(f"cached vs uncached failed: {cache.get('error')}")
    print("\n" + "\n".join(lines))
    total = time.perf_counter() - started
    print(f"\nbench wall time {total:.0f} s")
    if args.json:
        result = {"args": {k: str(v) for k, v in vars(args).items()}, "params": params, "rows": rows, "cache": cache}
        args.json.write_text(json.dumps(result | {"summary": lines, "wall_s": total}, indent=2))


if __name__ == "__main__":
    main()
