"""One example through the network: the same numbers as the engine and the reference."""

import numpy as np
import pytest

from core import reference
from core.network import MLP, NetworkError
from core.step_through import (
    SGD_RATE_FOR_ADAM,
    default_learning_rate,
    step_through,
)

SIZES = (12, 7, 5, 4)
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
OUTPUTS = ("softmax_cross_entropy", "sigmoid_quadratic")


def _network(activation="tanh", output="softmax_cross_entropy", sizes=SIZES, seed=1):
    return MLP(sizes, activation, output, init="xavier", seed=seed)


def _input(size=SIZES[0], seed=2):
    return np.random.default_rng(seed).normal(size=size).astype(np.float32)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_gradients_equal_the_engines_for_a_batch_of_one(activation, output, l2):
    network = _network(activation, output)
    x = _input()
    label = 3
    shown = step_through(network, x, label, learning_rate=0.5, l2=l2)
    loss, grads, probabilities = network.loss_and_gradients(
        x[None, :], np.array([label]), l2=l2
    )
    assert shown.loss == pytest.approx(loss, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(shown.probabilities, probabilities[0], rtol=1e-5)
    assert len(shown.gradients) == len(grads)
    for mine, engine in zip(shown.gradients, grads, strict=True):
        assert mine.shape == engine.shape
        np.testing.assert_allclose(mine, engine, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numbers_equal_the_float64_reference(activation, output):
    network = _network(activation, output)
    x = _input()
    weights = [w.astype(np.float64) for w in network.weights]
    biases = [b.astype(np.float64) for b in network.biases]
    X = x[None, :].astype(np.float64)
    label = 1
    shown = step_through(network, x, label, learning_rate=0.3)
    zs, activations = reference.forward(weights, biases, X, activation, output)
    cost, dW, db, _ = reference.loss_and_gradients(
        weights, biases, X, np.array([label]), activation, output
    )
    assert shown.loss == pytest.approx(cost, rel=1e-12)
    for layer, z, a, w_grad, b_grad in zip(
        shown.layers, zs, activations[1:], dW, db, strict=True
    ):
        np.testing.assert_allclose(layer.z, z[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.a, a[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(
            layer.weight_gradient, w_grad, rtol=1e-10, atol=1e-14
        )
        np.testing.assert_allclose(layer.bias_gradient, b_grad, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(layer.delta, layer.bias_gradient)  # dC/db = delta
    # The step: the reference's SGD update, then its cost, match the engine's copy.
    stepped_w = [
        reference.sgd_step(w, g, 0.3) for w, g in zip(weights, dW, strict=True)
    ]
    stepped_b = [reference.sgd_step(b, g, 0.3) for b, g in zip(biases, db, strict=True)]
    _, after = reference.forward(stepped_w, stepped_b, X, activation, output)
    y = reference.one_hot(np.array([label]), SIZES[-1])
    assert shown.loss_after == pytest.approx(
        reference.cost(output, after[-1], y), rel=1e-4, abs=1e-6
    )
    np.testing.assert_allclose(shown.probabilities_after, after[-1][0], rtol=1e-4)


def test_the_textbook_equations_hold_for_the_units_shown():
    network = _network("sigmoid", "sigmoid_quadratic")
    shown = step_through(network, _input(), 2, learning_rate=3.0, units=3, terms=2)
    y, a_out = shown.target, shown.probabilities
    output = shown.layers[-1]
    # delta^L = (a^L - y) * sigmoid'(z^L) for the quadratic cost.
    np.testing.assert_allclose(output.delta, (a_out - y) * a_out * (1 - a_out))
    assert shown.loss == pytest.approx(0.5 * np.sum((a_out - y) ** 2))
    W = [w.astype(np.float64) for w in network.weights]
    assert [layer.is_output for layer in shown.layers] == [False, False, True]
    assert [layer.function for layer in shown.layers] == ["sigmoid"] * 3
    for layer in shown.layers:
        n = layer.number - 1
        for unit in layer.units:
            total = sum(t.weight * t.activation for t in unit.terms)
            assert total + unit.rest + unit.bias == pytest.approx(unit.z)
            assert len(unit.terms) == 2 and unit.rest_count == W[n].shape[0] - 2
            for term in unit.terms:
                assert term.weight == pytest.approx(W[n][term.source, unit.index])
            assert unit.delta == pytest.approx(unit.back * unit.derivative)
            assert unit.new_bias == pytest.approx(
                float(network.biases[n][unit.index]) - 3.0 * unit.delta
            )
        for update in layer.updates:
            assert update.new_weight == pytest.approx(
                update.weight - 3.0 * update.gradient
            )
            # dC/dw_jk = a_k delta_j
            a_prev = shown.layers[n - 1].a if n else _input().astype(np.float64)
            assert update.input == a_prev[update.source]
            assert update.gradient == pytest.approx(
                update.input * layer.delta[update.unit]
            )
    # delta^l = ((w^{l+1})^T delta^{l+1}) * sigmoid'(z^l), with w^{l+1} = W[l].T.
    second = shown.layers[1]
    np.testing.assert_allclose(
        second.delta, (W[2] @ output.delta) * second.a * (1 - second.a)
    )


def test_the_units_shown_are_those_that_matter_most():
    network = _network("relu", "softmax_cross_entropy", sizes=(12, 9, 6))
    x = _input()
    shown = step_through(network, x, label=0, units=2)
    output = shown.layers[-1]
    probabilities = shown.probabilities
    assert output.units[0].index == shown.predicted
    assert shown.label in [unit.index for unit in output.units]
    # The last hidden layer's units: the largest terms w_cj a_j of the winner's z_c.
    hidden = shown.layers[0]
    W = network.weights[1].astype(np.float64)
    contributions = np.abs(hidden.a * W[:, shown.predicted])
    expected = np.argsort(-contributions, kind="stable")[:2]
    assert [unit.index for unit in hidden.units] == list(expected)
    # The largest weight change of each unit, for the units where it is largest.
    per_unit = np.abs(output.weight_gradient).max(axis=0)
    largest = np.sort(per_unit)[::-1][:3]
    np.testing.assert_allclose([abs(u.gradient) for u in output.updates], largest)
    assert len({u.unit for u in output.updates}) == 3
    assert probabilities.argmax() == shown.predicted


def test_the_step_is_taken_on_a_copy_and_lowers_the_loss():
    network = _network()
    before = [p.copy() for p in network.parameters()]
    shown = step_through(network, _input(), label=2, learning_rate=0.05)
    for now, then in zip(network.parameters(), before, strict=True):
        np.testing.assert_array_equal(now, then)
    assert shown.loss_after < shown.loss
    change = shown.loss_after - shown.loss
    squared = sum(float(np.sum(g * g)) for g in shown.gradients)
    assert shown.first_order_change == pytest.approx(-0.05 * squared)
    assert change == pytest.approx(shown.first_order_change, rel=0.2)  # small step


def test_the_label_defaults_to_the_prediction():
    shown = step_through(_network(), _input())
    assert shown.label == shown.predicted
    assert shown.target[shown.label] == 1.0 and shown.target.sum() == 1.0


def test_bad_arguments_are_refused_clearly():
    network = _network()
    with pytest.raises(NetworkError, match="12 values"):
        step_through(network, np.zeros(5))
    with pytest.raises(NetworkError, match="class index below 4"):
        step_through(network, _input(), label=4)
    with pytest.raises(NetworkError, match="must be positive"):
        step_through(network, _input(), learning_rate=0.0)
    with pytest.raises(NetworkError, match="l2"):
        step_through(network, _input(), l2=-1.0)


def test_the_rate_shown_is_the_models_own_for_plain_gradient_descent():
    assert default_learning_rate({"optimizer": "sgd", "learning_rate": 3.0}) == 3.0
    assert default_learning_rate({"optimizer": "momentum", "learning_rate": 0.1}) == 0.1
    assert default_learning_rate({"optimizer": "adam", "learning_rate": 1e-3}) == (
        SGD_RATE_FOR_ADAM
    )
    assert default_learning_rate({}) == SGD_RATE_FOR_ADAM
