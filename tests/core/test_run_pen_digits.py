"""The bundled pen digits (real handwriting) and the runs that add them."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import DIGIT_CLASS_NAMES, Dataset, load_bundled
from core.presets import PRESETS
from core.run import (
    FINE_TUNE_LIMIT,
    FINE_TUNE_REPEAT,
    PEN_DIGITS,
    RunError,
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import ConfigError, TrainingConfig

WRITTEN = 7494


@pytest.fixture(scope="module")
def written():
    return load_bundled(PEN_DIGITS)


@pytest.fixture(scope="module")
def mnist():
    return load_bundled("mnist-sample").subset(np.arange(600))


def _config(**changes) -> TrainingConfig:
    settings = dict(hidden_sizes=(16,), batch_size=64, epochs=1)
    settings.update(changes)
    return TrainingConfig(**settings)


def test_the_pen_digits_are_28x28_drawings_of_every_digit(written):
    assert len(written) == WRITTEN
    assert written.image_shape == (28, 28)
    assert written.class_names == DIGIT_CLASS_NAMES
    assert written.max_value == 255
    assert np.bincount(written.labels, minlength=10).min() >= 700
    # Converted as the Draw tab converts drawings: centred by their mass.
    images = written.images[:500].astype(np.float64)
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) @ np.arange(28)) / mass
    columns = (images.sum(axis=1) @ np.arange(28)) / mass
    assert np.abs(rows - 13.5).max() < 1.5 and np.abs(columns - 13.5).max() < 1.5


def test_they_join_the_training_part_only(mnist, written):
    plain = prepare_run(RunRequest(mnist, _config()))
    prepared = prepare_run(RunRequest(mnist, _config(pen_digits=True)))
    train = prepared.train_set.materialize()
    assert len(train) == len(plain.train_set) + WRITTEN
    np.testing.assert_array_equal(train.images[-WRITTEN:], written.images)
    np.testing.assert_array_equal(train.labels[-WRITTEN:], written.labels)
    np.testing.assert_array_equal(
        train.images[:-WRITTEN], plain.train_set.materialize().images
    )
    np.testing.assert_array_equal(
        prepared.validation_set.materialize().images,
        plain.validation_set.materialize().images,
    )
    assert prepared.pen_digit_images == WRITTEN
    # The "not sure" thresholds are set on copies of the dataset's own digits.
    assert len(prepared.training_source) == len(plain.train_set)
    assert f"{WRITTEN:,} digits people wrote" in prepared.describe()
    assert "people wrote" not in plain.describe()


def test_a_run_on_the_pen_digits_does_not_add_them_twice(written):
    prepared = prepare_run(RunRequest(written, _config(pen_digits=True)))
    assert prepared.pen_digit_images == 0
    assert len(prepared.train_set) == len(written) - len(prepared.validation_set)


def test_before_the_made_up_non_digits(mnist):
    prepared = prepare_run(RunRequest(mnist, _config(pen_digits=True, negatives=40)))
    labels = prepared.train_set.labels
    assert int((labels == 10).sum()) == 40
    assert (labels[-40:] == 10).all()
    assert (labels[-40 - WRITTEN : -40] < 10).all()


def test_a_subset_gets_the_same_share_of_them(written):
    sample = load_bundled("mnist-sample")
    request = RunRequest(sample, _config(pen_digits=True), subset=500)
    prepared = prepare_run(request)
    share = round(WRITTEN * 500 / len(sample))
    assert prepared.pen_digit_images == share
    assert len(prepared.train_set) == 450 + share


def test_they_need_28x28_digits_and_one_message_says_so_with_the_non_digits():
    eight = load_bundled("digits-8x8")
    with pytest.raises(RunError, match="The pen digits are 28x28") as alone:
        prepare_run(RunRequest(eight, _config(pen_digits=True)))
    assert str(alone.value).endswith("8x8 images of 10 classes: leave them out.")
    with pytest.raises(RunError) as both:
        prepare_run(RunRequest(eight, _config(pen_digits=True, negatives=10)))
    assert str(both.value) == (
        "Made-up non-digits and the pen digits are 28x28 drawings of the digits 0-9, "
        "but digits-8x8 has 8x8 images of 10 classes: set the non-digits to 0 and "
        "leave the pen digits out."
    )


def test_the_setting_is_true_or_false():
    _config(pen_digits=True).validate()
    with pytest.raises(ConfigError, match="pen_digits must be true or false"):
        _config(pen_digits=1).validate()
    restored = TrainingConfig.from_dict(_config(pen_digits=True).to_dict())
    assert restored.pen_digits is True
    # Files written before the setting existed read as without them.
    older = _config().to_dict()
    del older["pen_digits"]
    assert TrainingConfig.from_dict(older).pen_digits is False


def test_recommended_trains_on_them():
    assert PRESETS["recommended"].config.pen_digits is True


def test_a_fine_tune_keeps_reading_them(mnist):
    # A model trained with them is fine-tuned with them too: its mix of at most
    # FINE_TUNE_LIMIT images holds pen digits, so it keeps what they taught.
    prepared = prepare_run(RunRequest(mnist, _config(pen_digits=True)))
    result = run_training(prepared)
    base = build_model(prepared, result.network, result)
    drawings = Dataset(
        "personal-mnist",
        np.full((2, 28, 28), 128, np.uint8),
        np.array([3, 5], np.uint8),
        DIGIT_CLASS_NAMES,
    )
    tuned = prepare_run(fine_tune_request(base, mnist, drawings))
    assert tuned.pen_digit_images == WRITTEN
    assert len(tuned.train_set) <= FINE_TUNE_LIMIT + 2 * FINE_TUNE_REPEAT
    assert (tuned.train_set.labels < 10).sum() > 0.5 * len(tuned.train_set)
