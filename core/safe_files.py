"""Refuse anything but a regular file before reading or replacing it, without blocking.

Owns `NotAFileError`, `open_regular` (every reader of a user-named file goes
through it) and `check_replaceable` (every save does). Opening a FIFO for reading
waits for a writer forever, and a device can be endless (/dev/zero), so the kind is
checked before opening, the open itself never blocks, and the kind is checked again
on the open descriptor. Pure standard library.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no FIFOs to block on, no O_NONBLOCK to clear.
    fcntl = None

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class NotAFileError(OSError):
    """A path names a folder, FIFO, device, socket or link where a file belongs.

    An `OSError`, so code that reports OS errors reports this one too; ``strerror``
    reads as the end of a sentence about the path ("it is a FIFO (named pipe), not
    a regular file") and ``str()`` is ``"PATH: " + strerror``.
    """

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FolderNotFileError(NotAFileError, IsADirectoryError):
    """`NotAFileError` for a folder; also an `IsADirectoryError`."""


def describe_kind(mode: int) -> str:
    """Name the kind of file an ``st_mode`` describes: ``"a FIFO (named pipe)"``..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: str | os.PathLike, mode: int) -> NotAFileError:
    kind = describe_kind(mode)
    if stat.S_ISDIR(mode):
        return FolderNotFileError(errno.EISDIR, "it is a folder, not a file", str(path))
    return NotAFileError(errno.EINVAL, f"it is {kind}, not a regular file", str(path))


def check_regular(path: str | os.PathLike, mode: int) -> None:
    """Raise `NotAFileError` unless ``mode`` (an ``st_mode``) is a regular file's."""
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode)


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a regular file for binary reading; refuse anything else without blocking.

    Symbolic links are followed (reading through a link is harmless); what they
    lead to must be a regular file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    file object
        Buffered, blocking, positioned at the start. Close it (``with``).

    Raises
    ------
    NotAFileError
        The path is a folder (`FolderNotFileError`), FIFO, device or socket.
    OSError
        Missing file, no permission, ... as `open` raises them.
    """
    check_regular(path, os.stat(path).st_mode)
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    descriptor = os.open(path, flags)
    try:
        # The path may have been swapped between the stat and the open.
        check_regular(path, os.fstat(descriptor).st_mode)
        if fcntl is not None:
            status = fcntl.fcntl(descriptor, fcntl.F_GETFL)
            fcntl.fcntl(descriptor, fcntl.F_SETFL, status & ~os.O_NONBLOCK)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular_bytes(path: str | os.PathLike) -> bytes:
    """Return the whole content of a regular file (see `open_regular`)."""
    with open_regular(path) as stream:
        return stream.read()


def check_replaceable(path: str | os.PathLike) -> None:
    """Raise unless saving to ``path`` creates a file or replaces a regular one.

    A save renames a new file over ``path``: that would turn a FIFO or a device
    into a plain file and replace a symbolic link instead of writing where it
    points, so both are refused, naming what the path is (and where a link leads).

    Raises
    ------
    NotAFileError
        ``path`` exists and is not a regular file, or is a symbolic link.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise NotAFileError(
            errno.ELOOP,
            f"it is a symbolic link to {target}; Digit Studio does not replace or "
            "write through links (save to the file itself, or remove the link)",
            str(path),
        )
    check_regular(path, mode)
