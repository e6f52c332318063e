"""core.neurons: layer outputs, the live trace, the most exciting images."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from trained_model import holdout, trained_model

from core.network import MLP
from core.neurons import layer_outputs, most_exciting, trace


@pytest.fixture(scope="module")
def model():
    return trained_model()


def _inputs(model, count=50):
    data = holdout()
    return model.normalization.apply(data.images_at(slice(count)))


def _by_hand(network: MLP, x: np.ndarray) -> list[np.ndarray]:
    a = x.astype(np.float64)
    out = []
    for i, (w, b) in enumerate(zip(network.weights, network.biases, strict=True)):
        z = a @ w.astype(np.float64) + b
        if i < len(network.weights) - 1:
            a = np.maximum(z, 0.0)
        else:
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            a = e / e.sum(axis=-1, keepdims=True)
        out.append(a)
    return out


def test_layer_outputs_are_the_forward_pass_layer_by_layer(model):
    x = _inputs(model)
    outputs = layer_outputs(model.network, x)
    expected = _by_hand(model.network, x)
    assert [o.shape for o in outputs] == [(50, 24), (50, 16), (50, 10)]
    for got, want in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(outputs[-1], model.network.forward(x))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "leaky_relu"])
def test_layer_outputs_follow_the_activation(activation):
    network = MLP([6, 5, 3], activation=activation, seed=1)
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    hidden = layer_outputs(network, x)[0]
    z = x @ network.weights[0] + network.biases[0]
    expected = {
        "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": np.tanh(z),
        "leaky_relu": np.where(z > 0, z, 0.01 * z),
    }[activation]
    np.testing.assert_allclose(hidden, expected, rtol=1e-5, atol=1e-6)


def test_one_input_gives_vectors(model):
    x = _inputs(model, 1)[0]
    outputs = layer_outputs(model.network, x)
    assert [o.shape for o in outputs] == [(24,), (16,), (10,)]


def test_trace_links_are_the_strongest_contributions_into_the_winner(model):
    x = _inputs(model, 1)[0]
    result = trace(model.network, x, max_shown=8, output_fan_in=4, hidden_fan_in=2)
    hidden = layer_outputs(model.network, x)
    assert result.predicted == int(np.argmax(hidden[-1]))
    into_output = [link for link in result.links if link.layer == 1]
    contributions = hidden[1] * model.network.weights[2][:, result.predicted]
    strongest = np.argsort(-np.abs(contributions))[:4]
    strongest = strongest[np.abs(contributions[strongest]) > 0]
    assert [link.source for link in into_output] == strongest.tolist()
    for link in into_output:
        assert link.target == result.predicted
        assert link.contribution == pytest.approx(contributions[link.source])
    # Each of those sources gets its own strongest two from the first layer.
    for source in strongest:
        into_source = [
            link.source
            for link in result.links
            if link.layer == 0 and link.target == source
        ]
        c = hidden[0] * model.network.weights[1][:, source]
        best = [s for s in np.argsort(-np.abs(c))[:2] if abs(c[s]) > 0]
        assert into_source == [int(s) for s in best]


def test_trace_shows_linked_then_kept_then_most_active_units(model):
    x = _inputs(model, 1)[0]
    result = trace(model.network, x, max_shown=10, keep=[{3}, {}])
    outputs = layer_outputs(model.network, x)
    assert [len(s) for s in result.shown] == [10, 10, 10]
    first = set(result.shown[0].tolist())
    assert 3 in first
    assert {link.source for link in result.links if link.layer == 0} <= first
    # The rest of the room goes to the most active units.
    rest = np.setdiff1d(np.arange(24), result.shown[0])
    assert np.abs(outputs[0][rest]).max() <= min(
        np.abs(outputs[0][u])
        for u in first - {3} - {link.source for link in result.links if link.layer == 0}
    )
    assert result.hidden_count(0) == 14
    assert result.hidden_peak(0) == pytest.approx(np.abs(outputs[0][rest]).max())
    assert all(np.all(np.diff(s) > 0) for s in result.shown)


def test_a_narrow_layer_is_shown_whole(model):
    x = _inputs(model, 1)[0]
    result = trace(model.network, x, max_shown=30)
    assert [s.tolist() for s in result.shown] == [
        list(range(24)),
        list(range(16)),
        list(range(10)),
    ]
    assert result.hidden_count(0) == 0 and result.hidden_peak(0) == 0.0


def test_most_exciting_images_are_really_the_most_exciting(model):
    data = holdout()
    found = most_exciting(
        model.network,
        data.images_at(slice(None)),
        model.normalization,
        count=16,
        batch_size=37,
    )
    activations = layer_outputs(
        model.network, model.normalization.apply(data.images_at(slice(None)))
    )
    assert len(found) == 2
    for layer, (indices, values) in enumerate(found):
        units = activations[layer].shape[1]
        assert indices.shape == values.shape == (units, 16)
        for unit in range(units):
            column = activations[layer][:, unit]
            np.testing.assert_allclose(values[unit], column[indices[unit]], rtol=1e-5)
            assert np.all(np.diff(values[unit]) <= 0)
            assert len(set(indices[unit].tolist())) == 16
            others = np.delete(column, indices[unit])
            assert values[unit].min() >= others.max() - 1e-6
            # And they are the top 16 values themselves, ties aside.
            np.testing.assert_allclose(
                values[unit], np.sort(column)[::-1][:16], rtol=1e-5, atol=1e-6
            )


def test_most_exciting_with_fewer_images_than_asked(model):
    data = holdout()
    found = most_exciting(model.network, data.images_at(slice(5)), model.normalization)
    assert found[0][0].shape == (24, 5)


def test_most_exciting_reports_progress_and_stops_when_cancelled(model):
    data = holdout()
    fractions = []
    most_exciting(
        model.network,
        data.images_at(slice(None)),
        model.normalization,
        batch_size=50,
        progress=fractions.append,
    )
    assert fractions[-1] == 1.0 and np.all(np.diff(fractions) > 0)
    cancel = threading.Event()
    cancel.set()
    assert (
        most_exciting(
            model.network,
            data.images_at(slice(None)),
            model.normalization,
            cancel=cancel,
        )
        is None
    )


def test_every_output_is_shown_even_when_the_hidden_columns_are_short(model):
    x = _inputs(model, 1)[0]
    result = trace(model.network, x, max_shown=5)
    assert [len(s) for s in result.shown] == [5, 5, 10]
