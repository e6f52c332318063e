"""Atomic file writes: a temporary file in the same folder, then a rename.

Owns ``atomic_write``. A reader (or a crash) sees either the old file or the whole
new one, never a half-written file. Pure standard library.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: str | os.PathLike, text: bool = False) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    The data is flushed to disk before the rename. If the block raises, the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The file to write.
    text : bool
        Open in UTF-8 text mode instead of binary.

    Yields
    ------
    file object
    """
    path = Path(path)
    temp, descriptor = _create_temp_file(path)
    try:
        mode, encoding = ("w", "utf-8") if text else ("wb", None)
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


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
