"""core.calibration: the "not sure" gate of a loaded model, without Qt."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from core import calibration
from core.calibration import (
    CALIBRATION_IMAGES,
    MODEL_CALIBRATION_IMAGES,
    calibrated_gate,
    digit_subspaces,
)
from core.datasets import Normalization, load_bundled
from core.model_io import SavedModel
from core.network import MLP


def _nearest_mean_model(name: str) -> SavedModel:
    """A digit classifier without training: scores are closeness to class means."""
    dataset = load_bundled(name)
    inputs = dataset.images[:1500].reshape(1500, -1) / np.float32(dataset.max_value)
    labels = dataset.labels[:1500]
    means = np.stack([inputs[labels == k].mean(axis=0) for k in range(10)])
    network = MLP([inputs.shape[1], 10], seed=0)
    network.weights[0][...] = 8 * means.T
    network.biases[0][...] = -4 * np.einsum("ij,ij->i", means, means)
    return SavedModel(
        network=network,
        normalization=Normalization("scale", dataset.max_value),
        image_shape=dataset.image_shape,
        class_names=dataset.class_names,
        dataset_name=name,
        config={},
        history=[],
        metrics={},
        created="",
        app_version="",
    )


@pytest.fixture(scope="module")
def digit_model() -> SavedModel:
    return _nearest_mean_model("mnist-sample")


def test_a_digit_model_gets_its_own_threshold(digit_model):
    gate, reason = calibrated_gate(digit_model)
    assert reason == ""
    subspaces = digit_subspaces("mnist")
    assert gate.means is subspaces.means  # the shared subspaces, fitted once
    expected = subspaces.for_model(
        digit_model.predict_proba, max_images=MODEL_CALIBRATION_IMAGES
    )
    assert gate.min_confidence == expected.min_confidence
    assert 0.30 <= gate.min_confidence <= 0.70
    assert np.isfinite(gate.max_error) and np.isfinite(gate.max_relative_error)
    # Half of the reference digits fit the subspaces, the other half calibrate.
    assert len(subspaces.calibration_images) == CALIBRATION_IMAGES // 2


def _tempered(model: SavedModel, factor: float) -> SavedModel:
    network = model.network.copy()
    network.weights[0] *= factor
    network.biases[0] *= factor
    return dataclasses.replace(model, network=network)


def test_the_threshold_follows_the_model(digit_model):
    # Flatter probabilities, a lower threshold, inside the floor and the ceiling.
    thresholds = [
        calibrated_gate(_tempered(digit_model, factor)).gate.min_confidence
        for factor in (0.5, 0.25, 0.1)
    ]
    assert 0.30 < thresholds[2] < thresholds[1] < thresholds[0] < 0.70


def test_an_8x8_model_uses_the_8x8_digits():
    model = _nearest_mean_model("digits-8x8")
    gate, reason = calibrated_gate(model)
    assert reason == "" and gate.means.shape == (10, 64) and gate.max_value == 16


def test_a_model_of_other_classes_keeps_only_the_probability_floor(digit_model):
    letters = dataclasses.replace(digit_model, class_names=tuple("abcdefghij"))
    gate, reason = calibrated_gate(letters)
    assert reason == ""
    assert gate.max_error == np.inf and gate.max_relative_error == np.inf
    assert gate.min_confidence == pytest.approx(0.30)


def test_images_no_drawing_makes_turn_the_check_off(digit_model):
    odd = dataclasses.replace(
        digit_model, image_shape=(10, 10), network=MLP([100, 10], seed=0)
    )
    gate, reason = calibrated_gate(odd)
    assert gate is None and reason.startswith("Confidence check off:")


def test_a_model_that_answers_badly_turns_the_check_off(digit_model):
    class Broken:
        image_shape = digit_model.image_shape
        class_names = digit_model.class_names

        def predict_proba(self, images):
            return np.ones(3, np.float32)

    gate, reason = calibrated_gate(Broken())
    assert gate is None and reason.startswith("Confidence check off:")


def test_the_subspaces_are_fitted_once_however_many_threads_ask(monkeypatch):
    fits = []
    real_fit = calibration.ConfidenceGate.fit

    def counting_fit(*args, **kwargs):
        fits.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(calibration, "_subspaces", {})
    monkeypatch.setattr(calibration.ConfidenceGate, "fit", counting_fit)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(digit_subspaces("digits-8x8")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fits) == 1
    assert all(result is results[0] for result in results)
