import math

import numpy as np
import pytest

from core.network import MLP
from core.optimizers import SGD, Adam, OptimizerError, make_optimizer


def _run(optimizer, gradients, start=1.0, lr=0.1):
    w = np.array([start])
    for g in gradients:
        grad = np.array([g])
        optimizer.step([w], [grad], lr)
        assert grad[0] == g  # gradients are never modified
    return w[0]


def test_sgd_step_is_w_minus_lr_g():
    assert _run(SGD(), [0.5]) == pytest.approx(0.95, abs=1e-15)
    assert _run(SGD(), [0.5, -1.0]) == pytest.approx(1.05, abs=1e-15)


def test_momentum_accumulates_velocity():
    # v1 = -0.1, w1 = 0.9; v2 = 0.9 * -0.1 - 0.1 = -0.19, w2 = 0.71.
    assert _run(SGD(momentum=0.9), [1.0, 1.0]) == pytest.approx(0.71, abs=1e-15)


def test_nesterov_looks_ahead():
    # w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81; v2 = -0.19; w2 = 0.81 - 0.171 - 0.1 = 0.539.
    optimizer = SGD(momentum=0.9, nesterov=True)
    assert _run(optimizer, [1.0, 1.0]) == pytest.approx(0.539, abs=1e-15)


def test_adam_matches_hand_computed_steps():
    # Step 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
    assert _run(Adam(), [0.5]) == pytest.approx(1 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-14)
    # Step 2 with g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625,
    # m_hat = 0.02 / 0.19, v_hat = 0.00031225 / 0.001999.
    m_hat = 0.02 / 0.19
    v_hat = 0.00031225 / 0.001999
    expected = 1 - 0.1 * 0.5 / (0.5 + 1e-8) - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert expected == pytest.approx(0.8733663, abs=1e-7)
    assert _run(Adam(), [0.5, -0.25]) == pytest.approx(expected, abs=1e-12)


def test_adam_follows_the_paper_over_many_steps():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(50, 6))
    w = np.zeros(6)
    optimizer = Adam(beta1=0.8, beta2=0.99, eps=1e-6)
    m = np.zeros(6)
    v = np.zeros(6)
    reference = np.zeros(6)
    for t, g in enumerate(grads, start=1):
        optimizer.step([w], [g.copy()], 0.01)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        reference -= 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.99**t)) + 1e-6)
    np.testing.assert_allclose(w, reference, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_flat_network_parameters_update_like_separate_arrays(name):
    net = MLP((6, 5, 3), seed=0, dtype=np.float64)
    separate = [p.copy() for p in net.parameters()]
    rng = np.random.default_rng(1)
    flat_optimizer, list_optimizer = make_optimizer(name), make_optimizer(name)
    for _ in range(3):
        grads = [rng.normal(size=p.shape) for p in separate]
        net_grads = net.copy().parameters()  # consecutive views of one buffer
        for view, g in zip(net_grads, grads, strict=True):
            view[...] = g
        flat_optimizer.step(net.parameters(), net_grads, 0.05)
        list_optimizer.step(separate, grads, 0.05)
    for a, b in zip(net.parameters(), separate, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_make_optimizer_names_and_settings():
    assert isinstance(make_optimizer("sgd"), SGD)
    momentum = make_optimizer("momentum", momentum=0.5, nesterov=True)
    assert (momentum.momentum, momentum.nesterov) == (0.5, True)
    assert make_optimizer("adam", beta1=0.5).beta1 == 0.5
    with pytest.raises(OptimizerError, match="Unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop")
    with pytest.raises(OptimizerError, match="no setting"):
        make_optimizer("sgd", momentum=0.9)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: SGD(momentum=1.0), "momentum must be in"),
        (lambda: SGD(nesterov=True), "Nesterov"),
        (lambda: Adam(beta2=1.0), "beta2"),
        (lambda: Adam(eps=0.0), "eps"),
    ],
)
def test_invalid_settings_are_rejected(factory, message):
    with pytest.raises(OptimizerError, match=message):
        factory()


def test_optimizer_refuses_parameters_of_another_network():
    optimizer = Adam()
    optimizer.step([np.zeros(3)], [np.ones(3)], 0.1)
    with pytest.raises(OptimizerError, match="other parameters"):
        optimizer.step([np.zeros(4)], [np.ones(4)], 0.1)
    with pytest.raises(OptimizerError, match="does not match"):
        Adam().step([np.zeros(3)], [np.ones(4)], 0.1)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_overwriting_gradients_gives_the_same_update(name):
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(4, 3)) for _ in range(3)]
    a, b = np.ones((4, 3)), np.ones((4, 3))
    keep, overwrite = make_optimizer(name), make_optimizer(name)
    for g in grads:
        keep.step([a], [g.copy()], 0.1)
        overwrite.step([b], [g.copy()], 0.1, overwrite_gradients=True)
    np.testing.assert_array_equal(a, b)
