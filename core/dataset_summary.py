"""Know the data: images per class, class averages, the pixel-intensity histogram.

Describes one dataset.

Owns `DatasetSummary` and `summarize`. Pure NumPy; no Qt.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from core.datasets import Dataset, DatasetPart

__all__ = ["DatasetSummary", "summarize"]

_CHUNK = 8192


@dataclass(frozen=True)
class DatasetSummary:
    """What `summarize` finds.

    Attributes
    ----------
    counts : ndarray
        int64 ``(K,)`` images per class.
    means : ndarray
        float32 ``(K, H, W)`` each class's average image, in pixel units (0 for a
        class without images).
    histogram : ndarray
        int64 ``(max_value + 1,)`` how many pixels have each intensity.
    max_value : int
        The dataset's brightest pixel value.
    """

    counts: np.ndarray
    means: np.ndarray
    histogram: np.ndarray
    max_value: int

    @property
    def total(self) -> int:
        """Number of images."""
        return int(self.counts.sum())


def summarize(
    dataset: Dataset | DatasetPart, cancel: threading.Event | None = None
) -> DatasetSummary | None:
    """Count the classes, average each class's images and histogram the pixels.

    Works through the images in chunks (exact float64 sums of the uint8 values), so
    no float copy of the whole set is made.

    Parameters
    ----------
    dataset : Dataset or DatasetPart
    cancel : threading.Event, optional
        Checked between chunks; when set the function returns None.

    Returns
    -------
    DatasetSummary or None when cancelled
    """
    classes = dataset.num_classes
    height, width = dataset.image_shape
    flat = dataset.images_at(slice(None)).reshape(len(dataset), -1)
    labels = dataset.labels.astype(np.intp)
    sums = np.zeros((classes, height * width), np.float64)
    histogram = np.zeros(dataset.max_value + 1, np.int64)
    for start in range(0, len(dataset), _CHUNK):
        if cancel is not None and cancel.is_set():
            return None
        chunk = flat[start : start + _CHUNK]
        # One-hot rows times pixels sums each class's images in one product.
        one_hot = np.zeros((chunk.shape[0], classes), np.float64)
        one_hot[np.arange(chunk.shape[0]), labels[start : start + _CHUNK]] = 1.0
        sums += one_hot.T @ chunk
        histogram += np.bincount(chunk.ravel(), minlength=dataset.max_value + 1)
    counts = np.bincount(labels, minlength=classes).astype(np.int64)
    means = sums / np.maximum(counts, 1)[:, None]
    return DatasetSummary(
        counts=counts,
        means=means.reshape(classes, height, width).astype(np.float32),
        histogram=histogram[: dataset.max_value + 1],
        max_value=int(dataset.max_value),
    )
