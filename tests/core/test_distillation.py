"""A fine-tune keeps the base model's answers on its training images (distillation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.augment import AugmentConfig
from core.datasets import Dataset, Normalization, as_part, load_bundled
from core.distillation import Distillation, KeptAnswers
from core.network import MLP
from core.run import (
    FINE_TUNE_KEPT_BATCH,
    FINE_TUNE_KEPT_WEIGHT,
    FINE_TUNE_REPEAT,
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import BatchEvent, TrainingConfig

AUGMENT = AugmentConfig(shift=1.0, rotation=8.0, probability=0.5)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_bundled("digits-8x8")


@pytest.fixture(scope="module")
def base(digits):
    config = TrainingConfig(
        hidden_sizes=(32,), batch_size=32, epochs=15, learning_rate=0.01, seed=2,
        augment=AUGMENT,
    )  # fmt: skip
    prepared = prepare_run(RunRequest(digits, config))
    result = run_training(prepared, threads=1)
    return build_model(prepared, result.network, result)


def _drawings(count: int, label: int) -> Dataset:
    """Crosses of full ink, all taught as ``label``: unlike any digit of the set."""
    images = np.zeros((count, 8, 8), np.uint8)
    for index in range(count):
        images[index, index % 8, :] = 16
        images[index, :, (index * 3) % 8] = 16
    return Dataset("personal", images, np.full(count, label, np.uint8), max_value=16)


def test_a_fine_tune_keeps_the_answers_on_its_own_images_only(digits, base):
    prepared = prepare_run(fine_tune_request(base, digits, _drawings(5, 3)))
    kept = prepared.distillation
    own = len(prepared.train_set) - 5 * FINE_TUNE_REPEAT  # the drawings come last
    assert len(kept.images) == own
    np.testing.assert_array_equal(
        kept.images.materialize().images,
        prepared.train_set.subset(np.arange(own)).materialize().images,
    )
    # The base model's answers, from a copy: the app may read the base meanwhile.
    assert kept.teacher is not base.network
    for mine, theirs in zip(
        kept.teacher.parameters(), base.network.parameters(), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)
    assert kept.augment == AUGMENT  # augmented as the base model trained
    assert (kept.weight, kept.batch) == (FINE_TUNE_KEPT_WEIGHT, FINE_TUNE_KEPT_BATCH)
    assert prepare_run(RunRequest(digits, TrainingConfig())).distillation is None


def test_keeping_the_answers_forgets_less_of_the_other_images(digits, base):
    """Taught that crosses are 3s, the model answers the digits more as before."""
    prepared = prepare_run(fine_tune_request(base, digits, _drawings(8, 3)))
    images = prepared.validation_set.materialize().images
    inputs = prepared.normalization.apply(images.reshape(len(images), -1))
    before = base.network.predict_proba(inputs)

    def drift(distillation) -> float:
        """The tuned model's mean KL divergence from the base's answers."""
        run = dataclasses.replace(
            prepared, network=prepared.network.copy(), distillation=distillation
        )
        tuned = run_training(run, threads=1).network
        crosses = _drawings(8, 3).images.reshape(8, -1)
        learnt = tuned.predict(prepared.normalization.apply(crosses))
        assert np.mean(learnt == 3) >= 0.75  # the drawings are learnt either way
        after = tuned.predict_proba(inputs)
        return float(np.mean(np.sum(before * np.log(before / after), axis=1)))

    kept, forgotten = drift(prepared.distillation), drift(None)
    assert kept < 0.8 * forgotten


def test_a_step_learns_its_rows_and_the_kept_answers_in_one_pass(digits):
    """The joined pass's gradients: the step's mean loss plus ``weight`` times the
    kept rows' mean cross-entropy against the teacher's answers."""
    network = MLP((64, 16, 10), seed=3, dtype=np.float64)
    teacher = MLP((64, 16, 10), seed=4, dtype=np.float64)
    kept = Distillation(teacher, as_part(digits), AUGMENT, weight=0.3, batch=5)
    normalization = Normalization("scale", max_value=16.0)
    answers = KeptAnswers(
        kept, network, normalization, np.random.default_rng(0), True, batch=8
    )
    inputs = digits.images[:7].reshape(7, -1) / 16.0
    labels = digits.labels[:7].astype(np.intp)
    loss, grads, probabilities = answers.loss_and_gradients(
        inputs, labels, 0.0, 0.0, np.random.default_rng(1)
    )
    joined = [g.copy() for g in grads]
    own = network.loss_and_gradients(inputs, labels)
    assert loss == pytest.approx(own.loss)
    np.testing.assert_allclose(probabilities, own.probabilities)
    expected = [g.copy() for g in own.gradients]
    rows = slice(answers.used - kept.batch, answers.used)
    targets = answers.targets[rows]
    np.testing.assert_allclose(
        targets, teacher.forward(answers.inputs[rows].astype(np.float64))
    )
    soft = network.loss_and_gradients(
        answers.inputs[rows].astype(np.float64), targets.argmax(axis=1),
        targets=targets,
    )  # fmt: skip
    for mine, step, kept_part in zip(joined, expected, soft.gradients, strict=True):
        np.testing.assert_allclose(mine, step + 0.3 * kept_part, atol=1e-12)


def test_a_fine_tunes_health_samples_read_the_pass_it_ran(digits, base):
    """The units' activity comes from the step's own pass of own and kept rows."""
    network = base.network.copy()
    network.weights[0][:, :16] = 0.0  # half the hidden units never fire again
    network.biases[0][:16] = -1.0
    dead = dataclasses.replace(base, network=network)
    prepared = prepare_run(fine_tune_request(dead, digits, _drawings(5, 3)))
    samples = []

    def keep(event) -> None:
        if isinstance(event, BatchEvent) and event.health is not None:
            samples.append(event.health.inactive_share[0])

    run_training(prepared, on_event=keep, threads=1)
    assert samples
    # Some others are idle on a whole minibatch too (0.66-0.69 keeping nothing).
    assert 0.5 <= min(samples) and max(samples) < 0.9
