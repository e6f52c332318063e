"""Where the digits live: a 2-D principal-component map of a dataset sample.

Maps the raw pixels or any hidden layer's activations.

Owns `pca_map`, `PcaMap` and `digit_map`. PCA through NumPy's SVD; pure NumPy, no Qt.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from core.datasets import Dataset, DatasetPart, Normalization
from core.network import MLP
from core.neurons import layer_outputs

__all__ = ["DigitMap", "PcaMap", "digit_map", "map_features", "pca_map"]

MAX_MAP_IMAGES = 10_000
_BATCH = 2048


@dataclass(frozen=True)
class PcaMap:
    """A fitted projection onto the leading principal components.

    Attributes
    ----------
    coordinates : ndarray
        float32 ``(N, k)`` of the fitted samples.
    mean : ndarray
        float64 ``(D,)`` feature means.
    components : ndarray
        float64 ``(k, D)`` unit principal directions, largest variance first; each
        signed so that its largest-magnitude loading is positive.
    explained : ndarray
        float64 ``(k,)`` share of the total variance along each direction.
    """

    coordinates: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def project(self, features: np.ndarray) -> np.ndarray:
        """Return float32 ``(M, k)`` coordinates of new samples ``(M, D)``."""
        centred = np.asarray(features, dtype=np.float64) - self.mean
        return (centred @ self.components.T).astype(np.float32)


def pca_map(features: np.ndarray, count: int = 2) -> PcaMap:
    """Fit a principal-component projection of ``features`` onto ``count`` axes.

    The coordinates are those of ``numpy.linalg.svd`` of the centred features
    (``U * S``), up to the sign of each axis. With more samples than features the SVD
    is taken of the ``(D, D)`` scatter matrix instead, which has the same right
    singular vectors and is 10-15 times faster for 10,000 x 784.

    Parameters
    ----------
    features : ndarray, shape (N, D)
    count : int
        Number of axes, at most ``min(N, D)``.

    Returns
    -------
    PcaMap
    """
    # One float64 copy, centred in place (10,000 x 784: 63 MB).
    centred = np.array(features, dtype=np.float64)
    if centred.ndim != 2 or centred.shape[0] < 1:
        raise ValueError(f"features must be (samples, values), got {centred.shape}")
    count = max(1, min(int(count), *centred.shape))
    mean = centred.mean(axis=0)
    centred -= mean
    if centred.shape[0] > centred.shape[1]:
        # The scatter's singular values are the squared ones of the features.
        _, variances, vt = np.linalg.svd(centred.T @ centred, hermitian=True)
    else:
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        variances = singular**2
    total = float(variances.sum())
    components = vt[:count].copy()
    # SVD leaves each axis's sign free; fixing it keeps maps of like data alike.
    peak = np.abs(components).argmax(axis=1)
    signs = np.sign(components[np.arange(count), peak])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    explained = variances[:count] / total if total > 0 else np.zeros(count)
    coordinates = (centred @ components.T).astype(np.float32)
    return PcaMap(coordinates, mean, components, np.asarray(explained, np.float64))


def map_features(
    network: MLP | None,
    normalization: Normalization | None,
    images: np.ndarray,
    layer: int | None,
    max_value: float,
) -> np.ndarray:
    """Return the features a map is made of, float32 ``(N, D)``.

    ``layer`` None gives the raw pixels scaled to ``[0, 1]`` by ``max_value`` (no
    network needed); otherwise hidden layer ``layer``'s activations (counted from 0)
    for the network's own normalised inputs.
    """
    flat = np.asarray(images).reshape(len(images), -1)
    if layer is None:
        return flat.astype(np.float32) * np.float32(1.0 / max_value)
    assert network is not None and normalization is not None
    parts = [
        layer_outputs(network, normalization.apply(flat[start : start + _BATCH]))[layer]
        for start in range(0, flat.shape[0], _BATCH)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class DigitMap:
    """A map of dataset images as the model sees them.

    Attributes
    ----------
    indices : ndarray
        int64 ``(N,)`` rows of the dataset that are mapped.
    labels, predictions : ndarray
        int64 ``(N,)`` true and predicted classes.
    confidences : ndarray
        float32 ``(N,)`` probability of the predicted class.
    projection : PcaMap
        Its ``coordinates`` are the points; ``project`` places new inputs.
    layer : int or None
        Hidden layer mapped (None: raw pixels).
    """

    indices: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray
    projection: PcaMap
    layer: int | None

    @property
    def misclassified(self) -> np.ndarray:
        """Boolean ``(N,)``: the model got this image wrong."""
        return self.predictions != self.labels


def digit_map(
    network: MLP,
    normalization: Normalization,
    dataset: Dataset | DatasetPart,
    layer: int | None,
    max_images: int = MAX_MAP_IMAGES,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> DigitMap | None:
    """Map up to ``max_images`` images of ``dataset`` (a seeded random choice).

    Parameters
    ----------
    network : MLP
        Classifies the images, and gives the hidden layer's activations.
    normalization : Normalization
        The network's input normalisation.
    dataset : Dataset or DatasetPart
    layer : int or None
        Hidden layer to map, counted from 0; None maps the raw pixels.
    max_images : int
    seed : int
        Seed of the choice of images when the dataset has more.
    cancel : threading.Event, optional
        Checked between steps; when set the function returns None.

    Returns
    -------
    DigitMap or None when cancelled
    """
    count = len(dataset)
    if count == 0:
        raise ValueError(f"{dataset.name!r} has no images to map")
    if count > max_images:
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(count, size=max_images, replace=False))
    else:
        indices = np.arange(count)
    images = dataset.images_at(indices).reshape(len(indices), -1)
    probabilities, parts = [], []
    for start in range(0, len(images), _BATCH):
        if cancel is not None and cancel.is_set():
            return None
        outputs = layer_outputs(
            network, normalization.apply(images[start : start + _BATCH])
        )
        probabilities.append(outputs[-1])
        if layer is not None:
            parts.append(outputs[layer])
    probabilities = np.concatenate(probabilities)
    if layer is None:
        features = map_features(None, None, images, None, dataset.max_value)
    else:
        features = np.concatenate(parts)
    projection = pca_map(features)
    predictions = probabilities.argmax(axis=1).astype(np.int64)
    return DigitMap(
        indices=indices.astype(np.int64),
        labels=dataset.labels[indices].astype(np.int64),
        predictions=predictions,
        confidences=probabilities[np.arange(len(indices)), predictions],
        projection=projection,
        layer=layer,
    )
