import numpy as np
import pytest

from core import fast
from core.losses import OUTPUTS


@pytest.mark.parametrize("name", sorted(OUTPUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_training_step_gives_forward_loss_and_delta_of_the_biased_logits(
    name, dtype
):
    # float32 softmax runs the compiled kernels when numba is installed; the
    # bits must be those of the separate NumPy steps evaluation uses.
    rng = np.random.default_rng(5)
    z = (rng.normal(size=(16, 10)) * 4).astype(dtype)
    bias = rng.normal(size=10).astype(dtype)
    labels = rng.integers(0, 10, size=16).astype(np.intp)
    output = OUTPUTS[name]
    trained, delta = z.copy(), np.empty_like(z)
    loss = fast.add_bias_and_output(trained, bias, output, labels, delta)
    probs = np.empty_like(z)
    expected_loss = output.forward_loss(z + bias, labels, probs)
    assert trained.tobytes() == probs.tobytes()
    assert delta.tobytes() == output.delta(probs, labels, np.empty_like(z)).tobytes()
    assert loss == expected_loss


@pytest.mark.parametrize("live_share", [0.0, 0.2, 0.5, 1.0])
def test_one_row_product_reads_only_rows_facing_nonzero_inputs(live_share):
    # A drawing's row is mostly 0: the rows of W facing zeros are skipped, and
    # leaving out their exact +0 terms changes no bit of the product.
    rng = np.random.default_rng(3)
    row = np.zeros((1, 784), np.float32)
    live = rng.choice(784, int(live_share * 784), replace=False)
    row[0, live] = rng.random(live.size, dtype=np.float32)
    W = rng.normal(size=(784, 96)).astype(np.float32)
    expected = fast.product_here(row, W)
    out = np.empty((1, 96), np.float32)
    assert fast.row_product(row, W, out=out) is out
    assert out.tobytes() == expected.tobytes()
    if live_share <= fast.MAX_LIVE_SHARE:
        W[row[0] == 0] = np.nan
        assert np.array_equal(fast.row_product(row, W), expected)
