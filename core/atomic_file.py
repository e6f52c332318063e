"""Atomic file writes: a temporary file in the same folder, then a rename.

Owns ``atomic_write`` and the removal of what an interrupted write left behind
(`remove_stale_leftovers`). A reader (or a crash) sees either the old file or the
whole new one, never a half-written file. Pure standard library.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from core.safe_files import check_replaceable

try:
    import fcntl
except ImportError:  # Windows: leftovers are judged by age alone.
    fcntl = None

# `.NAME.<12 hex>.tmp`, the temporary file of `atomic_write`.
TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
# core/dataset_store.py builds a dataset in `.import-NAME-<8 hex>` and renames one it
# replaces or deletes to `.retired-...` or `.deleted-...` before removing it.
STAGING_NAME = re.compile(
    r"\.(?:import|retired|deleted)-[a-z0-9][a-z0-9._-]{0,63}-[0-9a-f]{8}"
)
_IMPORTED_AT = time.time()
_cleaned_folders: set[str] = set()
_cleaned_lock = threading.Lock()


@contextmanager
def atomic_write(path: str | os.PathLike, text: bool = False) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    The data is flushed to disk before the rename. If the block raises, the
    temporary file is removed and ``path`` is left as it was. An existing ``path``
    that is not a regular file (a folder, FIFO, device, or a symbolic link) is
    refused before anything is written. The first write into a folder also removes
    the stale leftovers of interrupted writes there (`remove_stale_leftovers`).

    Parameters
    ----------
    path : path-like
        The file to write.
    text : bool
        Open in UTF-8 text mode instead of binary.

    Yields
    ------
    file object

    Raises
    ------
    core.safe_files.NotAFileError
        ``path`` exists and is not a regular file, or is a symbolic link.
    """
    path = Path(path)
    check_replaceable(path)
    _clean_once(path.parent)
    temp, descriptor = _create_temp_file(path)
    # Held until the rename, so a clean-up in another process never takes the
    # temporary file of a write in progress for a leftover.
    lock = _lock_in_use(descriptor)
    try:
        mode, encoding = ("w", "utf-8") if text else ("wb", None)
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        check_replaceable(path)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    finally:
        if lock is not None:
            os.close(lock)


def _create_temp_file(path: Path) -> tuple[Path, int]:
    """Create a new file next to ``path`` with the usual umask permissions."""
    # Not tempfile.mkstemp: that would make the file readable by its owner only.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue


def _lock_in_use(descriptor: int) -> int | None:
    """Return a duplicate descriptor holding an exclusive lock on the file, if any."""
    if fcntl is None:
        return None
    duplicate = os.dup(descriptor)
    try:
        fcntl.flock(duplicate, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a file system without locks: the age rule still applies
        os.close(duplicate)
        return None
    return duplicate


@functools.cache
def process_start_time() -> float:
    """Return when this process started, in `time.time` seconds (never later).

    Read from /proc on Linux; elsewhere the time this module was imported.
    """
    try:
        with open("/proc/self/stat", "rb") as stream:
            fields = stream.read().rpartition(b")")[2].split()
        with open("/proc/stat", "rb") as stream:
            boot = next(
                int(line.split()[1]) for line in stream if line.startswith(b"btime ")
            )
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT
    return min(started, _IMPORTED_AT)


def remove_stale_leftovers(
    folder: str | os.PathLike, older_than: float | None = None
) -> list[Path]:
    """Remove what writes killed half-way left in ``folder`` (not in sub-folders).

    Only two kinds of entries are touched, matched by their exact names: hidden
    temporary files of `atomic_write` (``.NAME.<12 hex>.tmp``) and the hidden
    staging folders of dataset imports (``.import-NAME-<8 hex>``, also
    ``.retired-...`` and ``.deleted-...``). Each must have been last modified
    before ``older_than`` and must not be in use: a temporary file locked by a
    running write, or a staging folder holding one, is kept, so another Digit
    Studio process writing at the same moment loses nothing. Errors are ignored.

    Parameters
    ----------
    folder : path-like
    older_than : float, optional
        A `time.time` value; default `process_start_time`.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    cutoff = process_start_time() if older_than is None else older_than
    removed = []
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        try:
            if TEMP_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                if _remove_stale_temp(path, cutoff):
                    removed.append(path)
            elif STAGING_NAME.fullmatch(entry.name) and entry.is_dir(
                follow_symlinks=False
            ):
                if _is_stale_folder(path, cutoff):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        except OSError:
            continue
    return removed


def remove_stale_leftovers_under(root: str | os.PathLike, depth: int = 2) -> list[Path]:
    """Apply `remove_stale_leftovers` to ``root`` and its sub-folders ``depth`` deep.

    Hidden folders and symbolic links are not entered.
    """
    removed = []
    level = [Path(root)]
    for current_depth in range(depth + 1):
        below = []
        for folder in level:
            removed += remove_stale_leftovers(folder)
            if current_depth == depth:
                continue
            try:
                with os.scandir(folder) as scan:
                    below += [
                        Path(e.path)
                        for e in scan
                        if not e.name.startswith(".")
                        and e.is_dir(follow_symlinks=False)
                    ]
            except OSError:
                continue
        level = below
    return removed


def _clean_once(folder: Path) -> None:
    """Remove stale leftovers from ``folder`` on this process's first write there."""
    key = os.path.abspath(folder)
    with _cleaned_lock:
        if key in _cleaned_folders:
            return
        _cleaned_folders.add(key)
    remove_stale_leftovers(folder)


def _open_unlocked(path: Path, cutoff: float) -> int | None:
    """Open a regular file last modified before ``cutoff`` and lock it; None if not."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_mtime >= cutoff:
            os.close(descriptor)
            return None
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # a write in progress holds the lock
        os.close(descriptor)
        return None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _remove_stale_temp(path: Path, cutoff: float) -> bool:
    descriptor = _open_unlocked(path, cutoff)
    if descriptor is None:
        return False
    try:
        # Still the file that was checked, not one created since under that name.
        if os.lstat(path).st_ino != os.fstat(descriptor).st_ino:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(descriptor)


def _is_stale_folder(path: Path, cutoff: float) -> bool:
    if os.lstat(path).st_mtime >= cutoff:
        return False
    with os.scandir(path) as scan:
        entries = list(scan)
    for entry in entries:
        if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
            return False
        if entry.is_file(follow_symlinks=False):
            descriptor = _open_unlocked(Path(entry.path), cutoff)
            if descriptor is None:
                return False
            os.close(descriptor)
    return True
