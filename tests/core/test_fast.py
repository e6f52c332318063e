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
