"""core.run for drawings: the "not a digit" class, deskewing, stored thresholds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import core.run
from core.datasets import DIGIT_CLASS_NAMES, Dataset, load_bundled
from core.judgement import NOT_A_DIGIT, Judge
from core.model_io import load_model, save_model
from core.run import (
    CALIBRATION_COPIES,
    FINE_TUNE_LIMIT,
    FINE_TUNE_NEGATIVES,
    FINE_TUNE_REPEAT,
    JUDGEMENT_FALSE_REJECTION,
    SNAPSHOT_FALSE_REJECTION,
    RunError,
    RunRequest,
    build_model,
    calibration_copies,
    calibration_set,
    fine_tune_request,
    makes_negatives,
    prepare_run,
    run_training,
    split,
)
from core.slant import deskew
from core.training import TrainingConfig

WITH_OTHER = (*DIGIT_CLASS_NAMES, NOT_A_DIGIT)


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    sample = load_bundled("mnist-sample")
    return sample.subset(np.arange(600))


def _config(**changes) -> TrainingConfig:
    settings = dict(hidden_sizes=(16,), batch_size=64, epochs=1, learning_rate=0.01)
    settings.update(changes)
    return TrainingConfig(**settings)


def _trained(dataset: Dataset, **changes):
    prepared = prepare_run(RunRequest(dataset, _config(**changes)))
    result = run_training(prepared)
    return prepared, build_model(prepared, result.network, result)


def _negative_drawings(count: int, digits: int = 2) -> Dataset:
    """Personal drawings: ``digits`` labelled 3, then ``count`` marked not a digit."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (digits + count, 28, 28), dtype=np.uint8)
    labels = np.array([3] * digits + [10] * count, np.uint8)
    return Dataset("personal-mnist", images, labels, WITH_OTHER)


def test_negatives_join_the_training_part_only_as_not_a_digit(mnist):
    prepared = prepare_run(RunRequest(mnist, _config(negatives=40)))
    train, validation = prepared.train_set, prepared.validation_set
    assert train.class_names == WITH_OTHER == validation.class_names
    assert int((train.labels == 10).sum()) == 40
    assert not (validation.labels == 10).any()
    assert prepared.network.num_classes == 11
    assert prepared.config.negatives == 40
    assert "40 made-up non-digits" in prepared.describe()
    # The digits are the split's, as without negatives.
    plain = prepare_run(RunRequest(mnist, _config()))
    np.testing.assert_array_equal(
        train.materialize().images[:-40], plain.train_set.materialize().images
    )


def test_a_like_run_takes_the_latest_negatives_instead_of_making_them(
    mnist, monkeypatch
):
    made = []
    real = core.run.make_negatives

    def counted(count, seed=0, digits=None):
        made.append((count, seed))
        return real(count, seed=seed, digits=digits)

    monkeypatch.setattr(core.run, "make_negatives", counted)
    first = prepare_run(RunRequest(mnist, _config(negatives=30, seed=3)))
    again = prepare_run(RunRequest(mnist, _config(negatives=30, seed=3, epochs=2)))
    assert made == [(30, 3)]
    np.testing.assert_array_equal(
        first.train_set.materialize().images, again.train_set.materialize().images
    )
    prepare_run(RunRequest(mnist, _config(negatives=30, seed=4)))
    prepare_run(RunRequest(mnist.subset(np.arange(500)), _config(negatives=30, seed=4)))
    assert made == [(30, 3), (30, 4), (30, 4)]  # other seed, other digits


def test_preparing_tells_the_steps_that_take_seconds_as_they_begin(mnist):
    stages = []
    request = RunRequest(mnist, _config(negatives=30, seed=8, deskew=True))
    prepared = prepare_run(request, stages.append)
    size = len(prepared.train_set)
    assert stages == [
        "making 30 made-up non-digits",
        f"deskewing {size:,} training images",
    ]
    stages.clear()
    prepare_run(request, stages.append)
    assert stages == [f"deskewing {size:,} training images"]  # the set was kept


def test_the_latest_negatives_are_kept_in_less_room_than_their_images(mnist):
    # A deskewing run keeps its own copy of them: the one kept for the next run
    # must not cost as much again.
    prepared = prepare_run(RunRequest(mnist, _config(negatives=300, seed=5)))
    made = prepared.train_set.extra.images
    kept = len(core.run._NEGATIVES._latest[1])
    assert kept < made.nbytes / 3


def test_a_model_with_negatives_says_not_a_digit(mnist):
    _, model = _trained(mnist, negatives=40)
    assert model.class_names == WITH_OTHER
    assert model.network.num_classes == 11
    assert model.config["negatives"] == 40


def test_negatives_need_28x28_digits():
    eight = load_bundled("digits-8x8")
    with pytest.raises(RunError, match="28x28"):
        prepare_run(RunRequest(eight, _config(negatives=10)))
    assert not makes_negatives(eight.image_shape, eight.class_names)
    assert makes_negatives((28, 28), DIGIT_CLASS_NAMES)
    assert not makes_negatives((28, 28), tuple("abcdefghij"))


def test_deskew_stands_both_parts_upright(mnist):
    prepared = prepare_run(RunRequest(mnist, _config(deskew=True)))
    train, validation = split(mnist, 0.1, 0)
    np.testing.assert_array_equal(
        prepared.train_set.materialize().images, deskew(train.materialize().images)
    )
    np.testing.assert_array_equal(
        prepared.validation_set.materialize().images,
        deskew(validation.materialize().images),
    )
    # The training part is deskewed once; the validation part, read once an
    # epoch, as it is read: it names the dataset's images and copies none.
    assert prepared.validation_set.deskewed
    assert prepared.validation_set.source.images is mnist.images
    assert "deskewed" in prepared.describe()
    # The views get the images as stored, and read them as the model does.
    np.testing.assert_array_equal(
        prepared.validation_source.materialize().images,
        validation.materialize().images,
    )


def test_a_deskewed_model_reads_every_image_deskewed(mnist, tmp_path):
    prepared, model = _trained(mnist, deskew=True)
    assert model.deskews
    path = tmp_path / "m.npz"
    save_model(path, model.network, model.metadata)
    loaded = load_model(path)
    assert loaded.deskews
    images = mnist.images[:20]
    inputs = model.normalization.apply(deskew(images).reshape(20, -1))
    expected = model.network.predict_proba(inputs)
    np.testing.assert_allclose(loaded.predict_proba(images), expected, rtol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(images[3]), expected[3], rtol=1e-6)
    np.testing.assert_array_equal(loaded.prepare(images), deskew(images))
    plain = dataclasses.replace(loaded, config={**loaded.config, "deskew": False})
    np.testing.assert_array_equal(plain.prepare(images), images)


def test_the_model_stores_thresholds_set_on_moved_copies_of_its_training_digits(
    mnist, tmp_path
):
    prepared, model = _trained(mnist, negatives=30, deskew=True)
    # The copies: of the training digits as stored (not the made-up non-digits),
    # moved, then read as the model reads them (deskewed).
    source = prepared.training_source
    config = prepared.config
    digits, held_out = split(mnist, config.validation_fraction, config.seed)
    np.testing.assert_array_equal(source.rows, digits.rows)
    assert len(source) == len(prepared.train_set) - 30  # not the made-up ones
    assert not np.any(np.isin(source.rows, held_out.rows))
    copies = calibration_copies(source, source.max_value, prepared.config.seed)
    assert copies.shape == (CALIBRATION_COPIES, 28, 28)
    np.testing.assert_array_equal(calibration_set(prepared).images, deskew(copies))
    inputs = prepared.normalization.apply(deskew(copies).reshape(-1, 784))
    probabilities = model.network.predict_proba(inputs)
    expected = Judge.calibrate(probabilities, WITH_OTHER, JUDGEMENT_FALSE_REJECTION)
    # (Passes of 2,048 images round a little differently from one of 4,000.)
    assert model.judgement == {
        **expected.to_dict(),
        "min_margin": pytest.approx(expected.min_margin, abs=1e-5),
        "drawing_margin": pytest.approx(expected.drawing_margin, abs=1e-5),
    }
    assert model.judgement["drawing_margin"] >= model.judgement["min_margin"]
    path = tmp_path / "m.npz"
    save_model(path, model.network, model.metadata)
    assert load_model(path).judgement == model.judgement
    # A snapshot during the run: the validation digits alone, at the snapshot share.
    snapshot = build_model(prepared, model.network, rows=[])
    images = prepared.validation_set.materialize().images
    inputs = prepared.normalization.apply(images.reshape(-1, 784))
    probabilities = model.network.predict_proba(inputs)
    quick = Judge.calibrate(probabilities, WITH_OTHER, SNAPSHOT_FALSE_REJECTION)
    assert snapshot.judgement == quick.to_dict()


def test_calibration_copies_move_every_digit_the_same_way_for_a_seed(mnist):
    digits = mnist.images[:7]
    copies = calibration_copies(digits, 255, seed=3)
    assert copies.dtype == np.uint8 and copies.shape == (CALIBRATION_COPIES, 28, 28)
    np.testing.assert_array_equal(copies, calibration_copies(digits, 255, seed=3))
    # Each digit in turn, moved: ink stays about the same, pixels do not.
    ink = (
        copies.reshape(-1, 784).sum(axis=1)
        / digits.reshape(-1, 784).sum(axis=1)[np.arange(CALIBRATION_COPIES) % 7]
    )
    assert 0.7 < np.median(ink) < 1.3
    assert not np.array_equal(copies[:7], digits)
    # More digits than copies: a random choice of them, each once.
    many = calibration_copies(mnist.images, 255, seed=3)
    assert many.shape == (CALIBRATION_COPIES, 28, 28)


def test_without_a_validation_part_no_thresholds_are_stored(mnist):
    _, model = _trained(mnist, validation_fraction=0.0)
    assert model.judgement is None


def test_snapshots_carry_thresholds_too(mnist):
    prepared = prepare_run(RunRequest(mnist, _config()))
    snapshot = build_model(prepared, prepared.network.copy(), rows=[])
    assert snapshot.judgement is not None
    assert snapshot.judgement["not_a_digit_class"] is None


def test_fine_tuning_with_not_a_digit_drawings_gives_the_model_that_output(mnist):
    _, base = _trained(mnist)
    drawings = _negative_drawings(4)
    request = fine_tune_request(base, mnist, drawings)
    prepared = prepare_run(request)
    network = prepared.network
    assert network.num_classes == 11
    assert prepared.train_set.class_names == WITH_OTHER
    # The digits' weights are the base model's; the new output starts unlikely.
    np.testing.assert_array_equal(network.weights[0], base.network.weights[0])
    np.testing.assert_array_equal(network.weights[-1][:, :10], base.network.weights[-1])
    assert not network.weights[-1][:, 10].any()
    images = mnist.images[:50].reshape(50, -1)
    before = base.network.predict_proba(base.normalization.apply(images))
    after = network.predict_proba(base.normalization.apply(images))
    np.testing.assert_array_equal(after[:, :10].argmax(1), before.argmax(1))
    assert after[:, 10].max() < 0.05
    labels = prepared.train_set.labels
    # Made-up non-digits (as many as the limit keeps) and the user's, repeated.
    made = int((labels == 10).sum()) - 4 * FINE_TUNE_REPEAT
    assert 0 < made <= FINE_TUNE_NEGATIVES
    assert prepared.config.negatives == made
    assert len(prepared.train_set) <= FINE_TUNE_LIMIT + 6 * FINE_TUNE_REPEAT
    assert prepared.personal_images == 6 and prepared.left_out == 0
    # The base model never answered "not a digit": there is nothing of it to keep.
    assert prepared.distillation is None


def test_the_fine_tuned_model_keeps_the_new_output(mnist):
    _, base = _trained(mnist)
    request = fine_tune_request(base, mnist, _negative_drawings(4))
    prepared = prepare_run(request)
    result = run_training(prepared)
    tuned = build_model(prepared, result.network, result)
    assert tuned.class_names == WITH_OTHER
    assert tuned.judgement["not_a_digit_class"] == 10
    # A further fine-tune keeps it and makes non-digits again.
    again = prepare_run(fine_tune_request(tuned, mnist, _negative_drawings(2, 1)))
    assert again.network.num_classes == 11
    assert (again.train_set.labels == 10).sum() > 2 * FINE_TUNE_REPEAT


def test_a_run_without_the_output_leaves_not_a_digit_drawings_out(mnist):
    request = RunRequest(mnist, _config(), personal=_negative_drawings(3))
    prepared = prepare_run(request)
    assert prepared.network.num_classes == 10
    assert prepared.left_out == 3 and prepared.personal_images == 2
    assert not (prepared.train_set.labels >= 10).any()
    assert "3 drawings marked not a digit left out" in prepared.describe()


def test_a_run_with_the_output_uses_not_a_digit_drawings(mnist):
    request = RunRequest(
        mnist, _config(negatives=20), personal=_negative_drawings(3), personal_repeat=2
    )
    prepared = prepare_run(request)
    assert int((prepared.train_set.labels == 10).sum()) == 20 + 3 * 2
    assert prepared.left_out == 0


def test_8x8_fine_tunes_leave_not_a_digit_drawings_out():
    eight = load_bundled("digits-8x8")
    _, base = _trained(eight)
    rng = np.random.default_rng(1)
    drawings = Dataset(
        "personal-digits-8x8",
        rng.integers(0, 17, (3, 8, 8), dtype=np.uint8),
        np.array([1, 10, 10], np.uint8),
        WITH_OTHER,
        max_value=16,
    )
    prepared = prepare_run(fine_tune_request(base, eight, drawings))
    assert prepared.network.num_classes == 10
    assert prepared.left_out == 2 and prepared.personal_images == 1


def test_a_subset_gets_as_many_negatives_per_digit():
    sample = load_bundled("mnist-sample")
    request = RunRequest(sample, _config(negatives=1000), subset=500)
    prepared = prepare_run(request)
    assert int((prepared.train_set.labels == 10).sum()) == 100
    assert prepared.config.negatives == 100


def test_drawings_left_with_their_canvases_are_taught_as_their_variants():
    """An 8x8 fine-tune leaves "not a digit" out; the digit keeps its canvas."""
    from core.drawing_variants import drawing_variants
    from core.personal_set import DrawnDataset

    eight = load_bundled("digits-8x8")
    _, base = _trained(eight)
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 130:150] = 255  # a 1
    drawings = DrawnDataset(
        "personal-digits-8x8",
        np.zeros((3, 8, 8), np.uint8),
        np.array([1, 10, 10], np.uint8),
        WITH_OTHER,
        max_value=16,
        canvases=(canvas, canvas, canvas),
    )
    prepared = prepare_run(fine_tune_request(base, eight, drawings))
    assert prepared.left_out == 2 and prepared.personal_images == 1
    count = FINE_TUNE_REPEAT
    rows = prepared.train_set.images_at(np.arange(len(prepared.train_set))[-count:])
    np.testing.assert_array_equal(rows, drawing_variants(canvas, (8, 8)))
