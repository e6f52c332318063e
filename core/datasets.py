"""The dataset type, input normalisation, bundled data, IDX pairs and the split.

Images stay uint8 in memory; `Normalization.apply` turns one batch into float32.
Imports only NumPy, the standard library, `core.choices`, `core.idx`,
`core.resident_pages` and `core.slant`; never Qt, never global paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from core.choices import Choice
from core.idx import IdxError, read_idx
from core.packed_images import PackedImages
from core.resident_pages import drop_read_rows
from core.slant import deskew

# The top-level package whose data files are the bundled datasets, one folder each.
_BUNDLED_PACKAGE = "resources"
BUNDLED: tuple[str, ...] = ("mnist-sample", "digits-8x8", "pen-digits")
DIGIT_CLASS_NAMES: tuple[str, ...] = tuple(str(d) for d in range(10))
NORMALIZATIONS: dict[str, Choice] = {
    "scale": Choice(
        "scale",
        "Scale to [0, 1]",
        "Divide every pixel by the brightest pixel value",
    ),
    "standardize": Choice(
        "standardize",
        "Standardise per pixel",
        "Scale to [0, 1], then subtract each pixel's training mean and divide by "
        "its standard deviation",
    ),
}
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
BUNDLED_MAX_VALUE = {"mnist-sample": 255, "digits-8x8": 16, "pen-digits": 255}
# Labels are kept as uint8 everywhere (in memory, in stores, in personal drawings), so
# 256 classes at most; ample for handwriting sets (EMNIST byclass has 62, KMNIST 49).
MAX_CLASSES = 256
# Pixels whose training std is (numerically) zero would divide by ~0; they get 1.
_MIN_STD = 1e-6
# Images read at a time when a dataset is read through once (`Dataset`'s check of
# its pixels, `DatasetPart.read_once`).
_SCAN_ROWS = 4096


class DatasetError(Exception):
    """A dataset cannot be loaded, is inconsistent, or does not fit the request."""


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """Return ``("0", "1", ..., str(num_classes - 1))``."""
    return tuple(str(i) for i in range(num_classes))


def check_labels(labels: np.ndarray, num_classes: int | None, source: str) -> None:
    """Raise `DatasetError` naming the first label outside ``0..num_classes - 1``.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer ``(N,)``, of any integer dtype (as read from a file).
    num_classes : int or None
        The number of classes; None checks only that the labels fit `MAX_CLASSES`.
    source : str
        The file or dataset named in the message.

    Raises
    ------
    DatasetError
        Labels that are not integers, more than `MAX_CLASSES` classes, or a label
        out of range: its value, its index and how many others are.
    """
    labels = np.asarray(labels)
    if labels.size and labels.dtype.kind not in "ui":
        raise DatasetError(f"{source}: labels must be integers, found {labels.dtype}")
    if num_classes is not None and num_classes > MAX_CLASSES:
        raise DatasetError(
            f"{source}: {num_classes:,} classes; Digit Studio supports at most "
            f"{MAX_CLASSES}"
        )
    top = MAX_CLASSES if num_classes is None else num_classes
    bad = (labels < 0) | (labels >= top)
    if not bad.any():
        return
    index = int(np.argmax(bad))
    others = int(np.count_nonzero(bad)) - 1
    if num_classes is None:
        limit = f"Digit Studio supports at most {top} classes (0..{top - 1})"
    else:
        limit = f"there are {top} classes (0..{top - 1})"
    raise DatasetError(
        f"{source}: labels range {int(labels.min())}..{int(labels.max())} but "
        f"{limit}; label {int(labels[index])} at index {index:,} is the first out "
        f"of range" + (f" ({others:,} more after it)" if others else "")
    )


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels, kept as uint8.

    Attributes
    ----------
    name : str
        Dataset name as shown to the user (``"mnist-sample"``, ``"mnist"``...).
    images : numpy.ndarray or PackedImages
        uint8 ``(N, H, W)``, pixel values in ``[0, max_value]``; packed for a
        run's copy of a big set (`core.packed_images`), read by rows.
    labels : numpy.ndarray
        uint8 ``(N,)``, class indices in ``[0, len(class_names))``.
    class_names : tuple of str
        One name per class; their number is the network's output size.
    max_value : int
        The brightest possible pixel: 255 for MNIST, 16 for the 8x8 digits.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = DIGIT_CLASS_NAMES
    max_value: int = 255

    def __post_init__(self) -> None:
        images, labels = self.images, np.asarray(self.labels)
        stored = isinstance(images, (np.ndarray, PackedImages))
        if not stored or images.dtype != np.uint8:
            raise DatasetError(f"{self.name}: images must be a uint8 array")
        if images.ndim != 3:
            raise DatasetError(
                f"{self.name}: images must have shape (N, H, W), got {images.shape}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DatasetError(
                f"{self.name}: {images.shape[0]} images but labels of shape "
                f"{labels.shape}"
            )
        names = tuple(str(n) for n in self.class_names)
        if len(names) < 2:
            raise DatasetError(f"{self.name}: at least two class names are needed")
        check_labels(labels, len(names), self.name)
        if not 1 <= int(self.max_value) <= 255:
            raise DatasetError(f"{self.name}: max_value must be 1..255")
        brightest = _brightest(images)
        if brightest > int(self.max_value):
            raise DatasetError(
                f"{self.name}: pixel value {brightest} exceeds max_value "
                f"{self.max_value}"
            )
        object.__setattr__(self, "labels", labels.astype(np.uint8, copy=False))
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "max_value", int(self.max_value))

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of one image."""
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    @property
    def input_size(self) -> int:
        """``H * W``, the network's input size."""
        return self.image_shape[0] * self.image_shape[1]

    @property
    def num_classes(self) -> int:
        """Number of classes, the network's output size."""
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        h, w = self.image_shape
        return (
            f"Dataset({self.name!r}, {len(self)} images {h}x{w}, "
            f"{self.num_classes} classes, max_value={self.max_value})"
        )

    def subset(self, indices: np.ndarray) -> Dataset:
        """Return a new dataset holding ``images[indices]`` and ``labels[indices]``.

        Parameters
        ----------
        indices : array-like of int or bool, shape ``(K,)`` or ``(N,)`` for a mask
        """
        indices = np.asarray(indices)
        if indices.dtype != bool:
            indices = indices.astype(np.intp, copy=False)
        return Dataset(
            self.name,
            self.images[indices],
            self.labels[indices],
            self.class_names,
            self.max_value,
        )

    def class_counts(self) -> np.ndarray:
        """Images per class, int64 ``(num_classes,)``."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def images_at(self, positions: np.ndarray | slice) -> np.ndarray:
        """Return the images at ``positions``: uint8 ``(K, H, W)``, as `DatasetPart`'s.

        A slice gives a view (read it, never write it); an index array a copy.
        """
        return self.images[positions]

    def image_at(self, position: int) -> np.ndarray:
        """Return image ``position``: uint8 ``(H, W)``."""
        return self.images_at(slice(position, position + 1))[0]


def _brightest(images: np.ndarray) -> int:
    """Return the brightest pixel of ``images`` (0 for none).

    A stored dataset's pages leave the process once scanned: loading a big set keeps
    none of it resident, and a run reads its images as it needs them.
    """
    if isinstance(images, PackedImages):
        return images.max()
    brightest = 0
    for start in range(0, len(images), _SCAN_ROWS):
        block = images[start : start + _SCAN_ROWS]
        if block.size:
            brightest = max(brightest, int(block.max()))
        drop_read_rows(images, start, start + len(block))
    return brightest


@dataclass(frozen=True, eq=False)
class DatasetPart:
    """Some images of a dataset, named by their rows: a split that copies no image.

    A training or validation part of a 700,000-image dataset costs 8 bytes per
    image, not 784: the images stay where they are (memory-mapped, for a stored
    dataset) and are gathered one batch at a time. Row ``r < len(source)`` is the
    source's image ``r``; with ``extra``, row ``len(source) + i`` is the extra
    image ``i`` (the user's drawings, added to a training part, maybe repeated).

    Attributes
    ----------
    source : Dataset
        The whole dataset.
    rows : numpy.ndarray
        intp ``(K,)``: the part's images, in order, as rows of the source
        (followed by those of ``extra``).
    extra : Dataset or None
        Images beyond the source's, of the same size and pixel range.
    deskewed : bool
        The part's images are the source's stood upright (`core.slant.deskew`),
        deskewed at each read: a deskewing run's validation part, read once an
        epoch, holds no copy (7,000 images: 5 MiB) for 4 us an image a read; a
        big set's run copies it packed instead (`core.run.PACK_COPIES_FROM`).
    labels : numpy.ndarray
        uint8 ``(K,)``, the label of each of the part's images.
    """

    source: Dataset
    rows: np.ndarray
    extra: Dataset | None = None
    deskewed: bool = False
    labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rows = np.asarray(self.rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "ui"):
            raise DatasetError("a dataset part's rows must be a 1-D integer array")
        rows = rows.astype(np.intp, copy=False)
        labels = self.source.labels
        if self.extra is not None:
            extra = self.extra
            if extra.image_shape != self.source.image_shape:
                raise DatasetError(
                    f"extra images are {extra.image_shape[0]}x{extra.image_shape[1]} "
                    f"but {self.source.name}'s are {self.source.image_shape[0]}x"
                    f"{self.source.image_shape[1]}"
                )
            if extra.max_value != self.source.max_value:
                raise DatasetError(
                    f"extra images go up to {extra.max_value} but "
                    f"{self.source.name}'s to {self.source.max_value}"
                )
            if extra.num_classes > self.source.num_classes:
                raise DatasetError(
                    f"extra images have {extra.num_classes} classes but "
                    f"{self.source.name} has {self.source.num_classes}"
                )
            labels = np.concatenate([labels, extra.labels])
        if rows.size and (rows.min() < 0 or rows.max() >= labels.shape[0]):
            raise DatasetError(
                f"a part of {self.source.name} names rows outside "
                f"0..{labels.shape[0] - 1}"
            )
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "labels", labels[rows])

    @property
    def name(self) -> str:
        """The source's name."""
        return self.source.name

    @property
    def class_names(self) -> tuple[str, ...]:
        """The source's class names."""
        return self.source.class_names

    @property
    def max_value(self) -> int:
        """The source's brightest pixel value."""
        return self.source.max_value

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of one image."""
        return self.source.image_shape

    @property
    def input_size(self) -> int:
        """``H * W``, the network's input size."""
        return self.source.input_size

    @property
    def num_classes(self) -> int:
        """Number of classes, the network's output size."""
        return self.source.num_classes

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def __repr__(self) -> str:
        extra = "" if self.extra is None else f" (+{len(self.extra)} extra images)"
        upright = ", deskewed" if self.deskewed else ""
        return f"DatasetPart({len(self)} images of {self.source!r}{extra}{upright})"

    def class_counts(self) -> np.ndarray:
        """Images per class, int64 ``(num_classes,)``."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: np.ndarray) -> DatasetPart:
        """Return the part holding this part's images at ``indices`` (no copy).

        Parameters
        ----------
        indices : array-like of int or bool, shape ``(K,)`` or ``(len(self),)``
        """
        indices = np.asarray(indices)
        if indices.dtype != bool:
            indices = indices.astype(np.intp, copy=False)
        return DatasetPart(self.source, self.rows[indices], self.extra, self.deskewed)

    def flat_sources(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the source's images ``(N, H*W)`` and the extra ones ``(M, H*W)``.

        Row ``r`` of `rows` is ``sources[0][r]`` or, from ``N`` on,
        ``sources[1][r - N]``. Views, not copies (None without extra images).

        Raises
        ------
        DatasetError
            For a `deskewed` part: its images are not the stored ones.
        """
        if self.deskewed:
            raise DatasetError("a deskewed part's images exist only as they are read")
        return self._stored()

    def _stored(self) -> tuple[np.ndarray, np.ndarray | None]:
        source = self.source.images.reshape(len(self.source), -1)
        if self.extra is None:
            return source, None
        return source, self.extra.images.reshape(len(self.extra), -1)

    def images_at(self, positions: np.ndarray | slice) -> np.ndarray:
        """Return a copy of the part's images at ``positions``: uint8 ``(K, H, W)``."""
        rows = self.rows[positions]
        source, extra = self._stored()
        flat = take_rows(source, rows, extra)
        images = flat.reshape(rows.shape[0], *self.image_shape)
        return deskew(images) if self.deskewed else images

    def image_at(self, position: int) -> np.ndarray:
        """Return a copy of the part's image ``position``: uint8 ``(H, W)``."""
        return self.images_at(slice(position, position + 1))[0]

    def read_once(
        self, positions: np.ndarray | None = None
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield the images at ``positions`` (default all) a block at a time.

        Yields ``(block, images)``: ``block`` slices ``positions``. For a part
        that reads through a stored dataset in storage order (rows and positions
        ascending), each block spans at most `_SCAN_ROWS` rows of the source, and
        the source's pages before the next block leave the process (the kernel
        reads them again if they are touched): a big set read through once (a
        deskewed copy, digits spread over it) is not held twice. A fault maps the
        pages around it too, so a few thousand images spread over a big set would
        otherwise keep most of it resident.
        """
        rows = self.rows if positions is None else self.rows[positions]
        in_order = bool(np.all(rows[1:] >= rows[:-1]))
        images, count = self.source.images, len(self.source)
        start = done = 0
        while start < len(rows):
            stop = min(start + _SCAN_ROWS, len(rows))
            if in_order:
                span_end = int(np.searchsorted(rows, rows[start] + _SCAN_ROWS))
                stop = max(start + 1, min(stop, span_end))
            block = slice(start, stop)
            yield (
                block,
                self.images_at(block if positions is None else positions[block]),
            )
            if in_order:
                reached = min(int(rows[stop]) if stop < len(rows) else count, count)
                drop_read_rows(images, done, reached)
                done = reached
            start = stop

    def materialize(self) -> Dataset:
        """Return the part as a dataset of its own (its images copied)."""
        return Dataset(
            self.name,
            self.images_at(slice(None)),
            self.labels,
            self.class_names,
            self.max_value,
        )


def take_rows(
    images: np.ndarray,
    rows: np.ndarray,
    extra: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``images[rows]``, where rows from ``len(images)`` on are ``extra``'s.

    Parameters
    ----------
    images : numpy.ndarray or PackedImages
        ``(N, P)``.
    rows : numpy.ndarray
        intp ``(K,)`` in ``[0, N + len(extra))``.
    extra : numpy.ndarray or None
        ``(M, P)``: the rows after ``images``' (see `DatasetPart`).
    out : numpy.ndarray, optional
        ``(K, P)`` of the images' dtype, written and returned.
    """
    count = images.shape[0]
    beyond = None if extra is None else rows >= count
    if beyond is None or not beyond.any():
        return _take(images, rows, out)
    out = _take(images, np.where(beyond, 0, rows), out)
    out[beyond] = extra[rows[beyond] - count]
    return out


def _take(
    images: np.ndarray | PackedImages, rows: np.ndarray, out: np.ndarray | None
) -> np.ndarray:
    if isinstance(images, PackedImages):
        return images.take(rows, out=out)
    return np.take(images, rows, axis=0, out=out)


def as_part(data: Dataset | DatasetPart) -> DatasetPart:
    """Return ``data`` as a part: a dataset becomes the part holding all its images."""
    if isinstance(data, DatasetPart):
        return data
    return DatasetPart(data, np.arange(len(data), dtype=np.intp))


@dataclass(frozen=True, eq=False)
class Normalization:
    """How uint8 pixels become network inputs.

    ``"scale"`` divides by ``max_value`` (inputs in ``[0, 1]``). ``"standardize"``
    scales the same way, then subtracts the per-pixel training ``mean`` and divides
    by the per-pixel ``std`` (both of the scaled values; a zero std becomes 1).

    Attributes
    ----------
    kind : str
        A key of ``NORMALIZATIONS``: ``"scale"`` or ``"standardize"``.
    max_value : float
        Pixel value that maps to 1.
    mean, std : numpy.ndarray or None
        float32 ``(H*W,)`` for ``"standardize"``, None for ``"scale"``.
    inv_std : numpy.ndarray or None
        ``1 / std`` in float32, computed once (inputs are multiplied by it).
    """

    kind: str
    max_value: float
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    inv_std: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in NORMALIZATIONS:
            raise DatasetError(
                f"unknown normalization {self.kind!r}; use one of "
                f"{', '.join(NORMALIZATIONS)}"
            )
        if not (np.isfinite(self.max_value) and self.max_value > 0):
            raise DatasetError("normalization max_value must be a positive number")
        object.__setattr__(self, "max_value", float(self.max_value))
        if self.kind == "scale":
            if self.mean is not None or self.std is not None:
                raise DatasetError("'scale' normalization takes no mean or std")
            return
        if self.mean is None or self.std is None:
            raise DatasetError("'standardize' normalization needs a mean and a std")
        mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        if mean.shape != std.shape:
            raise DatasetError(
                f"normalization mean has {mean.size} values but std has {std.size}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise DatasetError("normalization mean and std must be finite")
        if (std <= 0).any():
            raise DatasetError("normalization std must be positive")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "inv_std", (1.0 / std).astype(np.float32))

    @classmethod
    def fit(
        cls, kind: str, images: np.ndarray | DatasetPart, max_value: float
    ) -> Normalization:
        """Fit a normalisation on training images.

        Parameters
        ----------
        kind : str
            ``"scale"`` or ``"standardize"``.
        images : numpy.ndarray or DatasetPart
            uint8 ``(N, H, W)`` or ``(N, H*W)`` training images, or a part of a
            dataset (gathered a few thousand images at a time).
        max_value : float
            The dataset's brightest pixel value.

        Returns
        -------
        Normalization
        """
        if kind == "scale":
            return cls("scale", max_value)
        if kind not in NORMALIZATIONS:
            return cls(kind, max_value)  # raises the unknown-kind error
        if isinstance(images, DatasetPart):
            n, pixels = len(images), images.input_size

            def chunk_of(start: int) -> np.ndarray:
                return images.images_at(slice(start, start + 4096)).reshape(-1, pixels)

        else:
            flat = np.asarray(images).reshape(len(images), -1)
            n, pixels = flat.shape

            def chunk_of(start: int) -> np.ndarray:
                return flat[start : start + 4096]

        if n == 0:
            raise DatasetError("cannot fit 'standardize' on zero images")
        # Exact integer-valued sums in float64, gathered in chunks so no float copy
        # of the whole set is made; E[x^2] - E[x]^2 is safe for values in [0, 255].
        total = np.zeros(pixels, dtype=np.float64)
        total_sq = np.zeros(pixels, dtype=np.float64)
        for start in range(0, n, 4096):
            chunk = chunk_of(start).astype(np.float64)
            total += chunk.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", chunk, chunk)
        scale = 1.0 / float(max_value)
        mean = total / n
        var = np.maximum(total_sq / n - mean * mean, 0.0)
        std = np.sqrt(var) * scale
        std[std < _MIN_STD] = 1.0
        return cls("standardize", max_value, (mean * scale).astype(np.float32), std)

    def apply(self, images: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Turn a batch of images into network inputs.

        Parameters
        ----------
        images : numpy.ndarray
            uint8 or float ``(B, H, W)`` or ``(B, H*W)``, values in the dataset's
            pixel range.
        out : numpy.ndarray, optional
            float32 C-contiguous ``(B, H*W)`` buffer to write into.

        Returns
        -------
        numpy.ndarray
            float32 ``(B, H*W)`` (``out`` when given).
        """
        images = np.asarray(images)
        flat = images.reshape(images.shape[0], -1)
        if self.mean is not None and flat.shape[1] != self.mean.size:
            raise DatasetError(
                f"inputs have {flat.shape[1]} pixels but the normalization was fit on "
                f"{self.mean.size}"
            )
        if out is None:
            out = np.empty(flat.shape, dtype=np.float32)
        elif out.shape != flat.shape or out.dtype != np.float32:
            raise DatasetError(
                f"out must be float32 {flat.shape}, got {out.dtype} {out.shape}"
            )
        np.multiply(flat, np.float32(1.0 / self.max_value), out=out, casting="unsafe")
        if self.kind == "standardize":
            out -= self.mean
            out *= self.inv_std
        return out

    def to_dict(self) -> dict:
        """JSON-ready description; `from_dict` restores it exactly."""
        return {
            "kind": self.kind,
            "max_value": self.max_value,
            "mean": None if self.mean is None else self.mean.tolist(),
            "std": None if self.std is None else self.std.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Normalization:
        """Rebuild from `to_dict` output; raises `DatasetError` if inconsistent."""
        try:
            return cls(
                str(data["kind"]),
                float(data["max_value"]),
                None if data.get("mean") is None else np.asarray(data["mean"]),
                None if data.get("std") is None else np.asarray(data["std"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"invalid normalization description: {exc}") from exc


def _read(path: Path, ndim: int) -> np.ndarray:
    try:
        return read_idx(path, ndim=ndim)
    except IdxError as exc:
        raise DatasetError(str(exc)) from exc


def load_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    name: str | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
    max_value: int = 255,
    expected_shape: tuple[int, int] | None = None,
    transpose: bool = False,
) -> Dataset:
    """Load an IDX images file and its labels file as a dataset.

    Parameters
    ----------
    images_path : path-like
        uint8 IDX ``(N, H, W)``, raw or ``.gz``.
    labels_path : path-like
        Integer IDX ``(N,)`` (any integer type), raw or ``.gz``.
    name : str, optional
        Dataset name; defaults to the images file name.
    class_names : sequence of str, optional
        Defaults to ``"0".."9"``, or ``"0".."K-1"`` when labels go beyond 9; at
        most `MAX_CLASSES`.
    max_value : int
        Brightest pixel value (255 for MNIST-style data).
    expected_shape : (int, int), optional
        Required ``(H, W)``, e.g. the input shape of a trained network.
    transpose : bool
        Swap rows and columns of every image (EMNIST stores images transposed).

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unreadable or malformed files, images that are not uint8 ``(N, H, W)``,
        no images or images of 0 pixels, image and label counts that differ,
        labels that are not integers or outside the class range (the first one
        named with its index), more than `MAX_CLASSES` classes, or images of
        another size than ``expected_shape``.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    images = _read(images_path, 3)
    labels = _read(labels_path, 1)
    if images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: images must be uint8, found {images.dtype}")
    count, height, width = images.shape
    if count == 0:
        raise DatasetError(f"{images_path.name}: the file holds no images")
    if height == 0 or width == 0:
        raise DatasetError(
            f"{images_path.name}: the images are {height}x{width} pixels, so they "
            "hold nothing; an image needs at least 1x1"
        )
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{images_path.name} holds {images.shape[0]} images but "
            f"{labels_path.name} holds {labels.shape[0]} labels"
        )
    if transpose:
        images = _transpose_in_place(images)
    if expected_shape is not None and images.shape[1:] != tuple(expected_shape):
        h, w = images.shape[1:]
        eh, ew = expected_shape
        raise DatasetError(
            f"{images_path.name}: images are {h}x{w} but {eh}x{ew} are expected"
        )
    if class_names is None:
        # The labels decide the classes, so first check they are few enough.
        check_labels(labels, None, labels_path.name)
        top = int(labels.max())
        class_names = DIGIT_CLASS_NAMES if top <= 9 else default_class_names(top + 1)
    class_names = tuple(str(c) for c in class_names)
    check_labels(labels, len(class_names), labels_path.name)
    if images.size and int(images.max()) > max_value:
        raise DatasetError(
            f"{images_path.name}: pixel value {int(images.max())} exceeds {max_value}"
        )
    return Dataset(
        name or images_path.name,
        images,
        labels.astype(np.uint8),
        class_names,
        max_value,
    )


def _transpose_in_place(images: np.ndarray) -> np.ndarray:
    """Swap rows and columns of every image, block by block in the same memory."""
    count, height, width = images.shape
    images = np.ascontiguousarray(images)
    swapped = images.reshape(count, width, height)
    block = max(1, (1 << 20) // max(1, height * width))
    for start in range(0, count, block):
        stop = min(start + block, count)
        block_images = images[start:stop].transpose(0, 2, 1)
        swapped[start:stop] = np.ascontiguousarray(block_images)
    return swapped


@contextmanager
def bundled_files(name: str, split: str = "train") -> Iterator[tuple[Path, Path]]:
    """Give the images and labels files of a bundled dataset as paths.

    The files are package data of the top-level ``resources`` package, found with
    `importlib.resources`: beside the source in a checkout, in site-packages once
    installed (a zipped install gets temporary copies for the duration).

    Parameters
    ----------
    name : str
        One of ``BUNDLED``.
    split : str
        ``"train"`` or ``"test"`` (a test part is optional: its paths may not exist).

    Yields
    ------
    images, labels : pathlib.Path
        The IDX files (gzip-compressed).
    """
    if name not in BUNDLED:
        raise DatasetError(
            f"no bundled dataset {name!r}; bundled: {', '.join(BUNDLED)}"
        )
    folder = resources.files(_BUNDLED_PACKAGE) / name
    names = (
        (TRAIN_IMAGES, TRAIN_LABELS) if split == "train" else (TEST_IMAGES, TEST_LABELS)
    )
    with (
        resources.as_file(folder / names[0]) as images,
        resources.as_file(folder / names[1]) as labels,
    ):
        yield images, labels


def load_bundled(name: str) -> Dataset:
    """Load a dataset shipped with the app (see `bundled_files`).

    Parameters
    ----------
    name : str
        ``"mnist-sample"`` (5,000 MNIST training images 28x28, 500 per digit,
        max 255) or ``"digits-8x8"`` (1,797 UCI optical digits 8x8, max 16).

    Returns
    -------
    Dataset
        The whole set; there is no separate test set, so hold out a part with
        `stratified_split`.
    """
    with bundled_files(name) as (images, labels):
        return load_idx_pair(
            images,
            labels,
            name=name,
            class_names=DIGIT_CLASS_NAMES,
            max_value=BUNDLED_MAX_VALUE[name],
        )


def _validation_counts(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-class validation sizes summing to round(fraction * N) (largest remainder)."""
    n = int(counts.sum())
    # Every present class keeps at least one training image.
    cap = np.maximum(counts - 1, 0)
    target = min(max(1, round(fraction * n)), int(cap.sum()))
    ideal = counts * fraction
    take = np.minimum(np.floor(ideal).astype(np.int64), cap)
    remainder = ideal - take
    order = np.argsort(-remainder, kind="stable")
    for c in order:
        if take.sum() >= target:
            break
        if take[c] < cap[c]:
            take[c] += 1
    return take


def _split_positions(
    part: DatasetPart, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sorted positions of the training and validation images (None: no validation)."""
    labels = part.labels
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"validation fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return np.arange(len(labels), dtype=np.intp), None
    counts = np.bincount(labels, minlength=part.num_classes)
    take = _validation_counts(counts, fraction)
    if take.sum() == 0:
        raise DatasetError(
            f"{part.name}: too few images ({len(labels)}) for a validation split"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    # Group the shuffled indices by class; the first take[c] of each group validate.
    # (Slices and in-place sorts: a 700,000-image set's temporaries stay small.)
    order = order[np.argsort(labels[order], kind="stable")]
    is_validation = np.zeros(len(order), bool)
    for start, count in zip(np.cumsum(counts) - counts, take, strict=True):
        is_validation[start : start + count] = True
    train, validation = order[~is_validation], order[is_validation]
    train.sort()
    validation.sort()
    return train, validation


def split_parts(
    data: Dataset | DatasetPart, fraction: float = 0.1, seed: int = 0
) -> tuple[DatasetPart, DatasetPart | None]:
    """Split like `stratified_split`, into parts that copy no image.

    The same images as `stratified_split` gives for the same arguments (and, for a
    part, as it gives for the part made a dataset of its own), in the same order.
    """
    part = as_part(data)
    train, validation = _split_positions(part, fraction, seed)
    if validation is None:
        return part, None
    return part.subset(train), part.subset(validation)


def stratified_split(
    dataset: Dataset, fraction: float = 0.1, seed: int = 0
) -> tuple[Dataset, Dataset | None]:
    """Split into training and validation sets with the same class proportions.

    Parameters
    ----------
    dataset : Dataset
    fraction : float
        Share of images that go to validation, in ``[0, 1)``. Each class gives
        ``fraction`` of its images (rounded so the total is ``round(fraction * N)``)
        and keeps at least one for training.
    seed : int
        Which images are drawn; the same seed always gives the same split.

    Returns
    -------
    train : Dataset
    validation : Dataset or None
        None when ``fraction`` is 0. Both keep the original image order.
    """
    train, validation = split_parts(dataset, fraction, seed)
    if validation is None:
        return dataset, None
    return dataset.subset(train.rows), dataset.subset(validation.rows)
