"""core.robustness: fixed-amount distortions and the accuracy curves."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from trained_model import holdout, trained_model

from core.metrics import loss_and_accuracy
from core.robustness import DISTORTIONS, add_noise, distort, robustness_curves


def _bar():
    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 8:20, 12:15] = 255
    images[:, 8:11, 8:20] = 200
    return images


@pytest.mark.parametrize("name", list(DISTORTIONS))
def test_the_identity_level_leaves_images_unchanged(name):
    images = _bar()
    level = DISTORTIONS[name].identity
    out = distort(images, name, level, np.random.default_rng(0))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, images)


def test_rotation_by_90_degrees_is_a_quarter_turn_either_way():
    images = _bar()
    out = distort(images, "rotation", 90.0, np.random.default_rng(0))
    for image, turned in zip(images, out, strict=True):
        matches = [np.array_equal(turned, np.rot90(image, k)) for k in (1, -1)]
        assert any(matches)


def test_shift_moves_the_ink_by_that_distance():
    images = _bar()
    out = distort(images, "shift", 4.0, np.random.default_rng(0))
    ys, xs = np.mgrid[:28, :28]

    def centre(image):
        mass = image.astype(np.float64)
        return np.array([(mass * xs).sum(), (mass * ys).sum()]) / mass.sum()

    for image, moved in zip(images, out, strict=True):
        distance = np.linalg.norm(centre(moved) - centre(image))
        assert distance == pytest.approx(4.0, abs=0.05)
        assert moved.sum() == pytest.approx(image.sum(), rel=1e-3)


def test_scale_changes_the_size_of_the_ink():
    images = _bar()
    half = distort(images, "scale", 0.5, np.random.default_rng(0))
    double = distort(images, "scale", 1.5, np.random.default_rng(0))
    mass = images.sum(axis=(1, 2)).astype(np.float64)
    np.testing.assert_allclose(half.sum(axis=(1, 2)) / mass, 0.25, rtol=0.05)
    np.testing.assert_allclose(double.sum(axis=(1, 2)) / mass, 2.25, rtol=0.05)


def test_thickness_dilates_and_erodes_by_whole_and_part_steps():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 14, 14] = 255
    one = distort(image, "thickness", 1.0, np.random.default_rng(0))
    assert np.count_nonzero(one) == 5  # a one-pixel cross
    two = distort(image, "thickness", 2.0, np.random.default_rng(0))
    assert np.count_nonzero(two) == 13  # the cross dilated again
    half = distort(image, "thickness", 0.5, np.random.default_rng(0))
    assert half[0, 14, 15] == pytest.approx(127.5)
    thin = distort(_bar(), "thickness", -1.0, np.random.default_rng(0))
    assert thin.sum() < _bar().sum() and thin.max() <= 255


def test_noise_has_the_asked_standard_deviation():
    images = np.full((8, 28, 28), 128, np.uint8)
    out = distort(images, "noise", 0.1, np.random.default_rng(0))
    assert np.std(out - 128.0) == pytest.approx(25.5, rel=0.03)
    assert out.min() >= 0 and out.max() <= 255


def test_add_noise_keeps_one_pattern_and_grows_with_the_amount():
    image = np.full((28, 28), 100, np.uint8)
    weak = add_noise(image, 0.05).astype(np.int16) - 100
    strong = add_noise(image, 0.1).astype(np.int16) - 100
    assert add_noise(image, 0.0) is image
    assert np.corrcoef(weak.ravel(), strong.ravel())[0, 1] > 0.95
    assert np.abs(strong).mean() > 1.8 * np.abs(weak).mean()


def test_curves_start_at_the_plain_accuracy_and_fall():
    model = trained_model()
    data = holdout()
    steps = []
    result = robustness_curves(
        model.network.copy(),
        model.normalization,
        data,
        batch_size=64,
        progress=steps.append,
    )
    _, plain = loss_and_accuracy(model.network, data, model.normalization)
    assert result.plain_accuracy == pytest.approx(plain)
    assert result.images == len(data)
    assert set(result.curves) == set(DISTORTIONS)
    for name, curve in result.curves.items():
        distortion = DISTORTIONS[name]
        identity = np.flatnonzero(curve.levels == distortion.identity)
        assert identity.size == 1
        assert curve.accuracy[identity[0]] == pytest.approx(plain)
        # The strongest damage costs accuracy.
        assert min(curve.accuracy[0], curve.accuracy[-1]) < plain - 0.05
    assert len(steps) == sum(c.levels.size for c in result.curves.values())
    assert steps[-1].fraction == 1.0
    assert np.all(np.diff([s.fraction for s in steps]) > 0)


def test_curves_are_reproducible_and_use_at_most_max_images():
    model = trained_model()
    data = holdout()
    a = robustness_curves(model.network, model.normalization, data, ["rotation"], 100)
    b = robustness_curves(model.network, model.normalization, data, ["rotation"], 100)
    assert a.images == 100 and list(a.curves) == ["rotation"]
    np.testing.assert_array_equal(
        a.curves["rotation"].accuracy, b.curves["rotation"].accuracy
    )


def test_levels_in_pixels_follow_the_image_size():
    assert DISTORTIONS["shift"].levels((8, 8))[-1] == pytest.approx(6 * 8 / 28)
    assert DISTORTIONS["rotation"].levels((8, 8))[-1] == 60.0


def test_curves_stop_when_cancelled():
    model = trained_model()
    cancel = threading.Event()
    cancel.set()
    assert (
        robustness_curves(model.network, model.normalization, holdout(), cancel=cancel)
        is None
    )


def test_each_distorted_batch_is_read_as_the_model_reads_images():
    # A deskewing model deskews what it is shown: the distortion comes first.
    model, data = trained_model(), holdout()
    images, labels = data.images_at(slice(None)), data.labels

    def mirrored(batch):  # any reading the model does
        return batch[:, :, ::-1]

    result = robustness_curves(
        model.network, model.normalization, data, ["shift"], prepare=mirrored
    )
    curve = result.curves["shift"]
    for position, level in enumerate(curve.levels):
        batch = images
        if level != DISTORTIONS["shift"].identity:
            rng = np.random.default_rng([0, 0, position])
            batch = distort(images, "shift", float(level), rng, data.max_value)
        inputs = model.normalization.apply(mirrored(batch))
        predicted = model.network.forward(inputs).argmax(axis=1)
        assert curve.accuracy[position] == pytest.approx(np.mean(predicted == labels))
