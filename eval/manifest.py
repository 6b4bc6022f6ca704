"""The prepared folder's manifest.json as eval reads it: which images are defective, of what type.

`eval detect` and `eval segment` call an image good or defective from the manifest (its MVTec defect
type), not from whether it has instances: with ``wood prep --min-area``, a defective image may keep
no instance and is still not a good one.

Both need full images: on a split that `wood prep --tile` cut into tiles (train and val), a tile of a
defective image may show no defect, and scores would not compare with untiled runs; they stop with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.prep.dataset import PreparedDataset
from wood.prep.tiling.full_images import require_full_images


def evaluated_dataset(prep_dir: Path, split: str) -> PreparedDataset | None:
    """``prep_dir``'s dataset, any format (eval reads the records only); None without manifest.json.
    A DataError when ``split`` of a tiled prep holds tiles (wood.prep.tiling.full_images)."""
    require_full_images(prep_dir, f"evaluating split {split!r}", split)
    return PreparedDataset.read(prep_dir)


def manifest_entries(prep_dir: Path, split: str) -> dict[str, dict[str, Any]]:
    """The manifest entries of ``split`` by image name ({} for a prepared folder without manifest.json)."""
    dataset = evaluated_dataset(prep_dir, split)
    return {} if dataset is None else dataset.entries(split)


def defect_types(prep_dir: Path, split: str) -> dict[str, str]:
    """Image name -> its defect type ("good" for a good image) for ``split``; {} without a manifest."""
    dataset = evaluated_dataset(prep_dir, split)
    return {} if dataset is None else dataset.defect_types(split)
