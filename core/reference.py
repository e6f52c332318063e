"""A plain float64 reference of the engine, the oracle the tests hold it to.

Forward pass, the four equations of backpropagation, inverted dropout with given
masks, L2, one step of each optimizer and each learning-rate schedule, written as a
textbook writes them: new arrays for every result, no buffers, no kernels, no
tricks. Slow on purpose and never used for training. Imports only NumPy and the
leaky ReLU slope; nothing else from the engine, so that it shares none of its bugs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.activations import LEAKY_SLOPE

Array = np.ndarray


def sigmoid(z: Array) -> Array:
    """Return the logistic function ``1 / (1 + exp(-z))``."""
    with np.errstate(over="ignore"):  # exp(-z) = inf gives the right 0
        return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z: Array) -> Array:
    return sigmoid(z) * (1.0 - sigmoid(z))


def _tanh_prime(z: Array) -> Array:
    return 1.0 - np.tanh(z) ** 2


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_prime(z: Array) -> Array:
    return (z > 0).astype(float)


def _leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_prime(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


# Each hidden activation as (f, f'), both functions of the pre-activation z.
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "sigmoid": (sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (_relu, _relu_prime),
    "leaky_relu": (_leaky_relu, _leaky_relu_prime),
}


def softmax(z: Array) -> Array:
    """Return each row's softmax (shifted by its maximum, which changes nothing)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(labels: Array, classes: int) -> Array:
    """Return the ``(B, classes)`` matrix with a 1 at each row's label."""
    y = np.zeros((len(labels), classes))
    y[np.arange(len(labels)), labels] = 1.0
    return y


def output_activation(output: str, z: Array) -> Array:
    """Return the output layer's activations: softmax or sigmoid of ``z``."""
    return softmax(z) if output == "softmax_cross_entropy" else sigmoid(z)


def cost(output: str, a: Array, y: Array) -> float:
    """Return the mean cost over the batch of outputs ``a`` for one-hot targets ``y``.

    Cross-entropy ``-log a[label]``, or the quadratic cost ``0.5 * ||a - y||^2``.
    """
    if output == "softmax_cross_entropy":
        return float(np.mean(-np.log(np.sum(a * y, axis=1))))
    return float(np.mean(0.5 * np.sum((a - y) ** 2, axis=1)))


def output_error(output: str, z: Array, y: Array) -> Array:
    """Equation (1): ``delta_L = dC/dz_L`` of the mean cost, ``(B, K)``.

    Softmax with cross-entropy gives ``(a - y) / B``; sigmoid with the quadratic
    cost ``(a - y) * sigmoid'(z) / B``.
    """
    a = output_activation(output, z)
    if output == "softmax_cross_entropy":
        return (a - y) / len(y)
    return (a - y) * _sigmoid_prime(z) / len(y)


def forward(
    weights: Sequence[Array],
    biases: Sequence[Array],
    X: Array,
    activation: str,
    output: str,
    masks: Sequence[Array] | None = None,
    dropout: float = 0.0,
) -> tuple[list[Array], list[Array]]:
    """Run a batch through the network.

    Parameters
    ----------
    weights, biases : sequence of ndarray
        ``(n_{l-1}, n_l)`` and ``(n_l,)`` per layer.
    X : ndarray, shape (B, n_0)
        Inputs, one sample per row.
    activation, output : str
        Hidden activation and output layer names, as the engine's registries.
    masks : sequence of ndarray, optional
        Inverted dropout: one 0/1 keep mask ``(B, n_l)`` per hidden layer; a kept
        unit's activation is divided by ``1 - dropout``.
    dropout : float
        The drop probability the masks were drawn with.

    Returns
    -------
    zs : list of ndarray
        The pre-activations ``z_l = a_{l-1} @ W_l + b_l`` of every layer.
    activations : list of ndarray
        ``[X, a_1, ..., a_L]``: the inputs and every layer's output (after
        dropout), ``a_L`` the output layer's.
    """
    f = ACTIVATIONS[activation][0]
    zs, activations = [], [np.asarray(X, dtype=float)]
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = activations[-1] @ W + b
        if layer == len(weights) - 1:
            a = output_activation(output, z)
        else:
            a = f(z)
            if masks is not None:
                a = a * masks[layer] / (1.0 - dropout)
        zs.append(z)
        activations.append(a)
    return zs, activations


def loss_and_gradients(
    weights: Sequence[Array],
    biases: Sequence[Array],
    X: Array,
    labels: Array,
    activation: str,
    output: str,
    l2: float = 0.0,
    masks: Sequence[Array] | None = None,
    dropout: float = 0.0,
) -> tuple[float, list[Array], list[Array], Array]:
    """Backpropagation: the mean cost and its gradients for one batch.

    Parameters are those of ``forward``, plus ``labels`` ``(B,)`` (class
    indices) and ``l2``, whose penalty ``0.5 * l2 * sum(W ** 2)`` adds ``l2 * W``
    to each weight gradient (the returned cost leaves it out, as the engine's).

    Returns
    -------
    cost : float
        The mean data cost.
    dW, db : list of ndarray
        The gradients of every layer's weights and biases.
    outputs : ndarray, shape (B, K)
        The output activations.
    """
    zs, activations = forward(weights, biases, X, activation, output, masks, dropout)
    f_prime = ACTIVATIONS[activation][1]
    y = one_hot(labels, len(biases[-1]))
    L = len(weights)
    deltas: list[Array] = [np.empty(0)] * L
    # (1) The output error.
    deltas[L - 1] = output_error(output, zs[L - 1], y)
    # (2) Each layer's error from the one above: delta_l = (delta_{l+1} W^T) f'(z_l),
    # times the dropout mask (a dropped unit passes nothing back).
    for layer in range(L - 2, -1, -1):
        back = deltas[layer + 1] @ weights[layer + 1].T
        if masks is not None:
            back = back * masks[layer] / (1.0 - dropout)
        deltas[layer] = back * f_prime(zs[layer])
    # (3) dC/dW_l = a_{l-1}^T delta_l, plus the L2 penalty's l2 * W_l.
    dW = [activations[i].T @ deltas[i] + l2 * weights[i] for i in range(L)]
    # (4) dC/db_l = delta_l summed over the batch.
    db = [deltas[i].sum(axis=0) for i in range(L)]
    return cost(output, activations[-1], y), dW, db, activations[-1]


def sgd_step(w: Array, g: Array, learning_rate: float) -> Array:
    """Return ``w - learning_rate * g``."""
    return w - learning_rate * g


def momentum_step(
    w: Array,
    velocity: Array,
    g: Array,
    learning_rate: float,
    momentum: float,
    nesterov: bool = False,
) -> tuple[Array, Array]:
    """One step of SGD with momentum; return the new weights and velocity.

    ``v = momentum * v - learning_rate * g``, then ``w + v``; Nesterov's form
    (Sutskever et al., 2013) steps to ``w + momentum * v - learning_rate * g``.
    """
    velocity = momentum * velocity - learning_rate * g
    if nesterov:
        return w + momentum * velocity - learning_rate * g, velocity
    return w + velocity, velocity


def adam_step(
    w: Array,
    m: Array,
    v: Array,
    g: Array,
    learning_rate: float,
    t: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Array, Array, Array]:
    """Step ``t`` (from 1) of Adam (Kingma and Ba, 2015); return ``w, m, v``."""
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g**2
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + eps), m, v


def learning_rate(config: Any, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Return the learning rate of minibatch ``step`` of ``epoch`` (both from 0).

    ``config`` has a ``TrainingConfig``'s schedule fields. Constant: the rate.
    Step decay: the rate times ``step_gamma`` once per ``step_epochs`` completed
    epochs. Cosine: from the rate down to ``min_learning_rate`` along half a
    cosine over all the epochs' minibatches.
    """
    rate = config.learning_rate
    if config.schedule == "constant":
        return rate
    if config.schedule == "step":
        return rate * config.step_gamma ** math.floor(epoch / config.step_epochs)
    progress = min(1.0, (epoch + step / steps_per_epoch) / config.epochs)
    low = config.min_learning_rate
    return low + (rate - low) * (1.0 + math.cos(math.pi * progress)) / 2.0
