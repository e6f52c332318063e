"""One training run at a time for the window: thread, pause/resume/stop, progress.

Owns ``TrainingController``, the run's status (``RunStatus``), how a run ends in words
(``outcome_message``) and the jobs the window starts (``training_job``,
``fine_tune_job``); what a run trains on and what its models hold are ``core.run``'s.
Never touches widgets: the window reacts to its signals.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from core.datasets import Dataset
from core.model_io import SavedModel
from core.run import PersonalDrawings, continue_request, fine_tune_request
from core.training import TrainingConfig
from gui.background import blas_setting
from gui.run_history import describe_config
from gui.training_worker import (
    BatchProgress,
    EpochProgress,
    HealthProgress,
    HoldProgress,
    PreparedData,
    SettingsProgress,
    TrainingJob,
    TrainingOutcome,
    TrainingWorker,
    start_training,
)
from gui.wording import count, format_duration

STOP_WAIT_MS = 2000
STATUS_HZ = 5


@dataclass(frozen=True)
class RunStatus:
    """What the status bar shows of a running training."""

    epoch: int
    epochs: int
    fraction: float  # of the whole run, 0..1
    learning_rate: float
    samples_per_second: float | None  # None: keep the last figure shown
    seconds_left: float | None  # None: too early to tell
    paused: bool
    threads_setting: int | str = "auto"  # the run's BLAS setting (TrainingJob)
    blas_threads: int | None = None  # the count in use; None while measuring


class TrainingController(QObject):
    """Starts, pauses, resumes and stops training runs, one at a time.

    Signals, in the order of a run: ``run_started(job)`` (before its thread starts:
    the window lays itself out for the run), ``preparing(stage)`` (once with "",
    then with each step of preparing that takes seconds), ``prepared(data)``;
    any ``batch_progress(progress)``, ``epochs_finished(rows)``,
    ``snapshot_taken(model)``, ``health_updated(health)`` and ``status_changed(status)``
    (at most ``STATUS_HZ`` a second for batches), ``held(hold)`` each time the run
    waits paused (its ``snapshot_taken`` first), ``settings_applied(progress)`` when
    settings changed while paused take effect; one of ``succeeded(model, outcome)``,
    ``failed(details)``, ``cancelled(epochs)``; then always ``finished(outcome)``
    ("ended", "failed", "stopped" or the outcome's reason).
    The models are the worker's (``core.run.build_model``), holding copies of the
    weights: the worker never trains a network the window shows.
    """

    run_started = Signal(object)  # TrainingJob
    preparing = Signal(str)  # what preparing does now, in words; "" at first
    prepared = Signal(object)  # PreparedData
    batch_progress = Signal(object)  # BatchProgress
    epochs_finished = Signal(object)  # list of the epochs' values (dicts), as plotted
    snapshot_taken = Signal(object)  # SavedModel after the latest epoch
    health_updated = Signal(object)  # HealthProgress: histograms and guidance
    status_changed = Signal(object)  # RunStatus
    succeeded = Signal(object, object)  # SavedModel, TrainingOutcome
    failed = Signal(str)
    cancelled = Signal(int)  # epochs this run finished
    finished = Signal(str)
    held = Signal(object)  # HoldProgress: the run waits, paused, there
    settings_applied = Signal(object)  # SettingsProgress

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: TrainingJob | None = None  # the running job
        self.prepared_data: PreparedData | None = None  # of the latest run
        self.history: list[dict[str, Any]] = []  # the latest run's epochs, as plotted
        self._latest: SavedModel | None = None  # the latest run's newest model
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._outcome = ""
        self._threads_setting: int | str = "auto"
        self._started_at = 0.0
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._pending_status: BatchProgress | None = None
        # Where the run waits (None while it trains), and whether its newest model
        # is that hold's (mid-epoch weights) rather than an epoch's.
        self.hold: HoldProgress | None = None
        self.latest_hold: HoldProgress | None = None
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(int(1000 / STATUS_HZ))
        self._status_timer.timeout.connect(self.on_status_timer)

    @property
    def is_running(self) -> bool:
        """True while a training thread runs."""
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        """The running training's thread, or None."""
        return self._thread

    def start(self, job: TrainingJob, hold_after: str | None = None) -> bool:
        """Start ``job`` in a new thread; False while another run goes on.

        ``hold_after`` ``"batch"`` or ``"epoch"`` pauses the run after its first
        mini-batch or epoch (the step controls on a model that is not training).
        """
        if self.is_running:
            return False
        self.job = job
        self._threads_setting = job.threads
        self.hold = self.latest_hold = None
        self.history = []
        self._latest = None
        self.prepared_data = None
        self._outcome = ""
        self._paused_total = 0.0
        self._paused_since = None
        self._started_at = time.monotonic()
        self._thread, self._worker = start_training(job, self, start=False)
        if hold_after is not None:
            self._paused_since = time.monotonic()  # paused, but for this one step
            self._request_step(hold_after)
        self.run_started.emit(job)
        self._thread.start()
        return True

    def pause(self) -> bool:
        """Hold the run between mini-batches; False when nothing runs."""
        if not self._worker_alive():
            return False
        self._worker.pause()
        if self._paused_since is None:  # already waiting after a step: it counts on
            self._paused_since = time.monotonic()
        return True

    def resume(self) -> None:
        """Continue a paused run."""
        if self._worker_alive():
            self._worker.resume()
        self.hold = None
        self.resume_clock()

    def step(self, kind: str) -> bool:
        """Step the paused run, then pause again; False when none runs.

        ``kind`` ``"batch"`` trains one more mini-batch, ``"epoch"`` to the end of
        the epoch (a whole one between epochs).
        """
        if not self._worker_alive():
            return False
        self.resume_clock()
        self._request_step(kind)
        return True

    def _request_step(self, kind: str) -> None:
        self.hold = None
        if kind == "epoch":
            self._worker.step_to_epoch_end()
        else:
            self._worker.step(1)

    def change_settings(self, values: dict[str, Any]) -> bool:
        """Use these settings from the run's next mini-batch on; False when none runs.

        Check them first with ``core.training.changed_config``.
        """
        if not self._worker_alive():
            return False
        self._worker.change_settings(values)
        return True

    def resume_clock(self) -> None:
        """Count time as training time again (the time left leaves out pauses)."""
        if self._paused_since is not None:
            self._paused_total += time.monotonic() - self._paused_since
        self._paused_since = None

    def stop(self) -> bool:
        """Ask the run to stop after the current mini-batch; False when none runs."""
        if not self._worker_alive():
            return False
        self._worker.cancel()
        return True

    def shutdown(self, timeout_ms: int) -> None:
        """Cancel the run and wait up to ``timeout_ms`` for its thread to end.

        When it ends in time, the worker's queued signals (last snapshot, cancelled,
        finished) are delivered at once, so the model and the controls are final.
        """
        thread = self._thread
        self.stop()
        if thread is None or not shiboken6.isValid(thread):
            return
        if thread.wait(timeout_ms):
            QCoreApplication.sendPostedEvents(self)
            if self._thread is thread:
                self.on_worker_finished()

    def _worker_alive(self) -> bool:
        return self._worker is not None and shiboken6.isValid(self._worker)

    # ------------------------------------------------- the worker's signals
    @Slot()
    def on_worker_started(self) -> None:
        """Pass on that the worker prepares the data."""
        self.preparing.emit("")

    @Slot(str)
    def on_worker_stage(self, stage: str) -> None:
        """Pass on what preparing does now ("making 12,000 made-up non-digits")."""
        self.preparing.emit(stage)

    @Slot(object)
    def on_worker_prepared(self, prepared: PreparedData) -> None:
        """Note the prepared data (split done, network built)."""
        self.prepared_data = prepared
        # The time left is training time: preparing (made-up non-digits, the
        # hand's reading, a deskewed copy: seconds before a fine-tune's 10 s of
        # epochs) is over.
        self._started_at = time.monotonic()
        self._paused_total = 0.0
        if self._paused_since is not None:
            self._paused_since = self._started_at
        self.prepared.emit(prepared)

    @Slot(object)
    def on_worker_progress(
        self,
        message: BatchProgress
        | EpochProgress
        | HealthProgress
        | HoldProgress
        | SettingsProgress,
    ) -> None:
        """Keep the history, make snapshots, report the status."""
        if isinstance(message, HealthProgress):
            self.health_updated.emit(message)
            return
        if isinstance(message, HoldProgress | SettingsProgress):
            self._on_step_progress(message)
            return
        if isinstance(message, BatchProgress):
            self.batch_progress.emit(message)
            # The status bar follows at most STATUS_HZ times a second: its widgets
            # repaint on every change, and the GUI thread's time is the worker's too
            # (the GIL).
            self._pending_status = message
            if not self._status_timer.isActive():
                self._status_timer.start()
            return
        self._pending_status = None  # the epoch message is newer
        rows = [dataclasses.asdict(event) for event in message.events]
        self.history += rows
        self.epochs_finished.emit(rows)
        event = message.event
        self.status_changed.emit(
            self._status(
                event.epoch,
                event.epochs,
                message.fraction,
                event.learning_rate,
                event.samples_per_second or None,
                event.blas_threads,
            )
        )
        self._latest = message.model
        self.latest_hold = None
        self.snapshot_taken.emit(message.model)

    def _on_step_progress(self, message: HoldProgress | SettingsProgress) -> None:
        if isinstance(message, SettingsProgress):
            self.settings_applied.emit(message)
            return
        if self._worker is None or not self._worker.control.paused:
            return  # resumed or stepped on meanwhile: it no longer waits there
        if self._paused_since is None:
            self._paused_since = time.monotonic()
        self.hold = self.latest_hold = message
        self._latest = message.model
        self.snapshot_taken.emit(message.model)
        self.held.emit(message)

    @Slot()
    def on_status_timer(self) -> None:
        """Report the latest batch progress."""
        message, self._pending_status = self._pending_status, None
        if message is None or not self.is_running:
            return
        self.status_changed.emit(
            self._status(
                message.epoch,
                message.epochs,
                message.fraction,
                message.learning_rate,
                message.samples_per_second,
                message.blas_threads,
            )
        )

    @Slot(object)
    def on_worker_succeeded(self, outcome: TrainingOutcome) -> None:
        """Hand over the final model."""
        self._outcome = outcome.reason
        self._latest = outcome.model
        self.succeeded.emit(outcome.model, outcome)

    @Slot(str)
    def on_worker_failed(self, details: str) -> None:
        """Pass the error report on."""
        self._outcome = "failed"
        self.failed.emit(details)

    @Slot()
    def on_worker_cancelled(self) -> None:
        """Say how many epochs of this run finished before the stop."""
        self._outcome = "stopped"
        model = self._latest
        # A fine-tune's model holds its base model's epochs too: count this run's.
        self.cancelled.emit(0 if model is None else model.metrics["epochs_completed"])

    @Slot()
    def on_worker_finished(self) -> None:
        """End of the run, whatever happened: the next one may start."""
        self._status_timer.stop()
        self._pending_status = None
        thread, self._thread = self._thread, None
        if thread is not None and shiboken6.isValid(thread):
            # The thread quits right after this signal; wait for it so that the
            # next run never overlaps this one (gui.background keeps both objects
            # alive until the thread has ended).
            thread.wait(STOP_WAIT_MS)
        self._worker = None
        self.job = None
        self.hold = None
        self._paused_since = None
        outcome, self._outcome = self._outcome or "ended", ""
        self.finished.emit(outcome)

    # ------------------------------------------------------------- helpers
    def seconds_left(self, fraction: float) -> float | None:
        """Return the run's time left at ``fraction`` done, at its training pace.

        Timed from when the data was prepared; None while paused or too early.
        """
        if self._paused_since is not None:
            return None
        elapsed = time.monotonic() - self._started_at - self._paused_total
        if fraction > 0.005 and elapsed > 0.5:
            return elapsed * (1.0 - fraction) / fraction
        return None

    def _status(
        self,
        epoch: int,
        epochs: int,
        fraction: float,
        learning_rate: float,
        samples_per_second: float | None,
        blas_threads: int | None,
    ) -> RunStatus:
        return RunStatus(
            epoch,
            epochs,
            fraction,
            float(learning_rate),
            samples_per_second,
            self.seconds_left(fraction),
            self._paused_since is not None,
            self._threads_setting,
            blas_threads,
        )


def outcome_message(outcome: TrainingOutcome, model: SavedModel) -> tuple[str, str]:
    """Return the banner's kind and text for a run that was not cancelled."""
    accuracy = model.metrics.get("validation_accuracy")
    if accuracy is None:
        accuracy = model.metrics.get("train_accuracy")
        which = "training"
    else:
        which = "validation"
    summary = (
        f"{count(outcome.epochs_completed, 'epoch')} in "
        f"{format_duration(outcome.seconds)}"
    )
    if accuracy is not None:
        summary += f", {which} accuracy {100 * accuracy:.2f}%"
    if outcome.reason == "diverged":
        # The message says how (a NaN, or a finite loss that blew up) and what to do.
        return "error", (
            "Training stopped because it diverged. "
            f"{outcome.message or 'Lower the learning rate and start again.'}"
        )
    if outcome.reason == "early_stopped":
        return "info", (
            f"Early stop after {summary}. "
            f"{outcome.message or 'The validation loss stopped improving.'}"
        )
    extra = "" if outcome.message.startswith("Finished") else outcome.message
    return "success", f"Training finished: {summary}. {extra}".strip()


def training_job(
    config: TrainingConfig,
    dataset: Dataset,
    drawings: PersonalDrawings | None,
    threads: int | str | None = None,
) -> TrainingJob:
    """Return the job that trains a new network with ``config`` (and the drawings).

    ``threads`` is the BLAS thread setting ("auto" or a count); by default the
    app's (``gui.background.blas_setting``), as for every job made here.
    """
    return TrainingJob(
        config=config,
        dataset=dataset,
        extra_loader=drawings,
        label=describe_config(
            config.to_dict(),
            # Made-up non-digits bring one more output, "not a digit".
            [
                dataset.input_size,
                *config.hidden_sizes,
                dataset.num_classes + (config.negatives > 0),
            ],
        ),
        threads=_threads(threads),
    )


def continue_job(
    model: SavedModel,
    dataset: Dataset,
    config: TrainingConfig,
    drawings: PersonalDrawings | None,
    threads: int | str | None = None,
) -> TrainingJob:
    """Return the job that trains ``model`` on with ``config``, as a new phase.

    The policy is ``core.run.continue_request``'s; ``threads`` is the BLAS thread
    setting (the app's by default). Raises ``core.run.RunError`` when the dataset
    does not fit the model.
    """
    request = continue_request(model, dataset, config, drawings)
    return TrainingJob.for_request(
        request,
        label="continued: " + describe_config(request.config.to_dict()),
        threads=_threads(threads),
    )


def fine_tune_job(
    model: SavedModel,
    dataset: Dataset,
    drawings: PersonalDrawings,
    fallback_config: TrainingConfig | None = None,
    threads: int | str | None = None,
) -> TrainingJob:
    """Return the job that fine-tunes a copy of ``model`` on the drawings.

    The policy is ``core.run.fine_tune_request``'s; ``fallback_config`` gives the
    settings when the model records none; ``threads`` is the BLAS thread setting
    (the app's by default).
    Raises ``core.run.RunError`` when the dataset does not fit the model or no
    settings are known.
    """
    request = fine_tune_request(model, dataset, drawings, fallback_config)
    return TrainingJob.for_request(
        request,
        label="fine-tune on my drawings: " + describe_config(request.config.to_dict()),
        threads=_threads(threads),
    )


def _threads(setting: int | str | None) -> int | str:
    return blas_setting() if setting is None else setting
