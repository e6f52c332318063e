"""The float64 reference is right: central differences, hand-computed steps."""

import math

import numpy as np
import pytest

from core import reference
from core.training import TrainingConfig

SIZES = (6, 5, 4, 3)


def _network(seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(size=(a, b)) / np.sqrt(a)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    biases = [rng.normal(size=b) * 0.5 for b in sizes[1:]]
    return weights, biases


def _masks(batch, p, seed, sizes=SIZES):
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, n)) >= p).astype(float) for n in sizes[1:-1]]


@pytest.mark.parametrize("output", ["softmax_cross_entropy", "sigmoid_quadratic"])
@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
def test_reference_gradients_match_central_differences(activation, output):
    weights, biases = _network(1)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(7, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], 7)
    l2, p = 0.1, 0.3
    masks = _masks(7, p, 3)

    def objective():
        zs, acts = reference.forward(weights, biases, X, activation, output, masks, p)
        y = reference.one_hot(labels, SIZES[-1])
        penalty = 0.5 * l2 * sum(float(np.sum(W * W)) for W in weights)
        return reference.cost(output, acts[-1], y) + penalty

    _, dW, db, _ = reference.loss_and_gradients(
        weights, biases, X, labels, activation, output, l2, masks, p
    )
    h = 1e-6
    for param, grad in zip([*weights, *biases], [*dW, *db], strict=True):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            plus = objective()
            param[index] = saved - h
            minus = objective()
            param[index] = saved
            numeric[index] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_reference_forward_is_the_textbook_layer_by_layer():
    weights, biases = _network(4)
    X = np.random.default_rng(5).normal(size=(3, SIZES[0]))
    zs, acts = reference.forward(weights, biases, X, "tanh", "softmax_cross_entropy")
    a = X
    for W, b, z in zip(weights[:-1], biases[:-1], zs, strict=False):
        np.testing.assert_allclose(z, a @ W + b)
        a = np.tanh(a @ W + b)
    e = np.exp(a @ weights[-1] + biases[-1])
    np.testing.assert_allclose(acts[-1], e / e.sum(axis=1, keepdims=True))
    assert np.array_equal(acts[0], X)


def test_reference_optimizers_take_the_hand_computed_steps():
    w, g = np.array([1.0]), np.array([1.0])
    assert reference.sgd_step(w, g * 0.5, 0.1) == pytest.approx(0.95)
    # v1 = -0.1, w1 = 0.9; v2 = -0.19, w2 = 0.71.
    w1, v = reference.momentum_step(w, np.zeros(1), g, 0.1, 0.9)
    w2, v = reference.momentum_step(w1, v, g, 0.1, 0.9)
    assert (w1[0], w2[0], v[0]) == pytest.approx((0.9, 0.71, -0.19))
    # Nesterov: w1 = 1 - 0.09 - 0.1 = 0.81; w2 = 0.81 - 0.171 - 0.1 = 0.539.
    w1, v = reference.momentum_step(w, np.zeros(1), g, 0.1, 0.9, nesterov=True)
    w2, v = reference.momentum_step(w1, v, g, 0.1, 0.9, nesterov=True)
    assert (w1[0], w2[0]) == pytest.approx((0.81, 0.539))
    # Adam, step 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps).
    w1, m, v = reference.adam_step(w, 0 * w, 0 * w, g * 0.5, 0.1, 1)
    assert w1[0] == pytest.approx(1 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-14)
    # Step 2 with g = -0.25: m = 0.045 - 0.025, v = 0.00024975 + 0.0000625.
    w2, m, v = reference.adam_step(w1, m, v, g * -0.25, 0.1, 2)
    assert (m[0], v[0]) == pytest.approx((0.02, 0.00031225))
    assert w2[0] == pytest.approx(0.8733663, abs=1e-7)


def test_reference_schedules_follow_their_definitions():
    step = TrainingConfig(
        learning_rate=1.0, schedule="step", step_epochs=2, step_gamma=0.5
    )
    rates = [reference.learning_rate(step, epoch, 3, 5) for epoch in range(6)]
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    cosine = TrainingConfig(
        learning_rate=1.0, schedule="cosine", min_learning_rate=0.1, epochs=4
    )
    assert reference.learning_rate(cosine, 0, 0, 10) == 1.0
    assert reference.learning_rate(cosine, 2, 0, 10) == pytest.approx(0.55)
    assert reference.learning_rate(cosine, 3, 5, 10) == pytest.approx(
        0.1 + 0.45 * (1 + math.cos(math.pi * 3.5 / 4))
    )
    assert reference.learning_rate(cosine, 4, 0, 10) == pytest.approx(0.1)
    constant = TrainingConfig(learning_rate=0.3)
    assert reference.learning_rate(constant, 7, 2, 3) == 0.3
