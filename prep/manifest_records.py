"""The ``images`` of a prepared folder's manifest.json, checked before any of it is used as a path.

Every reader of a manifest takes the records from :func:`checked_records` (through
wood.prep.dataset.PreparedDataset): each is a JSON object whose ``name`` is a plain file name,
``split`` one of train/val/test and ``defect`` a plain folder name (wood.names), with a sha256 and a
positive size where a reader relies on them, so an edited manifest is one line naming it, never a read
or write outside the folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from wood.errors import DataError
from wood.names import plain_name
from wood.prep.splits import SPLITS

SHA256 = re.compile(r"[0-9a-f]{64}")


def checked_records(manifest: object, path: Path, full: bool = False) -> list[dict]:
    """``manifest["images"]`` after checking every record (see the module doc); ``full`` also checks
    ``sha256``, ``height``, ``width``, ``id`` and ``instances`` (what paste copies and reads)."""
    records = manifest.get("images") if isinstance(manifest, dict) else None
    if not isinstance(records, list):
        raise DataError("manifest.json has no `images` list; re-run `wood prep`", path)
    names: set[tuple[str, str]] = set()
    for i, record in enumerate(records):
        where = f"images[{i}]"
        if not isinstance(record, dict):
            raise DataError(f"{where} is a {type(record).__name__}, not a JSON object; re-run `wood prep`", path)
        name = plain_name(record.get("name"), path, f"{where}.name")
        split = record.get("split")
        if split not in SPLITS:
            raise DataError(f"{where}.split is {split!r}, not one of {list(SPLITS)}; re-run `wood prep`", path)
        if "defect" in record or full:
            plain_name(record.get("defect"), path, f"{where}.defect")
        if (split, name) in names:
            raise DataError(f"{where}: {split}/{name} is listed twice; re-run `wood prep`", path)
        names.add((split, name))
        if full:
            _check_full(record, where, path)
    return records


def _check_full(record: dict, where: str, path: Path) -> None:
    sha = record.get("sha256")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        raise DataError(f"{where}.sha256 is {sha!r}, not a sha256 hex digest; re-run `wood prep`", path)
    for key in ("height", "width", "id"):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "id" else 1):
            raise DataError(f"{where}.{key} is {value!r}, not a positive integer; re-run `wood prep`", path)
    instances = record.get("instances")
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise DataError(f"{where}.instances is not a list of objects; re-run `wood prep`", path)
