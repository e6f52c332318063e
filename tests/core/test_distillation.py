"""A fine-tune keeps the base model's answers on its training images (distillation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.augment import AugmentConfig
from core.datasets import Dataset, load_bundled
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
from core.training import TrainingConfig

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
