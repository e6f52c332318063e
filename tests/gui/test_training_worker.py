"""gui.training_worker: signal order, cancel, pause, failure, coalescing, snapshots."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QObject, Signal, Slot
from template_model import template_model

from core import user_dirs
from core.datasets import Dataset, load_bundled
from core.model_io import METRICS, save_model
from core.network import MLP
from core.run import FINE_TUNE_EPOCHS, SNAPSHOT_STOPPED, fine_tune_request
from core.training import TrainingConfig
from gui import training_worker
from gui.training_worker import (
    BatchProgress,
    EpochProgress,
    TrainingJob,
    TrainingOutcome,
    create_training_thread,
)


@pytest.fixture(scope="module")
def small_set() -> Dataset:
    return load_bundled("mnist-sample").subset(np.arange(1200))


def _job(dataset: Dataset, **changes) -> TrainingJob:
    settings = dict(hidden_sizes=(16,), batch_size=32, epochs=2, learning_rate=0.01)
    extra = {
        k: changes.pop(k) for k in ("extra_loader", "require_extra") if k in changes
    }
    settings.update(changes)
    return TrainingJob(config=TrainingConfig(**settings), dataset=dataset, **extra)


class Relay(QObject):
    """Receives a worker's signals in the GUI thread (as the window does) and re-emits
    them there, so qtbot waits on GUI-thread signals; keeps every message."""

    started = Signal()
    prepared = Signal(object)
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, worker) -> None:
        super().__init__()
        self.messages: list = []
        self.outcomes: list = []
        self.failures: list[str] = []
        self.cancel_count = 0
        self.preparations: list = []
        worker.started.connect(self.on_started)
        worker.prepared.connect(self.on_prepared)
        worker.progress.connect(self.on_progress)
        worker.succeeded.connect(self.on_succeeded)
        worker.failed.connect(self.on_failed)
        worker.cancelled.connect(self.on_cancelled)
        worker.finished.connect(self.on_finished)

    @Slot()
    def on_started(self) -> None:
        self.started.emit()

    @Slot(object)
    def on_prepared(self, prepared) -> None:
        self.preparations.append(prepared)
        self.prepared.emit(prepared)

    @Slot(object)
    def on_progress(self, message) -> None:
        self.messages.append(message)
        self.progress.emit(message)

    @Slot(object)
    def on_succeeded(self, outcome) -> None:
        self.outcomes.append(outcome)
        self.succeeded.emit(outcome)

    @Slot(str)
    def on_failed(self, text: str) -> None:
        self.failures.append(text)
        self.failed.emit(text)

    @Slot()
    def on_cancelled(self) -> None:
        self.cancel_count += 1
        self.cancelled.emit()

    @Slot()
    def on_finished(self) -> None:
        self.finished.emit()

    def batches(self) -> list[BatchProgress]:
        return [m for m in self.messages if isinstance(m, BatchProgress)]

    def epochs(self) -> list[EpochProgress]:
        return [m for m in self.messages if isinstance(m, EpochProgress)]


def _ended(thread) -> bool:
    # wait(), not isFinished(): isFinished() turns true before Qt has deleted the
    # worker in the thread, and dropping our reference then would delete it twice.
    return not shiboken6.isValid(thread) or thread.wait(0)


def test_success_signals_in_strict_order(qtbot, small_set):
    thread, worker = create_training_thread(_job(small_set))
    seen = Relay(worker)
    with qtbot.waitSignals(
        [seen.started, seen.prepared, seen.succeeded, seen.finished],
        order="strict",
        timeout=20000,
    ):
        thread.start()
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    assert seen.failures == [] and seen.cancel_count == 0
    (outcome,) = seen.outcomes
    assert isinstance(outcome, TrainingOutcome)
    assert outcome.reason == "completed" and outcome.epochs_completed == 2
    assert [e.epoch for m in seen.epochs() for e in m.events] == [1, 2]
    points = np.concatenate([m.x for m in seen.batches()])
    steps = int(np.ceil(len(small_set) * 0.9 / 32))
    assert len(points) == 2 * steps
    assert np.all(np.diff(points) > 0) and points[-1] == pytest.approx(2.0)


def test_cancel_emits_cancelled_never_succeeded(qtbot, small_set):
    thread, worker = create_training_thread(_job(small_set, epochs=500))
    seen = Relay(worker)
    seen.progress.connect(lambda _message: worker.cancel())
    with qtbot.waitSignals(
        [seen.started, seen.cancelled, seen.finished], order="strict", timeout=20000
    ):
        thread.start()
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    qtbot.wait(50)
    assert seen.cancel_count == 1
    assert seen.outcomes == [] and seen.failures == []
    assert len(seen.epochs()) < 500


def test_pause_holds_the_run_until_resumed(qtbot, small_set):
    thread, worker = create_training_thread(_job(small_set, epochs=3))
    seen = Relay(worker)
    worker.pause()
    with qtbot.waitSignal(seen.prepared, timeout=10000):
        thread.start()
    qtbot.wait(300)
    assert seen.batches() == [] and seen.outcomes == []
    with qtbot.waitSignals(
        [seen.succeeded, seen.finished], order="strict", timeout=20000
    ):
        worker.resume()
    assert seen.outcomes[0].epochs_completed == 3
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_cancel_while_paused_ends_the_run(qtbot, small_set):
    thread, worker = create_training_thread(_job(small_set, epochs=3))
    seen = Relay(worker)
    worker.pause()
    with qtbot.waitSignal(seen.prepared, timeout=10000):
        thread.start()
    with qtbot.waitSignals(
        [seen.cancelled, seen.finished], order="strict", timeout=5000
    ):
        worker.cancel()
    assert seen.outcomes == []
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_failure_is_reported_with_a_message_then_finished(qtbot, small_set):
    job = _job(small_set, extra_loader=lambda: None, require_extra=True)
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    with qtbot.waitSignals(
        [seen.started, seen.failed, seen.finished], order="strict", timeout=10000
    ):
        thread.start()
    assert "no drawings" in seen.failures[0]
    assert seen.outcomes == [] and seen.cancel_count == 0
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_unexpected_error_carries_the_traceback(qtbot, small_set):
    def broken_loader():
        raise RuntimeError("disk on fire")

    thread, worker = create_training_thread(_job(small_set, extra_loader=broken_loader))
    seen = Relay(worker)
    with qtbot.waitSignals([seen.failed, seen.finished], order="strict", timeout=10000):
        thread.start()
    assert "Traceback" in seen.failures[0] and "disk on fire" in seen.failures[0]
    assert seen.outcomes == []
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_network_that_does_not_fit_gives_the_engine_message(qtbot, small_set):
    job = _job(small_set)
    # A model of the dataset's images and classes whose network does not fit them.
    base = dataclasses.replace(template_model(), network=MLP([64, 8, 10]))
    job = TrainingJob(**{**job.__dict__, "base": base})
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    with qtbot.waitSignals([seen.failed, seen.finished], order="strict", timeout=10000):
        thread.start()
    assert seen.failures[0].startswith("The network takes 64 inputs")
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_batch_messages_are_coalesced_to_about_10_per_second(qtbot, small_set):
    job = _job(small_set, epochs=6, batch_size=8)
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    started = time.perf_counter()
    with qtbot.waitSignal(seen.finished, timeout=30000):
        thread.start()
    seconds = time.perf_counter() - started
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    batch_messages = len(seen.batches())
    points = sum(len(m.x) for m in seen.batches())
    steps = int(np.ceil(len(small_set) * 0.9 / 8))
    assert points == 6 * steps  # nothing lost by coalescing
    # Every batch in order: the fractional epochs rise by one step each.
    x = np.concatenate([m.x for m in seen.batches()])
    assert np.allclose(np.diff(x), 1.0 / steps)
    # One flush per epoch end plus at most ~10 per second in between.
    per_second = 1.0 / training_worker.EMIT_INTERVAL_S
    assert batch_messages <= per_second * seconds + 6 + 2
    assert batch_messages < points / 5


def test_start_false_leaves_the_thread_to_the_caller(qtbot, small_set):
    seen = []

    class Receiver(QObject):
        @Slot()
        def on_worker_started(self) -> None:
            seen.append("started")

        @Slot(str)
        def on_worker_stage(self, _stage) -> None:
            pass

        @Slot(object)
        def on_worker_prepared(self, _prepared) -> None:
            pass

        @Slot(object)
        def on_worker_progress(self, _message) -> None:
            pass

        @Slot(object)
        def on_worker_succeeded(self, _outcome) -> None:
            pass

        @Slot(str)
        def on_worker_failed(self, _text) -> None:
            pass

        @Slot()
        def on_worker_cancelled(self) -> None:
            pass

        @Slot()
        def on_worker_finished(self) -> None:
            seen.append("finished")

    receiver = Receiver()
    thread, worker = training_worker.start_training(
        _job(small_set, epochs=1), receiver, start=False
    )
    qtbot.wait(50)
    assert not thread.isRunning() and seen == []
    thread.start()
    qtbot.waitUntil(lambda: seen[-1:] == ["finished"], timeout=30000)
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_epoch_snapshots_are_copies(qtbot, small_set, monkeypatch):
    monkeypatch.setattr(training_worker, "EMIT_INTERVAL_S", 0.0)  # one message an epoch
    thread, worker = create_training_thread(_job(small_set, epochs=3))
    seen = Relay(worker)
    with qtbot.waitSignal(seen.finished, timeout=20000):
        thread.start()
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    first = seen.epochs()[0].snapshot
    final = seen.outcomes[0].network
    assert first is not final
    assert not np.shares_memory(first.weights[0], final.weights[0])
    assert not np.array_equal(first.weights[0], final.weights[0])
    # Later epochs did not write into the first snapshot.
    assert np.array_equal(seen.epochs()[0].snapshot.weights[0], first.weights[0])
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)


def test_personal_drawings_are_added_to_the_training_part(qtbot, small_set):
    drawings = small_set.subset(np.arange(5))
    job = _job(small_set, extra_loader=lambda: drawings)
    job = TrainingJob(**{**job.__dict__, "extra_repeat": 3})
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    prepared = seen.preparations
    with qtbot.waitSignal(seen.finished, timeout=20000):
        thread.start()
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    assert prepared[0].extra_size == 5
    assert prepared[0].train_size == int(len(small_set) * 0.9) + 15


def test_fast_epochs_are_merged_into_few_messages(qtbot):
    digits = load_bundled("digits-8x8")
    job = TrainingJob(
        config=TrainingConfig(
            hidden_sizes=(8,), batch_size=0, epochs=150, learning_rate=0.1
        ),
        dataset=digits,
    )
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    started = time.perf_counter()
    with qtbot.waitSignal(seen.finished, timeout=30000):
        thread.start()
    seconds = time.perf_counter() - started
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    epochs = [e.epoch for m in seen.epochs() for e in m.events]
    assert epochs == list(range(1, 151))
    assert seen.epochs()[-1].event.epoch == 150
    messages = len(seen.messages)
    # Batches and epochs, ~10 a second each, plus the first and final flushes.
    per_second = 1.0 / training_worker.EMIT_INTERVAL_S
    assert messages <= 2 * (per_second * seconds + 3)
    assert messages < 150


def _run_job(qtbot, job) -> Relay:
    thread, worker = create_training_thread(job)
    seen = Relay(worker)
    with qtbot.waitSignal(seen.finished, timeout=30000):
        thread.start()
    qtbot.waitUntil(lambda: _ended(thread), timeout=5000)
    return seen


def test_outcome_and_snapshots_carry_the_model_file_contents(
    qtbot, small_set, monkeypatch
):
    monkeypatch.setattr(training_worker, "EMIT_INTERVAL_S", 0.0)  # one message an epoch
    seen = _run_job(qtbot, _job(small_set, epochs=3))
    (outcome,) = seen.outcomes
    model = outcome.model
    assert model.network is outcome.network
    assert list(model.metrics) == list(METRICS)
    assert model.metrics["stopped"] == "completed"
    assert model.metrics["epochs_completed"] == 3
    assert model.metrics["training_images"] == seen.preparations[0].train_size
    assert [row["epoch"] for row in model.history] == [1, 2, 3]
    assert model.config == _job(small_set, epochs=3).config.to_dict()
    snapshots = [m.model for m in seen.epochs()]
    assert [len(s.history) for s in snapshots] == [1, 2, 3]
    assert all(s.metrics["stopped"] == SNAPSHOT_STOPPED for s in snapshots)
    assert all(list(s.metrics) == list(METRICS) for s in snapshots)
    pairs = zip(snapshots, seen.epochs(), strict=True)
    assert all(s.network is m.snapshot for s, m in pairs)
    assert seen.preparations[0].run.train_set is not None


def test_fine_tune_job_keeps_the_base_model_and_its_history(qtbot, small_set):
    (base,) = _run_job(qtbot, _job(small_set, epochs=2)).outcomes
    base_model = base.model
    before = [p.copy() for p in base_model.network.parameters()]
    drawings = small_set.subset(np.arange(4))
    request = fine_tune_request(base_model, small_set, drawings)
    job = TrainingJob.for_request(request, label="fine-tune")
    # The app keeps the made-up non-digits in the user's cache folder.
    kept = dataclasses.replace(request, negatives_folder=user_dirs.cache_dir())
    assert job.request() == kept
    seen = _run_job(qtbot, job)
    (outcome,) = seen.outcomes
    assert seen.preparations[0].extra_size == 4
    for kept, now in zip(before, base_model.network.parameters(), strict=True):
        assert kept.tobytes() == now.tobytes()
    tuned = outcome.model
    assert [row["phase"] for row in tuned.history] == [0, 0] + [1] * FINE_TUNE_EPOCHS
    assert [phase["kind"] for phase in tuned.phases] == ["train", "fine_tune"]
    assert tuned.config["epochs"] == 2
    assert tuned.phases[1]["config"]["learning_rate"] == pytest.approx(0.0005)
    assert outcome.epochs_completed == FINE_TUNE_EPOCHS
    assert len(outcome.history) == FINE_TUNE_EPOCHS


def test_a_job_with_a_base_model_trains_a_copy_of_it(qtbot, small_set):
    (base,) = _run_job(qtbot, _job(small_set, epochs=1)).outcomes
    job = _job(small_set, epochs=1)
    job = TrainingJob(**{**job.__dict__, "base": base.model, "limit": 300})
    before = base.network.weights[0].copy()
    seen = _run_job(qtbot, job)
    assert seen.preparations[0].train_size == 300
    assert seen.preparations[0].normalization is base.model.normalization
    assert np.array_equal(base.network.weights[0], before)
    assert seen.outcomes[0].model.phases[-1]["kind"] == "fine_tune"


def test_app_and_cli_files_carry_the_same_fields(qtbot, tmp_path, monkeypatch):
    import main

    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path / "data"))
    cli_path = tmp_path / "cli.npz"
    argv = ["train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "2",
            "--lr", "0.01", "--out", str(cli_path), "--quiet"]  # fmt: skip
    assert main.main(argv) == 0
    config = TrainingConfig(hidden_sizes=(8,), epochs=2, learning_rate=0.01)
    job = TrainingJob(config=config, dataset=load_bundled("digits-8x8"))
    (outcome,) = _run_job(qtbot, job).outcomes
    app_path = tmp_path / "app.npz"
    save_model(app_path, outcome.model.network, outcome.model.metadata)

    def document(path):
        with np.load(path, allow_pickle=False) as archive:
            return json.loads(str(archive["metadata"][()]))

    cli, app = document(cli_path), document(app_path)
    assert list(cli) == list(app)
    assert list(cli["metrics"]) == list(app["metrics"]) == list(METRICS)
    assert [list(row) for row in cli["history"]] == [list(r) for r in app["history"]]
    assert [list(p) for p in cli["phases"]] == [list(p) for p in app["phases"]]
    assert list(cli["phases"][0]["metrics"]) == list(app["phases"][0]["metrics"])
    assert cli["config"] == app["config"]
    assert cli["metrics"]["training_images"] == app["metrics"]["training_images"]
    assert cli["metrics"]["validation_images"] == app["metrics"]["validation_images"]


def test_each_epoch_becomes_a_model_file_row_once(qtbot, small_set, monkeypatch):
    # Snapshots after every epoch must not convert the whole history again and again
    # (a 3,000-epoch run would spend more time on that than on training).
    monkeypatch.setattr(training_worker, "EMIT_INTERVAL_S", 0.0)
    calls = []
    real = training_worker.epoch_row

    def counting(prepared, epoch):
        calls.append(epoch)
        return real(prepared, epoch)

    monkeypatch.setattr(training_worker, "epoch_row", counting)
    seen = _run_job(qtbot, _job(small_set, epochs=6))
    assert len(calls) == 6
    assert len(seen.epochs()) == 6
    assert len(seen.outcomes[0].model.history) == 6


def test_the_views_get_the_validation_images_as_stored_when_the_run_deskews(
    qtbot, small_set
):
    seen = _run_job(qtbot, _job(small_set, epochs=1, deskew=True))
    (prepared,) = seen.preparations
    shown = prepared.validation_set.materialize().images
    rows = prepared.run.validation_source.rows
    np.testing.assert_array_equal(shown, small_set.images[rows])
    # Training validated on the deskewed copy; Evaluate deskews as the model reads.
    assert not np.array_equal(shown, prepared.run.validation_set.materialize().images)


def test_a_finished_worker_lets_go_of_its_run(small_set):
    """The run's images (a deskewed copy of the whole set) go when the run ends, not
    at the next full collection: the worker and its control refer to each other."""
    import gc
    import weakref

    worker = training_worker.TrainingWorker(_job(small_set, epochs=1, deskew=True))
    runs = []
    worker.prepared.connect(lambda data: runs.append(weakref.ref(data.run)))
    collecting = gc.isenabled()
    gc.disable()
    try:
        worker.run()
        assert runs and runs[0]() is None
    finally:
        if collecting:
            gc.enable()
