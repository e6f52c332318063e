import math

import pytest

from core.schedules import learning_rate_at
from core.training import TrainingConfig


def test_constant_schedule_never_changes():
    config = TrainingConfig(learning_rate=0.3)
    assert {learning_rate_at(config, e, s, 5) for e in range(4) for s in range(5)} == {
        0.3
    }


def test_step_decay_multiplies_every_step_epochs():
    config = TrainingConfig(
        learning_rate=1.0, schedule="step", step_epochs=2, step_gamma=0.5
    )
    rates = [learning_rate_at(config, epoch) for epoch in range(6)]
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_goes_from_the_rate_to_the_floor_per_step():
    config = TrainingConfig(
        learning_rate=1.0, schedule="cosine", min_learning_rate=0.1, epochs=4
    )
    assert learning_rate_at(config, 0, 0, 10) == pytest.approx(1.0)
    assert learning_rate_at(config, 2, 0, 10) == pytest.approx(0.55)
    assert learning_rate_at(config, 3, 9, 10) == pytest.approx(
        0.1 + 0.45 * (1 + math.cos(math.pi * 3.9 / 4))
    )
    steps = [learning_rate_at(config, e, s, 10) for e in range(4) for s in range(10)]
    assert all(a > b for a, b in zip(steps, steps[1:], strict=False))
    assert min(steps) > 0.1
