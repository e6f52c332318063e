"""gui.training_controller: the time left a run shows."""

from __future__ import annotations

import pytest

from gui import training_controller
from gui.training_controller import TrainingController


class FakeTime:
    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(training_controller, "time", FakeTime)
    return FakeTime


def test_the_time_left_is_at_the_training_pace_not_the_preparing(qapp, clock):
    """A fine-tune prepares for seconds (made-up non-digits) before its epochs."""
    controller = TrainingController()
    clock.now += 6.0  # preparing
    controller.on_worker_prepared(object())
    clock.now += 2.0  # a fifth of the epochs
    assert controller.seconds_left(0.2) == pytest.approx(8.0)
    controller._paused_since = clock.now  # paused: nothing to tell
    assert controller.seconds_left(0.2) is None


def test_a_pause_from_before_the_data_was_prepared_counts_from_then(qapp, clock):
    controller = TrainingController()
    controller._paused_since = clock.now  # "+1 batch": held from the start
    clock.now += 6.0  # preparing
    controller.on_worker_prepared(object())
    clock.now += 1.0  # held after the step
    controller.resume_clock()
    clock.now += 2.0  # training again: a fifth done
    assert controller.seconds_left(0.2) == pytest.approx(8.0)
