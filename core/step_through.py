"""One example through the network, with the numbers, in the textbook's notation.

Owns ``step_through`` and its result types: the forward pass layer by layer, the
cost, the backward pass (the output error, every layer's delta, the gradients) and
one gradient-descent step on a copy of the network, for one input and one label.
Written in Nielsen's column-vector form (``z^l = w^l a^{l-1} + b^l``), where the
textbook's ``w^l`` is the engine's ``W^l`` transposed; computed in float64 from the
network's weights, independently of the engine's backpropagation, which the tests
hold it to. Imports NumPy, the reference's definitions of the activations and
costs, and the engine (for the copy and its SGD step); never imports Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core import reference
from core.network import MLP, NetworkError
from core.optimizers import make_optimizer

# Adam's rate scales its own normalised steps, not the gradient: as a plain SGD rate
# it would move one example's loss too little to see.
SGD_RATE_FOR_ADAM = 0.1


@dataclass(frozen=True)
class Term:
    """One term ``w_jk a_k`` of a unit's weighted input ``z_j``."""

    source: int  # k, the unit of the layer below (a pixel for the first layer)
    weight: float  # w_jk
    activation: float  # a_k


@dataclass(frozen=True)
class Unit:
    """The numbers of unit ``j`` of one layer for this example.

    ``z = sum(terms) + rest + bias``: ``terms`` are the largest ``w_jk a_k`` by size,
    ``rest`` the sum of the ``rest_count`` others. ``back`` is what the error
    brings to the unit from above: ``((w^{l+1})^T delta^{l+1})_j`` for a hidden
    unit, ``a_j - y_j`` for an output unit; ``delta = back * derivative`` (for the
    softmax with cross-entropy, ``delta = back``).
    """

    index: int
    terms: tuple[Term, ...]
    rest: float
    rest_count: int
    bias: float
    z: float
    a: float
    derivative: float
    back: float
    delta: float
    new_bias: float  # b_j - eta * dC/db_j


@dataclass(frozen=True)
class WeightUpdate:
    """One weight's gradient-descent step: ``w_jk <- w_jk - eta * a_k * delta_j``."""

    unit: int  # j
    source: int  # k
    weight: float  # w_jk
    input: float  # a_k, the activation the weight multiplies
    gradient: float  # dC/dw_jk = a_k delta_j (+ l2 w_jk)
    new_weight: float


@dataclass(frozen=True)
class LayerStep:
    """Layer ``number`` (1 = the first hidden layer, or the output layer).

    Arrays are float64. ``weight_gradient`` has the engine's layout ``(n_{l-1},
    n_l)``, the transpose of the textbook's ``dC/dw^l = delta^l (a^{l-1})^T``.
    """

    number: int
    is_output: bool
    function: str  # the activation's key, or "softmax" / "sigmoid" for the output
    z: np.ndarray
    a: np.ndarray
    derivative: np.ndarray  # f'(z); for softmax with cross-entropy, unused (ones)
    delta: np.ndarray
    weight_gradient: np.ndarray
    bias_gradient: np.ndarray
    units: tuple[Unit, ...]  # the units that matter most here, most first
    updates: tuple[WeightUpdate, ...]  # the largest weight changes, largest first


@dataclass(frozen=True)
class StepThrough:
    """Everything ``step_through`` computed for one example.

    Attributes
    ----------
    layers : tuple of LayerStep
        Layer 1 to L; the last is the output layer.
    output : str
        The model's output layer and cost (a key of ``core.losses.OUTPUTS``).
    label, predicted : int
        The class the cost is computed for (``y`` is its one-hot vector) and the
        network's answer.
    target, probabilities : ndarray
        ``y`` and ``a^L``, ``(K,)``.
    loss : float
        The cost ``C`` of this example (the data cost, without L2).
    learning_rate, l2 : float
        The step's ``eta`` and the L2 coefficient included in the gradients.
    loss_after, probabilities_after
        The cost and ``a^L`` after one SGD step of ``learning_rate`` on a copy.
    first_order_change : float
        ``-eta * ||grad C||^2``: the change of the cost a small step would make.
    """

    layers: tuple[LayerStep, ...]
    output: str
    label: int
    predicted: int
    target: np.ndarray
    probabilities: np.ndarray
    loss: float
    learning_rate: float
    l2: float
    loss_after: float
    probabilities_after: np.ndarray
    first_order_change: float

    @property
    def gradients(self) -> list[np.ndarray]:
        """``[dW1, db1, dW2, db2, ...]`` in the engine's layout and order."""
        return [
            g
            for layer in self.layers
            for g in (layer.weight_gradient, layer.bias_gradient)
        ]


def default_learning_rate(config: dict[str, Any]) -> float:
    """Return the rate to show a step with: the model's own for SGD and momentum.

    Adam's (or an unknown) optimizer's rate gives `SGD_RATE_FOR_ADAM`.
    """
    rate = config.get("learning_rate")
    if config.get("optimizer") in ("sgd", "momentum") and isinstance(rate, int | float):
        return float(rate)
    return SGD_RATE_FOR_ADAM


def step_through(
    network: MLP,
    x: np.ndarray,
    label: int | None = None,
    learning_rate: float = SGD_RATE_FOR_ADAM,
    l2: float = 0.0,
    units: int = 3,
    terms: int = 3,
    updates: int = 3,
) -> StepThrough:
    """Follow one example through ``network``, forward and back, and one SGD step.

    Parameters
    ----------
    network : MLP
        The model; never changed (the step is taken on a copy).
    x : ndarray, shape (n_in,)
        One normalised input (what the network reads).
    label : int or None
        The true class for the cost; None takes the predicted one.
    learning_rate : float
        ``eta`` of the step shown, > 0.
    l2 : float
        L2 coefficient added to the weight gradients (``l2 * w``), >= 0.
    units, terms, updates : int
        How many units per layer, terms per unit and weight updates per layer to
        single out.

    Returns
    -------
    StepThrough

    Raises
    ------
    NetworkError
        For an input of the wrong size, a label out of range, a rate that is not
        positive or a negative L2 coefficient.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (network.input_size,):
        raise NetworkError(
            f"Expected one input of {network.input_size} values, got shape {x.shape}."
        )
    if not learning_rate > 0 or not np.isfinite(learning_rate):
        raise NetworkError(f"The learning rate must be positive, got {learning_rate}.")
    if not l2 >= 0:
        raise NetworkError(f"l2 must not be negative, got {l2}.")
    f, f_prime = reference.ACTIVATIONS[network.activation]
    softmax = network.output == "softmax_cross_entropy"
    # The textbook's w^l (n_l, n_{l-1}) is the engine's W^l (n_{l-1}, n_l) transposed.
    ws = [W.astype(np.float64).T for W in network.weights]
    bs = [b.astype(np.float64) for b in network.biases]
    last = len(ws) - 1

    # Forward: z^l = w^l a^{l-1} + b^l, a^l = f(z^l); the output applies softmax or
    # the sigmoid.
    activations, zs = [x], []
    for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
        z = w @ activations[-1] + b
        if layer < last:
            a = f(z)
        else:
            a = reference.output_activation(network.output, z[None, :])[0]
        zs.append(z)
        activations.append(a)
    probabilities = activations[-1]
    predicted = int(np.argmax(probabilities))
    label = predicted if label is None else int(label)
    if not 0 <= label < network.num_classes:
        raise NetworkError(
            f"The label must be a class index below {network.num_classes}, got {label}."
        )
    y = reference.one_hot(np.array([label]), network.num_classes)[0]
    loss = reference.cost(network.output, probabilities[None, :], y[None, :])

    # Backward. (1) delta^L = a^L - y (softmax, cross-entropy) or
    # (a^L - y) * sigmoid'(z^L) (quadratic cost).
    derivatives = [f_prime(z) for z in zs[:-1]]
    sigmoid = reference.sigmoid(zs[-1])
    derivatives.append(np.ones_like(sigmoid) if softmax else sigmoid * (1 - sigmoid))
    backs = [np.empty(0)] * len(ws)
    deltas = [np.empty(0)] * len(ws)
    backs[last] = probabilities - y
    deltas[last] = backs[last] * derivatives[last]
    # (2) delta^l = ((w^{l+1})^T delta^{l+1}) * f'(z^l), from the top down.
    for layer in range(last - 1, -1, -1):
        backs[layer] = ws[layer + 1].T @ deltas[layer + 1]
        deltas[layer] = backs[layer] * derivatives[layer]
    # (3) dC/dw^l = delta^l (a^{l-1})^T (+ l2 w^l), stored in the engine's layout;
    # (4) dC/db^l = delta^l.
    weight_gradients = [
        np.outer(activations[layer], deltas[layer]) + l2 * ws[layer].T
        for layer in range(len(ws))
    ]

    chosen = _units_that_matter(
        ws, zs, activations, derivatives, predicted, label, units
    )
    layers = []
    for layer in range(len(ws)):
        picked = tuple(
            _unit(
                j,
                ws[layer],
                bs[layer],
                activations[layer],
                zs[layer],
                activations[layer + 1],
                derivatives[layer],
                backs[layer],
                deltas[layer],
                learning_rate,
                terms,
            )
            for j in chosen[layer]
        )
        layers.append(
            LayerStep(
                number=layer + 1,
                is_output=layer == last,
                function=_function_name(network, layer == last),
                z=zs[layer],
                a=activations[layer + 1],
                derivative=derivatives[layer],
                delta=deltas[layer],
                weight_gradient=weight_gradients[layer],
                bias_gradient=deltas[layer].copy(),
                units=picked,
                updates=_largest_updates(
                    ws[layer],
                    activations[layer],
                    weight_gradients[layer],
                    learning_rate,
                    updates,
                ),
            )
        )
    gradients = [
        g for layer in layers for g in (layer.weight_gradient, layer.bias_gradient)
    ]
    squared = float(sum(np.sum(g * g) for g in gradients))
    loss_after, probabilities_after = _after_one_step(
        network, x, label, gradients, learning_rate
    )
    return StepThrough(
        layers=tuple(layers),
        output=network.output,
        label=label,
        predicted=predicted,
        target=y,
        probabilities=probabilities,
        loss=loss,
        learning_rate=float(learning_rate),
        l2=float(l2),
        loss_after=loss_after,
        probabilities_after=probabilities_after,
        first_order_change=-float(learning_rate) * squared,
    )


def _function_name(network: MLP, output: bool) -> str:
    if not output:
        return network.activation
    return "softmax" if network.output == "softmax_cross_entropy" else "sigmoid"


def _units_that_matter(ws, zs, activations, derivatives, predicted, label, count):
    """Return, per layer, the units to single out, most important first.

    Output layer: the predicted class, the true one and the runner-up. Hidden
    layers: the largest contributions ``a_j * dz_c/da_j`` to the predicted class's
    weighted input ``z_c`` (for the last hidden layer exactly its terms
    ``w_cj a_j``).
    """
    last = len(ws) - 1
    probabilities = activations[-1]
    order = [int(k) for k in np.argsort(-probabilities, kind="stable")]
    output = list(dict.fromkeys([predicted, label, *order]))[: max(count, 2)]
    chosen = [()] * len(ws)
    chosen[last] = tuple(output)
    # h^l = dz_c/dz^l: e_c at the output, then ((w^{l+1})^T h^{l+1}) * f'(z^l).
    h = np.zeros_like(zs[last])
    h[predicted] = 1.0
    for layer in range(last - 1, -1, -1):
        sensitivity = ws[layer + 1].T @ h  # dz_c / da^l
        contribution = np.abs(activations[layer + 1] * sensitivity)
        top = np.argsort(-contribution, kind="stable")[:count]
        chosen[layer] = tuple(int(j) for j in top)
        h = sensitivity * derivatives[layer]
    return chosen


def _unit(j, w, b, a_prev, z, a, derivative, back, delta, rate, count) -> Unit:
    products = w[j] * a_prev
    top = np.argsort(-np.abs(products), kind="stable")[:count]
    rest = float(products.sum() - products[top].sum())
    return Unit(
        index=int(j),
        terms=tuple(Term(int(k), float(w[j, k]), float(a_prev[k])) for k in top),
        rest=rest,
        rest_count=int(products.size - top.size),
        bias=float(b[j]),
        z=float(z[j]),
        a=float(a[j]),
        derivative=float(derivative[j]),
        back=float(back[j]),
        delta=float(delta[j]),
        new_bias=float(b[j] - rate * delta[j]),
    )


def _largest_updates(w, a_prev, gradient, rate, count) -> tuple[WeightUpdate, ...]:
    # gradient is (n_{l-1}, n_l): entry (k, j) belongs to the textbook's w_jk. The
    # largest of each unit j, then the units whose largest is largest: one weight
    # per unit, so that ties within a unit (a_k saturated at 1) do not fill the list.
    sizes = np.abs(gradient)
    sources = np.argmax(sizes, axis=0)
    units = np.argsort(-sizes[sources, np.arange(sizes.shape[1])], kind="stable")
    updates = []
    for j in units[:count]:
        k = sources[j]
        g = float(gradient[k, j])
        weight = float(w[j, k])
        updates.append(
            WeightUpdate(int(j), int(k), weight, float(a_prev[k]), g, weight - rate * g)
        )
    return tuple(updates)


def _after_one_step(network, x, label, gradients, rate):
    """Return the cost and outputs after one SGD step, taken on a copy."""
    copy = network.copy()
    params = copy.parameters()
    grads = [g.astype(copy.dtype) for g in gradients]
    make_optimizer("sgd").step(params, grads, rate)
    loss, probabilities = copy.loss_and_probabilities(
        x[None, :].astype(copy.dtype), np.array([label])
    )
    return float(loss), probabilities[0].astype(np.float64)
