"""Names read from files (manifest.json, COCO files, configs, run folders) are data, not paths.

A file name a manifest lists is joined to the folder it belongs in (``yolo/images/<split>/<name>``);
an edited manifest must not make wood read or write anywhere else. :func:`plain_name` is the one
check every reader applies before the name touches the file system: a non-empty string naming one
entry (no ``/``, ``\\`` or NUL, not ``.`` or ``..``, at most 255 bytes), so ``folder / name`` always
lies directly inside ``folder``. :func:`inside` checks a relative path that may have several parts
(COCO's ``info.images_dir``) against the folder it must stay in.

Core layer: standard library and wood.errors only.
"""

from __future__ import annotations

import os
from pathlib import Path

from wood.errors import ConfigError, DataError

NAME_MAX = 255
"""Longest file name (bytes) of the file systems wood runs on."""
PATH_MAX = 4096
"""Longest path (bytes) Linux takes."""
INSIDE_MARGIN = 512
"""Room an output folder's path leaves for what wood writes inside it (a temporary sibling's name,
``yolo-seg/labels/train/<a 255-byte name>.txt``)."""


def plain_name(value: object, where: str | Path, what: str = "file name") -> str:
    """``value`` if it is one plain entry name, else a DataError naming ``where`` (the file it came from)."""
    problem = None
    if not isinstance(value, str):
        problem = f"is {type(value).__name__} {_short(value)}, not a string"
    elif not value or value in (".", ".."):
        problem = f"{value!r} is not a file name"
    elif any(c in value for c in "/\\\0"):
        problem = f"{_short(value)} is a path, not a plain file name (names here may not hold '/' or '\\')"
    elif len(value.encode("utf-8", "surrogateescape")) > NAME_MAX:
        problem = f"{_short(value)} is longer than {NAME_MAX} bytes"
    if problem is not None:
        raise DataError(f"{what} {problem}; names read from this file must be plain file names", where)
    return value  # type: ignore[return-value]


def inside(folder: Path, relative: object, where: str | Path, within: Path | None = None, what: str = "folder") -> Path:
    """``folder / relative``, resolved, after checking it lies inside ``within`` (default ``folder``),
    symlinks resolved; a DataError naming ``where`` otherwise."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise DataError(f"{what} {_short(relative)} is not a relative path", where)
    base = Path(os.path.realpath(within if within is not None else folder))
    target = Path(os.path.realpath(Path(folder) / relative))
    if target != base and base not in target.parents:
        raise DataError(f"{what} {_short(relative)} points outside {base}", where)
    return target


def check_path_length(path: str | Path, what: str = "output folder") -> None:
    """A ConfigError, before anything touches the file system, when a part of ``path`` (absolute) is
    longer than NAME_MAX bytes or the whole is too long for wood to write inside it (PATH_MAX)."""
    full = os.path.abspath(os.path.expanduser(os.fspath(path)))
    size = len(os.fsencode(full))
    for part in Path(full).parts:
        n = len(os.fsencode(part))
        if n > NAME_MAX:
            raise ConfigError(f"{what} path has a part of {n} bytes ({_short(part, 40)}); the limit is {NAME_MAX}")
    if size > PATH_MAX - INSIDE_MARGIN:
        raise ConfigError(
            f"{what} path is {size} bytes ({_short(full, 40)}); the limit is {PATH_MAX - INSIDE_MARGIN} "
            f"(PATH_MAX {PATH_MAX}, less room for the files wood writes inside it)"
        )


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
