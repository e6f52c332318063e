"""Gradient-descent optimizers that update parameter arrays in place.

Owns ``SGD`` (plain, momentum, Nesterov), ``Adam``, ``make_optimizer`` and
``OptimizerError``. Each optimizer keeps its own preallocated state; nothing
is allocated per step. Imports only NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class OptimizerError(ValueError):
    """An optimizer was configured or called with invalid arguments."""


def _flat_span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """Return one 1-D view covering ``arrays`` if they tile a buffer in order.

    ``MLP`` keeps its parameters (and gradients) as consecutive views of one
    flat array; updating that array whole saves a Python round trip per layer.
    """
    first = arrays[0]
    base = first.base
    if base is None or not base.flags.c_contiguous:
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


def _flatten(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    span = _flat_span(arrays)
    return list(arrays) if span is None else [span]


class Optimizer:
    """Base class: ``step(params, grads, learning_rate)`` updates ``params``."""

    name = ""

    def __init__(self) -> None:
        self.steps = 0
        self._shapes: list[tuple[tuple[int, ...], np.dtype]] | None = None
        self._flat: bool | None = None

    def _check(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> bool:
        """Validate the lists; return True the first time (state must be built)."""
        shapes = [(p.shape, p.dtype) for p in params]
        if self._shapes is None:
            if len(params) != len(grads):
                raise OptimizerError(
                    f"Got {len(params)} parameters but {len(grads)} gradients."
                )
            for p, g in zip(params, grads, strict=True):
                if p.shape != g.shape:
                    raise OptimizerError(
                        f"Gradient shape {g.shape} does not match parameter {p.shape}."
                    )
            self._shapes = shapes
            return True
        if shapes != self._shapes:
            raise OptimizerError(
                "This optimizer was set up for other parameters; make a new one "
                "for a different network."
            )
        return False

    def step(
        self,
        params: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        learning_rate: float,
    ) -> None:
        """Apply one update to ``params`` in place.

        Parameters
        ----------
        params : sequence of ndarray
            The parameters, e.g. ``MLP.parameters()``; updated in place.
        grads : sequence of ndarray
            Gradients of the loss, same order and shapes; left unchanged.
        learning_rate : float
            Step size for this update (schedules change it between steps).
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all state (velocities, moment estimates, step count)."""
        self.steps = 0
        self._shapes = None
        self._flat: bool | None = None

    def _flat_pair(
        self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Both lists as single flat views when possible, else unchanged.

        The choice is made on the first step and kept, because the state
        arrays are laid out to match it.
        """
        flat_params, flat_grads = _flatten(params), _flatten(grads)
        flat = len(flat_params) == 1 and len(flat_grads) == 1
        if self._flat is None:
            self._flat = flat
        if self._flat and flat:
            return flat_params, flat_grads
        if self._flat:
            raise OptimizerError(
                "The parameters are no longer laid out as on the first step; "
                "make a new optimizer."
            )
        return list(params), list(grads)


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
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}.")
        if nesterov and momentum == 0.0:
            raise OptimizerError("Nesterov momentum needs a momentum above 0.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.name = "sgd" if momentum == 0.0 else "momentum"
        self._velocity: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget the velocities."""
        super().reset()
        self._velocity = []
        self._scratch = []

    def step(self, params, grads, learning_rate) -> None:
        """Apply one SGD update in place (see ``Optimizer.step``)."""
        if self._check(params, grads):
            flat_params, _ = self._flat_pair(params, grads)
            self._scratch = [np.empty_like(p) for p in flat_params]
            if self.momentum:
                self._velocity = [np.zeros_like(p) for p in flat_params]
        self.steps += 1
        params, grads = self._flat_pair(params, grads)
        lr = float(learning_rate)
        mu = self.momentum
        for i, (w, g) in enumerate(zip(params, grads, strict=True)):
            scaled = np.multiply(g, lr, out=self._scratch[i])
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
        super().__init__()
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise OptimizerError(f"{label} must be in [0, 1), got {beta}.")
        if not eps > 0.0:
            raise OptimizerError(f"eps must be positive, got {eps}.")
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self._m: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._scratch: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget the moment estimates."""
        super().reset()
        self._m, self._v, self._scratch = [], [], []

    def step(self, params, grads, learning_rate) -> None:
        """Apply one Adam update in place (see ``Optimizer.step``)."""
        if self._check(params, grads):
            params, grads = self._flat_pair(params, grads)
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
            self._scratch = [np.empty_like(p) for p in params]
        else:
            params, grads = self._flat_pair(params, grads)
        self.steps += 1
        t = self.steps
        b1, b2 = self.beta1, self.beta2
        # The moments are stored as M = m / (1 - b1) and V = v / (1 - b2), so
        # their updates are M <- b1 M + g and V <- b2 V + g^2 (two fewer passes);
        # the constant factors and the bias corrections fold into two scalars.
        root = math.sqrt((1.0 - b2) / (1.0 - b2**t))
        scale = learning_rate * (1.0 - b1) / (1.0 - b1**t) / root
        eps = self.eps / root
        for w, g, m, v, tmp in zip(
            params, grads, self._m, self._v, self._scratch, strict=True
        ):
            m *= b1
            m += g
            np.multiply(g, g, out=tmp)
            v *= b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= scale
            w -= tmp


def make_optimizer(name: str, **settings: float) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : str
        ``"sgd"``, ``"momentum"`` (settings ``momentum``, ``nesterov``) or
        ``"adam"`` (settings ``beta1``, ``beta2``, ``eps``).
    **settings
        Keyword settings for that optimizer; others raise ``OptimizerError``.

    Returns
    -------
    Optimizer
    """
    allowed = {
        "sgd": (),
        "momentum": ("momentum", "nesterov"),
        "adam": ("beta1", "beta2", "eps"),
    }
    if name not in allowed:
        choices = ", ".join(repr(key) for key in allowed)
        raise OptimizerError(f"Unknown optimizer {name!r}; choose one of {choices}.")
    unknown = sorted(set(settings) - set(allowed[name]))
    if unknown:
        raise OptimizerError(
            f"Optimizer {name!r} has no setting(s) {', '.join(unknown)}."
        )
    if name == "sgd":
        return SGD()
    if name == "momentum":
        return SGD(
            momentum=float(settings.get("momentum", 0.9)),
            nesterov=bool(settings.get("nesterov", False)),
        )
    return Adam(**{key: float(value) for key, value in settings.items()})
