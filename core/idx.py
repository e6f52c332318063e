"""Read and write IDX files (the MNIST file format), gzip-compressed or raw.

Owns the byte format only; knows nothing about datasets, labels or the network.
Imports only the standard library and NumPy.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from core.atomic_file import atomic_write
from core.safe_files import NotAFileError, open_regular

# IDX type codes and the big-endian NumPy dtype each one stores.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE: dict[tuple[str, int], int] = {
    ("u", 1): 0x08,
    ("i", 1): 0x09,
    ("i", 2): 0x0B,
    ("i", 4): 0x0C,
    ("f", 4): 0x0D,
    ("f", 8): 0x0E,
}
_GZIP_MAGIC = b"\x1f\x8b"
# Bytes per read: gzip's readinto decompresses into a temporary as large as the
# request, so reading a whole dataset at once would need twice its size.
_READ_CHUNK = 1 << 20


class IdxError(Exception):
    """An IDX file is malformed, truncated, or not what the caller expects."""


def _open(path: Path):
    """Open raw or gzip data, detected from the first bytes rather than the name."""
    with open_regular(path) as probe:
        start = probe.read(2)
    if start == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_header(stream, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise IdxError(f"{path}: file is too short to be an IDX file")
    if magic[0] != 0 or magic[1] != 0:
        raise IdxError(
            f"{path}: not an IDX file (bad magic number 0x{magic.hex()}; "
            "IDX files start with two zero bytes)"
        )
    code, ndim = magic[2], magic[3]
    if code not in _CODE_TO_DTYPE:
        raise IdxError(f"{path}: unsupported IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise IdxError(f"{path}: IDX header declares zero dimensions")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise IdxError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
    shape = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    return _CODE_TO_DTYPE[code], shape


def _check_ndim(path: Path, shape: tuple[int, ...], ndim: int | None) -> None:
    if ndim is not None and len(shape) != ndim:
        dims = "x".join(str(d) for d in shape)
        raise IdxError(
            f"{path}: expected {ndim} dimensions, the file has {len(shape)} ({dims})"
        )


def read_idx_header(
    path: str | os.PathLike, ndim: int | None = None
) -> tuple[np.dtype, tuple[int, ...]]:
    """Read only the header of an IDX file.

    Parameters
    ----------
    path : path-like
        Raw or gzip-compressed IDX file.
    ndim : int, optional
        Required number of dimensions.

    Returns
    -------
    dtype : numpy.dtype
        The stored element type (big-endian for multi-byte types).
    shape : tuple of int
        The declared array shape.

    Raises
    ------
    IdxError
        Bad magic number, unsupported type code, truncated header or wrong ``ndim``.
    """
    path = Path(path)
    try:
        with _open(path) as stream:
            dtype, shape = _read_header(stream, path)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | NotAFileError):
            raise IdxError(f"{path}: cannot open ({exc.strerror})") from exc
        raise IdxError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    _check_ndim(path, shape, ndim)
    return dtype, shape


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file into a NumPy array.

    Parameters
    ----------
    path : path-like
        Raw or gzip-compressed IDX file (detected from the content, not the name).
    ndim : int, optional
        Required number of dimensions, e.g. 3 for images ``(N, H, W)``.

    Returns
    -------
    numpy.ndarray
        Array of the declared shape in native byte order (``uint8`` for MNIST).

    Raises
    ------
    IdxError
        Bad magic number, unsupported type code, wrong ``ndim``, truncated data,
        trailing bytes after the data, or corrupt gzip data.
    """
    path = Path(path)
    try:
        with _open(path) as stream:
            dtype, shape = _read_header(stream, path)
            _check_ndim(path, shape, ndim)
            count = int(np.prod(shape, dtype=object))
            try:
                data = np.empty(count, dtype=dtype)
            except (MemoryError, ValueError) as exc:
                raise IdxError(
                    f"{path}: header declares an implausible size {shape}"
                ) from exc
            view = memoryview(data.view(np.uint8))
            filled = 0
            # readinto fills the preallocated array directly, one bounded chunk
            # at a time: no loop over elements and no full-size temporary.
            while filled < len(view):
                got = stream.readinto(view[filled : filled + _READ_CHUNK])
                if not got:
                    break
                filled += got
            if filled < len(view):
                raise IdxError(
                    f"{path}: truncated IDX data: header {shape} needs "
                    f"{len(view)} bytes, the file holds {filled}"
                )
            extra = len(stream.read(1 << 16))
            if extra:
                raise IdxError(
                    f"{path}: unexpected bytes after the {shape} data "
                    "(wrong dimensions in the header?)"
                )
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | NotAFileError):
            raise IdxError(f"{path}: cannot open ({exc.strerror})") from exc
        raise IdxError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    data = data.reshape(shape)
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))
    return data


def write_idx(
    path: str | os.PathLike, array: np.ndarray, compresslevel: int = 6
) -> None:
    """Write an array as an IDX file, atomically.

    The file is gzip-compressed when ``path`` ends in ``.gz`` (with a fixed
    timestamp, so the same array always gives the same bytes).

    Parameters
    ----------
    path : path-like
        Destination. Written to a temporary file in the same folder, then renamed.
    array : numpy.ndarray
        Any shape with at least one dimension; dtype uint8, int8, int16, int32,
        float32 or float64.
    compresslevel : int
        gzip level 1-9, used only for ``.gz`` paths.

    Raises
    ------
    IdxError
        Unsupported dtype or a zero-dimensional array.
    """
    path = Path(path)
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _KIND_TO_CODE:
        raise IdxError(f"cannot write dtype {array.dtype} as IDX")
    if array.ndim == 0 or array.ndim > 255:
        raise IdxError(f"cannot write a {array.ndim}-dimensional array as IDX")
    code = _KIND_TO_CODE[key]
    header = (
        bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    )
    body = np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code])
    with atomic_write(path) as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=raw,
                mtime=0,
                compresslevel=compresslevel,
            ) as stream:
                stream.write(header)
                stream.write(memoryview(body.reshape(-1).view(np.uint8)))
        else:
            raw.write(header)
            raw.write(memoryview(body.reshape(-1).view(np.uint8)))
