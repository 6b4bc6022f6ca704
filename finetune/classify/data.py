"""The `classify/` split of a prepared dataset, held in memory, and texture-safe augmentation.

`wood prep` writes DATA/classify/<split>/<class>/<name> (docs/prep_format.md). The class list is
the sorted union of the class folders of all three splits, so a class missing from one split
(a rare defect) keeps its index everywhere. Images are read with wood.imageio.read_image_rgb,
resized once to (imgsz, imgsz) and stored as uint8 tensors (N, 3, imgsz, imgsz): the MVTec
category sets are small (tens to hundreds of images), so each epoch costs no disk reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wood.errors import DataError
from wood.prep.mvtec import IMAGE_EXTENSIONS

SPLITS = ("train", "val", "test")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Both architectures normalise with the ImageNet statistics (the pretrained ResNet18 needs them)."""


@dataclass
class SplitData:
    """One split in memory: ``images`` uint8 (N, 3, S, S), ``labels`` int64 (N,), ``names`` file names."""

    images: object
    labels: object
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)


def list_classes(classify_dir: str | Path) -> list[str]:
    """Sorted union of the class folders under classify_dir/<split>/. DataError if there are none."""
    root = Path(classify_dir)
    if not root.is_dir():
        raise DataError("no classify/ folder; run `wood prep SRC --out DIR` and pass --data DIR", root)
    classes: set[str] = set()
    for split in SPLITS:
        if (root / split).is_dir():
            classes.update(p.name for p in (root / split).iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"need at least 2 class folders under <split>/, but found {sorted(classes)}", root)
    return sorted(classes)


def list_split(classify_dir: str | Path, split: str, classes: list[str]) -> list[tuple[Path, int]]:
    """(image path, class index) pairs of one split, sorted by class then name. Missing split -> []."""
    root = Path(classify_dir) / split
    items: list[tuple[Path, int]] = []
    if not root.is_dir():
        return items
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in classes:
            raise DataError(f"class folder {folder.name!r} is not among the classes {classes}", folder)
        files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        items.extend((p, classes.index(folder.name)) for p in files)
    return items


def read_images(items: list[tuple[Path, int]], imgsz: int, description: str = "loading") -> SplitData:
    """Read every image of ``items`` (from :func:`list_split`), resized to imgsz x imgsz (INTER_AREA when
    shrinking), into uint8 tensors."""
    import cv2
    import torch

    from wood.console import track
    from wood.imageio import read_image_rgb

    arrays = []
    for path, _ in track(items, description):
        rgb = read_image_rgb(path)
        interp = cv2.INTER_AREA if min(rgb.shape[:2]) >= imgsz else cv2.INTER_LINEAR
        arrays.append(cv2.resize(rgb, (imgsz, imgsz), interpolation=interp).transpose(2, 0, 1))
    images = torch.from_numpy(np.stack(arrays)) if arrays else torch.zeros((0, 3, imgsz, imgsz), dtype=torch.uint8)
    labels = torch.tensor([c for _, c in items], dtype=torch.int64)
    return SplitData(images=images, labels=labels, names=[p.name for p, _ in items])


def load_dataset(data_dir: str | Path, imgsz: int) -> tuple[list[str], dict[str, SplitData]]:
    """Classes and the three splits of DATA/classify. DataError when train or test is empty."""
    classify_dir = Path(data_dir) / "classify"
    classes = list_classes(classify_dir)
    splits = {s: read_images(list_split(classify_dir, s, classes), imgsz, f"loading {s}") for s in SPLITS}
    for split in ("train", "test"):
        if len(splits[split]) == 0:
            raise DataError(f"the {split} split has no images", classify_dir / split)
    return classes, splits


def to_unit(images_uint8, device=None):
    """uint8 (B, 3, H, W) -> float32 in [0, 1] on ``device``."""
    import torch

    return images_uint8.to(device=device, non_blocking=True).to(torch.float32) / 255.0


def normalize(x):
    """float (B, 3, H, W) in [0, 1] -> normalised with the ImageNet mean and std."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def augment(x, generator):
    """Per image: random horizontal and vertical flip, rotation by k*90 degrees, mild colour jitter.

    ``x`` is float (B, 3, S, S) in [0, 1] (square, so rot90 keeps the shape). Wood grain and defects
    have no canonical orientation, so flips and quarter turns are label-preserving and never create
    border padding (no arbitrary-angle rotation, no crops that might cut a small defect away). The
    jitter is mild (brightness, contrast and saturation factors in [0.9, 1.1]) because colour is
    itself a defect type ("color", "liquid"): strong hue shifts would blur the classes.
    Random draws come from ``generator`` (a CPU torch.Generator) so a seed reproduces them.
    """
    return apply_augment(x, *augment_draws(x.shape[0], generator))


def augment_draws(n: int, generator):
    """The random draws of :func:`augment` for ``n`` images: (draws (n, 6) uniform, turns (n,) in 0..3).
    Drawn once for an optimizer step's images, then sliced, so every process (and every accumulated
    micro-batch) augments its share exactly as one process with the whole batch would."""
    import torch

    return torch.rand((n, 6), generator=generator), torch.randint(0, 4, (n,), generator=generator)


def apply_augment(x, draws, turns):
    """:func:`augment` with its draws given (one row of ``draws`` and ``turns`` per image of ``x``)."""
    import torch

    out = []
    for i in range(x.shape[0]):
        img = x[i]
        if draws[i, 0] < 0.5:
            img = img.flip(-1)
        if draws[i, 1] < 0.5:
            img = img.flip(-2)
        if turns[i]:
            img = torch.rot90(img, int(turns[i]), dims=(-2, -1))
        brightness, contrast, saturation = (0.9 + 0.2 * draws[i, 2:5]).tolist()
        img = img * brightness
        mean = img.mean()
        img = (img - mean) * contrast + mean
        gray = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).unsqueeze(0)
        img = (img - gray) * saturation + gray
        out.append(img.clamp(0.0, 1.0))
    return torch.stack(out)


def class_counts(labels, num_classes: int) -> list[int]:
    import torch

    return torch.bincount(labels, minlength=num_classes).tolist()


def epoch_order(labels, num_classes: int, balance: str, generator):
    """Indices of one epoch. ``sampler``: len(labels) draws with replacement, each class equally
    likely (weights 1/count); otherwise a shuffled permutation."""
    import torch

    n = len(labels)
    if balance == "sampler":
        counts = torch.bincount(labels, minlength=num_classes).clamp(min=1).float()
        weights = 1.0 / counts[labels]
        return torch.multinomial(weights, n, replacement=True, generator=generator)
    return torch.randperm(n, generator=generator)
