"""Download the full MNIST (the four official IDX files) with the standard library.

Mirrors are tried in order; every file is MD5-verified, resumed from a ``.part``
file with an HTTP Range request, renamed into place only once verified, and the
transfer is cancellable between chunks. No file grows past its official size and
each has a deadline (docs/safety.md). Never Qt; the data folder is passed in.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.dataset_store import (
    METADATA_FILE,
    MNIST,
    dataset_path,
    read_info,
    record_dataset,
)
from core.datasets import DIGIT_CLASS_NAMES, DatasetError
from core.safe_files import check_replaceable, open_regular

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
# Sizes of the official files in bytes: the progress bar's total, and a hard limit.
MNIST_SIZES: dict[str, int] = dict(
    zip(MNIST_FILES, (9_912_422, 28_881, 1_648_877, 4_542), strict=True)
)
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
CHUNK_SIZE = 64 * 1024
# Each file must arrive at this average rate at least (a poor mobile link manages
# 20 kB/s), plus a grace period for connecting: 9 min 16 s for the largest file.
MIN_BYTES_PER_SECOND = 20_000
DEADLINE_GRACE_S = 60.0
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
    with open_regular(path) as stream:
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


class _Deadline:
    """The time one file may take from one mirror; then its connections are shut.

    Shutting a connection's socket wakes a read blocked on it, so a server that
    trickles bytes (each arriving before the idle timeout) cannot keep the
    download alive, whether it trickles the TLS handshake, the headers or the body.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, connection: socket.socket) -> None:
        """Shut ``connection`` when the time is up (at once if it already is)."""
        duplicate = connection.dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for duplicate in self._sockets:
                _shut(duplicate)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for duplicate in self._sockets:
                duplicate.close()
            self._sockets.clear()


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _WatchedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket a `_Deadline` (``self.deadline``) can shut."""

    deadline: _Deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTPSConnection(http.client.HTTPSConnection, _WatchedHTTPConnection):
    """HTTPS: the plain socket is watched before the TLS handshake on it starts."""


def _watched(connection_class: type, deadline: _Deadline) -> Callable:
    def make(*args, **kwargs):
        connection = connection_class(*args, **kwargs)
        connection.deadline = deadline
        return connection

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(_watched(_WatchedHTTPConnection, self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(
            _watched(_WatchedHTTPSConnection, self.deadline), req, context=self._context
        )


@dataclass(frozen=True)
class _Limits:
    """How long a mirror may take: silence between reads, and per file."""

    timeout: float
    min_rate: float
    grace: float

    def deadline(self, size: int) -> float:
        """Seconds allowed for a file of ``size`` bytes from one mirror."""
        return self.grace + size / self.min_rate

    def too_slow(self, seconds: float) -> str:
        shown = f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"
        return (
            f"too slow: not complete after {shown} s (the limit allows "
            f"{self.min_rate / 1000:,.0f} kB/s at least)"
        )


def _open_file_url(url: str, expected_size: int):
    """Open a ``file://`` URL's file: a regular file (no FIFO) of the right size."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.netloc not in ("", "localhost"):
        raise _MirrorError(f"file URLs name a local file, not one on {parsed.netloc}")
    path = urllib.request.url2pathname(parsed.path)
    try:
        stream = open_regular(path)
    except OSError as exc:
        raise _MirrorError(_describe(exc)) from exc
    size = os.fstat(stream.fileno()).st_size
    if size != expected_size:
        stream.close()
        raise _MirrorError(_wrong_size(size, expected_size))
    return stream


def _wrong_size(size: int, expected_size: int) -> str:
    return f"{size:,} bytes where the official file has {expected_size:,}"


def _transfer(
    url: str,
    part: Path,
    name: str,
    expected_size: int,
    deadline: _Deadline,
    limits: _Limits,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """Fetch ``url`` into ``part``, appending from its current size when possible.

    Never writes more than ``expected_size`` bytes in all: a body that is longer,
    or announced with another length, is refused.
    """
    offset = part.stat().st_size if part.exists() else 0
    if offset > expected_size:
        part.unlink()
        offset = 0
    if offset == expected_size:
        return  # complete already; the checksum decides
    if url.startswith("file:"):
        response = _open_file_url(url, expected_size)
        status, headers = 200, {}
    else:
        response, status, headers = _request(url, offset, deadline, limits)
    with response:
        if status == 206 and offset:
            content_range = headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise _MirrorError(f"unexpected Content-Range {content_range!r}")
            total_text = content_range.rpartition("/")[2]
            if total_text.isdigit() and int(total_text) != expected_size:
                raise _MirrorError(_wrong_size(int(total_text), expected_size))
            mode, done = "ab", offset
        elif status == 200:
            # Range ignored (or not asked for): the body is the whole file.
            mode, done = "wb", 0
        else:
            raise _MirrorError(f"unexpected HTTP status {status}")
        length_header = headers.get("Content-Length")
        if length_header is not None:
            if not length_header.strip().isdigit():
                raise _MirrorError(f"bad Content-Length {length_header!r}")
            if int(length_header) != expected_size - done:
                raise _MirrorError(
                    "the server announces "
                    + _wrong_size(done + int(length_header), expected_size)
                )
        received = 0
        if progress is not None:
            progress(name, done, expected_size)
        try:
            out = open(part, mode)
        except OSError as exc:
            raise DownloadError(f"cannot write {part}: {_describe(exc)}") from exc
        # One system call per read, so the deadline is checked however slow the data.
        read = getattr(response, "read1", response.read)
        with out:
            while True:
                _check_cancel(cancel)
                wanted = expected_size - done
                try:
                    chunk = read(min(CHUNK_SIZE, wanted + 1))
                except (OSError, http.client.HTTPException) as exc:
                    if deadline.expired:
                        break
                    raise _Interrupted(
                        f"transfer interrupted after {done} bytes ({_describe(exc)})",
                        received > 0,
                    ) from exc
                if not chunk or deadline.expired:
                    break
                if len(chunk) > wanted:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise _MirrorError(
                        f"the server sends more than the {expected_size:,} bytes of "
                        f"{name}"
                    )
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {part}: {_describe(exc)}"
                    ) from exc
                received += len(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(name, done, expected_size)
    if deadline.expired:
        raise _MirrorError(limits.too_slow(deadline.seconds))
    if done < expected_size:
        raise _Interrupted(
            f"transfer truncated: received {done} of {expected_size} bytes",
            received > 0,
        )


def _request(url: str, offset: int, deadline: _Deadline, limits: _Limits):
    """Send the GET (with a Range from ``offset``); return response, status, headers."""
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(
        _HTTPHandler(deadline), _HTTPSHandler(deadline)
    )
    try:
        response = opener.open(request, timeout=limits.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            raise _RangeRejected() from exc
        raise _MirrorError(_describe(exc)) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if deadline.expired:
            raise _MirrorError(limits.too_slow(deadline.seconds)) from exc
        raise _MirrorError(_describe(exc)) from exc
    return response, response.status, response.headers


def _fetch_from_mirror(
    url: str,
    part: Path,
    name: str,
    expected: tuple[str, int],
    limits: _Limits,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """Download one file from one mirror into ``part``, verified, or raise.

    All attempts (resumes) share one deadline.
    """
    expected_md5, expected_size = expected
    deadline = _Deadline(limits.deadline(expected_size))
    attempts = 0
    restarted = False
    try:
        while True:
            attempts += 1
            resumed = part.exists() and part.stat().st_size > 0
            try:
                _transfer(
                    url, part, name, expected_size, deadline, limits, progress, cancel
                )
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
            # Never keep bytes that failed verification, or a later run would
            # resume from them.
            part.unlink(missing_ok=True)
            if resumed and not restarted:
                restarted = True
                continue
            raise _MirrorError(
                f"checksum mismatch (MD5 {digest}, expected {expected_md5})"
            )
    finally:
        deadline.close()


def _fetch_file(
    folder: Path,
    name: str,
    expected: tuple[str, int],
    mirrors: Sequence[str],
    limits: _Limits,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> str | None:
    """Make ``folder/name`` a verified copy; return the mirror used (None: present)."""
    final = folder / name
    part = folder / (name + ".part")
    try:
        check_replaceable(part)
        present = final.exists()
        verified = present and _md5(final, cancel) == expected[0]
    except OSError as exc:
        raise DownloadError(
            f"cannot use {exc.filename}: {_describe(exc)}; remove it and try again"
        ) from exc
    if present:
        if verified:
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
            _fetch_from_mirror(url, part, name, expected, limits, progress, cancel)
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
    sizes: Mapping[str, int] | None = None,
    timeout: float = 30.0,
    min_rate: float = MIN_BYTES_PER_SECOND,
    grace: float = DEADLINE_GRACE_S,
) -> Path:
    """Download the full MNIST into ``<data_dir>/datasets/mnist`` and register it.

    Files already present are re-verified by MD5 and kept when correct; partial
    ``.part`` files are resumed. No file is written past its expected size, and
    each must arrive from a mirror within ``grace + size / min_rate`` seconds.
    Afterwards ``load_dataset("mnist", data_dir)`` gives the 60,000 training
    images and ``split="test"`` the 10,000 test images.

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
    sizes : mapping, optional
        File name to size in bytes; defaults to `MNIST_SIZES`. A body announced
        with another length, or longer, is refused.
    timeout : float
        Seconds to wait for a connection or for data before giving up on a mirror.
    min_rate : float
        Slowest average transfer accepted, in bytes per second.
    grace : float
        Seconds added to each file's deadline (connecting, a slow start).

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
    sizes = MNIST_SIZES if sizes is None else sizes
    limits = _Limits(timeout, min_rate, grace)
    folder = dataset_path(data_dir, MNIST)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {folder}: {_describe(exc)}") from exc
    used = []
    for name in MNIST_FILES:
        expected = (checksums[name].lower(), int(sizes[name]))
        mirror = _fetch_file(folder, name, expected, mirrors, limits, progress, cancel)
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
    except OSError as exc:
        raise DownloadError(
            f"cannot write {folder / METADATA_FILE}: {_describe(exc)}"
        ) from exc
    return folder
