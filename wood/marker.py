"""The marker wood leaves in every output it writes, ``.wood-output.json``, and what it proves.

Format ``wood-output/2``::

    {"format": "wood-output/2", "kind": "prep", "state": "complete",
     "entries": {"manifest.json": {"size": 812, "sha256": "..."}, "yolo": {"dir": true},
                 "yolo/images/train/000.png": {"size": 3190, "sha256": "..."},
                 "eval-test": {"output": "eval-detect"}}}

``entries`` lists EVERY path wood wrote, at every depth (POSIX, relative): a file with its size and
sha256 (plus its mtime and inode: the same inode, size and mtime need no re-hashing, anything else is
decided by the bytes), a folder, a symbolic link with its target, or a nested output that its own marker vouches
for (``output``: its kind; an evaluation written into a run folder). A path is wood's only when it
is listed and still matches (a file the user changed is no longer wood's), when it lies in a nested
output that proves itself, or when it is one of the exact names wood gives its own helpers: the
marker (and its ``.tmp``), a run's ``.wood-run-user-entries.json`` at the top, and the staging
siblings ``.wood-tmp-<key>-<pid>-<n>`` / ``.wood-old-<key>-<pid>-<n>`` (of a process no longer
alive) and lock files ``.wood-lock-<key>`` of nested outputs. Any other ``.wood-*`` name is the
user's like any other name. Engine caches (:data:`ENGINE_CACHES`: Ultralytics' label caches in a
prepared folder) are the output's too.

An output that is being filled carries ``"open": true`` and the writer's ``pid``:

- while that process lives, the folder is its writer's and nobody else replaces it;
- ``fills`` (glob patterns of top-level names) are what the writer is filling, so their whole
  subtree is the output's even after a kill (classify's hidden checkpoint folder names its own
  ``epoch-*`` and ``progress.pt``);
- otherwise, once the writer is gone, only what is listed, nested complete outputs (a killed demo's
  prepared folder) and wood's staging names are proven: the files a killed trainer left cannot be
  told from files a user added since, so such an unfinished output is never replaced.

Markers of the first format (``wood-output/1``) listed top-level names only. They prove those
names and nothing below them: an old output is replaced only if it holds nothing but listed
top-level files; one with subfolders is refused (their contents cannot be told from a user's),
so the user moves it away once. Outputs without any marker are never replaced.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wood.errors import DataError
from wood.fsutil import file_sha256

MARKER = ".wood-output.json"
MARKER_FORMAT = "wood-output/2"
OLD_FORMAT = "wood-output/1"
RUN_NOTE = ".wood-run-user-entries.json"
INTERNAL = frozenset({MARKER, MARKER + ".tmp", RUN_NOTE})
"""Names wood writes at the top of an output besides what it lists (the marker, the run's note)."""
STAGING = re.compile(r"\.wood-(?:tmp|old)-[0-9a-f]{12}-(\d+)-[0-9a-z]+")
LOCK = re.compile(r"\.wood-lock-[0-9a-f]{12}")
ENGINE_CACHES = {"prep": ("yolo/labels/*.cache", "yolo-seg/labels/*.cache")}
"""Per kind, files another engine writes into a wood output while reading it, and rebuilds whenever
they are missing: Ultralytics' label caches (``labels/<split>.cache``) in a prepared folder that was
trained on directly. They count as the output's, so a re-prep replaces them (a stale cache must not
outlive the labels it indexed); nothing else of that name or place is ever the user's work."""


def alive(pid: int) -> bool:
    """True when a process ``pid`` exists (a reused pid counts as alive: the safe side)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder`` (either format), or None."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("format") in (MARKER_FORMAT, OLD_FORMAT)
    return data if ok and isinstance(data.get("kind"), str) else None


# ---------------------------------------------------------------- recording
def _record(path: Path, st: os.stat_result, hashes: dict) -> dict:
    if stat.S_ISLNK(st.st_mode):
        return {"link": os.readlink(path)}
    if stat.S_ISDIR(st.st_mode):
        return {"dir": True}
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)  # hard links are hashed once
    if key not in hashes:
        hashes[key] = file_sha256(path) if stat.S_ISREG(st.st_mode) else "not-a-regular-file"
    return {"size": st.st_size, "sha256": hashes[key], "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def listing(folder: Path, paths: Iterable[str] | None = None, skip: Iterable[str] = ()) -> dict[str, dict]:
    """Records of every path under ``folder`` (or under the relative ``paths`` only), at every depth;
    ``skip``: relative paths left out with their subtrees. The marker itself is never listed."""
    folder = Path(folder)
    skip = set(skip)
    hashes: dict = {}
    found: dict[str, dict] = {}

    def walk(path: Path, rel: str) -> None:
        if rel in skip or rel in INTERNAL:
            return
        try:
            st = path.lstat()
        except FileNotFoundError:
            return
        found[rel] = _record(path, st, hashes)
        if stat.S_ISDIR(st.st_mode):
            for child in sorted(os.listdir(path)):
                walk(path / child, f"{rel}/{child}")

    tops = sorted(os.listdir(folder)) if paths is None else sorted(set(paths))
    for rel in tops:
        walk(folder / rel, rel)
    return found


def write_marker(
    folder: Path,
    kind: str,
    state: str = "complete",
    entries: Iterable[str] | None = None,
    *,
    exclude: Iterable[str] = (),
    open_: bool = False,
    fills: Iterable[str] = (),
    outputs: dict[str, str] | None = None,
) -> None:
    """Write the marker into ``folder``, listing every path under it now (or under ``entries``,
    relative paths, only), less ``exclude`` and the nested ``outputs`` ({relative path: kind}),
    which are recorded as outputs that prove themselves.

    ``open_``: the folder is being filled by this process (see the module doc); ``fills``: the
    top-level name patterns it fills, whose subtrees stay the output's after a kill.
    """
    folder = Path(folder)
    outputs = dict(outputs or {})
    records = listing(folder, entries, skip=set(exclude) | set(outputs))
    records.update({rel: {"output": k} for rel, k in outputs.items()})
    data: dict = {"format": MARKER_FORMAT, "kind": kind, "state": state}
    if open_:
        data.update({"open": True, "pid": os.getpid(), "fills": sorted(fills)})
    data["entries"] = dict(sorted(records.items()))
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=0) + "\n", encoding="utf-8")
    tmp.replace(folder / MARKER)


def nested_outputs(marker: dict) -> dict[str, str]:
    """{relative path: kind} of the nested outputs a (new-format) marker records."""
    entries = marker.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {k: v["output"] for k, v in entries.items() if isinstance(v, dict) and isinstance(v.get("output"), str)}


# ---------------------------------------------------------------- proving
@dataclass
class Proof:
    """What ``folder``'s marker proves about it as a ``kind`` output."""

    marked: bool  # a marker of that kind is there
    foreign: list[str] = field(default_factory=list)  # relative paths wood cannot prove it wrote
    why: str | None = None  # None | "old" (first-format marker) | "live" (open, its writer alive) | "unfinished"
    pid: int | None = None


def _matches(path: Path, st: os.stat_result, rec: dict | list, hashes: dict) -> bool:
    if isinstance(rec, list):  # a file being replaced: the old or the new one
        return any(_matches(path, st, r, hashes) for r in rec)
    if not isinstance(rec, dict):
        return False
    if "dir" in rec:
        return stat.S_ISDIR(st.st_mode)
    if "link" in rec:
        return stat.S_ISLNK(st.st_mode) and os.readlink(path) == rec["link"]
    if not stat.S_ISREG(st.st_mode) or st.st_size != rec.get("size"):
        return False
    if st.st_mtime_ns == rec.get("mtime_ns") and st.st_ino == rec.get("ino"):
        return True  # the very file wood wrote, untouched since (a rewrite changes mtime, a replacement the inode)
    return _record(path, st, hashes).get("sha256") == rec.get("sha256")  # copied or touched: the bytes decide


def _wood_helper(name: str) -> bool:
    """A staging sibling of a process that is gone, or a lock file: names wood gives its own helpers."""
    if LOCK.fullmatch(name):
        return True
    m = STAGING.fullmatch(name)
    return bool(m) and not alive(int(m.group(1)))


def prove(folder: Path, kind: str) -> Proof:
    """Check every path under ``folder`` against its ``kind`` marker (see the module doc)."""
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None or marker.get("kind") != kind:
        return Proof(False)
    names = sorted(n for n in os.listdir(folder) if n not in INTERNAL)
    if marker["format"] == OLD_FORMAT:
        listed = set(marker.get("entries") or [])
        foreign = [n for n in names if n not in listed or not (folder / n).is_file() or (folder / n).is_symlink()]
        return Proof(True, foreign, "old" if foreign else None)
    pid = marker.get("pid") if marker.get("open") else None
    if isinstance(pid, int) and pid != os.getpid() and alive(pid):
        return Proof(True, names, "live", pid)
    entries = marker.get("entries") if isinstance(marker.get("entries"), dict) else {}
    fills = [p for p in marker.get("fills", []) if isinstance(p, str)] if marker.get("open") else []
    unfinished = bool(marker.get("open")) and not fills
    hashes: dict = {}
    foreign: list[str] = []

    def walk(path: Path, rel: str) -> bool:
        """True when ``path`` and everything below it is proven; unproven paths go to ``foreign``."""
        name = path.name
        if _wood_helper(name) or ("/" not in rel and any(fnmatch.fnmatchcase(name, p) for p in fills)):
            return True
        st = path.lstat()
        rec = entries.get(rel)
        if isinstance(rec, dict) and "output" in rec:
            return _nested(path, rel, rec["output"])
        is_dir = stat.S_ISDIR(st.st_mode)
        if rec is not None and not _matches(path, st, rec, hashes):
            foreign.append(rel)
            return False
        if rec is None and not is_dir and any(fnmatch.fnmatchcase(rel, p) for p in ENGINE_CACHES.get(kind, ())):
            return True
        if rec is None and not is_dir:
            foreign.append(rel)
            return False
        if rec is None and unfinished and read_marker(path) is not None:  # an output nested in a killed one
            return _nested(path, rel, read_marker(path)["kind"])
        if is_dir:
            children = sorted(os.listdir(path))
            ok = all([walk(path / c, f"{rel}/{c}") for c in children])
            if rec is None and not children:
                foreign.append(rel)  # an empty folder wood did not list
                return False
            return ok
        return True

    def _nested(path: Path, rel: str, nested_kind: str) -> bool:
        if not path.exists() and not path.is_symlink():
            return True
        if path.is_symlink() or not path.is_dir():
            foreign.append(rel)
            return False
        inner = prove(path, nested_kind)
        if not inner.marked:
            foreign.append(rel)
            return False
        foreign.extend(f"{rel}/{f}" for f in inner.foreign)
        return not inner.foreign

    for n in names:
        walk(folder / n, n)
    return Proof(True, foreign, "unfinished" if unfinished and foreign else None, pid)


# ---------------------------------------------------------------- adding to a complete output
def add_marker_entries(folder: Path, kind: str, names: Iterable[str], outputs: dict[str, str] | None = None) -> bool:
    """Record more entries wood wrote into ``folder``, a complete ``kind`` output it already marked
    (a file written into a run folder): ``names`` (relative paths, listed with their subtrees as they
    are now) and ``outputs`` ({relative path: kind}, nested outputs that prove themselves, such as an
    evaluation folder). False, and nothing written, for any other folder; an open output is left to
    its writer."""
    marker = read_marker(folder)
    if marker is None or marker.get("kind") != kind:
        return False
    if marker.get("open"):
        return True
    if marker["format"] != MARKER_FORMAT:
        return True  # an output of an older wood proves nothing below its top: claiming more would not help
    entries = dict(marker.get("entries") or {})
    names, outputs = set(names), dict(outputs or {})
    for rel in names | set(outputs):  # what was recorded at and below these paths is recorded afresh
        entries = {k: v for k, v in entries.items() if k != rel and not k.startswith(rel + "/")}
    entries.update(listing(folder, [n for n in names if (Path(folder) / n).exists() or Path(folder, n).is_symlink()]))
    entries.update({rel: {"output": k} for rel, k in outputs.items()})
    _write_entries(folder, marker, entries)
    return True


def _write_entries(folder: Path, marker: dict, entries: dict) -> None:
    data = {**marker, "entries": dict(sorted(entries.items()))}
    tmp = Path(folder) / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=0) + "\n", encoding="utf-8")
    tmp.replace(Path(folder) / MARKER)


def foreign_entries(folder: Path, kind: str) -> list[str] | None:
    """Paths under ``folder`` (relative, at every depth) that wood cannot prove it wrote as a ``kind``
    output; None when the folder is not a ``kind`` output at all (no marker of that kind)."""
    proof = prove(folder, kind)
    return proof.foreign if proof.marked else None


def replace_file(folder: Path, kind: str, name: str, data: bytes | None) -> bool:
    """Write ``folder/name`` (a plain file name) in one step, as a file of the complete ``kind`` output
    ``folder`` (a run folder). Refused (DataError) when a file of that name exists that the marker does
    not list unchanged. Returns False, writing only a new file (never replacing one), when ``folder``
    is no such output.

    The marker accepts the old and the new file while the new one is swapped in, so a kill at any
    instant leaves a file that is wood's."""
    folder = Path(folder)
    target = folder / name
    marker = read_marker(folder)
    ours = marker is not None and marker.get("kind") == kind and marker["format"] == MARKER_FORMAT
    ours = ours and not marker.get("open")
    exists = target.exists() or target.is_symlink()
    if exists and (not ours or name in prove(folder, kind).foreign or target.is_symlink()):
        raise DataError("file exists and wood did not write it (or it changed since); move it away", target)
    if data is None:  # a check only
        return ours
    key = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    for stale in folder.glob(f".wood-tmp-{key}-*-0"):  # what a killed writer of this file left
        if stale.is_file() and not stale.is_symlink() and _wood_helper(stale.name):
            stale.unlink()
    tmp = folder / f".wood-tmp-{key}-{os.getpid()}-0"
    tmp.write_bytes(data)
    if not ours:
        try:
            os.link(tmp, target)  # a new file only: fails if one appeared meanwhile
        except FileExistsError as exc:
            raise DataError("file exists and wood did not write it; move it away", target) from exc
        finally:
            tmp.unlink()
        return False
    entries = dict(marker.get("entries") or {})
    new = listing(folder, [tmp.name])[tmp.name]
    old = entries.get(name)
    entries[name] = [new] if old is None else [new, old]  # either is wood's while the swap happens
    _write_entries(folder, marker, entries)
    os.replace(tmp, target)
    entries[name] = new
    _write_entries(folder, marker, entries)
    return True
