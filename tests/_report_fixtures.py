"""Run folders for the report tests, written with the same files (and where cheap, the same
functions) as the real commands, on the shared synthetic `prepared` dataset. No model trains.

``make_report_runs(prepared, root)`` writes::

    root/yolo/detect/        YOLO: config.yaml, run_info.json, results.csv, metrics.json, eval-test/
    root/yolo/world/         YOLO-World: the same plus text_prompts.json
    root/yolo/interrupted/   config.yaml only (training never finished: no metrics.json)
    root/sam/tiny-lora/      SAM: config.yaml, metrics.json, eval-test/ (GT boxes), eval-test-yolo/ (detector boxes)
    root/experiments/classify/  table.json, table.md, runs/<attempt>/ (config, metrics, confusion PNGs)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wood.config import write_config

RESULTS_HEADER = (
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
    "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
)


def _coco(prepared: Path, split: str) -> dict[str, Any]:
    return json.loads((prepared / "coco" / f"{split}.json").read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


# ---------------------------------------------------------------- YOLO
def write_yolo_run(prepared: Path, run: Path, *, world: bool, jitter: float, seed: int) -> Path:
    """A finished YOLO run with an `eval detect` folder computed from jittered GT boxes."""
    from wood.eval.coco_metrics import coco_eval, confusion_matrix, image_level
    from wood.eval.detect.text import markdown
    from wood.eval.plots import plot_pr_curves
    from wood.finetune.yolo.config import YoloConfig

    cfg = YoloConfig(
        data=prepared,
        model="yolov8s-worldv2.yaml" if world else "yolov8n.yaml",
        epochs=3,
        imgsz=128,
        device="cpu",
        out=run.parent,
        name=run.name,
        world=world,
    )
    run.mkdir(parents=True)
    write_config(cfg, run / "config.yaml")
    classes = json.loads((prepared / "manifest.json").read_text(encoding="utf-8"))["classes"]
    info = {"classes": classes, "data": str(prepared), "manifest_sha256": None, "balance": None}
    _write_json(run / "run_info.json", info)
    rows = [
        f"{e},{2.0 * e:.3f},{1.9 - 0.3 * e:.4f},{3.1 - 0.5 * e:.4f},{1.2 - 0.1 * e:.4f},0.1,0.2,"
        f"{0.1 * e:.4f},{0.05 * e:.4f},"
        f"{1.8 - 0.2 * e:.4f},{2.9 - 0.4 * e:.4f},{1.1 - 0.1 * e:.4f},0.001,0.001,0.001"
        for e in (1, 2, 3)
    ]
    (run / "results.csv").write_text(RESULTS_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    if world:
        _write_json(
            run / "text_prompts.json",
            {"encoder": "minilm", "classes": classes, "prompts": {c: [f"a {c} defect"] for c in classes}},
        )
    metrics = {
        "task": "detect",
        "world": world,
        "model": cfg.model,
        "epochs": 3,
        "epochs_run": 3,
        "best_fitness": 0.1,
        "val": {"precision": 0.1, "recall": 0.2, "mAP50": 0.3, "mAP50-95": 0.15},
        "val_raw": {},
        "weights": "weights/best.pt",
        "ultralytics": "8.4",
        **info,
        "train_seconds": 12.5 + seed,
    }
    _write_json(run / "metrics.json", metrics)

    gt = _coco(prepared, "test")
    rng = np.random.default_rng(seed)
    boxes = []
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        dx, dy = rng.normal(0, jitter * max(w, h), 2)
        boxes.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "bbox": [x + dx, y + dy, w, h],
                "score": float(rng.uniform(0.3, 0.95)),
            }
        )
    with_gt = {a["image_id"] for a in gt["annotations"]}
    good = [im["id"] for im in gt["images"] if im["id"] not in with_gt]
    if good:  # one confident false alarm on a good image
        boxes.append({"image_id": good[0], "category_id": 1, "bbox": [5, 5, 20, 20], "score": 0.9})
    out = run / "eval-test"
    out.mkdir()
    bbox = coco_eval(gt, boxes, "bbox")
    max_score = {
        im["id"]: max([b["score"] for b in boxes if b["image_id"] == im["id"]], default=0.0) for im in gt["images"]
    }
    inspection = image_level({im["id"]: im["id"] in with_gt for im in gt["images"]}, max_score, 0.25)
    inspection["defect_recall_by_type"] = {}
    matrix, names = confusion_matrix(gt, boxes, 0.25)
    plot_pr_curves(bbox["pr_curve"], bbox["recall_thresholds"], out / "pr_curve.png", "PR at IoU 0.5 (COCO), test")
    ultra = {"bbox": {"mAP50": bbox["mAP50"] - 0.02, "mAP50-95": bbox["mAP50-95"] - 0.01}}
    result = {
        "split": "test",
        "run": str(run),
        "weights": str(run / "weights" / "best.pt"),
        "data": str(prepared),
        "task": "detect",
        "imgsz": 128,
        "images": len(gt["images"]),
        "instances": len(gt["annotations"]),
        "classes": classes,
        "coco": {"bbox": {k: v for k, v in bbox.items() if k not in ("pr_curve", "recall_thresholds")}},
        "ultralytics": ultra,
        "comparison": {
            f"bbox {k}": {"coco": bbox[k], "ultralytics": ultra["bbox"][k], "difference": bbox[k] - ultra["bbox"][k]}
            for k in ("mAP50", "mAP50-95")
        },
        "inspection": inspection,
        "anomaly_scale": {"image_auroc": 0.813, "pixel_auroc": 0.687, "aupro": 0.5, "image_score": "max conf"},
        "confusion_matrix": {"names": names, "rows_true_cols_pred": matrix.tolist(), "conf": 0.25, "iou": 0.5},
        "notes": [],
        "files": {"pr_curve": str(out / "pr_curve.png")},
    }
    (out / "eval_detect.md").write_text(markdown(result), encoding="utf-8")
    _write_json(out / "eval_detect.json", result)
    return run


# ---------------------------------------------------------------- SAM
def write_sam_eval(prepared: Path, run: Path, out: Path, boxes: str, shift: int) -> None:
    """segment_metrics.json + overlays from GT masks shifted by ``shift`` px (the real scorer and drawer)."""
    from wood.eval.coco_metrics import coco_eval
    from wood.eval.segment.evaluate import _write_png, draw_overlay
    from wood.eval.segment.scores import ImageResult, SegmentScorer, rle_results
    from wood.imageio import read_image_rgb
    from wood.prep.formats.coco_masks import segmentation_to_mask

    gt = _coco(prepared, "test")
    categories = {c["id"]: c["name"] for c in gt["categories"]}
    scorer = SegmentScorer(categories)
    results = []
    (out / "overlays").mkdir(parents=True)
    for im in gt["images"]:
        anns = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
        shape = (im["height"], im["width"])
        masks = np.zeros((0, *shape), bool)
        if anns:
            masks = np.stack([segmentation_to_mask(a["segmentation"], *shape) for a in anns])
        pred = np.roll(masks, shift * (1 + im["id"] % 3), axis=2)  # per-image quality differs: best != worst
        r = ImageResult(
            im["id"],
            im["file_name"],
            masks,
            [a["category_id"] for a in anns],
            pred,
            [a["category_id"] for a in anns],
            [0.9] * len(anns),
            paired=boxes == "gt",
        )
        scorer.add(r)
        results += rle_results(r)
        rgb = read_image_rgb(prepared / "yolo" / "images" / "test" / im["file_name"])
        xyxy = np.array(
            [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        ).reshape(-1, 4)
        _write_png(draw_overlay(rgb, r, xyxy), out / "overlays" / f"{Path(im['file_name']).stem}.png")
    summary = scorer.summary()
    summary["segm"] = coco_eval(gt, results, "segm")
    summary.update(
        {
            "run": str(run),
            "split": "test",
            "data": str(prepared),
            "boxes": boxes,
            "prompt": "box",
            "conf": None if boxes == "gt" else 0.25,
            "images": len(gt["images"]),
        }
    )
    _write_json(out / "segment_metrics.json", summary)


def write_sam_run(prepared: Path, run: Path, detector: Path) -> Path:
    from wood.finetune.sam.config import SamTrainConfig

    cfg = SamTrainConfig(
        data=str(prepared), model="tiny", adapter="lora", epochs=2, device="cpu", out=str(run.parent), name=run.name
    )
    run.mkdir(parents=True)
    write_config(cfg, run / "config.yaml")
    params = {
        "total": 774216,
        "trainable": 195388,
        "trainable_fraction": 195388 / 774216,
        "encoder_params": 577024,
        "encoder_added_trainable": 4096,
        "added_of_encoder": 4096 / 577024,
        "by_part": {
            "image_encoder": {"params": 581120, "trainable": 4096},
            "prompt_encoder": {"params": 1804, "trainable": 0},
            "mask_decoder": {"params": 191292, "trainable": 191292},
        },
    }
    history = [
        {"epoch": 1, "loss": 2.7, "seconds": 2.5, "updates": 12, "val_instance_iou": 0.31},
        {"epoch": 2, "loss": 1.6, "seconds": 2.4, "updates": 24, "val_instance_iou": 0.52},
    ]
    _write_json(
        run / "metrics.json",
        {
            "params": params,
            "source": "random",
            "device": "cpu",
            "history": history,
            "best": {"epoch": 2, "score": 0.52, "by": "val_instance_iou"},
        },
    )
    write_sam_eval(prepared, run, run / "eval-test", "gt", 1)
    write_sam_eval(prepared, run, run / "eval-test-yolo", str(detector), 3)
    return run


# ---------------------------------------------------------------- classification
def write_experiments(prepared: Path, out: Path) -> Path:
    """`wood experiments classify` output: the checked-in five attempts, pretrained rows skipped."""
    from wood.finetune.classify.experiments import SKIPPED, default_config_path, format_table, load_attempts, table_row
    from wood.finetune.classify.metrics import save_confusion_png, split_metrics

    attempts = load_attempts(default_config_path(), prepared, out, {"epochs": 1, "imgsz": 32, "device": "cpu"})
    stats = json.loads((prepared / "stats.json").read_text(encoding="utf-8"))
    classes = sorted(stats["image_types"])
    rng = np.random.default_rng(0)
    rows = []
    for i, attempt in enumerate(attempts):
        cfg = attempt["cfg"]
        if cfg.needs_pretrained:
            rows.append(
                table_row(
                    attempt, None, None, "no pretrained ResNet18 weights (offline): put resnet18-f37072fd.pth in ..."
                )
            )
            continue
        run = out / "runs" / cfg.name
        run.mkdir(parents=True)
        write_config(cfg, run / "config.yaml")
        metrics: dict[str, Any] = {"classes": classes, "seed": cfg.seed, "device": "cpu"}
        for split in ("train", "val", "test"):
            y = np.array(
                [classes.index(t) for t, n in stats["splits"][split]["images_per_type"].items() for _ in range(n)]
            )
            pred = np.where(rng.random(len(y)) < 0.3 + 0.2 * i, y, rng.integers(0, len(classes), len(y)))
            metrics[split] = split_metrics(y, pred, classes)
            if split == "test":  # the real run also draws val; the report reads test only
                save_confusion_png(
                    np.array(metrics[split]["confusion"]),
                    classes,
                    run / f"confusion_{split}.png",
                    f"{cfg.name} {split}",
                )
        n = 98454 if cfg.arch == "simple-cnn" else 11179590
        metrics.update(
            {
                "phases": [
                    {
                        "name": cfg.strategy,
                        "epochs": 1,
                        "lr": cfg.lr,
                        "head_only": False,
                        "trainable_params": n,
                        "total_params": n,
                    }
                ],
                "history": [],
                "pretrained": None,
                "train_time_s": 1.5 + i,
            }
        )
        _write_json(run / "metrics.json", metrics)
        rows.append(table_row(attempt, metrics, run, None))
    assert sum(r["status"] == SKIPPED for r in rows) >= 1
    meta = {
        "data": str(prepared),
        "config": str(default_config_path()),
        "classes": classes,
        "split_sizes": {s: stats["splits"][s]["images"] for s in ("train", "val", "test")},
        "device": "cpu",
        "note": "test",
    }
    _write_json(out / "table.json", {"meta": meta, "rows": rows})
    (out / "table.md").write_text(format_table(rows) + "\n", encoding="utf-8")
    return out


def make_report_runs(prepared: Path, root: Path) -> dict[str, Any]:
    """Every kind of run folder `wood report` reads (see module doc); returns their paths."""
    from wood.finetune.yolo.config import YoloConfig

    detect = write_yolo_run(prepared, root / "yolo" / "detect", world=False, jitter=0.05, seed=0)
    world = write_yolo_run(prepared, root / "yolo" / "world", world=True, jitter=0.3, seed=1)
    interrupted = root / "yolo" / "interrupted"
    interrupted.mkdir(parents=True)
    write_config(
        YoloConfig(data=prepared, model="yolov8n.yaml", out=interrupted.parent, name=interrupted.name),
        interrupted / "config.yaml",
    )
    sam = write_sam_run(prepared, root / "sam" / "tiny-lora", detect)
    experiments = write_experiments(prepared, root / "experiments" / "classify")
    return {
        "root": root,
        "yolo": [detect, world],
        "interrupted": interrupted,
        "sam": [sam],
        "experiments": experiments,
        "classify": sorted(p.parent for p in (experiments / "runs").glob("*/metrics.json")),
    }


_BUILT: dict[str, Any] = {}
"""Session fixtures imported into two test modules become two fixture definitions: build once anyway."""


@pytest.fixture(scope="session")
def report_runs(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run folders of every kind under one root, on the shared prepared dataset (built once)."""
    if "runs" not in _BUILT:
        _BUILT["runs"] = make_report_runs(prepared, tmp_path_factory.mktemp("report_runs"))
    return _BUILT["runs"]


@pytest.fixture(scope="session")
def built_report(report_runs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`wood report --runs-root ROOT --out OUT` once per session: exit code, stdout, stderr and the out folder."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from wood.cli import main

    if "report" in _BUILT:
        return _BUILT["report"]
    out = tmp_path_factory.mktemp("report") / "report"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr), pytest.raises(SystemExit) as exc:
        main(["report", "--runs-root", str(report_runs["root"]), "--out", str(out)])
        raise SystemExit(0)
    _BUILT["report"] = {
        "code": exc.value.code or 0,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "out": out,
    }
    return _BUILT["report"]
