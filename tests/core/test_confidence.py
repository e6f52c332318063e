"""core.confidence: calibrated "not sure" verdicts on real digits and on scribbles."""

from __future__ import annotations

import numpy as np
import pytest

from core.confidence import ConfidenceError, ConfidenceGate
from core.datasets import load_bundled


@pytest.fixture(scope="module")
def mnist_split():
    dataset = load_bundled("mnist-sample")
    order = np.random.default_rng(0).permutation(len(dataset))
    reference, held_out = order[:2000], order[2000:3000]
    return (
        dataset.images[reference],
        dataset.labels[reference],
        dataset.images[held_out],
    )


def _fit(split, **kwargs):
    images, labels, _ = split
    return ConfidenceGate.fit(images, labels, 255, **kwargs)


def _random_walks(rng: np.random.Generator, count: int, size: int = 28) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    out = np.zeros((count, size, size), dtype=np.float32)
    for image in out:
        position = rng.uniform(8, 20, 2)
        velocity = rng.normal(0, 1, 2)
        for _ in range(int(rng.integers(40, 120))):
            velocity = 0.8 * velocity + rng.normal(0, 0.8, 2)
            position = np.clip(position + velocity, 4, size - 5)
            spot = (rows - position[0]) ** 2 + (cols - position[1]) ** 2
            np.maximum(image, np.exp(-spot / 1.5), out=image)
    return np.rint(out * 255).astype(np.uint8)


def _uniform(images: np.ndarray) -> np.ndarray:
    return np.full((len(images), 10), 0.1, dtype=np.float32)


def _confident(images: np.ndarray) -> np.ndarray:
    probabilities = np.full((len(images), 10), 0.001, dtype=np.float32)
    probabilities[:, 3] = 0.991
    return probabilities


def test_real_digits_are_rarely_rejected_and_scribbles_mostly(mnist_split):
    held_out = mnist_split[2]
    gate = _fit(mnist_split, false_rejection=0.05)
    digits_rejected = float((gate.novelty(held_out) > 1.0).mean())
    walks = _random_walks(np.random.default_rng(1), 150)
    walks_rejected = float((gate.novelty(walks) > 1.0).mean())
    assert digits_rejected < 0.06
    assert walks_rejected > 0.8


def test_heavy_hatching_is_caught_by_the_absolute_error(mnist_split):
    gate = _fit(mnist_split)
    hatch = np.zeros((1, 28, 28), np.uint8)
    hatch[0, 4:24:2, 4:24] = 255
    assert gate.novelty(hatch)[0] > 1.0


def test_novelty_limit_is_the_calibrated_quantile(mnist_split):
    gate = _fit(mnist_split, false_rejection=0.15)
    rejected = float((gate.novelty(gate.calibration_images) > 1.0).mean())
    # Two novelty scores at 5% each: between 5% (same images) and 10% (disjoint).
    assert 0.05 <= rejected <= 0.10


@pytest.mark.parametrize(
    ("model", "expected"),
    [(_uniform, 0.30), (_confident, 0.70)],
)
def test_confidence_threshold_is_calibrated_within_bounds(mnist_split, model, expected):
    gate = _fit(mnist_split, predict_proba=model)
    assert gate.min_confidence == pytest.approx(expected)


def test_threshold_follows_the_model_between_the_bounds(mnist_split):
    rng = np.random.default_rng(2)

    def spread(images):
        top = rng.uniform(0.4, 0.6, len(images)).astype(np.float32)
        rest = ((1 - top) / 9)[:, None] * np.ones((1, 10), np.float32)
        rest[:, 0] = top
        return rest

    gate = _fit(mnist_split, predict_proba=spread)
    assert 0.4 <= gate.min_confidence <= 0.42


def test_judge_explains_each_kind_of_doubt(mnist_split):
    held_out = mnist_split[2]
    gate = _fit(mnist_split, predict_proba=_confident)
    digit = held_out[int(np.argmin(gate.novelty(held_out)))]
    sure = gate.judge(digit, _confident(digit[None])[0])
    assert sure.sure and sure.reason == "" and sure.predicted == 3
    torn = gate.judge(digit, _uniform(digit[None])[0])
    assert not torn.sure and "close to call" in torn.reason
    walk = _random_walks(np.random.default_rng(3), 1)[0]
    odd = gate.judge(walk, _confident(walk[None])[0])
    assert not odd.sure and "any digit" in odd.reason and odd.novelty > 1.0


def test_judge_batch_matches_judge(mnist_split):
    held_out = mnist_split[2]
    gate = _fit(mnist_split, predict_proba=_confident)
    images = np.concatenate(
        [held_out[:20], _random_walks(np.random.default_rng(4), 20)]
    )
    probabilities = np.random.default_rng(5).dirichlet(np.ones(10), len(images))
    sure, novelty = gate.judge_batch(images, probabilities)
    single = [gate.judge(i, p) for i, p in zip(images, probabilities, strict=True)]
    np.testing.assert_array_equal(sure, [j.sure for j in single])
    np.testing.assert_allclose(novelty, [j.novelty for j in single], rtol=1e-5)


def test_fits_the_8x8_digits_too():
    dataset = load_bundled("digits-8x8")
    order = np.random.default_rng(0).permutation(len(dataset))
    fit, held_out = order[:1000], order[1000:]
    gate = ConfidenceGate.fit(dataset.images[fit], dataset.labels[fit], 16)
    assert gate.components.shape[2] == 64
    rejected = float((gate.novelty(dataset.images[held_out]) > 1.0).mean())
    assert rejected < 0.08


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.zeros((5, 28, 28), np.uint8), {}, "at least 20"),
        (np.zeros((40, 784), np.uint8), {}, "at least 20"),
        (np.zeros((40, 28, 28), np.uint8), {"false_rejection": 0.0}, "between"),
        (
            np.zeros((40, 28, 28), np.uint8),
            {"predict_proba": lambda images: np.zeros((3, 10))},
            "probabilities",
        ),
    ],
)
def test_bad_calibration_input_is_refused(images, kwargs, match):
    labels = np.arange(len(images)) % 2
    with pytest.raises(ConfidenceError, match=match):
        ConfidenceGate.fit(images, labels, 255, **kwargs)


def test_a_class_with_too_few_images_is_refused():
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.zeros(40, np.int64)
    labels[0] = 1
    with pytest.raises(ConfidenceError, match="class 1 has"):
        ConfidenceGate.fit(images, labels, 255)


def test_images_of_the_wrong_size_are_refused(mnist_split):
    gate = _fit(mnist_split)
    with pytest.raises(ConfidenceError, match="784 pixels"):
        gate.novelty(np.zeros((8, 8), np.uint8))
