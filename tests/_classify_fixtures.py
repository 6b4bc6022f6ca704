"""Test helper: a tiny prepared-dataset `classify/` tree written into a temp folder.

Each class gets its own mean colour plus noise, so a model can learn something in one epoch,
and images are saved as PNG so they go through wood.imageio like real data.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ["color", "combined", "good", "hole", "liquid", "scratch"]


def write_classify_tree(
    root: Path, per_split: dict[str, int] | None = None, size: int = 40, seed: int = 0, classes: list[str] | None = None
) -> Path:
    """Write root/classify/<split>/<class>/<class>_<i>.png and return root (the --data folder)."""
    per_split = per_split or {"train": 3, "val": 1, "test": 2}
    classes = classes or CLASSES
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        base = np.array([(37 * c) % 256, (91 * c + 60) % 256, (150 + 53 * c) % 256], dtype=np.float32)
        for split, n in per_split.items():
            folder = root / "classify" / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                ok, buf = cv2.imencode(".png", img)
                if not ok:
                    raise RuntimeError("cv2.imencode failed")
                (folder / f"{name}_{split}_{i:03d}.png").write_bytes(buf.tobytes())
    return root


def write_fake_resnet18(path: Path, seed: int = 1) -> dict:
    """Save a torchvision ResNet18 state dict (1000-class head, seeded random weights) to ``path``;
    stands in for resnet18-f37072fd.pth, which cannot be downloaded offline."""
    import torch
    from torchvision.models import resnet18

    torch.manual_seed(seed)
    state = resnet18(weights=None).state_dict()
    torch.save(state, path)
    return state
