"""The engine's float32 fast path, kernels on and off, held to the float64 reference.

Inputs have blank columns so that the first layer skips them (checked), batches
include one sample and a partial last batch, and every activation, output,
optimizer and schedule is compared.
"""

import numpy as np
import pytest

from core import reference
from core.activations import ACTIVATIONS
from core.datasets import Dataset
from core.losses import OUTPUTS
from core.network import MLP
from core.optimizers import OPTIMIZERS, Adam, make_optimizer
from core.schedules import SCHEDULES, learning_rate_at
from core.training import TrainingConfig, train

SIZES = (40, 16, 12, 5)


def _inputs(rng, batch, width=SIZES[0]):
    """float32 inputs in [0, 1] with zeros scattered and the first half blank."""
    X = rng.random((batch, width)).astype(np.float32)
    X[rng.random(X.shape) < 0.3] = 0
    X[:, : width // 2] = 0
    return X, rng.integers(0, SIZES[-1], batch)


def _network(activation, output, seed):
    """A float32 network with Xavier weights and nonzero biases."""
    net = MLP(SIZES, activation, output, init="xavier", seed=seed)
    rng = np.random.default_rng(seed + 1000)
    for b in net.biases:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    return net


def _as64(arrays):
    return [np.asarray(a, dtype=np.float64).copy() for a in arrays]


def _masks(seed, batch, dropout):
    """The keep masks ``MLP.loss_and_gradients`` draws from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [
        (rng.random((batch, n), dtype=np.float32) >= dropout).astype(np.float64)
        for n in SIZES[1:-1]
    ]


def _assert_close(actual, expected, tolerance=2e-4):
    """Each value within ``tolerance`` of the array's largest, relative or not."""
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("batch", [1, 7, 64])
@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_and_gradients_match_the_reference(
    engine_path, activation, output, batch
):
    rng = np.random.default_rng(batch)
    X, labels = _inputs(rng, batch)
    net = _network(activation, output, seed=batch)
    weights, biases = _as64(net.weights), _as64(net.biases)
    for l2, dropout in ((0.0, 0.0), (0.01, 0.3)):
        got = net.loss_and_gradients(
            X, labels, dropout, l2, np.random.default_rng(7) if dropout else None
        )
        assert net._workspace(batch).blank_inputs.inputs is not None  # skipped
        masks = _masks(7, batch, dropout) if dropout else None
        loss, dW, db, probs = reference.loss_and_gradients(
            weights, biases, X, labels, activation, output, l2, masks, dropout
        )
        assert got.loss == pytest.approx(loss, rel=1e-5)
        _assert_close(got.probabilities, probs)
        for i in range(len(SIZES) - 1):
            _assert_close(got.gradients[2 * i], dW[i])
            _assert_close(got.gradients[2 * i + 1], db[i])
    expected = reference.forward(weights, biases, X, activation, output)[1][-1]
    _assert_close(net.predict_proba(X), expected)
    loss, probs = net.loss_and_probabilities(X, labels)
    _assert_close(probs, expected)
    y = reference.one_hot(labels, SIZES[-1])
    assert loss == pytest.approx(reference.cost(output, expected, y), rel=1e-5)


# Optimizers as (registry name, settings), with settings other than the defaults.
OPTIMIZER_SETTINGS = {
    "sgd": ("sgd", {}),
    "momentum": ("momentum", {"momentum": 0.6}),
    "nesterov": ("momentum", {"momentum": 0.7, "nesterov": True}),
    "adam": ("adam", {"beta1": 0.8, "beta2": 0.99}),
}


def test_every_optimizer_is_compared():
    assert {name for name, _ in OPTIMIZER_SETTINGS.values()} == set(OPTIMIZERS)


class _ReferenceOptimizer:
    """The reference's step for one optimizer, keeping its state per parameter."""

    def __init__(self, name, settings, params, adam_eps=1e-8):
        self.name, self.settings, self.adam_eps = name, settings, adam_eps
        self.t = 0
        self.state = [(np.zeros_like(p), np.zeros_like(p)) for p in params]

    def step(self, params, grads, rate):
        self.t += 1
        for i, (w, g) in enumerate(zip(params, grads, strict=True)):
            first, second = self.state[i]
            if self.name == "sgd":
                params[i] = reference.sgd_step(w, g, rate)
            elif self.name == "adam":
                params[i], first, second = reference.adam_step(
                    w,
                    first,
                    second,
                    g,
                    rate,
                    self.t,
                    eps=self.adam_eps,
                    **self.settings,
                )
            else:
                params[i], first = reference.momentum_step(
                    w, first, g, rate, **self.settings
                )
            self.state[i] = (first, second)


def _reference_gradients(params, X, labels, activation, output, l2, *dropout):
    """The reference's gradients in ``parameters()`` order: dW0, db0, dW1, ..."""
    _, dW, db, _ = reference.loss_and_gradients(
        params[0::2], params[1::2], X, labels, activation, output, l2, *dropout
    )
    return [g for pair in zip(dW, db, strict=True) for g in pair]


@pytest.mark.parametrize(
    ("activation", "output"),
    [("relu", "softmax_cross_entropy"), ("sigmoid", "sigmoid_quadratic")],
)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_training_steps_match_the_reference(engine_path, optimizer, activation, output):
    # Two epochs of 20 samples in batches of 8: a partial last batch of 4, then
    # one of a single sample, with dropout and L2 on.
    rng = np.random.default_rng(11)
    X, labels = _inputs(rng, 20)
    net = _network(activation, output, seed=12)
    params = _as64(net.parameters())
    start = _as64(net.parameters())
    name, settings = OPTIMIZER_SETTINGS[optimizer]
    if name == "adam":
        # A larger eps keeps Adam's step continuous for gradients near 0, where
        # float32 and float64 may differ in sign.
        fast_optimizer = Adam(eps=1e-4, **settings)
    else:
        fast_optimizer = make_optimizer(name, **settings)
    reference_optimizer = _ReferenceOptimizer(name, settings, params, 1e-4)
    rate = 0.01 if optimizer == "adam" else 0.2
    l2, dropout = 1e-3, 0.2
    step = 0
    for rows in [slice(0, 8), slice(8, 16), slice(16, 20), slice(5, 6)] * 2:
        seed = 100 + step
        step += 1
        batch = X[rows]
        got = net.loss_and_gradients(
            batch, labels[rows], dropout, l2, np.random.default_rng(seed)
        )
        assert net._workspace(len(batch)).blank_inputs.inputs is not None
        fast_optimizer.step(net.parameters(), got.gradients, rate)
        masks = _masks(seed, len(batch), dropout)
        reference_optimizer.step(
            params,
            _reference_gradients(
                params, batch, labels[rows], activation, output, l2, masks, dropout
            ),
            rate,
        )
    for got, expected, initial in zip(net.parameters(), params, start, strict=True):
        _assert_close(got - initial, expected - initial, 2e-3)  # the change
        _assert_close(got, expected, 1e-4)
    # Prediction with the trained weights, full products, no dropout.
    forward = reference.forward(params[0::2], params[1::2], X, activation, output)
    _assert_close(net.predict_proba(X), forward[1][-1])


def test_batches_that_skip_blank_inputs_and_batches_that_cannot_alternate(
    engine_path,
):
    # The same workspace serves both kinds: a skipping batch must leave nothing
    # behind for the next one, and the other way round.
    rng = np.random.default_rng(21)
    net = _network("relu", "softmax_cross_entropy", seed=22)
    weights, biases = _as64(net.weights), _as64(net.biases)
    for blank in (True, False, True, False):
        X, labels = _inputs(rng, 9)
        if not blank:
            X[0] = rng.random(SIZES[0])  # every input live in this batch
        got = net.loss_and_gradients(X, labels)
        skipped = net._workspace(9).blank_inputs.inputs is not None
        assert skipped == blank
        _, dW, db, _ = reference.loss_and_gradients(
            weights, biases, X, labels, "relu", "softmax_cross_entropy"
        )
        for i in range(len(SIZES) - 1):
            _assert_close(got.gradients[2 * i], dW[i])
            _assert_close(got.gradients[2 * i + 1], db[i])


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_schedules_match_the_reference_at_every_step(schedule):
    config = TrainingConfig(
        learning_rate=0.4,
        schedule=schedule,
        step_epochs=3,
        step_gamma=0.3,
        min_learning_rate=0.01,
        epochs=7,
    )
    for epoch in range(8):
        for step in range(5):
            assert learning_rate_at(config, epoch, step, 5) == pytest.approx(
                reference.learning_rate(config, epoch, step, 5), rel=1e-12
            )


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZER_SETTINGS))
def test_full_batch_training_matches_the_reference(engine_path, optimizer, schedule):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(30, 8, 8), dtype=np.uint8)
    images[:, :2] = images[:, :, :3] = 0  # blank margins, skipped
    labels = rng.integers(0, 3, 30).astype(np.uint8)
    data = Dataset("noise", images, labels, ("a", "b", "c"))
    name, settings = OPTIMIZER_SETTINGS[optimizer]
    config = TrainingConfig(
        hidden_sizes=(12,),
        optimizer=name,
        **settings,
        learning_rate=0.002 if name == "adam" else 0.3,
        schedule=schedule,
        step_epochs=2,
        step_gamma=0.5,
        min_learning_rate=1e-4 if name == "adam" else 0.01,
        batch_size=0,
        epochs=5,
        l2=1e-3,
        validation_fraction=0.0,
    )
    net = config.build_network(64, 3)
    params = _as64(net.parameters())
    train(net, data, None, config)
    X = images.reshape(30, -1) / 255.0
    reference_optimizer = _ReferenceOptimizer(name, settings, params)
    for epoch in range(config.epochs):
        grads = _reference_gradients(
            params, X, labels, "relu", "softmax_cross_entropy", config.l2
        )
        rate = reference.learning_rate(config, epoch, 0, 1)
        reference_optimizer.step(params, grads, rate)
    for got, expected in zip(net.parameters(), params, strict=True):
        _assert_close(got, expected, 1e-4)
