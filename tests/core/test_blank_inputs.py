import numpy as np
import pytest

from core.fast import MAX_LIVE_SHARE, BlankInputs
from core.network import MLP

SIZES = (40, 16, 12, 5)


def _sparse_batch(batch=9, width=40, blank_share=0.5, seed=0, dtype=np.float32):
    """Inputs with a share of columns 0 in every row, and zeros scattered elsewhere."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, width)).astype(dtype)
    X[rng.random((batch, width)) < 0.3] = 0
    blank = rng.permutation(width)[: int(blank_share * width)]
    X[:, blank] = 0
    labels = rng.integers(0, SIZES[-1], batch)
    return X, labels, np.sort(blank)


def _gradients(net, X, labels, skip=True, **settings):
    if not skip:  # a limit below any count turns skipping off
        net._workspace(X.shape[0]).blank_inputs.limit = -1
    result = net.loss_and_gradients(X, labels, **settings)
    return (
        result.loss,
        [g.copy() for g in result.gradients],
        result.probabilities.copy(),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_skipping_blank_inputs_gives_the_full_products_results(dtype):
    X, labels, blank = _sparse_batch(dtype=dtype)
    net = MLP(SIZES, init="xavier", seed=1, dtype=dtype)
    skipped = _gradients(net, X, labels, l2=0.01)
    blank_inputs = net._workspace(X.shape[0]).blank_inputs
    assert blank_inputs.inputs is not None  # the compact products really ran
    assert np.array_equal(blank_inputs.live, np.setdiff1d(np.arange(40), blank))
    full = _gradients(
        MLP(SIZES, init="xavier", seed=1, dtype=dtype), X, labels, False, l2=0.01
    )
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    assert skipped[0] == pytest.approx(full[0], rel=tolerance)
    np.testing.assert_allclose(skipped[2], full[2], rtol=tolerance, atol=tolerance)
    for a, b in zip(skipped[1], full[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=tolerance)
    # A blank input's weights get only the weight decay, exactly.
    net_w0 = MLP(SIZES, init="xavier", seed=1, dtype=dtype).weights[0]
    assert np.array_equal(skipped[1][0][blank], (net_w0 * dtype(0.01))[blank])


def test_backpropagation_with_blank_inputs_matches_central_differences():
    X, labels, _ = _sparse_batch(batch=6, seed=2, dtype=np.float64)
    net = MLP(SIZES, "tanh", init="xavier", seed=3, dtype=np.float64)
    analytic = _gradients(net, X, labels)[1]
    assert net._workspace(6).blank_inputs.inputs is not None
    h = 1e-6
    for param, grad in zip(net.parameters(), analytic, strict=True):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            plus = net.loss_and_gradients(X, labels).loss
            param[index] = saved - h
            minus = net.loss_and_gradients(X, labels).loss
            param[index] = saved
            numeric[index] = (plus - minus) / (2 * h)
        error = np.linalg.norm(grad - numeric) / (
            np.linalg.norm(grad) + np.linalg.norm(numeric)
        )
        assert error < 1e-6


def test_batches_with_few_blank_inputs_use_the_full_products():
    few = int((1 - MAX_LIVE_SHARE) * 40) - 1
    X, _, _ = _sparse_batch(blank_share=few / 40)
    blank_inputs = BlankInputs(9, 40, 16, np.float32)
    assert not blank_inputs.select(X)
    assert blank_inputs.inputs is None
    X[:, :20] = 0
    assert blank_inputs.select(X)
    assert blank_inputs.inputs.shape == (9, np.count_nonzero(X.any(axis=0)))


def test_a_batch_of_blank_images_gives_only_the_biases():
    X = np.zeros((4, 40), np.float32)
    labels = np.arange(4)
    net = MLP(SIZES, seed=5)
    loss, grads, probs = _gradients(net, X, labels)
    assert net._workspace(4).blank_inputs.live.size == 0
    assert np.all(grads[0] == 0)
    full = _gradients(MLP(SIZES, seed=5), X, labels, skip=False)
    assert loss == full[0]
    for a, b in zip(grads, full[1], strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(probs, full[2])


def test_nan_inputs_count_as_live_and_minus_zero_as_blank():
    X = np.zeros((3, 40), np.float32)
    X[1, 7] = np.nan
    X[2, 9] = -0.0
    X[0, 30] = 0.5
    blank_inputs = BlankInputs(3, 40, 16, np.float32)
    assert blank_inputs.select(X)
    assert blank_inputs.live.tolist() == [7, 30]
    np.testing.assert_array_equal(blank_inputs.inputs, X[:, [7, 30]])
