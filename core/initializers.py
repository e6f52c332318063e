"""Weight initialisers and their registry ``INITIALIZERS``; imports only NumPy.

Each initialiser draws one layer's weights ``(fan_in, fan_out)`` and biases
``(fan_out,)`` in float64 from the generator it is given, so a network built
from one seed is reproducible whatever dtype it is stored in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def he(fan_in: int, fan_out: int, rng: np.random.Generator):
    """He normal: ``N(0, 2 / fan_in)`` weights, zero biases (suits ReLU)."""
    weights = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    return weights, np.zeros(fan_out)


def xavier(fan_in: int, fan_out: int, rng: np.random.Generator):
    """Glorot uniform: ``U(-r, r)`` with ``r = sqrt(6 / (fan_in + fan_out))``."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    return weights, np.zeros(fan_out)


def textbook(fan_in: int, fan_out: int, rng: np.random.Generator):
    """Nielsen's default: ``randn / sqrt(fan_in)`` weights, ``N(0, 1)`` biases."""
    weights = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
    return weights, rng.standard_normal(fan_out)


def normal(fan_in: int, fan_out: int, rng: np.random.Generator):
    """Nielsen's "large" initialiser: ``N(0, 1)`` weights and biases."""
    return rng.standard_normal((fan_in, fan_out)), rng.standard_normal(fan_out)


INITIALIZERS: dict[str, Initializer] = {
    "he": he,
    "xavier": xavier,
    "textbook": textbook,
    "normal": normal,
}
