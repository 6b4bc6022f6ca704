"""A `wood prep` output folder as every stage reads it: :class:`PreparedDataset`.

The folder (docs/prep_format.md) holds ``manifest.json`` (format :data:`FORMAT`: the category, classes,
options, tiling and every image with its split, defect type, sha256 and instances), ``stats.json`` and the
``yolo/``, ``yolo-seg/``, ``coco/`` and ``classify/`` trees. This module is the one place that reads and
parses ``manifest.json``; a stage takes what it needs from a PreparedDataset.

Two ways in, both one DataError line naming the file when the folder is not usable:
- :meth:`PreparedDataset.open` (training, paste): the folder, its manifest of format FORMAT with
  ``images`` and ``classes`` lists.
- :meth:`PreparedDataset.read` (eval, report, hints): None where there is no manifest.json; any format.

The image records are checked (wood.prep.manifest_records) when first asked for, so a reader that only
wants the category or the tiling of a hand-edited manifest is not stopped by a record it never uses.
Parsing a dict (:meth:`PreparedDataset.from_manifest`) is kept apart from reading the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from wood.errors import DataError
from wood.prep.manifest_records import checked_records
from wood.prep.splits import SPLITS

FORMAT = "wood-prep/1"
"""The manifest format this wood writes and reads."""
MANIFEST = "manifest.json"
STATS = "stats.json"


def manifest_path(folder: str | Path) -> Path:
    """``folder/manifest.json``: the file a prepared folder's errors name."""
    return Path(folder) / MANIFEST


def manifest_sha256(folder: str | Path) -> str | None:
    """sha256 of ``folder/manifest.json``'s bytes (identifies the dataset a run was trained on); None without one."""
    path = manifest_path(folder)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def prep_tiling(manifest: object) -> dict[str, Any] | None:
    """The tiling settings of a parsed manifest (its ``tile`` dict), or None for an untiled prep."""
    tile = manifest.get("tile") if isinstance(manifest, dict) else None
    return tile if isinstance(tile, dict) else None


def tiled_splits(tiling: dict[str, Any] | None) -> list[str]:
    """The splits holding tiles (train and val as prep writes them); [] for an untiled prep."""
    if tiling is None:
        return []
    splits = tiling.get("splits")
    return [str(s) for s in splits] if isinstance(splits, list) else ["train", "val"]


@dataclass(frozen=True)
class PreparedDataset:
    """A prepared folder and its parsed manifest. ``manifest`` is the JSON object as written (read it, never
    change it: paste copies it); ``sha256`` is that of manifest.json's bytes ("" when built from a dict)."""

    folder: Path
    manifest: dict[str, Any]
    sha256: str = ""

    # ------------------------------------------------------------ reading
    @classmethod
    def open(cls, folder: str | Path) -> PreparedDataset:
        """The prepared ``folder``, for a stage that needs one: a DataError (one line naming the folder or its
        manifest.json) when it is missing, has no manifest.json, or the manifest is not JSON, not of format
        FORMAT, or has no ``images`` or ``classes`` list."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError("prepared dataset folder does not exist or is not a folder (run `wood prep` first)", folder)
        dataset = cls.read(folder)
        if dataset is None:
            raise DataError("no manifest.json: not a `wood prep` output folder (run `wood prep SRC --out DIR`)", folder)
        dataset.check_format()
        return dataset

    @classmethod
    def read(cls, folder: str | Path) -> PreparedDataset | None:
        """``folder``'s manifest, whatever its format; None when there is no manifest.json file. A DataError
        when it cannot be read or is not a JSON object."""
        path = manifest_path(folder)
        if not path.is_file():
            return None
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(
                f"manifest.json is not readable ({exc.__class__.__name__}); re-run `wood prep`", path
            ) from exc
        return cls.from_bytes(folder, data)

    @classmethod
    def from_bytes(cls, folder: str | Path, data: bytes) -> PreparedDataset:
        """The dataset of ``folder`` whose manifest.json holds ``data``."""
        path = manifest_path(folder)
        try:
            manifest = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            problem = f"manifest.json is not valid JSON ({exc.__class__.__name__}); re-run `wood prep`"
            raise DataError(problem, path) from exc
        if not isinstance(manifest, dict):
            raise DataError(
                f"manifest.json holds a JSON {type(manifest).__name__}, not an object; re-run `wood prep`", path
            )
        return cls.from_manifest(folder, manifest, hashlib.sha256(data).hexdigest())

    @classmethod
    def from_manifest(cls, folder: str | Path, manifest: dict[str, Any], sha256: str = "") -> PreparedDataset:
        """Pure: the dataset of ``folder`` with the parsed ``manifest`` (nothing is read or checked yet)."""
        return cls(Path(folder), manifest, sha256)

    # ------------------------------------------------------------ checks
    def check_format(self) -> None:
        """A DataError unless the manifest is of format FORMAT with ``images`` and ``classes`` lists."""
        fmt = self.manifest.get("format")
        if fmt != FORMAT:
            raise DataError(
                f"manifest format is {fmt!r}, not {FORMAT!r}: an older/other format; re-run `wood prep`", self.path
            )
        if not isinstance(self.manifest.get("images"), list) or not isinstance(self.manifest.get("classes"), list):
            raise DataError("manifest.json has no `images` or `classes` list; re-run `wood prep`", self.path)

    def check_full(self) -> None:
        """Check every record fully (sha256, height, width, id, instances too): what paste copies and reads."""
        checked_records(self.manifest, self.path, full=True)

    @cached_property
    def _records(self) -> list[dict]:
        return checked_records(self.manifest, self.path)

    # ------------------------------------------------------------ the manifest
    @property
    def path(self) -> Path:
        return manifest_path(self.folder)

    @property
    def format(self) -> Any:
        return self.manifest.get("format")

    @property
    def category(self) -> Any:
        """The category name as recorded (None when absent)."""
        return self.manifest.get("category")

    @property
    def classes(self) -> list[str]:
        """The detection classes in class-id order ([] when the manifest names none)."""
        return list(self.manifest.get("classes") or [])

    @property
    def options(self) -> dict[str, Any]:
        """The prep options that changed the output ({} when absent)."""
        return self.manifest.get("options", {})

    @property
    def tile(self) -> Any:
        """The ``tile`` record as written (None for an untiled prep; whatever a hand edit left there)."""
        return self.manifest.get("tile")

    @property
    def tiling(self) -> dict[str, Any] | None:
        """The tiling settings (``{"size", "overlap", "min_visible", "background", "splits", ...}``) or None."""
        return prep_tiling(self.manifest)

    @property
    def tiled_splits(self) -> list[str]:
        return tiled_splits(self.tiling)

    @property
    def splits(self) -> list[str]:
        """The splits that hold at least one image, in train/val/test order."""
        present = {r["split"] for r in self._records}
        return [s for s in SPLITS if s in present]

    def images(self, split: str | None = None) -> list[dict]:
        """The checked image records (``split``'s only when given), in manifest order: each a dict with
        ``name``, ``split``, ``defect``, ``id``, ``sha256``, ``height``, ``width``, ``flags``, ``instances``
        (``class``, ``class_id``, ``bbox_xyxy``, ``area``) and, for a tile, ``tile``. The manifest's own dicts."""
        return [r for r in self._records if split is None or r["split"] == split]

    def full_images(self) -> list[dict]:
        """A tiled prep's full train/val images (the records the tiles were cut from); [] when untiled."""
        full = self.manifest.get("full_images")
        return list(full) if isinstance(full, list) else []

    def entries(self, split: str) -> dict[str, dict[str, Any]]:
        """The records of ``split`` by image name."""
        return {r["name"]: r for r in self.images(split)}

    def defect_types(self, split: str) -> dict[str, str]:
        """Image name -> its defect type ("good" for a good image) for ``split``."""
        return {name: str(r["defect"]) for name, r in self.entries(split).items() if "defect" in r}

    # ------------------------------------------------------------ the trees
    @property
    def yolo_dir(self) -> Path:
        return self.folder / "yolo"

    @property
    def yolo_seg_dir(self) -> Path:
        return self.folder / "yolo-seg"

    @property
    def coco_dir(self) -> Path:
        return self.folder / "coco"

    @property
    def classify_dir(self) -> Path:
        return self.folder / "classify"

    @property
    def stats_path(self) -> Path:
        return self.folder / STATS

    def coco_path(self, split: str) -> Path:
        """wood's own COCO file of ``split``: ``coco/<split>.json``."""
        return self.coco_dir / f"{split}.json"

    def image_path(self, record: dict) -> Path:
        """The image file of a record: ``yolo/images/<split>/<name>`` (names are checked plain)."""
        return self.yolo_dir / "images" / record["split"] / record["name"]
