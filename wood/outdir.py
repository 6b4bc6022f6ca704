"""Output folders wood may replace: only those it can prove it wrote, swapped in atomically.

Every folder wood builds carries a marker, ``.wood-output.json`` (:mod:`wood.marker`), that
names the kind of output (``prep``, ``synth``, ``demo``, ``run``, ``export``...) and lists every
path wood wrote there, at every depth, with size and sha256. A folder is replaced or deleted
only when

- it does not exist or is empty, or
- its marker has the expected kind and every path in it is one the marker proves (a file the
  user added or changed, at any depth, is never deleted), and
- it neither is, contains, nor lies inside one of the command's inputs.

A familiar file name (``manifest.json``, ``data/``, ``config.yaml``) proves nothing: folders
without a marker are never replaced, whatever they hold. A single file wood writes into a
folder it proves (:func:`replace_file`) may replace only a file that folder's marker lists,
unchanged; anything else is refused.

Replacing is one step: the new folder is built in a hidden sibling and exchanged with the old
one by ``renameat2(RENAME_EXCHANGE)`` (Linux), so after a kill at any instant the destination
holds either the old or the new complete output. Where the exchange is not available, two
renames are used and a later run puts a left-over old copy back instead of deleting it.

One writer per destination: a lock file beside it (``flock``) makes a second concurrent writer
stop with one line. Left-overs of dead processes are recognised by the pid in their name and
their marker, and the next writer of the same destination removes them (or puts a complete old
copy back); another live process's temporary folder is never touched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wood.errors import ConfigError, DataError
from wood.marker import (
    MARKER,
    MARKER_FORMAT,
    add_marker_entries,
    alive,
    foreign_entries,
    prove,
    read_marker,
    replace_file,
    write_marker,
)
from wood.names import check_path_length

__all__ = [
    "MARKER",
    "MARKER_FORMAT",
    "add_marker_entries",
    "atomic_output",
    "foreign_entries",
    "replace_file",
    "write_marker",
]

NAME_MAX = 255


def _key(final: Path) -> str:
    """A short, fixed-length key of the destination for sibling names (a 250-byte name still fits)."""
    return hashlib.sha1(final.name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _read_marker(folder: Path) -> dict | None:
    return read_marker(folder)


def check_replaceable(final: Path, kind: str, inputs: Iterable[Path] = (), follow_link: bool = False) -> None:
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
    proof = prove(final, kind)
    if not proof.marked:
        raise DataError(
            f"folder exists and is not a wood {kind} output; wood replaces only folders it wrote "
            "(move it away or choose another output folder)",
            final,
        )
    if proof.why == "live":
        raise DataError(
            f"another wood process (pid {proof.pid}) is still writing this folder; wait for it to finish "
            "or choose another output folder",
            final,
        )
    if not proof.foreign:
        return
    shown = ", ".join(proof.foreign[:3]) + (" ..." if len(proof.foreign) > 3 else "")
    n = len(proof.foreign)
    if proof.why == "old":
        raise DataError(
            f"folder was written by an older wood whose marker does not list what is inside {shown}; wood "
            "cannot prove it wrote all of it, so it will not replace it (move it away or delete it yourself)",
            final,
        )
    if proof.why == "unfinished":
        raise DataError(
            f"folder holds an unfinished wood {kind} output whose writer stopped; wood cannot tell the "
            f"{n} entr{'y' if n == 1 else 'ies'} it left ({shown}) from files added since, so it will not "
            "replace it (continue it with --resume where the command has one, or move it away)",
            final,
        )
    raise DataError(
        f"folder holds {n} entr{'y' if n == 1 else 'ies'} wood did not write or that changed since ({shown}); "
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
    return alive(pid)


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
    """Delete a folder wood wrote (the one place that deletes trees; callers prove ownership).

    The marker goes last, so a folder half-deleted by a kill is still recognised as wood's (and
    the next run finishes the job)."""
    path = Path(path)
    for child in list(path.iterdir()):
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (path / MARKER).unlink(missing_ok=True)
    path.rmdir()


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


TEXT_SUFFIXES = (".json", ".md", ".yaml", ".txt", ".html", ".csv")


def relocated(value, tmp: Path, final: Path):
    """``value`` (str, Path, or dicts/lists of them) with paths inside the staging folder ``tmp``
    pointing into ``final`` instead: what a result written while building records."""
    head, dest = str(tmp), str(final)
    if isinstance(value, Path):
        return Path(relocated(str(value), tmp, final))
    if isinstance(value, str):
        return dest + value[len(head) :] if value == head or value.startswith(head + os.sep) else value
    if isinstance(value, dict):
        return {k: relocated(v, tmp, final) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relocated(v, tmp, final) for v in value)
    return value


def _relocate_files(tmp: Path, final: Path) -> None:
    """Rewrite the staging folder's name to the destination's in the text files built in it (paths
    recorded in JSON or markdown), so the output names where it lies once swapped in. The staging
    name is unique and ASCII, so nothing else can match it."""
    token = tmp.name
    new_json, new_text = json.dumps(final.name)[1:-1], final.name
    for path in tmp.rglob("*"):
        if path.suffix.lower() not in TEXT_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if token in text:
            path.write_text(text.replace(token, new_json if path.suffix == ".json" else new_text), encoding="utf-8")


@contextmanager
def atomic_output(
    final: Path,
    kind: str,
    inputs: Iterable[Path] = (),
    replace: bool = True,
    relocate: bool = False,
) -> Iterator[Path]:
    """Build a ``kind`` output in a temporary sibling folder; on success it replaces ``final``.

    Checks first (inputs, ownership of an existing ``final``; with ``replace=False`` any
    non-empty ``final`` is refused), takes the writer lock, tidies left-overs of killed
    writers, and yields the temporary folder. On an error the temporary folder is removed and
    ``final`` is untouched. ``relocate``: paths into the temporary folder written into its text
    files are rewritten to name ``final`` (see :func:`relocated` for returned values).
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
        check_replaceable(final, kind, inputs)  # ``final`` is a link's target by now
        tmp = final.parent / f".wood-tmp-{_key(final)}-{os.getpid()}-{os.urandom(3).hex()}"
        tmp.mkdir()
        try:
            write_marker(tmp, kind, state="building", entries=())
            yield tmp
            if relocate:
                _relocate_files(tmp, final)
            write_marker(tmp, kind)
            os.chmod(tmp, 0o755)
            previous = swap_into_place(tmp, final)
        except BaseException:
            if tmp.exists():
                remove_tree(tmp)
            raise
        if previous is not None:
            remove_tree(previous)
