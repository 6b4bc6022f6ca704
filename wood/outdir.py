"""Output folders wood may replace: only those it can prove it wrote, swapped in atomically.

Every folder wood builds carries a marker, ``.wood-output.json``, that names the format, the
kind of output (``prep``, ``synth``, ``demo``, ``run``...) and the top-level entries wood put
there. A folder is replaced or deleted only when

- it does not exist or is empty, or
- its marker has the expected kind and every top-level entry is one the marker lists (a file
  the user added next to wood's own is never deleted), and
- it neither is, contains, nor lies inside one of the command's inputs.

A familiar file name (``manifest.json``, ``data/``) proves nothing. A caller may pass a
``legacy`` test for outputs written before markers existed.

Replacing is one step: the new folder is built in a hidden sibling and exchanged with the old
one by ``renameat2(RENAME_EXCHANGE)`` (Linux), so after a kill at any instant the destination
holds either the old or the new complete output. Where the exchange is not available, two
renames are used and a later run puts a left-over old copy back instead of deleting it.

One writer per destination: a lock file beside it (``flock``) makes a second concurrent writer
stop with one line. Left-overs of dead processes are recognised by the pid in their name and
their marker; another live process's temporary folder is never touched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wood.errors import ConfigError, DataError
from wood.names import check_path_length

MARKER = ".wood-output.json"
MARKER_FORMAT = "wood-output/1"
NAME_MAX = 255


def _key(final: Path) -> str:
    """A short, fixed-length key of the destination for sibling names (a 250-byte name still fits)."""
    return hashlib.sha1(final.name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MARKER_FORMAT else None


def write_marker(
    folder: Path,
    kind: str,
    state: str = "complete",
    entries: Iterable[str] | None = None,
    open_: bool = False,
) -> None:
    """Write the marker into ``folder``; ``entries`` default to its current top-level names.

    ``open_`` marks a folder wood created for another engine to fill (an Ultralytics run): every
    entry in it counts as the output's own.
    """
    names = sorted(p.name for p in folder.iterdir() if p.name != MARKER) if entries is None else sorted(entries)
    data = {"format": MARKER_FORMAT, "kind": kind, "state": state, "entries": names}
    if open_:
        data["open"] = True
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(folder / MARKER)


def add_marker_entries(folder: Path, kind: str, names: Iterable[str]) -> bool:
    """Record more top-level entries wood wrote into ``folder``, a ``kind`` output it already marked
    (an evaluation written into a run folder). False, and nothing written, for any other folder."""
    marker = _read_marker(folder)
    if marker is None or marker.get("kind") != kind:
        return False
    if not marker.get("open"):
        write_marker(folder, kind, marker.get("state", "complete"), set(marker.get("entries", [])) | set(names))
    return True


def foreign_entries(folder: Path, kind: str, legacy: Callable[[Path], bool] | None = None) -> list[str] | None:
    """Top-level entries of ``folder`` that wood cannot prove it wrote as a ``kind`` output.

    Returns None when the folder is not a ``kind`` output at all (no marker of that kind, and
    ``legacy`` does not recognise it); [] when every entry is wood's own.
    """
    names = sorted(p.name for p in folder.iterdir())
    marker = _read_marker(folder)
    if marker is not None and marker.get("kind") == kind:
        if marker.get("open"):  # filled in place by another engine (Ultralytics): every entry is the run's
            return []
        own = set(marker.get("entries", [])) | {MARKER, MARKER + ".tmp"}
        return [n for n in names if n not in own and not n.startswith(".wood-")]  # .wood-*: wood's own siblings
    if marker is None and legacy is not None and legacy(folder):
        return []
    return None


def check_replaceable(
    final: Path,
    kind: str,
    inputs: Iterable[Path] = (),
    legacy: Callable[[Path], bool] | None = None,
    follow_link: bool = False,
) -> None:
    """Raise unless wood may replace ``final`` with a new ``kind`` output (see the module doc).

    A symbolic link is refused, unless ``follow_link``: then its target is checked (the caller
    writes through :func:`atomic_output`, which replaces the target and leaves the link)."""
    check_path_length(final)
    final = Path(final)
    if follow_link:
        final = output_target(final)
    elif final.is_symlink():
        raise DataError("output path is a symbolic link; give the folder it points to", final)
    check_not_input(final, inputs)
    if not final.exists():
        return
    if not final.is_dir():
        raise DataError("output path exists and is not a folder; choose another output folder", final)
    if not any(final.iterdir()):
        return
    foreign = foreign_entries(final, kind, legacy)
    if foreign is None:
        raise DataError(
            f"folder exists and is not a wood {kind} output; wood replaces only folders it wrote "
            "(move it away or choose another output folder)",
            final,
        )
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise DataError(
            f"folder holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} wood did not write ({shown}); "
            "refusing to replace it (move them away or choose another output folder)",
            final,
        )


def output_target(final: Path) -> Path:
    """Where an output given as ``final`` goes: ``final`` itself, or, when it is a symbolic link to a
    folder, the folder it points to (absolute, links resolved), so replacing it leaves the link in place,
    pointing at the new output. A link to a file or to nothing is a DataError (never followed or replaced)."""
    if not final.is_symlink():
        return final
    target = _resolve(final)
    if not target.exists():
        raise DataError(
            f"output path is a symbolic link to {target}, which does not exist; choose another output", final
        )
    if not target.is_dir():
        raise DataError(f"output path is a symbolic link to {target}, which is not a folder", final)
    return target


def check_not_input(final: Path, inputs: Iterable[Path]) -> None:
    """Raise if ``final`` is, contains, or lies inside any of ``inputs`` (symlinks resolved)."""
    out = _resolve(final)
    for source in inputs:
        src = _resolve(Path(source))
        if out == src or out in src.parents:
            raise ConfigError(f"output folder holds the input {source}; choose an output folder outside it", final)
        if src in out.parents:
            raise ConfigError(
                f"output folder lies inside the input {source}; choose an output folder outside it", final
            )


def _resolve(path: Path) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise DataError(f"cannot resolve path ({exc.__class__.__name__}: symbolic link loop?)", path) from exc


def prepare_parent(final: Path) -> None:
    """Create the destination's parent; a bad location is one DataError, not a traceback."""
    check_path_length(final)  # every part and the whole, before any call that would fail on them
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DataError("cannot create the output folder: a parent path is a file", final) from exc
    except OSError as exc:
        raise DataError(f"cannot create the output folder: {exc.strerror}", final) from exc
    if not os.access(final.parent, os.W_OK | os.X_OK):
        raise DataError("cannot write into the parent of the output folder (permission denied)", final)


# ---------------------------------------------------------------- one writer at a time
@contextmanager
def writer_lock(final: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``final``; a second writer stops with one line instead of waiting.

    The lock file sits beside ``final`` and is removed on release; after locking, its inode is
    compared with the path's so a file another process removed meanwhile is never trusted.
    """
    path = final.parent / f".wood-lock-{_key(final)}"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(f"cannot write beside the output folder: {exc.strerror}", final) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataError(
                f"another wood process (pid {holder}) is writing this folder; wait for it to finish "
                "or choose another output folder",
                final,
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        try:
            os.unlink(path)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- left-overs of killed runs
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _siblings(final: Path, prefix: str) -> list[tuple[Path, int]]:
    """Hidden siblings ``.<prefix>-<key>-<pid>-<n>`` of ``final`` with the pid in their name."""
    stem = f".{prefix}-{_key(final)}-"
    found = []
    for path in final.parent.glob(stem + "*"):
        pid = path.name[len(stem) :].split("-")[0]
        if pid.isdigit():
            found.append((path, int(pid)))
    return sorted(found)


def recover_leftovers(final: Path, kind: str) -> None:
    """Tidy what killed writers of ``final`` left behind (call with the writer lock held).

    A dead writer's unfinished folder is removed. A dead writer's old copy (from the two-rename
    fallback) is put back at ``final`` when ``final`` is missing, else removed. Only folders
    with wood's marker of this kind are touched, and never one of a live process.
    """
    for path, pid in _siblings(final, "wood-old") + _siblings(final, "wood-tmp"):
        if pid == os.getpid() or _alive(pid) or not path.is_dir():
            continue
        marker = _read_marker(path)
        if marker is None and {p.name for p in path.iterdir()} <= {MARKER + ".tmp"}:
            remove_tree(path)  # killed between creating it and writing its marker: nothing in it but ours
            continue
        if marker is None or marker.get("kind") != kind:
            continue
        if not final.exists() and marker.get("state") == "complete":
            path.rename(final)
        else:
            remove_tree(path)


def remove_tree(path: Path) -> None:
    """Delete a folder wood wrote (the one place that deletes trees; callers prove ownership)."""
    shutil.rmtree(path)


# ---------------------------------------------------------------- the swap
_libc = None


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2`` with RENAME_EXCHANGE). False where unsupported."""
    global _libc
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(_libc, "renameat2", None)
    if func is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into_place(tmp: Path, final: Path) -> Path | None:
    """Put the complete folder ``tmp`` at ``final``; returns where the previous output now is (or None)."""
    if not final.exists():
        tmp.rename(final)
        return None
    if exchange(tmp, final):
        return tmp  # tmp now holds the previous output
    old = final.parent / f".wood-old-{_key(final)}-{os.getpid()}-0"
    final.rename(old)
    try:
        tmp.rename(final)  # killed between the renames: recover_leftovers puts `old` back
    except BaseException:
        old.rename(final)
        raise
    return old


@contextmanager
def atomic_output(
    final: Path,
    kind: str,
    inputs: Iterable[Path] = (),
    legacy: Callable[[Path], bool] | None = None,
    replace: bool = True,
) -> Iterator[Path]:
    """Build a ``kind`` output in a temporary sibling folder; on success it replaces ``final``.

    Checks first (inputs, ownership of an existing ``final``; with ``replace=False`` any
    non-empty ``final`` is refused), takes the writer lock, tidies left-overs of killed
    writers, and yields the temporary folder. On an error the temporary folder is removed and
    ``final`` is untouched.
    """
    check_path_length(final)
    final = output_target(Path(final).expanduser().absolute())  # a link to an earlier output: its target
    inputs = list(inputs)
    check_not_input(final, inputs)
    prepare_parent(final)
    with writer_lock(final):
        recover_leftovers(final, kind)
        if not replace and final.is_dir() and any(final.iterdir()):
            raise DataError("folder exists and is not empty; choose another output folder", final)
        check_replaceable(final, kind, inputs, legacy)  # ``final`` is a link's target by now
        tmp = final.parent / f".wood-tmp-{_key(final)}-{os.getpid()}-{os.urandom(3).hex()}"
        tmp.mkdir()
        try:
            write_marker(tmp, kind, state="building", entries=())
            yield tmp
            write_marker(tmp, kind)
            os.chmod(tmp, 0o755)
            previous = swap_into_place(tmp, final)
        except BaseException:
            if tmp.exists():
                remove_tree(tmp)
            raise
        if previous is not None:
            remove_tree(previous)
