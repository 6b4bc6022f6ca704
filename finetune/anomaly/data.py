"""Which images of a prepared dataset an anomaly model may learn from: the GOOD images of its train split.

The prepared folder's manifest.json names every image with its split and MVTec defect type; only entries
with ``split: train`` and ``defect: good`` are read (their files under yolo/images/train/), so a defect
image never enters training, whatever its file holds. A tiled prep is refused (the model learns whole
images, and eval scores whole images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.dataset import PreparedDataset, manifest_path
from wood.prep.tiling.full_images import require_full_images


def split_images(prep_dir: str | Path, split: str, defect: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """(image file, manifest entry) of every image of ``split`` (only ``defect`` ones when given), in manifest
    order; a listed file that is missing is a DataError."""
    dataset = PreparedDataset.open(prep_dir)
    out = []
    for entry in dataset.images(split):
        if defect is not None and entry.get("defect") != defect:
            continue
        path = dataset.image_path(entry)
        if not path.is_file():
            raise DataError("image listed in manifest.json does not exist; re-run `wood prep`", path)
        out.append((path, entry))
    return out


def good_train_images(prep_dir: str | Path) -> list[Path]:
    """The good images of the train split (see the module docstring); none is a DataError."""
    require_full_images(prep_dir, "wood finetune anomaly (PatchCore and PaDiM learn whole good images)", "train")
    paths = [p for p, _ in split_images(prep_dir, "train", defect="good")]
    if not paths:
        raise DataError(
            "no good images in the train split: anomaly models learn from good images only; "
            "re-run `wood prep --train-good` on a category with train/good images",
            manifest_path(prep_dir),
        )
    return paths
