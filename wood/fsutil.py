"""File-system helpers shared by all stages: deterministic JSON, linking (output folders: wood/outdir.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


def write_json(path: Path, data: object, compact: bool = False) -> None:
    """Write JSON deterministically (UTF-8, fixed key order as given, trailing newline)."""
    text = (
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if compact
        else json.dumps(data, ensure_ascii=False, indent=1)
    )
    Path(path).write_text(text + "\n", encoding="utf-8")


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same bytes, no extra space); copy where linking fails.

    ``dst`` must not exist: an existing file is never replaced (FileExistsError), by the link or the copy.
    """
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
