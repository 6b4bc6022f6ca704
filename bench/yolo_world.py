"""YOLO-World (MiniLM text prompts) vs plain YOLO on the same synthetic split and time budget.

Not a timed test. Makes a `wood synth` category (5 wood defect types + good), preps it, then
trains, with the same image size, batch, seed and training-time budget (Ultralytics ``time``):

- plain YOLO   ``yolov8n.yaml`` from scratch,
- YOLO-World   ``yolov8n-worldv2.yaml`` from scratch, text encoder ``minilm`` (offline),

and scores both with `wood eval detect` on the test split (COCO mAP50, the reference). Then it
re-encodes the trained world checkpoint's class vectors with renamed prompts
(``write_prompted_checkpoint``) and scores those on the same split: the "hole" class prompted
as "pit in wood" instead of its datasets/wood.yaml prompts, and a control prompt unrelated to
wood. Prints one JSON object and the ratios world/plain and renamed/original.

    python bench/yolo_world.py                          # CPU: 128 px, 5 minutes of training each
    python bench/yolo_world.py --device cuda --minutes 3 --size 256 --imgsz 256 --per-defect 60

On a 2-core CPU, 3 minutes at 256 px is 6-7 epochs and both models score mAP50 0; at 128 px
5 minutes is about 45-50 epochs and both learn something.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from yolo_learning import setup  # same synthetic split for both benches

RENAMES = {"pit in wood": ["pit in wood"], "control": ["a photo of a blue sky"]}


def score(result: dict) -> dict:
    bbox = result["coco"]["bbox"]
    return {
        "mAP50": bbox["mAP50"],
        "mAP50-95": bbox["mAP50-95"],
        "AP50_by_class": {k: v["AP50"] for k, v in bbox["per_class"].items()},
        "ultralytics_mAP50": result["ultralytics"].get("bbox", {}).get("mAP50"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:0, 0)")
    ap.add_argument("--minutes", type=float, default=5.0, help="training time budget per model (Ultralytics `time`)")
    ap.add_argument("--epochs", type=int, default=300, help="upper bound; the time budget usually stops first")
    ap.add_argument("--per-defect", type=int, default=30, help="synthetic images per defect type (5 types)")
    ap.add_argument("--good", type=int, default=20, help="synthetic good images (test/good)")
    ap.add_argument("--size", type=int, default=128, help="synthetic image size")
    ap.add_argument("--imgsz", type=int, default=128, help="training image size")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave default)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    work, prep, stats = setup(args, "wood-yolo-world-")
    from wood.dataset_config import load_dataset_config
    from wood.eval.detect.evaluate import evaluate
    from wood.finetune.yolo.config import YoloConfig
    from wood.finetune.yolo.text_encoders import class_embeddings
    from wood.finetune.yolo.train import train
    from wood.finetune.yolo.world import world_run_info, write_prompted_checkpoint

    common = dict(
        data=prep,
        task="detect",
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        seed=args.seed,
        workers=2,
        patience=1000,
        out=work / "runs",
        exist_ok=True,
        plots=False,
        train_args={"time": args.minutes / 60.0},
    )
    out: dict = {
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "minutes_each": args.minutes,
        "split_images": {k: v["images"] for k, v in stats["splits"].items()},
    }
    runs = {}
    for kind, extra in (
        ("plain", {"model": "yolov8n.yaml"}),
        ("world", {"model": "yolov8n-worldv2.yaml", "world": True, "text_encoder": "minilm"}),
    ):
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        run = train(YoloConfig(name=kind, **common, **extra))
        seconds = time.perf_counter() - t0
        runs[kind] = run
        metrics = json.loads((run / "metrics.json").read_text())
        out[kind] = {
            "train_seconds": round(seconds, 1),
            "epochs_run": metrics["epochs_run"],
            "load_avg_start": load0,
            **score(evaluate(run, "test", device=args.device, out=run / "eval-test")),
        }

    info = world_run_info(runs["world"])
    base = info["prompts"]
    hole_vec = class_embeddings("minilm", base)[0]["hole"]
    out["renamed_hole"] = {"original_prompts": base["hole"]}
    for label, prompts in RENAMES.items():
        renamed = {**base, "hole": prompts}
        emb = class_embeddings("minilm", renamed)[0]
        ckpt = write_prompted_checkpoint(
            runs["world"] / "weights" / "best.pt",
            renamed,
            "minilm",
            runs["world"] / "weights" / f"renamed-{label.replace(' ', '_')}.pt",
        )
        res = score(
            evaluate(runs["world"], "test", weights=ckpt, device=args.device, out=runs["world"] / f"eval-{label}")
        )
        out["renamed_hole"][label] = {
            "prompts": prompts,
            "cosine_to_original": round(float(emb["hole"] @ hole_vec), 4),
            "hole_AP50": res["AP50_by_class"].get("hole"),
            "mAP50": res["mAP50"],
        }
    out["wood_yaml_prompts"] = {k: v.prompts for k, v in load_dataset_config("wood").classes.items()}
    print(json.dumps(out, indent=2))
    p, w = out["plain"]["mAP50"], out["world"]["mAP50"]
    print(f"mAP50 test: plain {p:.3f}  world {w:.3f}  world/plain {w / p if p else float('nan'):.2f}")
    h = out["world"]["AP50_by_class"].get("hole")
    for label in RENAMES:
        r = out["renamed_hole"][label]["hole_AP50"]
        print(
            f"hole AP50: original prompts {h}  '{label}' {r}  "
            f"ratio {r / h if h and r is not None else float('nan'):.2f}"
        )


if __name__ == "__main__":
    main()
