"""Made-up non-digits kept for the next run, so that it need not make them again.

Owns `NegativesStore`. Making `recommended`'s 12,000 takes about 5 s; a fine-tune
or another run on the same digits takes them from here. The latest set stays in
memory (zlib: 12,000 are 9 MiB as they are, 2 MiB so), and, when the caller gives
a folder, the latest few sets are kept there too, so that the first fine-tune
after the app starts finds them as well.

A set is found by a key covering all that decides its images: the count, the
seed, the digits they are made from, and the code that makes them (NumPy's
version and the source of every core module: after any change to either, sets are
made anew, never read stale; where that source cannot be read, as in a frozen app,
nothing is kept on disk). A file holds the raw images and nothing else, so
its size alone tells whether it is whole; one that is not, or that is no regular
file, is ignored. Writes are atomic, and one that fails (a full disk) costs only
the time a later run would have saved. Pure NumPy; never imports Qt.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from core.atomic_file import atomic_write
from core.safe_files import open_regular

__all__ = ["NegativesStore"]

IMAGE_SHAPE = (28, 28)
# Sets kept on disk (12,000 images are 9 MiB): the latest runs' and a spare.
KEPT_FILES = 3
_PREFIX = "made-negatives-"
_SUFFIX = ".u8"


class NegativesStore:
    """The latest made-up non-digits in memory; the latest few in a folder if given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[bytes, bytes] | None = None  # key, compressed images

    def images(
        self,
        count: int,
        seed: int,
        digits: Iterable[np.ndarray],
        make: Callable[[], np.ndarray],
        folder: str | os.PathLike | None = None,
    ) -> np.ndarray:
        """Return the set of ``count`` images ``make`` gives, made only if not kept.

        Parameters
        ----------
        count, seed : int
            What the set was made with.
        digits : iterable of np.ndarray
            The digits it is made from, in chunks (hashed, not kept).
        make : callable
            Makes the set: uint8 ``(count, 28, 28)``.
        folder : path-like, optional
            Where sets are kept between runs (created when first written); None
            keeps only the latest set, in memory.

        Returns
        -------
        np.ndarray
            Read-only uint8 ``(count, 28, 28)``.
        """
        key = _key(count, seed, digits)
        if _code_fingerprint() is None:
            folder = None  # no source to tell this code from the next version's
        path = (
            None if folder is None else Path(folder) / f"{_PREFIX}{key.hex()}{_SUFFIX}"
        )
        shape = (count, *IMAGE_SHAPE)
        with self._lock:
            latest = self._latest
        if latest is not None and latest[0] == key:
            made = np.frombuffer(zlib.decompress(latest[1]), np.uint8).reshape(shape)
        else:
            made = None if path is None else _read(path, shape)
            if made is None:
                made = np.ascontiguousarray(make(), np.uint8)
                if made.shape != shape:
                    raise ValueError(f"made {made.shape} images, not {shape}")
                if path is not None:
                    _write(path, made)
            with self._lock:
                self._latest = (key, zlib.compress(made, 1))
        made.flags.writeable = False
        return made


def _read(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    size = int(np.prod(shape))
    try:
        with open_regular(path) as stream:
            if os.fstat(stream.fileno()).st_size != size:
                return None
            data = stream.read(size)
        os.utime(path)  # the latest used is kept longest
    except OSError:  # missing, no regular file, unreadable: made anew
        return None
    if len(data) != size:
        return None
    return np.frombuffer(data, np.uint8).reshape(shape)


def _write(path: Path, made: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as stream:
            stream.write(made.data)
        _remove_oldest(path.parent, keep=KEPT_FILES)
    except OSError:
        pass  # a full disk or a read-only folder: the next run makes them again


def _key(count: int, seed: int, digits: Iterable[np.ndarray]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{count} {seed} ".encode())
    digest.update(_code_fingerprint() or b"")
    for chunk in digits:
        digest.update(np.ascontiguousarray(chunk))
    return digest.digest()


@functools.cache
def _code_fingerprint() -> bytes | None:
    """Return a digest of NumPy's version and every core module's source.

    None where the source cannot be read (a frozen app ships compiled modules).
    """
    digest = hashlib.blake2b(np.__version__.encode(), digest_size=16)
    sources = sorted(Path(__file__).resolve().parent.glob("*.py"))
    try:
        for source in sources:
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    except OSError:
        return None
    return digest.digest() if sources else None


def _remove_oldest(folder: Path, keep: int) -> None:
    """Remove all but the ``keep`` latest used sets in ``folder`` (nothing else)."""
    kept = []
    for path in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            kept.append((path.lstat().st_mtime, path))
        except OSError:
            continue
    for _, path in sorted(kept, reverse=True)[keep:]:
        try:
            path.unlink()
        except OSError:
            continue
