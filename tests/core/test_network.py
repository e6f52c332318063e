import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.initializers import INITIALIZERS
from core.losses import OUTPUTS
from core.network import MLP, NetworkError

SIZES = (6, 5, 4, 3)


def _data(seed=0, batch=7, sizes=SIZES):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=batch)
    return X, labels


def _objective(net, X, labels, l2, dropout=0.0, seed=None):
    rng = None if seed is None else np.random.default_rng(seed)
    loss = net.loss_and_gradients(X, labels, dropout, l2, rng).loss
    return loss + 0.5 * l2 * sum(float(np.sum(w * w)) for w in net.weights)


def _central_difference_error(net, analytic, objective) -> float:
    """Relative error of ``analytic`` gradients against ``objective()``'s."""
    numeric, h = [], 1e-6
    for param in net.parameters():
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            plus = objective()
            param[index] = saved - h
            minus = objective()
            param[index] = saved
            numeric.append((plus - minus) / (2 * h))
    a = np.concatenate([g.ravel() for g in analytic])
    n = np.array(numeric)
    return np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))


def _relative_error(net, X, labels, l2=0.0, dropout=0.0, seed=None):
    rng = None if seed is None else np.random.default_rng(seed)
    analytic = [
        g.copy() for g in net.loss_and_gradients(X, labels, dropout, l2, rng).gradients
    ]
    return _central_difference_error(
        net, analytic, lambda: _objective(net, X, labels, l2, dropout, seed)
    )


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_backpropagation_matches_central_differences(activation, output):
    net = MLP(SIZES, activation, output, init="xavier", seed=3, dtype=np.float64)
    X, labels = _data()
    assert _relative_error(net, X, labels) < 1e-6
    assert _relative_error(net, X, labels, l2=0.1) < 1e-6


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_backpropagation_with_a_fixed_dropout_mask(activation):
    net = MLP(SIZES, activation, init="xavier", seed=4, dtype=np.float64)
    X, labels = _data(1)
    assert _relative_error(net, X, labels, dropout=0.3, seed=11) < 1e-6


def test_dropout_zeroes_units_and_rescales_the_rest():
    net = MLP((4, 200, 3), "relu", seed=0, dtype=np.float64)
    X = np.ones((50, 4))
    rng = np.random.default_rng(0)
    net.loss_and_gradients(X, np.zeros(50, int), dropout=0.25, rng=rng)
    workspace = net._workspace(50)
    mask = workspace.masks[0]
    assert set(np.unique(mask)) == {0.0, 1.0 / 0.75}
    assert np.mean(mask == 0) == pytest.approx(0.25, abs=0.02)
    with pytest.raises(NetworkError, match="rng"):
        net.loss_and_gradients(X, np.zeros(50, int), dropout=0.5)


def test_input_gradient_matches_central_differences():
    net = MLP(SIZES, "tanh", seed=5, dtype=np.float64)
    x = np.random.default_rng(6).normal(size=SIZES[0])
    for output in OUTPUTS:
        net.output, net._output = output, OUTPUTS[output]
        gradient = net.input_gradient(x, 2)
        assert gradient.shape == x.shape
        numeric = np.empty_like(x)
        h = 1e-6
        for i in range(x.size):
            plus, minus = x.copy(), x.copy()
            plus[i] += h
            minus[i] -= h
            numeric[i] = (
                np.log(net.predict_proba(plus)[2]) - np.log(net.predict_proba(minus)[2])
            ) / (2 * h)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-9)
    batch = net.input_gradient(np.stack([x, x]), np.array([2, 0]))
    np.testing.assert_allclose(batch[0], net.input_gradient(x, 2))
    with pytest.raises(NetworkError, match="class_index"):
        net.input_gradient(x, 3)


def test_weights_are_float32_fan_in_by_fan_out_and_parameters_are_live_views():
    net = MLP((784, 32, 16, 10))
    assert [w.shape for w in net.weights] == [(784, 32), (32, 16), (16, 10)]
    assert [b.shape for b in net.biases] == [(32,), (16,), (10,)]
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.parameter_count == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    params = net.parameters()
    assert params[0] is net.weights[0] and params[5] is net.biases[2]
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    before = net.predict_proba(x)
    params[-1] += np.arange(10, dtype=np.float32)
    assert not np.allclose(before, net.predict_proba(x))
    assert "784-32-16-10" in repr(net)


def test_predict_proba_accepts_one_sample_or_any_batch_shape():
    net = MLP((12, 8, 4), seed=1)
    x = np.random.default_rng(2).random((2, 3, 12), dtype=np.float32)
    batch = net.predict_proba(x)
    assert batch.shape == (2, 3, 4)
    np.testing.assert_allclose(batch.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(net.predict_proba(x[1, 2]), batch[1, 2], rtol=1e-6)
    assert net.predict(x[0]).tolist() == batch[0].argmax(axis=1).tolist()
    with pytest.raises(NetworkError, match="12 values"):
        net.predict_proba(np.zeros(11))


def test_loss_and_gradients_reuses_its_buffers():
    net = MLP((10, 6, 3), seed=0)
    X, labels = _data(batch=4, sizes=(10, 6, 3))
    first = net.loss_and_gradients(X.astype(np.float32), labels)
    second = net.loss_and_gradients(X.astype(np.float32), labels)
    assert all(a is b for a, b in zip(first.gradients, second.gradients, strict=True))
    assert first.probabilities is second.probabilities


def test_copy_is_independent():
    net = MLP((5, 4, 3), seed=0)
    clone = net.copy()
    clone.weights[0][...] = 0
    assert not np.all(net.weights[0] == 0)
    assert repr(clone) == repr(net)


@pytest.mark.parametrize("init", sorted(INITIALIZERS))
def test_initialisers_are_seeded(init):
    a, b, c = (MLP((50, 40, 10), init=init, seed=s) for s in (1, 1, 2))
    assert all(
        np.array_equal(x, y)
        for x, y in zip(a.parameters(), b.parameters(), strict=True)
    )
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("he", np.sqrt(2 / 400)),
        ("textbook", np.sqrt(1 / 400)),
        ("normal", 1.0),
        ("xavier", np.sqrt(2 / 500)),
    ],
)
def test_initialiser_scales(init, std):
    net = MLP((400, 100, 10), init=init, seed=0)
    assert np.std(net.weights[0]) == pytest.approx(std, rel=0.03)


@pytest.mark.parametrize(
    ("init", "std"), [("he", 0.0), ("xavier", 0.0), ("textbook", 1.0), ("normal", 1.0)]
)
def test_initialiser_biases(init, std):
    net = MLP((10, 400, 300), init=init, seed=0)
    for biases in net.biases:
        assert np.std(biases) == pytest.approx(std, rel=0.1, abs=1e-12)
        assert abs(np.mean(biases)) < 0.2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_sizes": (5,)}, "at least an input and an output"),
        ({"layer_sizes": (5, 0, 2)}, "at least one unit"),
        ({"layer_sizes": (5, 2.5, 2)}, "integers"),
        ({"layer_sizes": (5, 2), "activation": "swish"}, "Unknown activation 'swish'"),
        ({"layer_sizes": (5, 2), "output": "hinge"}, "Unknown output"),
        ({"layer_sizes": (5, 2), "init": "zeros"}, "Unknown initialiser"),
        ({"layer_sizes": (5, 2), "dtype": np.int32}, "float32 or float64"),
    ],
)
def test_invalid_networks_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(NetworkError, match=message):
        MLP(**kwargs)


def test_mismatched_inputs_are_rejected():
    net = MLP((5, 3, 2))
    with pytest.raises(NetworkError, match=r"\(batch, 5\)"):
        net.loss_and_gradients(np.zeros((4, 6), np.float32), np.zeros(4, int))
    with pytest.raises(NetworkError, match="labels"):
        net.loss_and_gradients(np.zeros((4, 5), np.float32), np.zeros(3, int))


@pytest.mark.parametrize("weighted", [False, True])
def test_soft_targets_match_central_differences_and_one_hot_labels(weighted):
    """Learning another network's probabilities (`core.distillation`)."""
    net = MLP(SIZES, "tanh", init="xavier", seed=5, dtype=np.float64)
    X, labels = _data(2)
    rng = np.random.default_rng(6)
    targets = rng.dirichlet(np.ones(SIZES[-1]), size=len(labels))
    weights = rng.uniform(0.0, 1.0, len(labels)) if weighted else None
    shares = np.full(len(labels), 1.0 / len(labels)) if weights is None else weights

    def soft_loss() -> float:
        probabilities = net.forward(X)
        return float(-np.sum(targets * np.log(probabilities), axis=1) @ shares)

    result = net.loss_and_gradients(X, labels, targets=targets, weights=weights)
    assert result.loss == pytest.approx(soft_loss())
    analytic = [g.copy() for g in result.gradients]
    assert _central_difference_error(net, analytic, soft_loss) < 1e-6

    one_hot = np.eye(SIZES[-1])[labels]
    plain = [g.copy() for g in net.loss_and_gradients(X, labels).gradients]
    as_targets = net.loss_and_gradients(X, (labels + 1) % SIZES[-1], targets=one_hot)
    for mine, theirs in zip(as_targets.gradients, plain, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


def test_soft_targets_need_a_softmax_and_their_shape():
    X, labels = _data()
    targets = np.full((len(labels), SIZES[-1]), 1.0 / SIZES[-1])
    quadratic = MLP(SIZES, output="sigmoid_quadratic", seed=1)
    with pytest.raises(NetworkError, match="softmax"):
        quadratic.loss_and_gradients(X, labels, targets=targets)
    with pytest.raises(NetworkError, match="shape"):
        MLP(SIZES, seed=1).loss_and_gradients(X, labels, targets=targets[:, :2])
    weights = np.full(len(labels), 0.5)
    with pytest.raises(NetworkError, match="weights need targets"):
        MLP(SIZES, seed=1).loss_and_gradients(X, labels, weights=weights)
    with pytest.raises(NetworkError, match="weights need targets"):
        MLP(SIZES, seed=1).loss_and_gradients(
            X, labels, targets=targets, weights=weights[1:]
        )


def test_hidden_slopes_are_the_latest_training_steps():
    net = MLP(SIZES, "tanh", seed=2)
    with pytest.raises(NetworkError, match="No training step"):
        net.hidden_slopes()
    for batch in (7, 3):
        X, labels = _data(batch=batch)
        net.loss_and_gradients(X, labels)
        assert [s.shape for s in net.hidden_slopes()] == [(batch, 5), (batch, 4)]
