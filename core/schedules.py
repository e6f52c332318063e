"""Learning-rate schedules and their registry ``SCHEDULES``.

Owns ``Schedule``, ``SCHEDULES`` and ``learning_rate_at``; reads only the schedule
fields of a ``TrainingConfig`` (duck-typed, so this module imports no training code).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.choices import Choice


@dataclass(frozen=True)
class Schedule(Choice):
    """A learning-rate schedule.

    Attributes
    ----------
    rate : callable
        ``rate(config, epoch, step_in_epoch, steps_per_epoch) -> float``, as
        ``learning_rate_at`` documents.
    """

    rate: Callable[[Any, int, int, int], float] = field(kw_only=True)


def _constant(config: Any, epoch: int, step: int, steps: int) -> float:
    return float(config.learning_rate)


def _step_decay(config: Any, epoch: int, step: int, steps: int) -> float:
    decays = epoch // int(config.step_epochs)
    return float(config.learning_rate) * float(config.step_gamma) ** decays


def _cosine(config: Any, epoch: int, step: int, steps: int) -> float:
    base, floor = float(config.learning_rate), float(config.min_learning_rate)
    done = epoch + step / max(1, steps)
    progress = min(1.0, done / max(1, int(config.epochs)))
    return floor + 0.5 * (base - floor) * (1.0 + math.cos(math.pi * progress))


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule(
        "constant",
        "Constant",
        "The same learning rate for every minibatch",
        rate=_constant,
    ),
    "step": Schedule(
        "step",
        "Step decay",
        "Multiply the learning rate by the step factor every few epochs",
        ("step_epochs", "step_gamma"),
        rate=_step_decay,
    ),
    "cosine": Schedule(
        "cosine",
        "Cosine",
        "From the learning rate down to the final rate along half a cosine, "
        "a little every minibatch",
        ("min_learning_rate",),
        rate=_cosine,
    ),
}


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
    schedule = SCHEDULES.get(config.schedule)
    if schedule is None:
        raise ValueError(
            f"Unknown schedule {config.schedule!r}; "
            f"choose one of {', '.join(SCHEDULES)}."
        )
    return schedule.rate(config, epoch, step_in_epoch, steps_per_epoch)
