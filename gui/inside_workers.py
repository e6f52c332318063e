"""Background work of the views that look inside a model, one job per view.

Each ``*_job`` builds the function `gui.background.start_task` runs: it calls one
core computation on copies of the model's arrays and prepares what the view draws, so
the GUI thread only hands arrays to widgets. `TaskSlot` runs one job at a time per
view: a newer request cancels the running one and starts when it has ended. Never
touches widgets.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Slot

from core.dataset_summary import DatasetSummary, summarize
from core.datasets import Dataset, DatasetPart
from core.embedding import MAX_MAP_IMAGES, DigitMap, digit_map
from core.metrics import loss_and_accuracy
from core.model_io import SavedModel
from core.neuron_edits import NeuronEdit, edited_network
from core.neurons import most_exciting
from core.robustness import MAX_ROBUSTNESS_IMAGES, RobustnessResult, robustness_curves
from gui.background import TaskCancelled, TaskWorker, start_task

Job = Callable[[threading.Event, Callable[[Any], None]], Any]


class TaskSlot(QObject):
    """One background job at a time for one view; the latest request wins.

    Callbacks run in the GUI thread; those of a job that was replaced or cancelled
    never run (``finished`` aside, which always follows the last job).
    """

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._thread: QThread | None = None
        self._worker: TaskWorker | None = None
        self._pending: tuple[Job, dict[str, Callable | None]] | None = None
        self._callbacks: dict[str, Callable | None] = {}
        self._dropped = False

    def start(
        self,
        job: Job,
        on_succeeded: Callable[[Any], None],
        on_progress: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        """Run ``job`` now, or as soon as the running one has stopped."""
        callbacks = {
            "succeeded": on_succeeded,
            "progress": on_progress,
            "failed": on_failed,
            "finished": on_finished,
        }
        self._pending = (job, callbacks)
        if self._worker is not None:
            self._dropped = True
            self._worker.cancel()
            return
        self._launch()

    def cancel(self) -> None:
        """Stop the running job (its result is dropped) and forget a waiting one."""
        self._pending = None
        if self._worker is not None:
            self._dropped = True
            self._worker.cancel()

    def is_running(self) -> bool:
        """Return True while a job runs or waits."""
        return self._worker is not None or self._pending is not None

    def shutdown(self, timeout_ms: int = 2000) -> None:
        """Cancel and wait up to ``timeout_ms`` for the thread to end."""
        self.cancel()
        if self._thread is not None:
            self._thread.wait(timeout_ms)

    def _launch(self) -> None:
        assert self._pending is not None
        job, self._callbacks = self._pending
        self._pending = None
        self._dropped = False
        self._thread, self._worker = start_task(
            job,
            on_succeeded=self._on_succeeded,
            on_failed=self._on_failed,
            on_finished=self._on_finished,
            on_progress=self._on_progress,
            name=self._name,
            uses_blas=True,
        )

    def _call(self, name: str, *args: Any) -> None:
        callback = self._callbacks.get(name)
        if callback is not None and not self._dropped:
            callback(*args)

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self._call("succeeded", result)

    @Slot(object)
    def _on_progress(self, value: Any) -> None:
        self._call("progress", value)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._call("failed", message)

    @Slot()
    def _on_finished(self) -> None:
        thread, self._thread, self._worker = self._thread, None, None
        if thread is not None:
            thread.wait(2000)  # it quits right after this signal
        if self._pending is not None:
            self._launch()
            return
        finished = self._callbacks.get("finished")
        if finished is not None:
            finished()


def _as_read(
    model: SavedModel, dataset: Dataset | DatasetPart
) -> Dataset | DatasetPart:
    # The images as the model reads them (`SavedModel.prepare`: deskewed when it
    # was trained so), in the worker thread.
    if not model.deskews:
        return dataset
    if isinstance(dataset, DatasetPart):
        dataset = dataset.materialize()
    return dataclasses.replace(dataset, images=model.prepare(dataset.images))


def _checked(result: Any) -> Any:
    if result is None:
        raise TaskCancelled
    return result


# -- the network view --------------------------------------------------------------


def exciting_job(model: SavedModel, dataset: Dataset, count: int = 16) -> Job:
    """Find the ``count`` images of ``dataset`` that excite each hidden unit most."""
    network = model.network.copy()

    def run(cancel: threading.Event, report: Callable[[Any], None]):
        return _checked(
            most_exciting(
                network,
                _as_read(model, dataset).images_at(slice(None)),
                model.normalization,
                count,
                cancel=cancel,
                progress=report,
            )
        )

    return run


@dataclass(frozen=True)
class EditAccuracy:
    """Accuracy of a model and of its edited copy on the same images."""

    edits: tuple[NeuronEdit, ...]
    before: float
    after: float
    images: int


def edit_accuracy_job(
    model: SavedModel,
    edits: Sequence[NeuronEdit],
    dataset: Dataset,
    before: float | None = None,
) -> Job:
    """Measure accuracy on ``dataset`` before (unless given) and after ``edits``."""
    network = model.network.copy()
    edits = tuple(edits)

    def run(cancel: threading.Event, _report: Callable[[Any], None]):
        data = _as_read(model, dataset)
        base = before
        if base is None:
            base = loss_and_accuracy(network, data, model.normalization)[1]
        if cancel.is_set():
            raise TaskCancelled
        edited = edited_network(network, edits)
        after = loss_and_accuracy(edited, data, model.normalization)[1]
        return EditAccuracy(edits, float(base), float(after), len(dataset))

    return run


# -- the map -----------------------------------------------------------------------


@dataclass(frozen=True)
class MapPlot:
    """A `DigitMap` laid out the way the map draws it.

    Attributes
    ----------
    digit_map : DigitMap
    order : ndarray
        int64 ``(N,)`` map rows in drawing order: shuffled, so that no class is
        always drawn over the others.
    x, y : ndarray
        float32 ``(N,)`` coordinates in drawing order.
    labels : ndarray
        int64 ``(N,)`` true classes in drawing order (the dots' colours).
    wrong : ndarray
        bool ``(N,)`` misclassified, in drawing order (ringed).
    """

    digit_map: DigitMap
    order: np.ndarray
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    wrong: np.ndarray


def map_job(
    model: SavedModel,
    dataset: Dataset,
    layer: int | None,
    max_images: int = MAX_MAP_IMAGES,
) -> Job:
    """Map ``dataset`` through hidden ``layer`` (None: raw pixels)."""
    network = model.network.copy()

    def run(cancel: threading.Event, _report: Callable[[Any], None]):
        result = _checked(
            digit_map(
                network,
                model.normalization,
                _as_read(model, dataset),
                layer,
                max_images=max_images,
                cancel=cancel,
            )
        )
        xy = result.projection.coordinates
        order = np.random.default_rng(0).permutation(len(xy))
        x = np.ascontiguousarray(xy[order, 0])
        y = xy[order, 1] if xy.shape[1] > 1 else np.zeros(len(xy), np.float32)
        return MapPlot(
            result,
            order,
            x,
            np.ascontiguousarray(y),
            result.labels[order],
            result.misclassified[order],
        )

    return run


# -- robustness and data -----------------------------------------------------------


def robustness_job(
    model: SavedModel, dataset: Dataset, max_images: int = MAX_ROBUSTNESS_IMAGES
) -> Job:
    """Measure robustness curves on ``dataset``; progress: `RobustnessStep`."""
    network = model.network.copy()

    def run(cancel: threading.Event, report: Callable[[Any], None]) -> RobustnessResult:
        return _checked(
            robustness_curves(
                network,
                model.normalization,
                dataset,  # distorted as drawn, then read as the model reads
                max_images=max_images,
                cancel=cancel,
                progress=report,
                prepare=model.prepare if model.deskews else None,
            )
        )

    return run


def summary_job(dataset: Dataset) -> Job:
    """Count, average and histogram ``dataset`` (`core.dataset_summary`)."""

    def run(cancel: threading.Event, _report: Callable[[Any], None]) -> DatasetSummary:
        return _checked(summarize(dataset, cancel))

    return run
