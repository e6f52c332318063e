"""Hidden-layer activation functions and their registry, computed in place.

Owns ``ACTIVATIONS``; imports NumPy and ``core.kernels`` (ReLU's compiled pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import kernels

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An element-wise activation whose derivative is written from its output.

    Attributes
    ----------
    name : str
        Registry key, shown in the UI and stored in model files.
    forward : callable
        ``forward(z, out) -> out``: writes ``f(z)`` into ``out`` (may be ``z``).
    derivative_from_output : callable
        ``derivative_from_output(a, out) -> out``: writes ``f'(z)`` given
        ``a = f(z)``, so the pre-activation need not be kept.
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative_from_output: Callable[[np.ndarray, np.ndarray], np.ndarray]

    fused: Callable[[np.ndarray, np.ndarray], None] | None = None
    # One compiled pass for bias, activation and derivative; returns False when it
    # cannot run (no numba, other dtype), and the NumPy passes run instead.
    compiled_with_bias: Callable[[np.ndarray, np.ndarray, np.ndarray], bool] | None = (
        None
    )

    def backward(self, a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
        """Multiply ``delta`` in place by ``f'(z)``, using ``scratch`` (same shape)."""
        self.derivative_from_output(a, scratch)
        np.multiply(delta, scratch, out=delta)

    def forward_and_derivative(
        self, z: np.ndarray, derivative: np.ndarray, bias: np.ndarray | None = None
    ) -> None:
        """Replace ``z`` by ``f(z + bias)`` and write ``f'`` there into ``derivative``.

        Training keeps the derivative for the backward pass; for ReLU both come
        from one comparison. ``bias`` (one value per column) is added first.
        """
        if bias is not None:
            compiled = self.compiled_with_bias
            if compiled is not None and compiled(z, bias, derivative):
                return
            z += bias
        if self.fused is not None:
            self.fused(z, derivative)
        else:
            self.forward(z, z)
            self.derivative_from_output(z, derivative)


def _sigmoid(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    # exp(-z) overflows to inf for very negative z, which correctly gives 0.
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _sigmoid_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.subtract(1.0, a, out=out)
    out *= a
    return out


def _tanh(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=out)


def _tanh_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(a, a, out=out)
    np.subtract(1.0, out, out=out)
    return out


def _relu(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0, out=out)


def _relu_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.greater(a, 0.0, out=out)


def _leaky_relu(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out is not z:
        np.copyto(out, z)
    np.multiply(out, LEAKY_SLOPE, out=out, where=out < 0.0)
    return out


def _leaky_relu_derivative(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.greater(a, 0.0, out=out)
    out *= 1.0 - LEAKY_SLOPE
    out += LEAKY_SLOPE
    return out


def _relu_fused(z: np.ndarray, derivative: np.ndarray) -> None:
    # Multiplying by the 0/1 mask is faster than np.maximum in NumPy.
    np.greater(z, 0.0, out=derivative)
    np.multiply(z, derivative, out=z)


def _leaky_relu_fused(z: np.ndarray, derivative: np.ndarray) -> None:
    _leaky_relu_derivative(z, derivative)
    np.multiply(z, derivative, out=z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_derivative),
    "tanh": Activation("tanh", _tanh, _tanh_derivative),
    "relu": Activation("relu", _relu, _relu_derivative, _relu_fused, kernels.bias_relu),
    "leaky_relu": Activation(
        "leaky_relu", _leaky_relu, _leaky_relu_derivative, _leaky_relu_fused
    ),
}
