import numpy as np
import pytest

from core.activations import ACTIVATIONS, LEAKY_SLOPE

REFERENCE = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_matches_reference_in_place_and_out_of_place(name):
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 3.0, size=(7, 5))
    expected = REFERENCE[name](z)
    out = np.empty_like(z)
    assert ACTIVATIONS[name].forward(z, out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    in_place = z.copy()
    ACTIVATIONS[name].forward(in_place, in_place)
    np.testing.assert_allclose(in_place, expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_from_output_matches_finite_differences(name):
    rng = np.random.default_rng(1)
    z = rng.normal(0.0, 2.0, size=(6, 4))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the ReLU kink
    activation = ACTIVATIONS[name]
    a = activation.forward(z, np.empty_like(z))
    derivative = activation.derivative_from_output(a, np.empty_like(z))
    h = 1e-6
    numeric = (REFERENCE[name](z + h) - REFERENCE[name](z - h)) / (2 * h)
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_multiplies_delta_by_derivative(name):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 4)).astype(np.float32)
    activation = ACTIVATIONS[name]
    a = activation.forward(z, np.empty_like(z))
    delta = rng.normal(size=(3, 4)).astype(np.float32)
    expected = delta * activation.derivative_from_output(a, np.empty_like(a))
    activation.backward(a, delta, np.empty_like(delta))
    np.testing.assert_allclose(delta, expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_extreme_inputs_stay_finite_without_warnings(name):
    z = np.array([[-1e30, -1e4, -90.0, 0.0, 90.0, 1e4, 1e30]], dtype=np.float32)
    a = ACTIVATIONS[name].forward(z, np.empty_like(z))
    assert np.isfinite(a).all() or name in ("relu", "leaky_relu")
    derivative = ACTIVATIONS[name].derivative_from_output(a, np.empty_like(a))
    assert np.isfinite(derivative).all()
    if name == "sigmoid":
        assert a[0, 0] == 0.0 and a[0, -1] == 1.0


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_and_derivative_agree_with_the_separate_calls(name):
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, size=(5, 6)).astype(np.float32)
    activation = ACTIVATIONS[name]
    a = activation.forward(z, np.empty_like(z))
    derivative = activation.derivative_from_output(a, np.empty_like(z))
    fused_z, fused_derivative = z.copy(), np.empty_like(z)
    activation.forward_and_derivative(fused_z, fused_derivative)
    np.testing.assert_array_equal(fused_z, a)
    np.testing.assert_array_equal(fused_derivative, derivative)
