"""gui.training_controller: what a run's preparing does, and the time left."""

from __future__ import annotations

import pytest

import core.run
from core.datasets import load_bundled
from core.negatives_store import NegativesStore
from core.training import TrainingConfig
from gui import training_controller
from gui.status_bar import TrainingStatusBar
from gui.training_controller import TrainingController
from gui.training_worker import TrainingJob


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


def test_the_status_bar_says_what_preparing_does(qtbot, monkeypatch, tmp_path):
    """A first run with made-up non-digits spends seconds making them: say so."""
    monkeypatch.setattr(core.run, "_NEGATIVES", NegativesStore())
    monkeypatch.setenv("DIGIT_STUDIO_CACHE_DIR", str(tmp_path))
    controller, bar = TrainingController(), TrainingStatusBar()
    qtbot.addWidget(bar)
    shown = []
    controller.preparing.connect(bar.show_preparing)
    controller.preparing.connect(lambda _: shown.append(bar.progress_bar.format()))
    dataset = load_bundled("mnist-sample")
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, negatives=25, seed=11)
    with qtbot.waitSignal(controller.finished, timeout=30000):
        controller.start(TrainingJob(config=config, dataset=dataset))
    assert shown == ["preparing data…", "making 25 made-up non-digits…"]
