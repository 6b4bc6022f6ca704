"""`wood label`: pre-label images with a YOLO run (and optionally a SAM run on its boxes), ranked for review.

Every image is decoded before any model loads (a missing or corrupt file stops with one line and nothing
written); the output folder is built aside and swapped in only when complete (wood.outdir.atomic_output),
and an existing folder is replaced only when it is a previous `wood label` output.

Beside the labels: ``review_order.json`` (``{"conf", "near", "model_version", "images": [{"rank",
"file_name", "uncertainty", "why", "labels"}]}``, least certain first, see wood.deploy.label.rank) and
``review_order.txt`` (the file names in that order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wood.console import track
from wood.deploy.label.config import LabelConfig
from wood.deploy.label.rank import review_order
from wood.deploy.label.shapes import box_mask
from wood.errors import DataError
from wood.eval.mask_metrics import iou
from wood.fsutil import write_json
from wood.prep.formats.coco_masks import encode_rle

KIND = "label"


def unique_names(files: list[Path]) -> list[str]:
    """The output file name of each image (its own name); two images of one name are a DataError."""
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen:
            raise DataError(f"two images share the file name {f.name!r} ({seen[f.name]}); rename one", f)
        seen[f.name] = f
    return [f.name for f in files]


class Labeller:
    """The detector (and SAM) of a `wood label` run, loaded once: ``image(rgb) -> (labels, near)``."""

    def __init__(self, cfg: LabelConfig) -> None:
        from wood.device import resolve_device
        from wood.eval.yolo_run import checkpoint_imgsz, load_yolo, model_names
        from wood.finetune.yolo.run import read_run

        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        run = read_run(cfg.run)
        self.model = load_yolo(run.weights, self.device)
        self.names = model_names(self.model)
        self.imgsz = run.imgsz or checkpoint_imgsz(self.model)
        self.sam = None
        self.zoom = 0.0  # the SAM run's: each box in its own crop (wood.finetune.sam.zoom)
        if cfg.sam is not None:
            from wood.finetune.sam.predictor import SamPredictor
            from wood.finetune.sam.run import load as load_sam

            if not Path(cfg.sam).is_dir():
                raise DataError("SAM run folder does not exist", cfg.sam)
            sam, sam_cfg = load_sam(cfg.sam, self.device)
            self.sam = SamPredictor(sam, self.device, box_mask=sam_cfg.box_mask_prompt)
            self.zoom = sam_cfg.zoom

    def model_version(self) -> str:
        if self.cfg.model_version:
            return self.cfg.model_version
        name = Path(self.cfg.run).resolve().name
        return name + (f"+{Path(self.cfg.sam).resolve().name}" if self.cfg.sam is not None else "")

    def image(self, rgb: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(labels: score >= conf, with box, mask RLE or None and SAM/detector agreement; near: candidates
        scored in [floor, conf))."""
        from wood.deploy.predict import predict_one
        from wood.eval.slicing import Timer

        found = predict_one(self.model, rgb, self.imgsz, self.cfg.floor, self.device, None, Timer())
        keep = found.scores >= self.cfg.conf
        below = found[~keep]
        rows = zip(below.scores, below.class_ids, strict=True)
        near = [{"class": self.names[c], "score": round(float(s), 4)} for s, c in rows]
        kept = found[keep]
        masks = kept.masks
        sam_masks = self.segment(rgb, kept.xyxy) if self.sam is not None and len(kept) else None
        labels = []
        rows = zip(kept.xyxy.tolist(), kept.scores.tolist(), kept.class_ids.tolist(), strict=True)
        for k, (box, score, cls) in enumerate(rows):
            det = masks[k] if masks is not None else None
            final = sam_masks[k] if sam_masks is not None else det
            agreement = None
            if sam_masks is not None:
                reference = det if det is not None else box_mask(box, *rgb.shape[:2])
                agreement = round(iou(sam_masks[k], reference), 4)
            labels.append(
                {
                    "class_id": int(cls),
                    "class": self.names[cls],
                    "score": round(float(score), 4),
                    "box_xyxy": [round(float(v), 2) for v in box],
                    "mask": None if final is None or not final.any() else encode_rle(final),
                    "agreement": agreement,
                }
            )
        return labels, near

    def segment(self, rgb: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        from wood.eval.segment.masks import prompt_masks
        from wood.finetune.sam.data import box_prompts

        boxes = np.asarray(boxes_xyxy, np.float32)
        prompts = box_prompts(boxes, rgb.shape[:2], self.sam.target)
        return prompt_masks(self.sam, rgb, prompts, boxes, self.zoom)[0]


def label_images(cfg: LabelConfig, images: list[Path]) -> Path:
    """Pre-label ``images`` (files or folders) as ``cfg`` says; returns the output folder."""
    from wood.deploy.label import formats
    from wood.deploy.predict import collect_images
    from wood.imageio import read_image_rgb
    from wood.outdir import atomic_output, check_not_input, check_replaceable

    files = collect_images(images)
    names = unique_names(files)
    inputs = [*images, cfg.run] + ([cfg.sam] if cfg.sam is not None else [])
    check_not_input(cfg.out, inputs)
    check_replaceable(cfg.out, KIND, inputs)  # before the models load: an --out holding user files stops here
    for path in track(files, "check images"):
        read_image_rgb(path)
    labeller = Labeller(cfg)
    records = []
    for path, name in track(list(zip(files, names, strict=True)), "label"):
        rgb = read_image_rgb(path)
        labels, near = labeller.image(rgb)
        records.append(
            {
                "file": str(path),
                "file_name": name,
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "labels": labels,
                "near": near,
            }
        )
    records.sort(key=lambda r: r["file_name"])
    order = review_order(records, cfg.conf)
    version = labeller.model_version()
    with atomic_output(cfg.out, KIND, inputs=inputs) as tmp:
        if cfg.fmt == "cvat":
            formats.write_cvat(tmp, records, labeller.names)
        elif cfg.fmt == "coco":
            formats.write_coco(tmp, records, labeller.names)
        elif cfg.fmt == "yolo":
            formats.write_yolo(tmp, records, labeller.names)
        else:
            scores = {row["file_name"]: round(1.0 - row["uncertainty"], 4) for row in order}
            formats.write_label_studio(tmp, records, labeller.names, version, cfg.image_prefix, scores)
        summary = {
            "format": cfg.fmt,
            "conf": cfg.conf,
            "near": cfg.floor,
            "model_version": version,
            "classes": labeller.names,
            "images": order,
        }
        write_json(tmp / "review_order.json", summary)
        (tmp / "review_order.txt").write_text("".join(row["file_name"] + "\n" for row in order), encoding="utf-8")
    return Path(cfg.out)
