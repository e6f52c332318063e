"""Gradient-descent optimizers that update parameter arrays in place.

Owns ``SGD`` (plain, momentum, Nesterov), ``Adam``, the registry ``OPTIMIZERS``,
``make_optimizer`` and ``OptimizerError``. Each optimizer keeps its own preallocated
state; nothing is allocated per step. Imports NumPy and ``core.fast`` (Adam's pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core import fast
from core.choices import Choice


class OptimizerError(ValueError):
    """An optimizer was configured or called with invalid arguments."""


def _flat_span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """Return one 1-D view covering ``arrays`` if they tile a buffer in order.

    ``MLP`` keeps its parameters (and gradients) as consecutive views of one
    flat array; updating that array whole saves a Python round trip per layer.
    """
    if not arrays:
        return None
    first = arrays[0]
    base = first.base
    if base is None or not base.flags.c_contiguous or base.dtype != first.dtype:
        return None
    itemsize = first.itemsize
    start = first.__array_interface__["data"][0]
    position = start
    for array in arrays:
        if (
            array.base is not base
            or array.dtype != first.dtype
            or not array.flags.c_contiguous
            or array.__array_interface__["data"][0] != position
        ):
            return None
        position += array.nbytes
    offset = (start - base.__array_interface__["data"][0]) // itemsize
    count = (position - start) // itemsize
    return base.reshape(-1)[offset : offset + count]


class Optimizer:
    """Base class: ``step(params, grads, learning_rate)`` updates ``params``."""

    name = ""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all state (velocities, moment estimates, step count)."""
        self.steps = 0
        self._layout: list[tuple[tuple[int, ...], np.dtype]] | None = None
        self._flat = False
        self._seen: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        self._arrays: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])

    def _prepare(
        self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray], bool]:
        """Return the arrays to update and whether the state must be created.

        Parameters that tile one flat buffer (as ``MLP``'s do) are updated as a
        single array. The lists seen last are remembered, so the checks run
        only when they change.
        """
        seen = self._seen
        if (
            seen is not None
            and len(seen[0]) == len(params)
            and len(seen[1]) == len(grads)
            and all(a is b for a, b in zip(seen[0], params, strict=True))
            and all(a is b for a, b in zip(seen[1], grads, strict=True))
        ):
            return self._arrays[0], self._arrays[1], False
        if len(params) != len(grads):
            raise OptimizerError(
                f"Got {len(params)} parameters but {len(grads)} gradients."
            )
        for p, g in zip(params, grads, strict=True):
            if p.shape != g.shape:
                raise OptimizerError(
                    f"Gradient shape {g.shape} does not match parameter {p.shape}."
                )
        layout = [(p.shape, p.dtype) for p in params]
        span_p, span_g = _flat_span(params), _flat_span(grads)
        flat = span_p is not None and span_g is not None
        first = self._layout is None
        if first:
            self._layout, self._flat = layout, flat
        elif layout != self._layout or flat != self._flat:
            raise OptimizerError(
                "This optimizer was set up for other parameters; make a new one "
                "for a different network."
            )
        if flat:
            self._arrays = ([span_p], [span_g])
        else:
            self._arrays = (list(params), list(grads))
        self._seen = (list(params), list(grads))
        return self._arrays[0], self._arrays[1], first

    def step(
        self,
        params: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        learning_rate: float,
        *,
        overwrite_gradients: bool = False,
    ) -> None:
        """Apply one update to ``params`` in place.

        Parameters
        ----------
        params : sequence of ndarray
            The parameters, e.g. ``MLP.parameters()``; updated in place.
        grads : sequence of ndarray
            Gradients of the loss, same order and shapes.
        learning_rate : float
            Step size for this update (schedules change it between steps).
        overwrite_gradients : bool
            Let the update use ``grads`` as scratch space (less memory traffic);
            by default they are left unchanged.
        """
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    With momentum ``mu`` the velocity is ``v <- mu * v - lr * g`` and the update
    ``w <- w + v``; Nesterov's variant uses ``w <- w + mu * v - lr * g`` (the
    look-ahead form of Sutskever et al., 2013).

    Parameters
    ----------
    momentum : float
        In ``[0, 1)``; 0 gives plain SGD.
    nesterov : bool
        Use Nesterov momentum (needs ``momentum > 0``).
    """

    def __init__(self, momentum: float = 0.0, nesterov: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}.")
        if nesterov and momentum == 0.0:
            raise OptimizerError("Nesterov momentum needs a momentum above 0.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.name = "sgd" if momentum == 0.0 else "momentum"
        super().__init__()

    def set_momentum(self, momentum: float) -> None:
        """Use ``momentum`` from the next step on; the velocities are kept."""
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}.")
        if self.nesterov and momentum == 0.0:
            raise OptimizerError("Nesterov momentum needs a momentum above 0.")
        self.momentum = float(momentum)

    def reset(self) -> None:
        """Forget the velocities."""
        super().reset()
        self._velocity: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []

    def step(self, params, grads, learning_rate, *, overwrite_gradients=False) -> None:
        """Apply one SGD update in place (see ``Optimizer.step``)."""
        params, grads, first = self._prepare(params, grads)
        if first:
            self._scratch = [np.empty_like(p) for p in params]
        mu = self.momentum
        if mu and not self._velocity:  # the first step with momentum
            self._velocity = [np.zeros_like(p) for p in params]
        self.steps += 1
        lr = float(learning_rate)
        for i, (w, g) in enumerate(zip(params, grads, strict=True)):
            scaled = np.multiply(
                g, lr, out=g if overwrite_gradients else self._scratch[i]
            )
            if not mu:
                w -= scaled
                continue
            v = self._velocity[i]
            v *= mu
            v -= scaled
            if self.nesterov:
                w -= scaled
                np.multiply(v, mu, out=scaled)
            else:
                scaled = v
            w += scaled


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias-corrected moment estimates.

    Parameters
    ----------
    beta1, beta2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float
        Added to the root of the second moment; keeps the step finite.
    """

    name = "adam"

    def __init__(
        self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise OptimizerError(f"{label} must be in [0, 1), got {beta}.")
        if not eps > 0.0:
            raise OptimizerError(f"eps must be positive, got {eps}.")
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        super().__init__()

    def reset(self) -> None:
        """Forget the moment estimates."""
        super().reset()
        self._m: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []

    def step(self, params, grads, learning_rate, *, overwrite_gradients=False) -> None:
        """Apply one Adam update in place (see ``Optimizer.step``)."""
        params, grads, first = self._prepare(params, grads)
        if first:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        if not overwrite_gradients and not self._scratch:
            self._scratch = [np.empty_like(p) for p in params]
        self.steps += 1
        t = self.steps
        b1, b2 = self.beta1, self.beta2
        # The moments are stored as M = m / (1 - b1) and V = v / (1 - b2), so
        # their updates are M <- b1 M + g and V <- b2 V + g^2 (two fewer passes);
        # the constant factors and the bias corrections fold into two scalars:
        # w -= lr * m_hat / (sqrt(v_hat) + eps) = M / (sqrt(V) + eps') * scale.
        root = math.sqrt((1.0 - b2) / (1.0 - b2**t))
        scale = learning_rate * (1.0 - b1) / (1.0 - b1**t) / root
        eps = self.eps / root
        scratch = grads if overwrite_gradients else self._scratch
        for w, g, m, v, tmp in zip(
            params, grads, self._m, self._v, scratch, strict=True
        ):
            fast.adam_update(w, g, m, v, b1, b2, eps, scale, tmp)


@dataclass(frozen=True)
class OptimizerKind(Choice):
    """An optimizer the user can choose.

    Attributes
    ----------
    build : callable
        ``build(**settings) -> Optimizer``, taking the fields named in
        ``settings``.
    """

    build: Callable[..., Optimizer] = field(kw_only=True)


def _momentum(momentum: float = 0.9, nesterov: bool = False) -> SGD:
    return SGD(momentum=float(momentum), nesterov=bool(nesterov))


def _adam(beta1: float = 0.9, beta2: float = 0.999) -> Adam:
    return Adam(beta1=float(beta1), beta2=float(beta2))


OPTIMIZERS: dict[str, OptimizerKind] = {
    "sgd": OptimizerKind(
        "sgd",
        "SGD",
        "The classic rule: weights minus the learning rate times the gradient",
        build=SGD,
    ),
    "momentum": OptimizerKind(
        "momentum",
        "SGD with momentum",
        "Each step keeps a share of the previous one (Nesterov: looks ahead)",
        ("momentum", "nesterov"),
        build=_momentum,
    ),
    "adam": OptimizerKind(
        "adam",
        "Adam",
        "Adam: per-weight step sizes from running averages of the gradient and "
        "of its square, with bias correction",
        ("beta1", "beta2"),
        build=_adam,
    ),
}


def make_optimizer(name: str, **settings: float) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : str
        A key of ``OPTIMIZERS``: ``"sgd"``, ``"momentum"`` (settings
        ``momentum``, ``nesterov``) or ``"adam"`` (settings ``beta1``, ``beta2``).
    **settings
        Keyword settings for that optimizer; others raise ``OptimizerError``.

    Returns
    -------
    Optimizer
    """
    kind = OPTIMIZERS.get(name)
    if kind is None:
        choices = ", ".join(repr(key) for key in OPTIMIZERS)
        raise OptimizerError(f"Unknown optimizer {name!r}; choose one of {choices}.")
    unknown = sorted(set(settings) - set(kind.settings))
    if unknown:
        raise OptimizerError(
            f"Optimizer {name!r} has no setting(s) {', '.join(unknown)}."
        )
    return kind.build(**settings)
