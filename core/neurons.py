"""What the neurons of a network do, for one input and over a dataset.

Every layer's outputs, the live trace of one input (which neurons to show, which
contributions to draw), and the dataset images that excite each hidden neuron most.

Pure NumPy on `core.network.MLP` and the activation and output registries; no Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from core import fast
from core.activations import ACTIVATIONS
from core.datasets import Normalization
from core.losses import OUTPUTS
from core.network import MLP

__all__ = [
    "Link",
    "Trace",
    "layer_outputs",
    "most_exciting",
    "trace",
]

# Contributions drawn into the winning output, and into each of those sources.
OUTPUT_FAN_IN = 6
HIDDEN_FAN_IN = 3
# Outputs are the answer: up to this many are always all shown.
ALL_OUTPUTS_SHOWN = 20


def layer_outputs(network: MLP, inputs: np.ndarray) -> list[np.ndarray]:
    """Return the output of every layer after the input for a batch of inputs.

    Parameters
    ----------
    network : MLP
    inputs : ndarray, shape (B, n_in) or (n_in,)
        Normalised inputs, as the network reads them.

    Returns
    -------
    list of ndarray
        ``outputs[l]`` float32 ``(B, layer_sizes[l + 1])`` (``(n,)`` for one input):
        the hidden layers' activations in order, then the output layer's (class
        probabilities for softmax). The last one equals ``network.forward``.
    """
    x = np.asarray(inputs, dtype=network.dtype)
    single = x.ndim == 1
    a = x[None, :] if single else x
    activation = ACTIVATIONS[network.activation]
    output = OUTPUTS[network.output]
    last = len(network.weights) - 1
    outputs = []
    for i, (weights, biases) in enumerate(
        zip(network.weights, network.biases, strict=True)
    ):
        # As the forward pass computes it: one input never waits for BLAS threads.
        z = fast.layer_product(
            a, weights, np.empty((a.shape[0], weights.shape[1]), network.dtype)
        )
        z += biases
        (activation if i < last else output).forward(z, z)
        outputs.append(z[0] if single else z)
        a = z
    return outputs


@dataclass(frozen=True)
class Link:
    """One drawn contribution: ``activation[source] * weight[source, target]``.

    ``layer`` is the index (in `layer_outputs`) of the layer the source belongs to;
    the target is in layer ``layer + 1``.
    """

    layer: int
    source: int
    target: int
    contribution: float


@dataclass(frozen=True)
class Trace:
    """What the live network view draws for one input.

    Attributes
    ----------
    outputs : list of ndarray
        float32 ``(n_l,)`` per layer after the input (`layer_outputs` of one input).
    shown : list of ndarray
        int64 unit indices shown per layer, ascending.
    links : tuple of Link
        The strongest contributions into the winning output, then into each of
        those sources, layer by layer toward the input.
    predicted : int
        Index of the winning output.
    """

    outputs: list[np.ndarray]
    shown: list[np.ndarray]
    links: tuple[Link, ...]
    predicted: int

    def hidden_count(self, layer: int) -> int:
        """Return how many units of ``layer`` are not shown."""
        return int(self.outputs[layer].size - self.shown[layer].size)

    def hidden_peak(self, layer: int) -> float:
        """Return the largest magnitude among the units of ``layer`` not shown."""
        rest = np.ones(self.outputs[layer].size, dtype=bool)
        rest[self.shown[layer]] = False
        values = np.abs(self.outputs[layer][rest])
        return float(values.max()) if values.size else 0.0


def _strongest(contributions: np.ndarray, count: int) -> np.ndarray:
    """Return the indices of the ``count`` largest nonzero magnitudes, largest first."""
    magnitude = np.abs(contributions)
    order = np.argsort(-magnitude, kind="stable")[:count]
    return order[magnitude[order] > 0]


def trace(
    network: MLP,
    x: np.ndarray,
    max_shown: int,
    keep: Sequence[Collection[int]] = (),
    output_fan_in: int = OUTPUT_FAN_IN,
    hidden_fan_in: int = HIDDEN_FAN_IN,
) -> Trace:
    """Trace one input through the network for the live view.

    Contributions go backward from the winning output: its ``output_fan_in``
    strongest sources in the last hidden layer (by ``|activation * weight|``), then
    the ``hidden_fan_in`` strongest sources of each of those, and so on. A layer
    wider than ``max_shown`` shows the units in those links and in ``keep`` first,
    then its most active units (largest ``|activation|``) up to ``max_shown``; an
    output layer of at most `ALL_OUTPUTS_SHOWN` units is always shown whole.

    Parameters
    ----------
    network : MLP
        Edits (`core.neuron_edits`) are already in its weights.
    x : ndarray, shape (n_in,)
        One normalised input.
    max_shown : int
        Most units shown per layer.
    keep : sequence of collections of int
        Per layer, units that must be shown when room allows (selected, edited).
    output_fan_in, hidden_fan_in : int
        Links drawn into the winning output, and into each hidden source.

    Returns
    -------
    Trace
    """
    outputs = layer_outputs(network, x)
    predicted = int(np.argmax(outputs[-1]))
    layers = len(outputs)
    max_shown = max(1, int(max_shown))
    wanted: list[list[int]] = [[] for _ in range(layers)]
    wanted[-1].append(predicted)
    links: list[Link] = []
    targets = [predicted]
    for layer in range(layers - 2, -1, -1):
        weights = network.weights[layer + 1]
        fan_in = output_fan_in if layer == layers - 2 else hidden_fan_in
        sources: list[int] = []
        for target in targets:
            contributions = outputs[layer] * weights[:, target]
            for source in _strongest(contributions, fan_in):
                links.append(
                    Link(layer, int(source), target, float(contributions[source]))
                )
                if source not in sources:
                    sources.append(int(source))
        # Each layer adds its sources in order of strength: the room is shared.
        sources = sources[:max_shown]
        wanted[layer] = sources
        targets = sources
    shown: list[np.ndarray] = []
    for layer, values in enumerate(outputs):
        size = values.size
        if size <= max_shown or (layer == layers - 1 and size <= ALL_OUTPUTS_SHOWN):
            shown.append(np.arange(size, dtype=np.int64))
            continue
        extra = keep[layer] if layer < len(keep) else ()
        chosen = list(dict.fromkeys([*wanted[layer], *extra]))[:max_shown]
        if len(chosen) < max_shown:
            order = np.argsort(-np.abs(values), kind="stable")
            taken = set(chosen)
            for unit in order:
                if len(chosen) >= max_shown:
                    break
                if int(unit) not in taken:
                    chosen.append(int(unit))
        shown.append(np.array(sorted(chosen), dtype=np.int64))
    visible = [set(units.tolist()) for units in shown]
    kept = tuple(
        link
        for link in links
        if link.source in visible[link.layer] and link.target in visible[link.layer + 1]
    )
    return Trace(outputs, shown, kept, predicted)


def most_exciting(
    network: MLP,
    images: np.ndarray,
    normalization: Normalization,
    count: int = 16,
    batch_size: int = 2048,
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Find, for every hidden unit, the images that give it its largest activation.

    Parameters
    ----------
    network : MLP
    images : ndarray
        uint8 ``(N, H, W)`` or ``(N, H*W)`` in the dataset's pixel range.
    normalization : Normalization
        The network's input normalisation.
    count : int
        Images kept per unit (fewer when the dataset is smaller).
    batch_size : int
        Images per forward pass.
    cancel : threading.Event, optional
        Checked between batches; when set the function returns None.
    progress : callable, optional
        Called with the fraction done after each batch.

    Returns
    -------
    list of (indices, values), or None when cancelled
        One pair per hidden layer: int64 ``(units, k)`` image indices and float32
        ``(units, k)`` activations, strongest first, ``k = min(count, N)``.
    """
    flat = np.asarray(images).reshape(len(images), -1)
    total = flat.shape[0]
    k = max(1, min(int(count), total))
    hidden = network.layer_sizes[1:-1]
    best_values = [np.full((0, n), -np.inf, np.float32) for n in hidden]
    best_indices = [np.zeros((0, n), np.int64) for n in hidden]
    for start in range(0, total, batch_size):
        if cancel is not None and cancel.is_set():
            return None
        stop = min(start + batch_size, total)
        outputs = layer_outputs(network, normalization.apply(flat[start:stop]))
        rows = np.arange(start, stop, dtype=np.int64)
        for layer in range(len(hidden)):
            values = np.concatenate([best_values[layer], outputs[layer]])
            indices = np.concatenate(
                [
                    best_indices[layer],
                    np.broadcast_to(rows[:, None], outputs[layer].shape),
                ]
            )
            if values.shape[0] > k:
                top = np.argpartition(-values, k - 1, axis=0)[:k]
                values = np.take_along_axis(values, top, axis=0)
                indices = np.take_along_axis(indices, top, axis=0)
            best_values[layer], best_indices[layer] = values, indices
        if progress is not None:
            progress(stop / total)
    result = []
    for values, indices in zip(best_values, best_indices, strict=True):
        order = np.argsort(-values, axis=0, kind="stable")
        result.append(
            (
                np.take_along_axis(indices, order, axis=0).T.copy(),
                np.take_along_axis(values, order, axis=0).T.copy(),
            )
        )
    return result
