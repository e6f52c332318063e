"""Training health: per-layer gradient norms, update-to-weight ratios, inactive units.

Owns the figures (`gradient_norms`, `update_ratios`, `inactive_shares`), their
sampling during training (`HealthSampling`, `HealthMonitor`, `HealthRecord`) and the
weight histograms now against at initialisation (`WeightHistograms`). Pure NumPy;
imports the network and the activation registry only, never Qt or the training loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.activations import ACTIVATIONS
from core.initializers import INITIALIZERS
from core.network import MLP, NetworkError

# The per-layer figures, as ``EpochEvent`` fields and model-file history keys.
HEALTH_FIELDS = ("gradient_norm", "update_ratio", "inactive_share")
# A unit is inactive on a minibatch when its slope f'(z) is at most this share of the
# activation's largest slope for every example: it passes (almost) no error back.
INACTIVE_SLOPE_SHARE = 0.01
# The largest slope of each activation (at z = 0, or anywhere on ReLU's live side).
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "leaky_relu": 1.0}
# What an inactive unit is called: a ReLU that outputs 0 is dead, a sigmoid or tanh
# pinned near its bounds is saturated.
INACTIVE_KIND = {
    "sigmoid": "saturated",
    "tanh": "saturated",
    "relu": "dead",
    "leaky_relu": "dead",
}
# Sampling: never more often than every MIN_INTERVAL minibatches; by default the
# interval grows until sampling costs at most BUDGET of the training time.
MIN_INTERVAL = 5
BUDGET = 0.01
HISTOGRAM_BINS = 41
# The histogram's bins reach this many root mean squares of the weights either way.
HISTOGRAM_SPREAD = 4.0
_NICE_STEPS = (1, 1.5, 2, 3, 4, 5, 6, 8, 10)


def gradient_norms(gradients: Sequence[np.ndarray]) -> np.ndarray:
    """Return each layer's weight-gradient norm ``||dC/dW_l||`` (Frobenius).

    Parameters
    ----------
    gradients : sequence of ndarray
        In ``MLP.parameters()`` order: dW0 ``(n0, n1)``, db0 ``(n1,)``, dW1, ...

    Returns
    -------
    ndarray
        float64 ``(L,)``, one norm per weight layer (biases left out).
    """
    return np.array([_norm(g) for g in gradients[0::2]], dtype=np.float64)


def update_ratios(
    before: Sequence[np.ndarray],
    after: Sequence[np.ndarray],
    out: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Return ``||W_after - W_before|| / ||W_before||`` per layer (NaN for W = 0).

    Parameters
    ----------
    before, after : sequence of ndarray
        Each layer's weights before and after one step.
    out : sequence of ndarray, optional
        Where to write each layer's change (may be ``before``, which is then
        overwritten); by default new arrays are made.

    Returns
    -------
    ndarray
        float64 ``(L,)``.
    """
    ratios = []
    for layer, (old, new) in enumerate(zip(before, after, strict=True)):
        scale = _norm(old)
        change = np.subtract(new, old, out=None if out is None else out[layer])
        ratios.append(_norm(change) / scale if scale > 0 else math.nan)
    return np.array(ratios, dtype=np.float64)


def inactive_threshold(activation: str) -> float:
    """Return the slope at or below which a unit of ``activation`` counts inactive."""
    return INACTIVE_SLOPE_SHARE * MAX_SLOPE[activation]


def inactive_shares(slopes: Sequence[np.ndarray], activation: str) -> np.ndarray:
    """Return each hidden layer's share of units inactive on every example.

    Parameters
    ----------
    slopes : sequence of ndarray
        ``f'(z_l)`` per hidden layer, ``(B, n_l)`` (``MLP.hidden_slopes``).
    activation : str
        The hidden activation, a key of ``ACTIVATIONS``.

    Returns
    -------
    ndarray
        float64 ``(L - 1,)`` in [0, 1]: dead ReLU units, or saturated sigmoid or
        tanh units (`INACTIVE_KIND`).
    """
    threshold = inactive_threshold(activation)
    shares = []
    for slope in slopes:
        active = np.any(slope > threshold, axis=0)
        shares.append(1.0 - np.count_nonzero(active) / max(1, active.size))
    return np.array(shares, dtype=np.float64)


def _norm(array: np.ndarray) -> float:
    flat = array.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


@dataclass(frozen=True)
class HealthSampling:
    """How often training measures its health.

    Attributes
    ----------
    every : int or None
        Sample every this many minibatches; None adapts the interval so that
        sampling takes at most ``budget`` of the training time (never more often
        than every `MIN_INTERVAL` minibatches). The first minibatch is always
        sampled.
    budget : float
        Share of the training time sampling may take when adapting.
    """

    every: int | None = None
    budget: float = BUDGET


# What training samples unless told otherwise.
DEFAULT_SAMPLING = HealthSampling()


@dataclass(frozen=True)
class HealthRecord:
    """The health figures of one sampled minibatch, per layer.

    Attributes
    ----------
    gradient_norm : tuple of float
        ``||dC/dW_l||`` of the step's gradient (L2 term included), one per layer.
    update_ratio : tuple of float
        ``||delta W_l|| / ||W_l||`` of the step the optimizer took.
    inactive_share : tuple of float
        Per hidden layer, the share of units inactive on the whole minibatch.
    """

    gradient_norm: tuple[float, ...]
    update_ratio: tuple[float, ...]
    inactive_share: tuple[float, ...]


class HealthMonitor:
    """Samples a network's health around some of its training steps.

    ``train`` calls `before_update` after the gradients are computed and, when it
    returns True, `after_update` once the optimizer has stepped. The update is the
    parameter change over that step: the weights are copied before it only on
    sampled steps, so the other steps cost nothing.

    Parameters
    ----------
    network : MLP
        The network being trained.
    sampling : HealthSampling or None
        None switches sampling off.
    """

    def __init__(self, network: MLP, sampling: HealthSampling | None) -> None:
        self.network = network
        self.sampling = sampling
        self._before = (
            [] if sampling is None else [np.empty_like(w) for w in network.weights]
        )
        self._countdown = 1
        self._interval = (
            MIN_INTERVAL if sampling is None else (sampling.every or MIN_INTERVAL)
        )
        self._norms: np.ndarray | None = None
        self._inactive: np.ndarray | None = None
        self._work = 0.0
        self._step_seconds = 0.0
        self._last_end: float | None = None
        self._steps_since = 0
        self._sums: list[np.ndarray] | None = None
        self._count = 0

    @property
    def interval(self) -> int:
        """Minibatches between samples, as now planned."""
        return self._interval

    def before_update(self, gradients: Sequence[np.ndarray]) -> bool:
        """Measure the gradient and the units now if this step is sampled.

        Parameters
        ----------
        gradients : sequence of ndarray
            The step's gradients, before the optimizer uses (and overwrites) them.

        Returns
        -------
        bool
            True when this step is sampled: call `after_update` after the step.
        """
        if self.sampling is None:
            return False
        self._steps_since += 1
        self._countdown -= 1
        if self._countdown > 0:
            return False
        started = time.perf_counter()
        if self._last_end is not None:
            self._step_seconds = (started - self._last_end) / self._steps_since
        self._norms = gradient_norms(gradients)
        for weights, copy in zip(self.network.weights, self._before, strict=True):
            np.copyto(copy, weights)
        self._inactive = inactive_shares(
            self.network.hidden_slopes()[: len(self.network.weights) - 1],
            self.network.activation,
        )
        self._work = time.perf_counter() - started
        return True

    def after_update(self) -> HealthRecord:
        """Measure the step just taken; return the sample and plan the next one."""
        started = time.perf_counter()
        # The change is written over the copy: no allocation on a sampled step.
        ratios = update_ratios(self._before, self.network.weights, out=self._before)
        record = HealthRecord(
            tuple(self._norms.tolist()),
            tuple(ratios.tolist()),
            tuple(self._inactive.tolist()),
        )
        parts = (self._norms, ratios, self._inactive)
        if self._sums is None:
            self._sums = [part.copy() for part in parts]
        else:
            for total, part in zip(self._sums, parts, strict=True):
                total += part
        self._count += 1
        now = time.perf_counter()
        self._countdown = self._interval = self._next_interval(
            self._work + now - started
        )
        self._last_end = now
        self._steps_since = 0
        return record

    def _next_interval(self, cost: float) -> int:
        if self.sampling.every is not None:
            return max(1, int(self.sampling.every))
        if self._step_seconds <= 0:
            return MIN_INTERVAL
        steps = cost / (self.sampling.budget * self._step_seconds)
        return max(MIN_INTERVAL, math.ceil(steps))

    def epoch_means(self) -> dict[str, tuple[float, ...] | None]:
        """Return the means of the samples since the last call (None without any).

        Keys are `HEALTH_FIELDS`; each value is one figure per layer.
        """
        if not self._count:
            return dict.fromkeys(HEALTH_FIELDS)
        means = {
            name: tuple((total / self._count).tolist())
            for name, total in zip(HEALTH_FIELDS, self._sums, strict=True)
        }
        self._sums, self._count = None, 0
        return means


# --- weight histograms ------------------------------------------------------------


@dataclass(frozen=True)
class LayerHistogram:
    """One layer's weights now and at the start, over the same bins.

    Attributes
    ----------
    edges : ndarray
        float64 ``(bins + 1,)``, symmetric about 0.
    initial, current : ndarray
        float64 ``(bins,)``: the share of the layer's weights in each bin.
    """

    edges: np.ndarray
    initial: np.ndarray
    current: np.ndarray


class WeightHistograms:
    """Histograms of each layer's weights against a fixed starting point.

    The bins of a layer span ``[-r, r]``: `HISTOGRAM_SPREAD` times the larger root
    mean square of the two sets (at most their largest magnitude), rounded up to a
    round number so that they change rarely and the starting histogram is reused
    until they do. The outermost bins also count the few weights beyond them.

    Parameters
    ----------
    initial : sequence of ndarray
        The starting weights per layer (copied).
    bins : int
        Bins per histogram.
    """

    def __init__(
        self, initial: Sequence[np.ndarray], bins: int = HISTOGRAM_BINS
    ) -> None:
        self.bins = int(bins)
        self._initial = [np.array(w, dtype=np.float32, copy=True) for w in initial]
        self._initial_reach = [_reach(w) for w in self._initial]
        self._cache: dict[int, tuple[float, np.ndarray]] = {}

    def of(self, weights: Sequence[np.ndarray]) -> tuple[LayerHistogram, ...]:
        """Return each layer's histogram of ``weights`` against the start."""
        layers = []
        for layer, (start, now) in enumerate(zip(self._initial, weights, strict=True)):
            reach = _nice_ceil(max(self._initial_reach[layer], _reach(now)))
            cached = self._cache.get(layer)
            if cached is None or cached[0] != reach:
                cached = (reach, _shares(start, reach, self.bins))
                self._cache[layer] = cached
            edges = np.linspace(-reach, reach, self.bins + 1)
            layers.append(
                LayerHistogram(edges, cached[1], _shares(now, reach, self.bins))
            )
        return tuple(layers)


def _reach(weights: np.ndarray) -> float:
    """How far the bins must reach for ``weights`` (before rounding)."""
    if weights.size == 0:
        return 0.0
    flat = weights.reshape(-1).astype(np.float64)
    rms = math.sqrt(float(np.dot(flat, flat)) / flat.size)
    peak = max(float(flat.max()), -float(flat.min()))
    reach = min(HISTOGRAM_SPREAD * rms, peak)
    return reach if math.isfinite(reach) else 0.0


def _nice_ceil(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(m * magnitude for m in _NICE_STEPS if m * magnitude >= value)


def _shares(weights: np.ndarray, reach: float, bins: int) -> np.ndarray:
    clipped = np.clip(weights, -reach, reach)
    counts, _ = np.histogram(clipped, bins=bins, range=(-reach, reach))
    return counts / max(1, weights.size)


def initial_weights(
    config: Mapping[str, Any], layer_sizes: Sequence[int]
) -> list[np.ndarray] | None:
    """Rebuild the weights a model started from, from its recorded settings.

    ``MLP`` draws them from the initialiser and the seed alone, so the first
    phase's ``config`` gives them back. None when the settings do not say.
    """
    try:
        activation, output = config["activation"], config["output"]
        init, seed = config["init"], int(config["seed"])
    except (KeyError, TypeError, ValueError):
        return None
    if init not in INITIALIZERS or activation not in ACTIVATIONS:
        return None
    try:
        network = MLP(layer_sizes, activation, output, init, seed)
    except NetworkError:
        return None
    return network.weights


# --- samples as arrays, for plotting ---------------------------------------------


@dataclass(frozen=True)
class HealthSeries:
    """Health samples as arrays, one row per sample.

    Attributes
    ----------
    x : ndarray
        float64 ``(K,)``: where each sample lies in fractional epochs.
    gradient_norm, update_ratio : ndarray
        float64 ``(K, L)``, one column per weight layer (NaN where unknown).
    inactive_share : ndarray
        float64 ``(K, L - 1)``, one column per hidden layer.
    """

    x: np.ndarray
    gradient_norm: np.ndarray
    update_ratio: np.ndarray
    inactive_share: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def of_records(
        cls, x: Sequence[float], records: Sequence[HealthRecord], layers: int
    ) -> HealthSeries:
        """Stack sampled minibatches' records (``layers`` weight layers)."""
        rows = [[getattr(r, name) for r in records] for name in HEALTH_FIELDS]
        return cls(np.asarray(x, np.float64), *_stacked(rows, layers))

    @classmethod
    def of_rows(
        cls, x: Sequence[float], rows: Sequence[Mapping[str, Any]], layers: int
    ) -> HealthSeries:
        """Take the per-epoch means of history rows; rows without them are skipped."""
        kept = [
            (at, row)
            for at, row in zip(x, rows, strict=True)
            if any(row.get(name) is not None for name in HEALTH_FIELDS)
        ]
        values = [[row.get(name) for _, row in kept] for name in HEALTH_FIELDS]
        return cls(
            np.array([at for at, _ in kept], np.float64), *_stacked(values, layers)
        )


def _stacked(columns: list[list[Any]], layers: int) -> list[np.ndarray]:
    """Per field, a float64 ``(K, width)`` array; a missing list or value is NaN."""
    arrays = []
    for name, values in zip(HEALTH_FIELDS, columns, strict=True):
        width = layers - 1 if name == "inactive_share" else layers
        array = np.full((len(values), width), np.nan)
        for index, value in enumerate(values):
            if value is not None and len(value) == width:
                array[index] = [np.nan if v is None else v for v in value]
        arrays.append(array)
    return arrays
