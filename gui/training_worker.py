"""Runs a training run (``core.run``) off the GUI thread and reports through Qt signals.

Owns ``TrainingWorker`` (a parentless QObject moved to a QThread, per the STYLE
threading contract), its job and message types, ``start_training`` (the wiring) and
its progress messages. Preparing the data, the network and the model snapshots is
``core.run``'s; this module only moves them across threads. Batch events are coalesced
to at most ~10 signals per second; weights leave the worker only as deep-copied
snapshots at epoch end and at the finish. Never touches widgets.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core import user_dirs
from core.blas_threads import AUTO
from core.datasets import Dataset, DatasetError, DatasetPart, Normalization
from core.guidance import Advice, advise, run_facts
from core.health import (
    HealthRecord,
    HealthSeries,
    LayerHistogram,
    WeightHistograms,
    initial_weights,
)
from core.model_io import SavedModel
from core.network import MLP
from core.personal_set import PersonalSetError
from core.run import (
    PERSONAL_REPEAT,
    PersonalSource,
    PreparedRun,
    RunError,
    RunRequest,
    build_model,
    epoch_row,
    prepare_run,
    run_training,
)
from core.training import (
    BatchEvent,
    ConfigError,
    EpochEvent,
    FinishedEvent,
    SettingsEvent,
    TrainingConfig,
    TrainingControl,
)
from gui.background import worker_thread

EMIT_INTERVAL_S = 0.1  # at most ~10 batch signals per second
HEALTH_INTERVAL_S = 1.0  # histograms and guidance: at most once a second
SMOOTHING = 0.9  # exponential moving average of the batch loss, debiased


@dataclass(frozen=True)
class TrainingJob:
    """A `core.run.RunRequest` for the worker, and the label the plots show.

    Handed over at start; the worker never reads the GUI. The fields map one to one
    onto the request (see `request`): ``extra_loader`` is ``personal`` (a dataset or
    a callable such as `core.run.PersonalDrawings`, called in the worker thread),
    ``extra_repeat`` ``personal_repeat``, ``require_extra`` ``require_personal``;
    ``base``, ``subset`` and ``limit`` keep their names. Build a job from a request
    (e.g. `core.run.fine_tune_request`) with `for_request`. ``threads`` is the BLAS
    thread setting the run trains with (`core.blas_threads`: "auto" measures).
    """

    config: TrainingConfig
    dataset: Dataset
    extra_loader: PersonalSource | None = None
    extra_repeat: int = PERSONAL_REPEAT
    require_extra: bool = False
    limit: int | None = None
    label: str = ""
    base: SavedModel | None = None
    subset: int | None = None
    phase_kind: str | None = None
    threads: int | str = AUTO

    @classmethod
    def for_request(
        cls, request: RunRequest, label: str = "", threads: int | str = AUTO
    ) -> TrainingJob:
        """Return the job that runs ``request`` with the BLAS ``threads`` setting."""
        return cls(
            config=request.config,
            dataset=request.dataset,
            extra_loader=request.personal,
            extra_repeat=request.personal_repeat,
            require_extra=request.require_personal,
            limit=request.limit,
            label=label,
            base=request.base,
            subset=request.subset,
            phase_kind=request.phase_kind,
            threads=threads,
        )

    def request(self) -> RunRequest:
        """Return the `core.run.RunRequest` this job stands for."""
        return RunRequest(
            dataset=self.dataset,
            config=self.config,
            personal=self.extra_loader,
            personal_repeat=self.extra_repeat,
            require_personal=self.require_extra,
            base=self.base,
            subset=self.subset,
            limit=self.limit,
            phase_kind=self.phase_kind,
            negatives_folder=user_dirs.cache_dir(),
        )


@dataclass(frozen=True)
class BatchProgress:
    """Coalesced per-batch points since the previous message."""

    x: np.ndarray  # fractional epochs, float64 (K,)
    loss: np.ndarray  # raw batch losses (K,)
    smoothed: np.ndarray  # debiased moving average (K,)
    epoch: int
    epochs: int
    fraction: float  # of the whole run, 0..1
    learning_rate: float
    samples_per_second: float | None  # None: unknown (a pause came between)
    blas_threads: int | None = None  # the count chosen; None while measuring
    health: HealthSeries | None = None  # the sampled batches' health figures


@dataclass(frozen=True)
class HealthProgress:
    """The weights' histograms against their start, and the run's guidance.

    Sent at most once every ``HEALTH_INTERVAL_S`` while epochs end, and at the
    finish. ``histograms`` compare each layer with the initialisation (for a
    fine-tune, the model's recorded one when known, else its starting weights).
    """

    histograms: tuple[LayerHistogram, ...]
    advice: tuple[Advice, ...]
    final: bool = False


@dataclass(frozen=True)
class EpochProgress:
    """Finished epochs since the previous message and a copy of the weights now.

    Fast epochs (a full-batch run on the 8x8 digits finishes hundreds a second) are
    merged like batches: ``events`` holds every epoch in order, ``event`` the last.
    ``model`` is the snapshot as a model file would store it (`core.run.build_model`;
    its network is ``snapshot``).
    """

    events: tuple[EpochEvent, ...]
    snapshot: MLP
    fraction: float
    model: SavedModel

    @property
    def event(self) -> EpochEvent:
        """The latest epoch."""
        return self.events[-1]


@dataclass(frozen=True)
class HoldProgress:
    """Training waits, paused, after ``batches_done`` minibatches of ``epoch``.

    Sent when a step request ran out or a pause took effect, once some minibatch of
    the run was trained. ``model`` holds a copy of the weights there (`build_model`:
    mid-epoch weights with the finished epochs' history, ``stopped``
    ``"interrupted"``).
    """

    epoch: int
    batches_done: int
    batches_per_epoch: int
    model: SavedModel

    @property
    def mid_epoch(self) -> bool:
        """True when the weights are part way through an epoch."""
        return 0 < self.batches_done < self.batches_per_epoch

    @property
    def x(self) -> float:
        """Where training waits, in fractional epochs of the run."""
        return self.epoch - 1 + self.batches_done / self.batches_per_epoch


@dataclass(frozen=True)
class SettingsProgress:
    """Settings changed during the run took effect; ``x`` in epochs of the run."""

    event: SettingsEvent
    x: float


@dataclass(frozen=True)
class PreparedData:
    """What the worker prepared before the first batch (sizes for the status bar).

    ``extra_size`` counts distinct personal drawings; ``train_size`` includes their
    repeats. ``validation_set`` holds the validation images as the dataset does
    (never deskewed: the views read them as the model does). ``run`` is the whole
    `core.run.PreparedRun`.
    """

    train_size: int
    validation_size: int
    normalization: Normalization
    layer_sizes: tuple[int, ...]
    validation_set: DatasetPart | None = None
    extra_size: int = 0
    run: PreparedRun | None = None


@dataclass
class TrainingOutcome:
    """The end of a run that was not cancelled: final weights and what happened.

    ``model`` is the final model as a model file stores it (`core.run.build_model`;
    its network is ``network``): history and phases of the base model included.
    """

    network: MLP
    normalization: Normalization
    reason: str
    message: str
    epochs_completed: int
    model: SavedModel
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None  # early stopping: the epoch whose weights were kept


class TrainingWorker(QObject):
    """Trains one job and reports through signals.

    Signals follow the contract: ``started``, any ``stage`` (what preparing does
    now, in words), ``prepared``, any ``progress``, exactly one of ``succeeded`` /
    ``failed`` / ``cancelled``, then always ``finished``.
    """

    started = Signal()
    stage = Signal(str)
    prepared = Signal(object)  # PreparedData
    progress = Signal(object)  # BatchProgress | EpochProgress
    succeeded = Signal(object)  # TrainingOutcome
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: TrainingJob) -> None:
        super().__init__()
        self._job = job
        self.control = TrainingControl(on_hold=self._on_hold)
        self._changes: list[SettingsEvent] = []
        self._held = False  # paused since the last batch message: no speed figure
        self._network: MLP | None = None
        self._pending_x: list[float] = []
        self._pending_loss: list[float] = []
        self._pending_smooth: list[float] = []
        self._ema = 0.0
        self._steps = 0
        self._last_emit = 0.0
        self._last_batch_time = 0.0
        self._pending_epochs: list[EpochEvent] = []
        self._last_epoch_emit = 0.0
        self._samples_since_emit = 0
        self._last_batch: BatchEvent | None = None
        self._samples_per_batch = 1.0
        self._history: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []  # the same epochs as model file rows
        self._prepared: PreparedRun | None = None
        self._health_x: list[float] = []
        self._health: list[HealthRecord] = []
        self._histograms: WeightHistograms | None = None
        self._last_health_emit = 0.0

    # Thread-safe controls, called from the GUI thread directly (a queued signal would
    # wait behind the busy run loop).
    def cancel(self) -> None:
        """Ask the run to stop after the current mini-batch."""
        self.control.cancel()

    def pause(self) -> None:
        """Hold the run between mini-batches."""
        self.control.pause()

    def resume(self) -> None:
        """Continue a paused run."""
        self.control.resume()

    def step(self, batches: int = 1) -> None:
        """Train this many more mini-batches, then pause."""
        self.control.step(batches)

    def step_to_epoch_end(self) -> None:
        """Train to the end of the epoch, then pause."""
        self.control.step_to_epoch_end()

    def change_settings(self, values: dict[str, Any]) -> None:
        """Use these settings from the next mini-batch on."""
        self.control.change_settings(**values)

    @Slot()
    def run(self) -> None:
        """Prepare the run, train, and report; never raises."""
        try:
            self.started.emit()
            started = time.perf_counter()
            prepared = prepare_run(self._job.request(), self.stage.emit)
            self._prepared = prepared
            network = prepared.network
            self._network = network
            train_set, validation_set = prepared.train_set, prepared.validation_set
            batch = prepared.config.batch_size or len(train_set)
            self._samples_per_batch = float(min(batch, len(train_set)))
            self.prepared.emit(
                PreparedData(
                    len(train_set),
                    0 if validation_set is None else len(validation_set),
                    prepared.normalization,
                    tuple(network.layer_sizes),
                    prepared.validation_source,
                    prepared.personal_images,
                    prepared,
                )
            )
            if self.control.cancelled:
                self.cancelled.emit()
                return
            self._histograms = WeightHistograms(_starting_weights(prepared))
            self._last_emit = time.perf_counter()
            result = run_training(
                prepared, self._on_event, self.control, threads=self._job.threads
            )
            self._flush(time.perf_counter())
            if result.reason == "cancelled" or self.control.cancelled:
                self.cancelled.emit()
                return
            final = result.network.copy()
            self.succeeded.emit(
                TrainingOutcome(
                    network=final,
                    normalization=result.normalization,
                    reason=result.reason,
                    message=result.message,
                    epochs_completed=result.epochs_completed,
                    history=list(self._history),
                    seconds=time.perf_counter() - started,
                    best_epoch=result.best_epoch,
                    model=build_model(prepared, final, result, self._rows),
                )
            )
        except (
            RunError, DatasetError, ConfigError, PersonalSetError
        ) as exc:  # fmt: skip
            self.failed.emit(str(exc))
        except Exception:  # noqa: BLE001 - every failure must reach the window
            self.failed.emit(traceback.format_exc())
        finally:
            # The worker and its control refer to each other: without this the run's
            # images (a deskewed copy of a big set) would wait for a full collection.
            self._prepared = self._network = None
            self.finished.emit()

    # Runs in the worker thread for every engine event.
    def _on_event(self, event: Any) -> None:
        if isinstance(event, BatchEvent):
            loss = float(event.loss)
            if math.isfinite(loss):  # math: a tenth of the cost of NumPy on a float
                self._steps += 1
                self._ema = SMOOTHING * self._ema + (1.0 - SMOOTHING) * loss
                smoothed = self._ema / (1.0 - SMOOTHING**self._steps)
                self._pending_x.append(
                    (event.epoch - 1)
                    + (event.batch_index + 1) / event.batches_per_epoch
                )
                self._pending_loss.append(loss)
                self._pending_smooth.append(smoothed)
                if event.health is not None:
                    self._health_x.append(self._pending_x[-1])
                    self._health.append(event.health)
            self._samples_since_emit += 1
            self._last_batch = event
            now = time.perf_counter()
            self._last_batch_time = now
            if now - self._last_emit >= EMIT_INTERVAL_S:
                self._flush(now)
        elif isinstance(event, EpochEvent):
            self._history.append(asdict(event))
            self._rows.append(epoch_row(self._prepared, event))
            self._pending_epochs.append(event)
            now = time.perf_counter()
            last = event.epoch == event.epochs
            if last or now - self._last_epoch_emit >= EMIT_INTERVAL_S:
                self._flush(self._last_batch_time)
                self._flush_epochs(now)
        elif isinstance(event, FinishedEvent):
            self._flush(self._last_batch_time)
            self._flush_epochs(time.perf_counter())
            self._flush_health(event.reason)
        elif isinstance(event, SettingsEvent):
            self._changes.append(event)
            self._flush(self._last_batch_time)  # the batches before the change first
            x = event.epoch - 1 + event.batch_index / event.batches_per_epoch
            self.progress.emit(SettingsProgress(event, x))

    # Runs in the worker thread whenever training is about to wait, paused.
    def _on_hold(self) -> None:
        now = time.perf_counter()
        self._flush(self._last_batch_time)
        self._flush_epochs(now)
        self._held = True
        event = self._last_batch
        if event is None or self._prepared is None:
            return  # nothing trained yet: the model is the one the run started from
        snapshot = self._network.copy()
        model = build_model(
            self._prepared, snapshot, rows=self._rows, changes=self._changes
        )
        self.progress.emit(
            HoldProgress(
                event.epoch, event.batch_index + 1, event.batches_per_epoch, model
            )
        )
        self._flush_health(None)  # the histograms and guidance where it waits

    def _flush_epochs(self, now: float) -> None:
        if not self._pending_epochs:
            return
        events, self._pending_epochs = tuple(self._pending_epochs), []
        self._last_epoch_emit = now
        last = events[-1]
        snapshot = self._network.copy()
        model = build_model(
            self._prepared, snapshot, rows=self._rows, changes=self._changes
        )
        self.progress.emit(
            EpochProgress(events, snapshot, last.epoch / last.epochs, model)
        )
        if now - self._last_health_emit >= HEALTH_INTERVAL_S:
            self._flush_health(None)

    def _flush_health(self, stopped: str | None) -> None:
        """Send the histograms and guidance (``stopped``: the run's end reason)."""
        if self._histograms is None:
            return
        self._last_health_emit = time.perf_counter()
        facts = run_facts(self._prepared, stopped)
        self.progress.emit(
            HealthProgress(
                self._histograms.of(self._network.weights),
                tuple(advise(self._rows, facts)),
                final=stopped is not None,
            )
        )

    def _flush(self, now: float) -> None:
        event = self._last_batch
        if event is None or self._samples_since_emit == 0:
            return
        seconds = max(now - self._last_emit, 1e-9)
        rate = self._samples_since_emit * self._samples_per_batch / seconds
        epochs = self._job.config.epochs
        done = (event.epoch - 1) + (event.batch_index + 1) / event.batches_per_epoch
        health = None
        if self._health:
            layers = len(self._network.weights)
            health = HealthSeries.of_records(self._health_x, self._health, layers)
            self._health_x, self._health = [], []
        message = BatchProgress(
            x=np.array(self._pending_x),
            loss=np.array(self._pending_loss),
            smoothed=np.array(self._pending_smooth),
            epoch=event.epoch,
            epochs=epochs,
            fraction=min(done / epochs, 1.0),
            learning_rate=float(event.learning_rate),
            samples_per_second=None if self._held else rate,
            blas_threads=event.blas_threads,
            health=health,
        )
        self._held = False
        self._pending_x, self._pending_loss, self._pending_smooth = [], [], []
        self._samples_since_emit = 0
        self._last_emit = now
        self.progress.emit(message)


def _starting_weights(prepared: PreparedRun) -> list[np.ndarray]:
    """Return the weights at initialisation (a fine-tune: as its model records)."""
    base = prepared.request.base
    network = prepared.network
    if base is not None:
        recorded = initial_weights(base.config, network.layer_sizes)
        if recorded is not None:
            return recorded
    return [weights.copy() for weights in network.weights]


def create_training_thread(job: TrainingJob) -> tuple[QThread, TrainingWorker]:
    """Create the worker and its thread, wired per the contract but not started.

    Callers connect their slots to the worker's signals, then call ``thread.start()``.
    """
    worker = TrainingWorker(job)
    return worker_thread(worker, "training"), worker


def start_training(
    job: TrainingJob, receiver: Any, start: bool = True
) -> tuple[QThread, TrainingWorker]:
    """Create, connect to ``receiver``'s slots and start a training thread.

    With ``start`` False the caller starts the thread (after its own setup).

    ``receiver`` has ``on_worker_started``, ``on_worker_stage``, ``on_worker_prepared``,
    ``on_worker_progress``, ``on_worker_succeeded``, ``on_worker_failed``,
    ``on_worker_cancelled`` and ``on_worker_finished`` slots (queued: the worker
    lives in another thread).
    """
    thread, worker = create_training_thread(job)
    worker.started.connect(receiver.on_worker_started)
    worker.stage.connect(receiver.on_worker_stage)
    worker.prepared.connect(receiver.on_worker_prepared)
    worker.progress.connect(receiver.on_worker_progress)
    worker.succeeded.connect(receiver.on_worker_succeeded)
    worker.failed.connect(receiver.on_worker_failed)
    worker.cancelled.connect(receiver.on_worker_cancelled)
    worker.finished.connect(receiver.on_worker_finished)
    if start:
        thread.start()
    return thread, worker
