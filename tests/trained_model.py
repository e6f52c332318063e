"""Small models trained for real (a few seconds at most), shared by core and GUI tests.

Cached per process: several test files use the same ones.
"""

from __future__ import annotations

import functools

from core.datasets import load_bundled, stratified_split
from core.model_io import SavedModel
from core.network import MLP
from core.training import TrainingConfig, train


@functools.cache
def trained_model(
    dataset_name: str = "digits-8x8",
    hidden: tuple[int, ...] = (24, 16),
    epochs: int = 30,
    activation: str = "relu",
) -> SavedModel:
    """A model trained on the bundled set minus a stratified 10% holdout."""
    dataset = load_bundled(dataset_name)
    training, holdout = stratified_split(dataset, 0.1, 0)
    config = TrainingConfig(
        hidden_sizes=hidden, activation=activation, epochs=epochs, seed=0
    )
    network = MLP(
        [dataset.input_size, *hidden, dataset.num_classes],
        activation=activation,
        seed=0,
    )
    result = train(network, training, holdout, config)
    return SavedModel(
        network=result.network,
        normalization=result.normalization,
        image_shape=dataset.image_shape,
        class_names=dataset.class_names,
        dataset_name=dataset.name,
        config=config.to_dict(),
        history=result.history,
        metrics={"validation_accuracy": result.history[-1]["validation_accuracy"]},
        created="2026-01-01T00:00:00Z",
        app_version="test",
    )


@functools.cache
def holdout(dataset_name: str = "digits-8x8"):
    """The 10% the trained models never saw."""
    return stratified_split(load_bundled(dataset_name), 0.1, 0)[1]
