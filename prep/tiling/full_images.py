"""Is a prepared folder tiled? For the stages that need full images (`wood paste`, eval on a tiled split).

`wood prep --tile` writes tiles for train and val and records its settings in manifest.json's ``tile``
(``{"size", "overlap", "min_visible", "background", "splits"}``; null or absent when untiled). A stage that
needs full images calls ``require_full_images`` first and stops with one line (exit 2) on a tiled split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.dataset import PreparedDataset, manifest_path, tiled_splits


def read_prep_tiling(prep_dir: str | Path) -> dict[str, Any] | None:
    """The tiling of ``prep_dir``'s manifest; None where there is no readable manifest (the stage's
    own checks report a missing or broken one)."""
    try:
        dataset = PreparedDataset.read(prep_dir)
    except DataError:
        return None
    return None if dataset is None else dataset.tiling


def require_full_images(prep_dir: str | Path, what: str, split: str | None = None) -> None:
    """Raise DataError when ``prep_dir`` is a tiled prep and ``split`` (None: any split) holds tiles.

    ``what`` names the stage and why it needs full images, e.g. ``"wood paste (pastes whole defects onto
    whole backgrounds)"``; the line says what to use instead.
    """
    tiling = read_prep_tiling(prep_dir)
    tiled = tiled_splits(tiling)
    if not tiled or (split is not None and split not in tiled):
        return
    size = tiling.get("size") if tiling else "?"
    which = f"its {split} split holds" if split is not None else f"its {' and '.join(tiled)} splits hold"
    instead = "use --split test (full images) or " if split is not None and "test" not in tiled else "use "
    raise DataError(
        f"{what} needs full images, but this is a tiled prep (--tile {size}: {which} {size}x{size} tiles); "
        f"{instead}a prep without --tile",
        manifest_path(prep_dir),
    )
