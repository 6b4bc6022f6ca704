"""The prepared folder's manifest.json as eval reads it: which images are defective, of what type.

`eval detect` and `eval segment` call an image good or defective from the manifest (its MVTec defect
type), not from whether it has instances: with ``wood prep --min-area``, a defective image may keep
no instance and is still not a good one.

Both need full images: on a split that `wood prep --tile` cut into tiles (train and val), a tile of a
defective image may show no defect, and scores would not compare with untiled runs; they stop with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.full_images import require_full_images
from wood.prep.manifest_records import checked_records


def manifest_entries(prep_dir: Path, split: str) -> dict[str, dict[str, Any]]:
    """The manifest entries of ``split`` by image name ({} for a prepared folder without manifest.json).
    A DataError when ``split`` of a tiled prep holds tiles (wood.prep.full_images)."""
    require_full_images(prep_dir, f"evaluating split {split!r}", split)
    path = Path(prep_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc.__class__.__name__}); re-run `wood prep`", path) from exc
    return {im["name"]: im for im in checked_records(data, path) if im["split"] == split}


def defect_types(prep_dir: Path, split: str) -> dict[str, str]:
    """Image name -> its defect type ("good" for a good image) for ``split``; {} without a manifest."""
    return {name: str(e["defect"]) for name, e in manifest_entries(prep_dir, split).items() if "defect" in e}
