"""Anomaly detection from good images only: PatchCore and PaDiM, pretrained MobileNetV2 vs random init.

Not a timed test. Synthesises wood (`wood synth --train-good N`, ``--defects bold`` and/or ``subtle``) at
256 (and 1024) px, preps it with ``train_good`` (test fraction 0.5, so the test split holds enough good
images for image AUROC), then for each arm fits on the first N good train images and scores the test
split with wood's own metrics (wood.eval.anomaly). Each arm runs in a fresh process (spawn), so its peak
RSS is its own. The pretrained and random arms share everything but the backbone weights. Printed per
arm: image AUROC, pixel AUROC, AUPRO@0.3, fit seconds, inference ms per image (the model on one
preloaded, resized image; median over 20 test images), peak RSS, and the bank (PatchCore) or Gaussians
(PaDiM). Then, all measured in one run: pretrained - random per defect style, how the bank and fit time
grow with N, and the speed of the current scoring against the previous implementation
(:func:`previous_score_batch`), alternated image by image on the same model, with the largest score
difference. ``--real DIR`` adds :func:`real_wood`, a check on real defect images without good ones.

    python bench/anomaly.py                               # both styles and sizes: long on 2 shared cores
    python bench/anomaly.py --defects subtle --sizes 256 --train-good 25,100,400 --random-at 100 --real DIR
    python bench/anomaly.py --work W                      # keep the data in W and reuse it next time
    python bench/anomaly.py --seed 1 ...                  # a val-like set: tune there, report seed 0

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


def make_data(work: Path, size: int, train_good: int, seed: int, defects: str = "bold") -> Path:
    from wood.prep.config import PrepConfig
    from wood.prep.pipeline import run_prep
    from wood.prep.synth.write import write_synth

    prep = work / f"prep-{defects}-{size}-{train_good}-s{seed}"
    if (prep / "manifest.json").is_file():
        return prep
    per_defect, good = (10, 30) if size <= 256 else (6, 16)
    root = write_synth(
        work / f"synth-{defects}-{size}-{train_good}-s{seed}",
        size=size,
        per_defect=per_defect,
        good=good,
        train_good=train_good,
        seed=seed,
        exist_ok=True,
        defects=defects,
    )
    run_prep(PrepConfig(source=root, out=prep, workers=1, train_good=True, test_fraction=0.5, seed=seed))
    return prep


def previous_score_batch(model, x):
    """`AnomalyModel.score_batch` as it was before the fast path (the saved backbone with its BatchNorms,
    NCHW; distances as |x|^2 - 2 x.b + |b|^2 in three passes; upsampling then a 33-tap convolution), kept
    here to time the speed-up against in the same run."""
    import torch
    import torch.nn.functional as F

    from wood.finetune.anomaly import features as feat
    from wood.finetune.anomaly import padim

    with torch.inference_mode():
        f8, f16 = model.backbone(x)
        if model.pool:
            f8 = F.avg_pool2d(f8, 3, stride=1, padding=1, count_include_pad=False)
            f16 = F.avg_pool2d(f16, 3, stride=1, padding=1, count_include_pad=False)
        f16 = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        f = torch.cat([f8, f16], dim=1)
        if model.method == "patchcore":
            bank = model.state["bank"]
            b, c, h, w = f.shape
            flat = f.permute(0, 2, 3, 1).reshape(-1, c)
            bank_sq = bank.pow(2).sum(dim=1)
            out = torch.empty(flat.shape[0])
            for i in range(0, flat.shape[0], 2048):
                xs = flat[i : i + 2048]
                d = xs.pow(2).sum(dim=1, keepdim=True) - 2.0 * (xs @ bank.T) + bank_sq
                out[i : i + 2048] = d.amin(dim=1).clamp_(min=0).sqrt_()
            patch = out.view(b, h, w)
        else:
            patch = padim.mahalanobis(f, model.state)
        return feat.to_maps_reference(patch, model.imgsz, model.sigma)


def time_both(model, images, threads: int) -> dict[str, float]:
    """Median ms per image of the previous and the current scoring, alternated image by image (so load
    spikes on the shared machine hit both alike), and the largest score difference between them."""
    import torch

    from wood.finetune.anomaly import features as feat

    torch.set_num_threads(threads)
    old, new, diff = [], [], 0.0
    model.score_batch(feat.to_tensor(images[:1]))  # builds the fast backbone once (not timed)
    for img in images:
        x = feat.to_tensor([img])
        t = time.perf_counter()
        old_maps, old_scores = previous_score_batch(model, x)
        old.append(time.perf_counter() - t)
        t = time.perf_counter()
        maps, scores = model.score_batch(x)
        new.append(time.perf_counter() - t)
        diff = max(diff, float((old_scores - scores).abs().max()), float((old_maps - maps).abs().max()))
    return {"old_ms": 1000 * statistics.median(old), "new_ms": 1000 * statistics.median(new), "max_diff": diff}


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
        data=job["prep"],
        method=job["method"],
        pretrained=job["pretrained"],
        imgsz=job["imgsz"],
        max_bank=job["max_bank"],
        device="cpu",
    )
    paths = good_train_images(cfg.data)[: job["n"]]
    backbone, _ = load_backbone(cfg.backbone, None, cfg.pretrained, cfg.seed)
    start = time.perf_counter()
    model, record = fit(cfg, backbone, paths, "cpu")
    fit_s = time.perf_counter() - start
    rows = split_truth(Path(cfg.data), "test")
    score_rows(model, rows, 8, "test")
    metrics = block(rows, None)
    images = [feat.load_image(r["path"], cfg.imgsz) for r in rows[:20]]
    speed = {t: time_both(model, images, t) for t in job["speed_threads"]}
    size = record.get("bank") if cfg.method == "patchcore" else record.get("gaussians")
    mb = record.get("bank_mb") if cfg.method == "patchcore" else record.get("gaussians_mb")
    return {
        **{k: job[k] for k in ("defects", "size", "method", "pretrained", "n")},
        "image_auroc": metrics["image_auroc"],
        "pixel_auroc": metrics["pixel_auroc"],
        "aupro": metrics["aupro"],
        "fit_s": fit_s,
        "infer_ms": speed[job["threads"]]["new_ms"],
        "speed": speed,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model": f"{size} x {record.get('feature_dim') if cfg.method == 'patchcore' else record.get('dims')}",
        "model_mb": mb,
        "test": f"{metrics['anomalous']}+{metrics['good']}",
    }


def real_wood(job: dict[str, Any]) -> dict[str, Any]:
    """Sanity check on a real MVTec-layout folder that has defect images only (no good ones): PatchCore's
    bank is built from the patches of one half of the images whose 3x3 neighbourhood holds no defect pixel
    (the mask shrunk to the feature grid, dilated by 2 cells), and the other half is scored; then the
    halves swap. Images derived from the same original (``sources.csv``: the trailing ``<defect>_<n>`` of
    the source name) stay in one half. Pixel AUROC over both halves, at imgsz; same pipeline, only the
    weights differ."""
    import csv

    import cv2
    import numpy as np
    import torch

    from wood.eval.anomaly import metrics as M
    from wood.finetune.anomaly import features as feat
    from wood.finetune.anomaly import patchcore
    from wood.finetune.anomaly.backbones import load_backbone
    from wood.imageio import read_image_rgb

    torch.set_num_threads(job["threads"])
    root, imgsz = Path(job["real"]), job["imgsz"]
    with open(root / "sources.csv", newline="", encoding="utf-8") as fh:
        source = {row["file"]: "_".join(Path(row["source_name"]).stem.split("_")[-2:]) for row in csv.DictReader(fh)}
    groups = sorted(set(source.values()))
    backbone, _ = load_backbone("mobilenet_v2", None, job["pretrained"], 0)
    fast = feat.inference_backbone(backbone)
    items = []
    for name, group in sorted(source.items()):
        mask = read_image_rgb(root / "ground_truth" / name.replace(".png", "_mask.png"))[..., 0]
        mask = cv2.resize(mask, (imgsz, imgsz), interpolation=cv2.INTER_AREA) >= 128  # anti-aliased: binarise
        f = feat.patch_features(fast, feat.to_tensor([feat.load_image(root / "test" / name, imgsz)]), pool=True)
        h, w = f.shape[-2:]
        grid = mask.reshape(h, imgsz // h, w, imgsz // w).any(axis=(1, 3))  # a defect pixel in the cell
        near = cv2.dilate(grid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        items.append((groups.index(group) % 2, mask, f, near))
    generator = torch.Generator().manual_seed(0)
    gts, maps = [], []
    for fold in (0, 1):
        clean = [f[0].permute(1, 2, 0)[torch.from_numpy(~near)] for k, _, f, near in items if k != fold]
        pool = torch.cat(clean)
        size = patchcore.bank_size(pool.shape[0], pool.shape[0], 0.1, 4096)
        bank = pool[patchcore.greedy_coreset(pool, size, 128, generator)].contiguous()
        for k, mask, f, _ in items:
            if k == fold:
                m, _ = feat.to_maps(patchcore.nearest_distance(f, bank), imgsz, 4.0)
                gts.append(mask)
                maps.append(m[0].numpy())
    flat_gt = np.concatenate([g.ravel() for g in gts])
    flat = np.concatenate([m.ravel() for m in maps])
    return {
        "pretrained": job["pretrained"],
        "images": len(items),
        "pixel_auroc": M.auroc(flat_gt, flat, "px"),
        "aupro": M.aupro(gts, maps),
    }


def init(r: dict[str, Any]) -> str:
    return "ImageNet" if r["pretrained"] else "random"


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--defects", default="bold,subtle", help="`wood synth --defects` styles to compare.")
    ap.add_argument("--sizes", default="256,1024", help="Image sides to synthesise.")
    ap.add_argument("--train-good", default="25,100,400", help="Good train images per arm (256 px).")
    ap.add_argument("--train-good-1024", default="100", help="Good train images per arm at 1024 px.")
    ap.add_argument("--random-at", default="100", help="N good at which the random-init arm runs as well.")
    ap.add_argument("--methods", default="patchcore,padim")
    ap.add_argument("--imgsz", type=int, default=256, help="Backbone input side for every arm.")
    ap.add_argument("--max-bank", type=int, default=4096, help="PatchCore's bank cap (`--max-bank`) for every arm.")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per arm. 1: on a shared 2-core machine two threads oversubscribe it (measured 5-12x "
        "slower at load 9); give 2 on an idle one. The speed check also runs at 2 threads.",
    )
    ap.add_argument("--work", type=Path, default=None, help="Data folder (kept and reused); default a temp dir.")
    ap.add_argument("--seed", type=int, default=0, help="Synth seed (tune on another seed than the one reported).")
    ap.add_argument("--real", type=Path, default=None, help="A real MVTec-layout folder for real_wood() (see there).")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="wood-anomaly-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    random_at = {int(n) for n in args.random_at.split(",")}
    jobs = []
    for defects in args.defects.split(","):
        for size in [int(s) for s in args.sizes.split(",")]:
            counts = [int(n) for n in (args.train_good if size <= 256 else args.train_good_1024).split(",")]
            started = time.perf_counter()
            prep = make_data(work, size, max(counts), args.seed, defects)
            print(f"data {defects} {size} px: {prep} ({time.perf_counter() - started:.0f} s)", flush=True)
            for method in args.methods.split(","):
                for n in counts:
                    for pretrained in (True, False) if n in random_at else (True,):
                        speed = (args.threads, 2) if method == "patchcore" and pretrained and n == max(counts) else ()
                        jobs.append(
                            {
                                "prep": str(prep),
                                "defects": defects,
                                "size": size,
                                "method": method,
                                "pretrained": pretrained,
                                "n": n,
                                "imgsz": args.imgsz,
                                "max_bank": args.max_bank,
                                "threads": args.threads,
                                "speed_threads": sorted({args.threads, *speed}),
                            }
                        )
    ctx = mp.get_context("spawn")
    results = []
    head = (
        f"| {'defects':<7} | {'px':>4} | {'method':<9} | {'init':<8} | {'N good':>6} | {'img AUROC':>9} | "
        f"{'px AUROC':>8} | {'AUPRO':>5} | {'fit s':>6} | {'ms/img':>6} | {'RSS MB':>6} | {'bank / Gaussians':<16} | "
        f"{'MB':>5} |"
    )
    print(head, flush=True)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|", flush=True)
    for job in jobs:
        with ctx.Pool(1) as pool:
            r = pool.apply(arm, (job,))
        results.append(r)
        print(
            f"| {r['defects']:<7} | {r['size']:>4} | {r['method']:<9} | {init(r):<8} | {r['n']:>6} | "
            f"{fmt(r['image_auroc']):>9} | {fmt(r['pixel_auroc']):>8} | {fmt(r['aupro']):>5} | {r['fit_s']:>6.1f} | "
            f"{r['infer_ms']:>6.1f} | {r['rss_mb']:>6.0f} | {r['model']:<16} | {r['model_mb']:>5} |",
            flush=True,
        )
    print(f"test split: defective+good images: {sorted({(r['defects'], r['size'], r['test']) for r in results})}")
    print("\nratios (one run):")
    key = {(r["defects"], r["size"], r["method"], r["pretrained"], r["n"]): r for r in results}
    for (defects, size, method, pretrained, n), r in key.items():
        if pretrained and (defects, size, method, False, n) in key:
            rand = key[(defects, size, method, False, n)]
            print(
                f"  {defects} {size} px {method} N={n}: pretrained - random pixel AUROC "
                f"{r['pixel_auroc'] - rand['pixel_auroc']:+.3f}, "
                f"image AUROC {r['image_auroc'] - rand['image_auroc']:+.3f}, AUPRO {r['aupro'] - rand['aupro']:+.3f}"
            )
    for defects, size, method in sorted({(r["defects"], r["size"], r["method"]) for r in results}):
        rs = sorted(
            (
                r
                for r in results
                if (r["defects"], r["size"], r["method"], r["pretrained"]) == (defects, size, method, True)
            ),
            key=lambda r: r["n"],
        )
        if len(rs) > 1:
            a, b = rs[0], rs[-1]
            print(
                f"  {defects} {size} px {method} N {' -> '.join(str(r['n']) for r in rs)}: model "
                f"{' -> '.join(r['model'] for r in rs)} ({' -> '.join(str(r['model_mb']) for r in rs)} MB), "
                f"fit time x{b['fit_s'] / a['fit_s']:.1f}, inference x{b['infer_ms'] / a['infer_ms']:.2f}, "
                f"peak RSS x{b['rss_mb'] / a['rss_mb']:.2f}"
            )
    if args.real is not None:
        print(f"\nreal wood, {args.real.name} (leave-half-out banks of defect-free patches, see real_wood):")
        for pretrained in (True, False):
            job = {"real": str(args.real), "imgsz": args.imgsz, "threads": args.threads, "pretrained": pretrained}
            with ctx.Pool(1) as pool:
                r = pool.apply(real_wood, (job,))
            print(
                f"  patchcore {init(r)}: {r['images']} images, "
                f"pixel AUROC {r['pixel_auroc']:.3f}, AUPRO {r['aupro']:.3f}"
            )
    print("\nspeed, previous vs current scoring of the same model, alternated image by image (median ms/img):")
    for r in results:
        for threads, sp in r["speed"].items():
            print(
                f"  {r['defects']} {r['size']} px {r['method']} {init(r)} N={r['n']} {threads} thread(s): "
                f"{sp['old_ms']:.1f} -> {sp['new_ms']:.1f} ms "
                f"(x{sp['old_ms'] / sp['new_ms']:.2f} faster), largest map/score difference {sp['max_diff']:.1e}"
            )


if __name__ == "__main__":
    main()
