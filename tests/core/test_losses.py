import numpy as np
import pytest

from core.losses import OUTPUTS


def _numeric_delta(output, z, labels, h=1e-6):
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[index] += h
        minus[index] -= h
        loss_plus = output.loss(output.forward(plus, np.empty_like(z)), labels)
        loss_minus = output.loss(output.forward(minus, np.empty_like(z)), labels)
        numeric[index] = (loss_plus - loss_minus) / (2 * h)
    return numeric


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_delta_is_the_gradient_of_the_mean_loss(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    output = OUTPUTS[name]
    probs = output.forward(z, np.empty_like(z))
    delta = output.delta(probs, labels, np.empty_like(z))
    np.testing.assert_allclose(delta, _numeric_delta(output, z, labels), atol=1e-9)


def test_softmax_rows_are_probabilities():
    z = np.random.default_rng(1).normal(size=(6, 10)).astype(np.float32)
    probs = OUTPUTS["softmax_cross_entropy"].forward(z, np.empty_like(z))
    assert (probs > 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_loss_are_finite_on_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-3e38, 3e38, 0.0], [0.0, 0.0, 0.0]], dtype)
    labels = np.array([1, 1, 2])
    output = OUTPUTS["softmax_cross_entropy"]
    probs = output.forward(z, np.empty_like(z))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.isfinite(output.loss(probs, labels))
    exact = output.forward_loss(z.copy(), labels, np.empty_like(z))
    # Row 0 is confidently wrong by 2e4 nats; the exact loss keeps all of it.
    assert np.isfinite(exact)
    assert exact == pytest.approx((2e4 + 0.0 + np.log(3.0)) / 3, rel=1e-4)


def test_forward_loss_equals_loss_of_forward_for_moderate_logits():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(8, 5))
    labels = rng.integers(0, 5, size=8)
    output = OUTPUTS["softmax_cross_entropy"]
    probs = output.forward(z, np.empty_like(z))
    out = np.empty_like(z)
    loss = output.forward_loss(z, labels, out)
    assert loss == pytest.approx(output.loss(probs, labels), rel=1e-12)
    np.testing.assert_allclose(out, probs)


def test_quadratic_cost_is_half_the_summed_squared_error_averaged_over_the_batch():
    output = OUTPUTS["sigmoid_quadratic"]
    a = np.array([[0.5, 0.5], [1.0, 0.0]])
    # Sample 0: 0.5 * (0.25 + 0.25); sample 1 (label 0): 0. Mean: 0.125.
    assert output.loss(a, np.array([0, 0])) == pytest.approx(0.125)
    z = np.zeros((1, 2))
    assert output.forward(z, np.empty_like(z)).tolist() == [[0.5, 0.5]]
