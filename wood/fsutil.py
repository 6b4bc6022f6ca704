"""File-system helpers shared by all stages: atomic folders, deterministic JSON, linking."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Build a folder in a hidden temporary sibling and rename it to ``final`` on success.

    An interrupted or failed run leaves no half folder at ``final`` (the temporary one is
    removed; a leftover from a killed process is removed by the next run). An existing
    ``final`` is replaced only after the new one is complete.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.parent / f".{final.name}.tmp-old-{os.getpid()}"
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


def write_json(path: Path, data: object, compact: bool = False) -> None:
    """Write JSON deterministically (UTF-8, fixed key order as given, trailing newline)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) if compact else json.dumps(data, ensure_ascii=False, indent=1)
    Path(path).write_text(text + "\n", encoding="utf-8")


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same bytes, no extra space); copy where linking fails."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
