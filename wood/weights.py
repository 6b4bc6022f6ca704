"""Finding pretrained weights offline: a path is used as is, a name is looked up in local folders.

Generic on purpose (YOLO, SAM and classification helpers share it). Nothing here touches the
network; a caller that may download (``--download``) passes a ``download`` function, which is
only called when the file is absent everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from wood.errors import WeightsError


def looks_like_path(name_or_path: str | Path) -> bool:
    """True when the string names a path (has a folder part or starts with ~ or .), not a bare name."""
    text = str(name_or_path)
    return os.sep in text or "/" in text or text.startswith(("~", "."))


def resolve_weights(
    name_or_path: str | Path,
    search_dirs: Iterable[str | Path],
    hint: str = "",
    download: Callable[[str, Path], Path | None] | None = None,
) -> Path:
    """Return the weights file for ``name_or_path``.

    - An existing file (absolute or relative to the current folder) is used as is.
    - A path with a folder part that does not exist is a WeightsError (a typo never falls back
      to a search).
    - A bare name (``yolov8n.pt``) is looked up in ``search_dirs`` in order; missing folders are
      skipped.
    - Absent everywhere: ``download(name, first_search_dir)`` is tried when given, else
      WeightsError with one line naming the file, where to put it and ``hint`` (for example the
      from-scratch alternative).
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    if path.exists():
        raise WeightsError("expected a weights file, found a folder", path)
    dirs = [Path(d).expanduser() for d in search_dirs if d]
    if looks_like_path(name_or_path):
        raise WeightsError(f"weights file does not exist{'; ' + hint if hint else ''}", path)
    for folder in dirs:
        candidate = folder / path.name
        if candidate.is_file():
            return candidate.resolve()
    if download is not None and dirs:
        dirs[0].mkdir(parents=True, exist_ok=True)
        fetched = download(path.name, dirs[0])
        if fetched is not None and Path(fetched).is_file():
            return Path(fetched).resolve()
        raise WeightsError(f"download of {path.name} failed (is this machine online?); {hint}".rstrip("; "))
    where = dirs[0] if dirs else Path.cwd()
    looked = ", ".join(str(d) for d in dirs) or str(Path.cwd())
    msg = f"pretrained weights {path.name} not found (looked in {looked}); put the file in {where}"
    if hint:
        msg += f", or {hint}"
    raise WeightsError(msg)


def ultralytics_user_weights_dir() -> Path | None:
    """Ultralytics' own weights folder from the user's global settings.json, read only (never written)."""
    env_dir = os.getenv("YOLO_CONFIG_DIR_USER")  # tests may point at a fake user config
    base = Path(env_dir) if env_dir else Path(os.getenv("XDG_CONFIG_HOME", Path.home() / ".config"))
    settings = base / "Ultralytics" / "settings.json"
    try:
        value = json.loads(settings.read_text(encoding="utf-8")).get("weights_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(value) if isinstance(value, str) and value else None
