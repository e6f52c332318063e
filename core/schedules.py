"""Learning-rate schedules: constant, step decay and cosine annealing.

Owns ``learning_rate_at`` and ``SCHEDULES``; reads only the schedule fields of a
``TrainingConfig`` (duck-typed, so this module imports nothing from core).
"""

from __future__ import annotations

import math
from typing import Any

SCHEDULES = ("constant", "step", "cosine")


def learning_rate_at(
    config: Any, epoch: int, step_in_epoch: int = 0, steps_per_epoch: int = 1
) -> float:
    """Return the learning rate for one minibatch step.

    Parameters
    ----------
    config : TrainingConfig
        Uses ``learning_rate``, ``schedule``, ``step_epochs``, ``step_gamma``,
        ``min_learning_rate`` and ``epochs``.
    epoch : int
        Zero-based epoch index.
    step_in_epoch : int
        Zero-based minibatch index within the epoch (cosine is per step).
    steps_per_epoch : int
        Minibatches per epoch.

    Returns
    -------
    float
        ``"constant"``: the base rate. ``"step"``: the base rate times
        ``step_gamma ** (epoch // step_epochs)``. ``"cosine"``: from the base
        rate at the first step down to ``min_learning_rate`` at the end of the
        last epoch, along half a cosine.
    """
    base = float(config.learning_rate)
    if config.schedule == "constant":
        return base
    if config.schedule == "step":
        return base * float(config.step_gamma) ** (epoch // int(config.step_epochs))
    if config.schedule == "cosine":
        floor = float(config.min_learning_rate)
        done = epoch + step_in_epoch / max(1, steps_per_epoch)
        progress = min(1.0, done / max(1, int(config.epochs)))
        return floor + 0.5 * (base - floor) * (1.0 + math.cos(math.pi * progress))
    raise ValueError(
        f"Unknown schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}."
    )
