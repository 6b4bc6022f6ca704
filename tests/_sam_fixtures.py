"""A hand-made prepared dataset (the `wood prep` layout) for SAM tests: wood-like stripes with
blob, disk and line defects, COCO RLE, good images in val/test."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from wood.prep.formats.coco_masks import encode_rle

CLASSES = ["color", "hole", "scratch"]


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    y = np.arange(size)[:, None]
    x = np.arange(size)[None, :]
    phase = rng.uniform(0, 6.28)
    grain = 0.5 + 0.5 * np.sin(x / 5.0 + 2 * np.sin(y / 23.0 + phase))
    base = np.stack([150 + 40 * grain, 105 + 30 * grain, 60 + 20 * grain], axis=2)
    base += rng.normal(0, 4, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def _defect(cls: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int]]:
    mask = np.zeros((size, size), np.uint8)
    c = rng.integers(size // 5, size - size // 5, 2)
    if cls == "color":
        axes = (int(rng.integers(size // 10, size // 5)), int(rng.integers(size // 12, size // 6)))
        cv2.ellipse(mask, (int(c[0]), int(c[1])), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        colour = (200, 60, 160)
    elif cls == "hole":
        cv2.circle(mask, (int(c[0]), int(c[1])), int(rng.integers(size // 16, size // 9)), 1, -1)
        colour = (35, 25, 20)
    else:
        d = rng.normal(size=2)
        d = d / np.linalg.norm(d) * size * 0.25
        p0, p1 = (c - d).astype(int), (c + d).astype(int)
        cv2.line(mask, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 1, max(2, size // 40))
        colour = (235, 225, 200)
    return mask.astype(bool), colour


def make_prep_dataset(root: str | Path, size: int = 128, counts: dict | None = None, seed: int = 0) -> Path:
    """Write ``root/coco/<split>.json`` and ``root/yolo/images/<split>/*.png``. ``counts`` maps a split
    to (defect images per class, good images). Segmentations are COCO RLE with string counts.
    Returns ``root``."""
    root = Path(root)
    counts = counts or {"train": (4, 0), "val": (1, 1), "test": (2, 1)}
    rng = np.random.default_rng(seed)
    image_id = ann_id = 1
    for split, (per_class, good) in counts.items():
        folder = root / "yolo" / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        coco = {
            "info": {"images_dir": f"../yolo/images/{split}"},
            "images": [],
            "annotations": [],
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)],
        }
        jobs = [(cls, k) for cls in CLASSES for k in range(per_class)] + [("good", k) for k in range(good)]
        for cls, k in jobs:
            image = _background(size, rng)
            name = f"{cls}_{k:03d}.png"
            instances = []
            if cls != "good":
                mask, colour = _defect(cls, size, rng)
                image[mask] = (0.25 * image[mask] + 0.75 * np.array(colour)).astype(np.uint8)
                instances.append((CLASSES.index(cls) + 1, mask))
            cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            coco["images"].append({"id": image_id, "file_name": name, "height": size, "width": size})
            for cat, mask in instances:
                ys, xs = np.nonzero(mask)
                x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
                coco["annotations"].append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": cat,
                        "iscrowd": 0,
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": int(mask.sum()),
                        "segmentation": encode_rle(mask),
                    }
                )
                ann_id += 1
            image_id += 1
        (root / "coco").mkdir(parents=True, exist_ok=True)
        (root / "coco" / f"{split}.json").write_text(json.dumps(coco), encoding="utf-8")
    return root


def train_tiny_sam(prep: Path, tmp_path: Path, **kw) -> Path:
    """A tiny-SAM run of two steps on ``prep`` (seeded; ``kw`` overrides SamTrainConfig fields)."""
    import torch

    from wood.finetune.sam.config import SamTrainConfig
    from wood.finetune.sam.train import train

    torch.manual_seed(0)
    base = dict(data=str(prep), model="tiny", imgsz=64, lr=3e-3, warmup_steps=0, box_jitter=0.0)
    base |= dict(out=str(tmp_path / "runs"), device="cpu", val_split="none", epochs=1, max_steps=2, threads=1)
    return train(SamTrainConfig(**(base | kw)))


def disk_image(size: int, centre: tuple[int, int], radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark disk on a light (size x size) RGB image, its mask and its (1, 4) XYXY box; ``centre`` is (x, y)."""
    yy, xx = np.mgrid[:size, :size]
    rgb = np.full((size, size, 3), 190, np.uint8)
    mask = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2
    rgb[mask] = (40, 30, 25)
    ys, xs = np.nonzero(mask)
    return rgb, mask, np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
