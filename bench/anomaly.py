"""Anomaly detection from good images only: PatchCore and PaDiM, pretrained MobileNetV2 vs random init.

Not a timed test. Synthesises wood (`wood synth --train-good N`) at 256 and 1024 px, preps it with
``train_good`` (test fraction 0.5, so the test split holds enough good images for image AUROC), then for
each arm fits on the first N good train images and scores the test split with wood's own metrics
(wood.eval.anomaly). Each arm runs in a fresh process (spawn), so its peak RSS is its own. Printed per arm:
image AUROC, pixel AUROC, AUPRO@0.3, fit seconds, inference ms per image (the model on one preloaded,
resized image; median over the test images), peak RSS, and the bank (PatchCore) or Gaussians (PaDiM).
Then the ratios, all measured in one run: pretrained - random pixel AUROC per method and size, and how the
bank and fit time grow from the smallest N to the largest.

    python bench/anomaly.py                               # both sizes, about 6-10 minutes on 2 shared cores
    python bench/anomaly.py --sizes 256 --train-good 25,100 --methods patchcore
    python bench/anomaly.py --work W                      # keep the data in W and reuse it next time

1024-px images are shrunk to imgsz (256 by default, ``--imgsz``) before the backbone; maps come back at
1024 px, where the pixel metrics are computed. Targets: pretrained beats random by >= 0.10 pixel AUROC;
PatchCore <= 50 ms per 256-px image on 2 cores; the memory bank bounded (--max-bank, default 4096).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def make_data(work: Path, size: int, train_good: int, seed: int) -> Path:
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    prep = work / f"prep-{size}-{train_good}"
    if (prep / "manifest.json").is_file():
        return prep
    per_defect, good = (10, 30) if size <= 256 else (6, 16)
    root = write_synth(
        work / f"synth-{size}-{train_good}",
        size=size,
        per_defect=per_defect,
        good=good,
        train_good=train_good,
        seed=seed,
        exist_ok=True,
    )
    run_prep(PrepConfig(source=root, out=prep, workers=1, train_good=True, test_fraction=0.5, seed=seed))
    return prep


def arm(job: dict[str, Any]) -> dict[str, Any]:
    """One fit + evaluation (in its own process)."""
    import resource

    import torch

    from wood.eval.anomaly.evaluate import block, score_rows, split_truth
    from wood.finetune.anomaly import features as feat
    from wood.finetune.anomaly.backbones import load_backbone
    from wood.finetune.anomaly.config import AnomalyConfig
    from wood.finetune.anomaly.data import good_train_images
    from wood.finetune.anomaly.model import fit

    torch.set_num_threads(job["threads"])
    cfg = AnomalyConfig(
        data=job["prep"], method=job["method"], pretrained=job["pretrained"], imgsz=job["imgsz"], device="cpu"
    )
    paths = good_train_images(cfg.data)[: job["n"]]
    backbone, _ = load_backbone(cfg.backbone, None, cfg.pretrained, cfg.seed)
    start = time.perf_counter()
    model, record = fit(cfg, backbone, paths, "cpu")
    fit_s = time.perf_counter() - start
    rows = split_truth(Path(cfg.data), "test")
    score_rows(model, rows, 8, "test")
    metrics = block(rows, None)
    times = []
    for r in rows[:20]:
        x = feat.to_tensor([feat.load_image(r["path"], cfg.imgsz)])
        t = time.perf_counter()
        model.score_batch(x)
        times.append(time.perf_counter() - t)
    size = record.get("bank") if cfg.method == "patchcore" else record.get("gaussians")
    mb = record.get("bank_mb") if cfg.method == "patchcore" else record.get("gaussians_mb")
    return {
        **{k: job[k] for k in ("size", "method", "pretrained", "n")},
        "image_auroc": metrics["image_auroc"],
        "pixel_auroc": metrics["pixel_auroc"],
        "aupro": metrics["aupro"],
        "fit_s": fit_s,
        "infer_ms": 1000 * statistics.median(times),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model": f"{size} x {record.get('feature_dim') if cfg.method == 'patchcore' else record.get('dims')}",
        "model_mb": mb,
        "test": f"{metrics['anomalous']}+{metrics['good']}",
    }


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="256,1024", help="Image sides to synthesise.")
    ap.add_argument("--train-good", default="25,100,400", help="Good train images per arm (256 px).")
    ap.add_argument("--train-good-1024", default="25,100", help="Good train images per arm at 1024 px.")
    ap.add_argument("--methods", default="patchcore,padim")
    ap.add_argument("--imgsz", type=int, default=256, help="Backbone input side for every arm.")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per arm. 1: on a shared 2-core machine two threads oversubscribe it (measured 5-12x "
        "slower at load 9); give 2 on an idle one.",
    )
    ap.add_argument("--work", type=Path, default=None, help="Data folder (kept and reused); default a temp dir.")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="wood-anomaly-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    jobs = []
    for size in [int(s) for s in args.sizes.split(",")]:
        counts = [int(n) for n in (args.train_good if size <= 256 else args.train_good_1024).split(",")]
        started = time.perf_counter()
        prep = make_data(work, size, max(counts), args.seed)
        print(f"data {size} px: {prep} ({time.perf_counter() - started:.0f} s)", flush=True)
        for method in args.methods.split(","):
            for n in counts:
                for pretrained in (True, False):
                    jobs.append(
                        {
                            "prep": str(prep),
                            "size": size,
                            "method": method,
                            "pretrained": pretrained,
                            "n": n,
                            "imgsz": args.imgsz,
                            "threads": args.threads,
                        }
                    )
    ctx = mp.get_context("spawn")
    results = []
    head = (
        f"| {'px':>4} | {'method':<9} | {'init':<10} | {'N good':>6} | {'img AUROC':>9} | {'px AUROC':>8} | "
        f"{'AUPRO':>5} | {'fit s':>6} | {'ms/img':>6} | {'RSS MB':>6} | {'bank / Gaussians':<16} | {'MB':>5} |"
    )
    print(head, flush=True)
    for job in jobs:
        with ctx.Pool(1) as pool:
            r = pool.apply(arm, (job,))
        results.append(r)
        print(
            f"| {r['size']:>4} | {r['method']:<9} | {'ImageNet' if r['pretrained'] else 'random':<10} | {r['n']:>6} | "
            f"{fmt(r['image_auroc']):>9} | {fmt(r['pixel_auroc']):>8} | {fmt(r['aupro']):>5} | {r['fit_s']:>6.1f} | "
            f"{r['infer_ms']:>6.1f} | {r['rss_mb']:>6.0f} | {r['model']:<16} | {r['model_mb']:>5} |",
            flush=True,
        )
    print(f"test split: defective+good images per size: {sorted({(r['size'], r['test']) for r in results})}")
    print("\nratios (one run):")
    key = {(r["size"], r["method"], r["pretrained"], r["n"]): r for r in results}
    for (size, method, pretrained, n), r in key.items():
        if pretrained and (size, method, False, n) in key:
            rand = key[(size, method, False, n)]
            print(
                f"  {size} px {method} N={n}: pretrained - random pixel AUROC "
                f"{r['pixel_auroc'] - rand['pixel_auroc']:+.3f}, "
                f"image AUROC {r['image_auroc'] - rand['image_auroc']:+.3f}"
            )
    for size in sorted({r["size"] for r in results}):
        for method in args.methods.split(","):
            rs = sorted(
                (r for r in results if r["size"] == size and r["method"] == method and r["pretrained"]),
                key=lambda r: r["n"],
            )
            if len(rs) > 1:
                a, b = rs[0], rs[-1]
                print(
                    f"  {size} px {method} N {a['n']} -> {b['n']} (x{b['n'] / a['n']:.0f} images): model "
                    f"{a['model']} -> {b['model']}, fit time x{b['fit_s'] / a['fit_s']:.1f}, "
                    f"inference x{b['infer_ms'] / a['infer_ms']:.2f}, peak RSS x{b['rss_mb'] / a['rss_mb']:.2f}"
                )


if __name__ == "__main__":
    main()
