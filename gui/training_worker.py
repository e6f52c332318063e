"""Runs ``core.training.train`` off the GUI thread and reports through Qt signals.

Owns ``TrainingWorker`` (a parentless QObject moved to a QThread, per the STYLE
threading contract), ``start_training`` (the wiring) and its progress messages. Batch
events are coalesced to at most ~10 signals per second; weights leave the worker only
as deep-copied snapshots at epoch end and at the finish. Never touches widgets.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.datasets import Dataset, DatasetError, Normalization, stratified_split
from core.network import MLP
from core.training import (
    BatchEvent,
    ConfigError,
    EpochEvent,
    FinishedEvent,
    TrainingConfig,
    TrainingControl,
    train,
)
from gui.background import worker_thread

EMIT_INTERVAL_S = 0.1  # at most ~10 batch signals per second
SMOOTHING = 0.9  # exponential moving average of the batch loss, debiased


@dataclass(frozen=True)
class TrainingJob:
    """Everything a run needs, handed over at start; the worker never reads the GUI.

    ``network`` None builds a fresh network from ``config``; a network given (already a
    copy) is trained further (fine-tuning). ``normalization`` None fits one on the
    training part. ``extra_loader`` (e.g. the user's drawings, read in the worker
    thread) is added to the training part only, repeated ``extra_repeat`` times so that
    a few drawings count; ``require_extra`` makes an empty result an error. ``limit``
    caps the training part (fine-tuning needs no full epoch of 60,000 images).
    """

    config: TrainingConfig
    dataset: Dataset
    network: MLP | None = None
    normalization: Normalization | None = None
    extra_loader: Callable[[], Dataset | None] | None = None
    extra_repeat: int = 1
    require_extra: bool = False
    limit: int | None = None
    label: str = ""


class TrainingJobError(Exception):
    """The job cannot run as asked (the message is for the user)."""


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
    samples_per_second: float


@dataclass(frozen=True)
class EpochProgress:
    """Finished epochs since the previous message and a copy of the weights now.

    Fast epochs (a full-batch run on the 8x8 digits finishes hundreds a second) are
    merged like batches: ``events`` holds every epoch in order, ``event`` the last.
    """

    events: tuple[EpochEvent, ...]
    snapshot: MLP
    fraction: float

    @property
    def event(self) -> EpochEvent:
        """The latest epoch."""
        return self.events[-1]


@dataclass(frozen=True)
class PreparedData:
    """What the worker prepared before the first batch (sizes for the status bar)."""

    train_size: int
    validation_size: int
    normalization: Normalization
    layer_sizes: tuple[int, ...]
    validation_set: Dataset | None = None
    extra_size: int = 0


@dataclass
class TrainingOutcome:
    """The end of a run that was not cancelled: final weights and what happened."""

    network: MLP
    normalization: Normalization
    reason: str
    message: str
    epochs_completed: int
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None  # early stopping: the epoch whose weights were kept


class TrainingWorker(QObject):
    """Trains one job and reports through signals.

    Signals follow the contract: ``started``, any ``progress``, exactly one of
    ``succeeded`` / ``failed`` / ``cancelled``, then always ``finished``.
    """

    started = Signal()
    prepared = Signal(object)  # PreparedData
    progress = Signal(object)  # BatchProgress | EpochProgress
    succeeded = Signal(object)  # TrainingOutcome
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: TrainingJob) -> None:
        super().__init__()
        self._job = job
        self.control = TrainingControl()
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
        self.signal_count = 0

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

    @Slot()
    def run(self) -> None:
        """Prepare the data and network, train, and report; never raises."""
        try:
            self.started.emit()
            started = time.perf_counter()
            job = self._job
            config = job.config
            train_set, validation_set = stratified_split(
                job.dataset, config.validation_fraction, config.seed
            )
            if job.limit is not None and len(train_set) > job.limit:
                keep = np.random.default_rng(config.seed).permutation(len(train_set))
                train_set = train_set.subset(np.sort(keep[: job.limit]))
            extra = job.extra_loader() if job.extra_loader is not None else None
            if job.require_extra and (extra is None or len(extra) == 0):
                raise TrainingJobError(
                    "There are no drawings in your personal set for this image size "
                    "yet: correct a few predictions on the Draw tab first."
                )
            if extra is not None and len(extra):
                train_set = _combine(train_set, extra, job.extra_repeat)
            normalization = job.normalization or Normalization.fit(
                config.normalization, train_set.images, train_set.max_value
            )
            network = job.network
            if network is None:
                network = config.build_network(
                    train_set.input_size, train_set.num_classes
                )
            self._network = network
            batch = config.batch_size or len(train_set)
            self._samples_per_batch = float(min(batch, len(train_set)))
            self.prepared.emit(
                PreparedData(
                    len(train_set),
                    0 if validation_set is None else len(validation_set),
                    normalization,
                    tuple([network.input_size, *[w.shape[1] for w in network.weights]]),
                    validation_set,
                    0 if extra is None else len(extra),
                )
            )
            if self.control.cancelled:
                self.cancelled.emit()
                return
            self._last_emit = time.perf_counter()
            result = train(
                network,
                train_set,
                validation_set,
                config,
                on_event=self._on_event,
                control=self.control,
                normalization=normalization,
            )
            self._flush(time.perf_counter())
            reason = getattr(result, "reason", "completed")
            if reason == "cancelled" or self.control.cancelled:
                self.cancelled.emit()
                return
            final = getattr(result, "network", None) or network
            self.succeeded.emit(
                TrainingOutcome(
                    network=final.copy(),
                    normalization=normalization,
                    reason=reason,
                    message=getattr(result, "message", ""),
                    epochs_completed=getattr(result, "epochs_completed", 0),
                    history=list(self._history),
                    seconds=time.perf_counter() - started,
                    best_epoch=getattr(result, "best_epoch", None),
                )
            )
        except (TrainingJobError, DatasetError, ConfigError) as exc:
            self.failed.emit(str(exc))
        except Exception:  # noqa: BLE001 - every failure must reach the window
            self.failed.emit(traceback.format_exc())
        finally:
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
            self._samples_since_emit += 1
            self._last_batch = event
            now = time.perf_counter()
            self._last_batch_time = now
            if now - self._last_emit >= EMIT_INTERVAL_S:
                self._flush(now)
        elif isinstance(event, EpochEvent):
            self._history.append(asdict(event))
            self._pending_epochs.append(event)
            now = time.perf_counter()
            last = event.epoch == event.epochs
            if last or now - self._last_epoch_emit >= EMIT_INTERVAL_S:
                self._flush(self._last_batch_time)
                self._flush_epochs(now)
        elif isinstance(event, FinishedEvent):
            self._flush(self._last_batch_time)
            self._flush_epochs(time.perf_counter())

    def _flush_epochs(self, now: float) -> None:
        if not self._pending_epochs:
            return
        events, self._pending_epochs = tuple(self._pending_epochs), []
        self._last_epoch_emit = now
        self.signal_count += 1
        last = events[-1]
        self.progress.emit(
            EpochProgress(events, self._network.copy(), last.epoch / last.epochs)
        )

    def _flush(self, now: float) -> None:
        event = self._last_batch
        if event is None or self._samples_since_emit == 0:
            return
        seconds = max(now - self._last_emit, 1e-9)
        rate = self._samples_since_emit * self._samples_per_batch / seconds
        epochs = self._job.config.epochs
        done = (event.epoch - 1) + (event.batch_index + 1) / event.batches_per_epoch
        message = BatchProgress(
            x=np.array(self._pending_x),
            loss=np.array(self._pending_loss),
            smoothed=np.array(self._pending_smooth),
            epoch=event.epoch,
            epochs=epochs,
            fraction=min(done / epochs, 1.0),
            learning_rate=float(event.learning_rate),
            samples_per_second=rate,
        )
        self._pending_x, self._pending_loss, self._pending_smooth = [], [], []
        self._samples_since_emit = 0
        self._last_emit = now
        self.signal_count += 1
        self.progress.emit(message)


def _combine(train_set: Dataset, extra: Dataset, repeat: int) -> Dataset:
    if extra.image_shape != train_set.image_shape:
        raise TrainingJobError(
            f"the personal drawings are {extra.image_shape[0]}x{extra.image_shape[1]} "
            f"but the training images are "
            f"{train_set.image_shape[0]}x{train_set.image_shape[1]}"
        )
    images = extra.images
    if extra.max_value != train_set.max_value:
        scaled = images.astype(np.float32) * (train_set.max_value / extra.max_value)
        images = np.clip(np.rint(scaled), 0, train_set.max_value).astype(np.uint8)
    repeat = max(1, int(repeat))
    return Dataset(
        train_set.name,
        np.concatenate([train_set.images, *([images] * repeat)]),
        np.concatenate([train_set.labels, *([extra.labels] * repeat)]),
        train_set.class_names,
        train_set.max_value,
    )


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

    ``receiver`` has ``on_worker_started``, ``on_worker_prepared``,
    ``on_worker_progress``, ``on_worker_succeeded``, ``on_worker_failed``,
    ``on_worker_cancelled`` and ``on_worker_finished`` slots (queued: the worker
    lives in another thread).
    """
    thread, worker = create_training_thread(job)
    worker.started.connect(receiver.on_worker_started)
    worker.prepared.connect(receiver.on_worker_prepared)
    worker.progress.connect(receiver.on_worker_progress)
    worker.succeeded.connect(receiver.on_worker_succeeded)
    worker.failed.connect(receiver.on_worker_failed)
    worker.cancelled.connect(receiver.on_worker_cancelled)
    worker.finished.connect(receiver.on_worker_finished)
    if start:
        thread.start()
    return thread, worker
