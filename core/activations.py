"""Hidden-layer activation functions and their registry, computed in place.

Owns ``Activation`` and ``ACTIVATIONS``; imports only NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
    piecewise_linear : bool
        ``f(z) = f'(z) * z`` and the derivative reads the same from ``z`` as from
        ``f(z)`` (ReLU and leaky ReLU): one comparison gives both.
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative_from_output: Callable[[np.ndarray, np.ndarray], np.ndarray]
    piecewise_linear: bool = False

    def backward(self, a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
        """Multiply ``delta`` in place by ``f'(z)``, using ``scratch`` (same shape)."""
        self.derivative_from_output(a, scratch)
        np.multiply(delta, scratch, out=delta)

    def forward_and_derivative(self, z: np.ndarray, derivative: np.ndarray) -> None:
        """Replace ``z`` by ``f(z)`` and write ``f'(z)`` into ``derivative``.

        Training keeps the derivative for the backward pass.
        """
        if self.piecewise_linear:
            # Multiplying by the 0/1 (or slope) mask is faster than np.maximum.
            self.derivative_from_output(z, derivative)
            np.multiply(z, derivative, out=z)
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


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_derivative),
    "tanh": Activation("tanh", _tanh, _tanh_derivative),
    "relu": Activation("relu", _relu, _relu_derivative, piecewise_linear=True),
    "leaky_relu": Activation(
        "leaky_relu", _leaky_relu, _leaky_relu_derivative, piecewise_linear=True
    ),
}
