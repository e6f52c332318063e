"""uint8 images kept without their blank pixels: a third of the memory, same bits.

A handwriting image is mostly paper: MNIST's digits ink 19% of their pixels, 22%
once deskewed. A run on a big set copies its parts packed (``core.run``): for each
image a bitmap of its inked pixels and their values in order, 0.36 of the bytes;
630,000 deskewed images take 172 MiB, not 471. A minibatch is unpacked when it is
read, by a compiled kernel (``core.kernels``) or NumPy passes giving the same bits.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from core import kernels


class PackedImages:
    """uint8 images ``(N, *shape)`` stored as inked-pixel bitmaps and values.

    Read with `take` (rows, as `numpy.take` along axis 0) or indexing by an int, a
    slice or an index array, which return ordinary arrays. ``reshape(N, -1)`` gives
    the same images seen flat, sharing the storage.

    Parameters
    ----------
    bitmaps : numpy.ndarray
        uint8 ``(N, ceil(P / 8))``: `numpy.packbits` of each image's nonzero pixels.
    values : numpy.ndarray
        uint8 ``(V,)``: the nonzero pixels of image 0, then image 1, ...
    starts : numpy.ndarray
        int64 ``(N + 1,)``: image ``i``'s values are ``values[starts[i]:starts[i+1]]``.
    shape : tuple of int
        ``(N, H, W)`` or ``(N, P)``, the images' shape as read.
    """

    dtype = np.dtype(np.uint8)

    def __init__(
        self,
        bitmaps: np.ndarray,
        values: np.ndarray,
        starts: np.ndarray,
        shape: tuple[int, ...],
    ) -> None:
        self._bitmaps, self._values, self._starts = bitmaps, values, starts
        self.shape = tuple(int(n) for n in shape)
        self._pixels = int(np.prod(self.shape[1:]))

    @classmethod
    def pack(cls, images: np.ndarray) -> PackedImages:
        """Return ``images`` (uint8, ``(N, ...)``) packed."""
        images = np.ascontiguousarray(images, np.uint8)
        flat = images.reshape(len(images), -1)
        inked = flat != 0
        starts = np.zeros(len(flat) + 1, np.int64)
        np.cumsum(np.count_nonzero(inked, axis=1), out=starts[1:])
        return cls(np.packbits(inked, axis=1), flat[inked], starts, images.shape)

    @classmethod
    def join(cls, parts: Iterable[PackedImages]) -> PackedImages:
        """Return the images of ``parts`` (the same image shape) one after another."""
        parts = list(parts)
        if not parts:
            raise ValueError("nothing to join")
        shape = parts[0].shape[1:]
        if any(part.shape[1:] != shape for part in parts):
            raise ValueError("packed images of different shapes cannot be joined")
        offsets = np.cumsum([0] + [part._values.size for part in parts[:-1]])
        starts = [parts[0]._starts[:1]]
        starts += [
            part._starts[1:] + offset
            for part, offset in zip(parts, offsets, strict=True)
        ]
        return cls(
            np.concatenate([part._bitmaps for part in parts]),
            np.concatenate([part._values for part in parts]),
            np.concatenate(starts),
            (sum(len(part) for part in parts), *shape),
        )

    @property
    def ndim(self) -> int:
        """Dimensions of `shape`, as an array's."""
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of storage (the images unpacked take ``N * P``)."""
        return self._bitmaps.nbytes + self._values.nbytes + self._starts.nbytes

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"PackedImages(shape={self.shape}, {self.nbytes:,} bytes)"

    def reshape(self, *shape: int | tuple[int, ...]) -> PackedImages:
        """Return the same images with another per-image shape (no copy)."""
        if len(shape) == 1 and isinstance(shape[0], tuple):
            shape = shape[0]
        dims = [int(n) for n in shape]
        total = len(self) * self._pixels
        if dims.count(-1) == 1:
            known = int(np.prod([n for n in dims if n != -1]))
            dims[dims.index(-1)] = total // known if known else 0
        if int(np.prod(dims)) != total or not dims or dims[0] != len(self):
            raise ValueError(f"cannot reshape packed images {self.shape} to {shape}")
        return PackedImages(self._bitmaps, self._values, self._starts, tuple(dims))

    def max(self) -> int:
        """Return the brightest pixel (0 for blank images)."""
        return int(self._values.max()) if self._values.size else 0

    def take(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return the images at ``rows`` (int array), uint8 ``(K, *shape[1:])``."""
        rows = np.asarray(rows, np.intp)
        count, n = rows.shape[0], len(self)
        if count and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"rows outside 0..{n - 1} of packed images")
        if count and rows.min() < 0:
            rows = np.where(rows < 0, rows + n, rows)
        if out is None:
            out = np.empty((count, *self.shape[1:]), np.uint8)
        flat = out.reshape(count, self._pixels)
        if count == 0 or kernels.unpack_rows(
            self._bitmaps, self._values, self._starts, rows, flat
        ):
            return out
        inked = np.unpackbits(self._bitmaps[rows], axis=1, count=self._pixels)
        first, after = self._starts[rows], self._starts[rows + 1]
        counts = after - first
        # Each image's values are a run of `values`; their positions one after
        # another: the run's start plus 0, 1, ... counted over all the runs.
        ends = np.cumsum(counts)
        positions = np.arange(int(ends[-1]), dtype=np.int64)
        positions += np.repeat(first - (ends - counts), counts)
        flat[...] = 0
        flat[inked.view(bool)] = self._values[positions]
        return out

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            chosen = range(len(self))[key]
            return self.take(np.arange(chosen.start, chosen.stop, chosen.step))
        if isinstance(key, (int, np.integer)):
            return self.take(np.array([key]))[0]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (len(self),):
                raise IndexError("a boolean index must have one entry per image")
            key = np.flatnonzero(key)
        return self.take(key)

    def __array__(self, dtype=None, copy=None):
        # Every image unpacked at once is the copy packing avoids: read by rows.
        raise TypeError("packed images are read with take() or by rows, not whole")
