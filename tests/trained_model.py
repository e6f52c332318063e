"""Small models trained for real (a few seconds at most), shared by core and GUI tests.

Cached per process: several test files use the same ones.
"""

from __future__ import annotations

import dataclasses
import functools

from core.datasets import load_bundled
from core.model_io import SavedModel
from core.run import RunRequest, build_model, prepare_run, run_training, split
from core.training import TrainingConfig


@functools.cache
def trained_model(
    dataset_name: str = "digits-8x8",
    hidden: tuple[int, ...] = (24, 16),
    epochs: int = 30,
    activation: str = "relu",
) -> SavedModel:
    """A model trained like the command line's `train`, 10% of the set held out."""
    config = TrainingConfig(
        hidden_sizes=hidden, activation=activation, epochs=epochs, seed=0
    )
    prepared = prepare_run(RunRequest(load_bundled(dataset_name), config))
    result = run_training(prepared)
    model = build_model(prepared, result.network, result)
    # A fixed time: a model saved from it gets a later one.
    return dataclasses.replace(model, created="2026-01-01T00:00:00Z")


@functools.cache
def holdout(dataset_name: str = "digits-8x8"):
    """The 10% the trained models never saw (`core.run.split`'s validation part)."""
    return split(load_bundled(dataset_name), 0.1, 0)[1].materialize()
