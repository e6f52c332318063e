"""A deterministic digit model for GUI tests, built without training.

The hidden layer scores each digit by closeness to its class mean (a nearest-mean
classifier: 2 m.x - |m|^2), so it classifies MNIST reasonably (about 80%) and its
first-layer weights look like digits.
"""

from __future__ import annotations

import numpy as np

from core.datasets import Normalization, load_bundled
from core.model_io import SavedModel
from core.network import MLP


def template_model(name: str = "mnist-sample", sharpness: float = 1.0) -> SavedModel:
    dataset = load_bundled(name)
    count = min(2000, len(dataset))
    images = dataset.images[:count].reshape(count, -1).astype(np.float32)
    inputs = images / np.float32(dataset.max_value)
    labels = dataset.labels[:count]
    means = np.stack([inputs[labels == k].mean(axis=0) for k in range(10)])
    network = MLP([inputs.shape[1], 10, 10], activation="relu", seed=0)
    network.weights[0][...] = means.T * np.float32(2 * sharpness)
    # The offset keeps scores positive so the ReLU passes them unchanged.
    squared = np.einsum("ij,ij->i", means, means)
    network.biases[0][...] = sharpness * (2.0 * squared.max() - squared)
    network.weights[1][...] = np.eye(10, dtype=np.float32)
    network.biases[1][...] = 0.0
    return SavedModel(
        network=network,
        normalization=Normalization.fit(
            "scale", dataset.images[:10], dataset.max_value
        ),
        image_shape=dataset.image_shape,
        class_names=dataset.class_names,
        dataset_name=dataset.name,
        config={},
        history=[],
        metrics={},
        created="",
        app_version="",
    )
