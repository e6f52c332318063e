"""core.calibration: the judgement of a loaded model, without Qt."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from core import calibration
from core.calibration import (
    CALIBRATION_IMAGES,
    MODEL_CALIBRATION_IMAGES,
    digit_subspaces,
    model_judge,
    reference_digits,
)
from core.datasets import DIGIT_CLASS_NAMES, Normalization, load_bundled
from core.judgement import NOT_A_DIGIT, Judge
from core.model_io import SavedModel, single_phase
from core.network import MLP
from core.run import HELD_OUT_FALSE_REJECTION, calibration_copies, split


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


def test_a_digit_model_gets_its_own_threshold_and_the_novelty(digit_model):
    judge, reason = model_judge(digit_model)
    assert reason == ""
    subspaces = digit_subspaces("mnist")
    # The shared subspaces' novelty, fitted once, judges drawings too.
    assert judge.novelty == subspaces.novelty
    reference = subspaces.calibration_images[:MODEL_CALIBRATION_IMAGES]
    copies = calibration_copies(reference, 255)
    top = digit_model.predict_proba(copies).max(axis=1)
    expected = np.quantile(top, HELD_OUT_FALSE_REJECTION)
    assert judge.min_margin == pytest.approx(np.clip(expected, 0.3, 0.8))
    assert 0.30 <= judge.min_margin <= 0.80
    assert judge.false_rejection == HELD_OUT_FALSE_REJECTION
    assert np.isfinite(subspaces.max_error) and np.isfinite(
        subspaces.max_relative_error
    )
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
        model_judge(_tempered(digit_model, factor)).judge.min_margin
        for factor in (0.5, 0.25, 0.1)
    ]
    assert 0.30 < thresholds[2] < thresholds[1] < thresholds[0] < 0.80


def test_stored_thresholds_are_used_as_they_are(digit_model):
    stored = Judge(10, None, min_margin=0.55, false_rejection=0.015).to_dict()
    judge, reason = model_judge(dataclasses.replace(digit_model, judgement=stored))
    assert reason == ""
    assert judge.min_margin == 0.55 and judge.false_rejection == 0.015
    assert judge.novelty == digit_subspaces("mnist").novelty


def test_a_model_with_a_not_a_digit_output_gets_no_novelty(digit_model):
    network = MLP([784, 11], seed=0)
    network.weights[0][:, :10] = digit_model.network.weights[0]
    network.biases[0][:10] = digit_model.network.biases[0]
    network.biases[0][10] = -20.0
    model = dataclasses.replace(
        digit_model, network=network, class_names=(*DIGIT_CLASS_NAMES, NOT_A_DIGIT)
    )
    judge, reason = model_judge(model)
    assert reason == "" and judge.novelty is None
    assert judge.not_a_digit_class == 10 and judge.digit_classes == 10


def test_the_validation_part_of_a_bundled_set_calibrates(digit_model):
    config = {"validation_fraction": 0.1, "seed": 3}
    model = dataclasses.replace(
        digit_model,
        config=config,
        phases=[single_phase("mnist-sample", config, {"subset": None})],
    )
    _, held_out = split(load_bundled("mnist-sample"), 0.1, 3)
    fallback = np.zeros((5, 28, 28), np.uint8)
    np.testing.assert_array_equal(
        reference_digits(model, fallback),
        held_out.materialize().images[:MODEL_CALIBRATION_IMAGES],
    )
    # Trained on all of it: nothing held out, the fallback digits are used.
    everything = dataclasses.replace(
        model,
        phases=[single_phase("mnist-sample", {"seed": 3}, {"subset": None})],
    )
    assert reference_digits(everything, fallback) is not None
    np.testing.assert_array_equal(reference_digits(everything, fallback), fallback)


def test_an_8x8_model_uses_the_8x8_digits():
    model = _nearest_mean_model("digits-8x8")
    judge, reason = model_judge(model)
    assert reason == ""
    subspaces = digit_subspaces("digits-8x8")
    assert judge.novelty == subspaces.novelty
    assert subspaces.means.shape == (10, 64) and subspaces.max_value == 16


def test_a_model_of_other_classes_keeps_only_the_probability_floor(digit_model):
    letters = dataclasses.replace(digit_model, class_names=tuple("abcdefghij"))
    judge, reason = model_judge(letters)
    assert reason == ""
    assert judge.novelty is None
    assert judge.min_margin == pytest.approx(0.30)


def test_images_no_drawing_makes_turn_the_check_off(digit_model):
    odd = dataclasses.replace(
        digit_model, image_shape=(10, 10), network=MLP([100, 10], seed=0)
    )
    judge, reason = model_judge(odd)
    assert judge is None and reason.startswith("Confidence check off:")


def test_a_model_that_answers_badly_turns_the_check_off(digit_model):
    class Broken:
        image_shape = digit_model.image_shape
        class_names = digit_model.class_names
        judgement = None
        phases: list = []

        def predict_proba(self, images):
            return np.ones(3, np.float32)

    judge, reason = model_judge(Broken())
    assert judge is None and reason.startswith("Confidence check off:")


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
