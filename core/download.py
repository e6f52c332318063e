"""Download the full MNIST (the four official IDX files) with the standard library.

Mirrors are tried in order; every file is MD5-verified, resumed from a ``.part``
file with an HTTP Range request, renamed into place only once verified, and the
transfer is cancellable between chunks. Never Qt; the data folder is passed in.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from core.dataset_store import (
    METADATA_FILE,
    MNIST,
    dataset_path,
    read_info,
    record_dataset,
)
from core.datasets import DIGIT_CLASS_NAMES, DatasetError

MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
MNIST_MD5: dict[str, str] = dict(
    zip(
        MNIST_FILES,
        (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
        strict=True,
    )
)
# Sizes of the official files in bytes, for an overall progress bar.
MNIST_SIZES: dict[str, int] = dict(
    zip(MNIST_FILES, (9_912_422, 28_881, 1_648_877, 4_542), strict=True)
)
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
CHUNK_SIZE = 64 * 1024
# Attempts per mirror while each one makes progress (an interrupted transfer resumes).
_ATTEMPTS_PER_MIRROR = 3
_USER_AGENT = "DigitStudio/0.1 (Python urllib)"

ProgressCallback = Callable[[str, int, "int | None"], None]


class DownloadError(Exception):
    """The download failed; the message lists every mirror tried and its error."""


class DownloadCancelled(Exception):
    """The download was cancelled; partial ``.part`` files are kept for resuming."""


class _MirrorError(Exception):
    """A mirror failed for one file; the next mirror is tried."""


class _Interrupted(Exception):
    """The transfer stopped early; ``progressed`` says whether any bytes arrived."""

    def __init__(self, message: str, progressed: bool) -> None:
        super().__init__(message)
        self.progressed = progressed


class _RangeRejected(Exception):
    """The server answered 416: the partial file does not fit this file."""


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("download cancelled")


def _md5(path: Path, cancel: threading.Event | None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            _check_cancel(cancel)
            digest.update(block)
    return digest.hexdigest()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return _describe(reason) if isinstance(reason, BaseException) else str(reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _transfer(
    url: str,
    part: Path,
    name: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> None:
    """Fetch ``url`` into ``part``, appending from its current size when possible."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            raise _RangeRejected() from exc
        raise _MirrorError(_describe(exc)) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _MirrorError(_describe(exc)) from exc
    with response:
        # file:// responses carry no status; they always return the whole file.
        status = getattr(response, "status", None) or 200
        length_header = response.headers.get("Content-Length")
        if length_header is not None and not length_header.strip().isdigit():
            raise _MirrorError(f"bad Content-Length {length_header!r}")
        length = int(length_header) if length_header is not None else None
        if status == 206 and offset:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise _MirrorError(f"unexpected Content-Range {content_range!r}")
            total_text = content_range.rpartition("/")[2]
            total = int(total_text) if total_text.isdigit() else None
            mode, done = "ab", offset
        elif status == 200:
            # Range ignored (or not asked for): the body is the whole file.
            mode, done, total = "wb", 0, length
        else:
            raise _MirrorError(f"unexpected HTTP status {status}")
        received = 0
        if progress is not None:
            progress(name, done, total)
        try:
            out = open(part, mode)
        except OSError as exc:
            raise DownloadError(f"cannot write {part}: {_describe(exc)}") from exc
        with out:
            while True:
                _check_cancel(cancel)
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Interrupted(
                        f"transfer interrupted after {done} bytes ({_describe(exc)})",
                        received > 0,
                    ) from exc
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {part}: {_describe(exc)}"
                    ) from exc
                received += len(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(name, done, total)
    if length is not None and received < length:
        raise _Interrupted(
            f"transfer truncated: received {received} of {length} bytes",
            received > 0,
        )


def _fetch_from_mirror(
    url: str,
    part: Path,
    name: str,
    expected_md5: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> None:
    """Download one file from one mirror into ``part``, verified, or raise."""
    attempts = 0
    restarted = False
    while True:
        attempts += 1
        resumed = part.exists() and part.stat().st_size > 0
        try:
            _transfer(url, part, name, progress, cancel, timeout)
        except _Interrupted as exc:
            if exc.progressed and attempts < _ATTEMPTS_PER_MIRROR:
                continue
            raise _MirrorError(str(exc)) from exc
        except _RangeRejected as exc:
            part.unlink(missing_ok=True)
            if restarted:
                raise _MirrorError("server rejected the resume request") from exc
            restarted = True
            continue
        digest = _md5(part, cancel)
        if digest == expected_md5:
            return
        # Never keep bytes that failed verification, or a later run would resume
        # from them.
        part.unlink(missing_ok=True)
        if resumed and not restarted:
            restarted = True
            continue
        raise _MirrorError(f"checksum mismatch (MD5 {digest}, expected {expected_md5})")


def _fetch_file(
    folder: Path,
    name: str,
    expected_md5: str,
    mirrors: Sequence[str],
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    timeout: float,
) -> str | None:
    """Make ``folder/name`` a verified copy; return the mirror used (None: present)."""
    final = folder / name
    part = folder / (name + ".part")
    if final.exists():
        if _md5(final, cancel) == expected_md5:
            if progress is not None:
                size = final.stat().st_size
                progress(name, size, size)
            return None
        # Unregister first so the set is never listed while a file is missing.
        (folder / METADATA_FILE).unlink(missing_ok=True)
        final.unlink()
    errors = []
    for mirror in mirrors:
        _check_cancel(cancel)
        url = mirror if mirror.endswith("/") else mirror + "/"
        url += name
        try:
            _fetch_from_mirror(url, part, name, expected_md5, progress, cancel, timeout)
        except _MirrorError as exc:
            errors.append(f"  {url}: {exc}")
            continue
        os.replace(part, final)
        return mirror
    raise DownloadError(f"could not download {name}; tried:\n" + "\n".join(errors))


def download_mnist(
    data_dir: str | os.PathLike,
    mirrors: Sequence[str] | str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the full MNIST into ``<data_dir>/datasets/mnist`` and register it.

    Files already present are re-verified by MD5 and kept when correct; partial
    ``.part`` files are resumed. Afterwards ``load_dataset("mnist", data_dir)``
    gives the 60,000 training images and ``split="test"`` the 10,000 test images.

    Parameters
    ----------
    data_dir : path-like
        The user's data folder (see `core.user_dirs.data_dir`).
    mirrors : sequence of str or str, optional
        Base URLs holding the four files (``http(s)://`` or ``file://``), tried in
        order. When given they replace `DEFAULT_MIRRORS`.
    progress : callable, optional
        ``progress(file_name, bytes_done, bytes_total_or_None)``, called from the
        downloading thread after every chunk.
    cancel : threading.Event, optional
        Checked between chunks; when set, `DownloadCancelled` is raised.
    checksums : mapping, optional
        File name to MD5 hex digest; defaults to `MNIST_MD5` (tests pass their own).
    timeout : float
        Seconds to wait for a connection or for data before giving up on a mirror.

    Returns
    -------
    pathlib.Path
        The dataset folder.

    Raises
    ------
    DownloadError
        Every mirror failed for a file (the message lists each URL and its error),
        or the data folder cannot be written.
    DownloadCancelled
        ``cancel`` was set.
    """
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    mirrors = list(DEFAULT_MIRRORS if mirrors is None else mirrors)
    if not mirrors:
        raise DownloadError("no mirror to download from")
    checksums = MNIST_MD5 if checksums is None else checksums
    folder = dataset_path(data_dir, MNIST)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {folder}: {_describe(exc)}") from exc
    used = []
    for name in MNIST_FILES:
        mirror = _fetch_file(
            folder, name, checksums[name].lower(), mirrors, progress, cancel, timeout
        )
        if mirror is not None and mirror not in used:
            used.append(mirror)
    if not used:
        try:
            return read_info(folder).path
        except DatasetError:
            pass
    source = "MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0; " + (
        "downloaded from " + ", ".join(used) if used else "verified local copy"
    )
    try:
        record_dataset(folder, "downloaded", DIGIT_CLASS_NAMES, 255, source)
    except DatasetError as exc:
        raise DownloadError(f"the downloaded files are inconsistent: {exc}") from exc
    return folder
