"""Feeds the health panel and the guidance strip: from the run, and from opened files.

Owns ``HealthView``: it sets the panel up when a run starts (a fine-tune continues its
model's figures), passes on the sampled figures, histograms and guidance the training
worker sends, and for an opened model draws its history and computes its weight
histograms in a background task. Computes nothing on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Slot

from core.health import HealthSeries, WeightHistograms, initial_weights
from core.model_io import SavedModel
from gui.background import start_task
from gui.guidance_strip import GuidanceStrip
from gui.health_panel import HealthPanel
from gui.run_history import plotted_history
from gui.training_worker import BatchProgress, HealthProgress, TrainingJob


class HealthView(QObject):
    """Keeps the health panel and the guidance strip on the run or model shown.

    Connect a `gui.training_controller.TrainingController` with
    `connect_training`; call `show_model` when a model file is opened.
    """

    def __init__(
        self, panel: HealthPanel, strip: GuidanceStrip, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.strip = strip
        self._task_token = 0  # a newer run or model makes older histograms stale

    def connect_training(self, training: Any) -> None:
        """Follow a training controller's runs."""
        training.run_started.connect(self.on_run_started)
        training.batch_progress.connect(self.on_batch_progress)
        training.health_updated.connect(self.on_health_updated)

    @Slot(object)
    def on_run_started(self, job: TrainingJob) -> None:
        """Set the panel up for the run's network; the guidance starts afresh."""
        self._task_token += 1
        self.strip.clear()
        base = job.base
        if base is None:
            dataset = job.dataset
            sizes = job.config.layer_sizes(dataset.input_size, dataset.num_classes)
            self.panel.start_run(sizes, job.config.activation)
            return
        # A fine-tune continues its model's figures, as the loss plot does.
        sizes = base.network.layer_sizes
        before = plotted_history(base.history, base.phases, then=job.request().kind)
        history = HealthSeries.of_rows(before.epochs, before.rows, len(sizes) - 1)
        self.panel.start_run(sizes, base.network.activation, history, before.end)

    @Slot(object)
    def on_batch_progress(self, message: BatchProgress) -> None:
        """Plot the health samples that came with the batches."""
        self.panel.add_samples(message.health)

    @Slot(object)
    def on_health_updated(self, message: HealthProgress) -> None:
        """Show the weight histograms and the run's guidance."""
        self.panel.set_histograms(message.histograms)
        self.strip.show_advice(message.advice)

    # ------------------------------------------------------------ opened files
    def show_model(self, model: SavedModel) -> None:
        """Draw an opened model's health history; its histograms follow."""
        self._task_token += 1
        self.strip.clear()
        network = model.network
        sizes = network.layer_sizes
        shown = plotted_history(model.history, model.phases)
        history = HealthSeries.of_rows(shown.epochs, shown.rows, len(sizes) - 1)
        self.panel.show_history(sizes, network.activation, history)
        start_task(
            _histogram_task(model, self._task_token),
            on_succeeded=self.on_histograms_computed,
            on_failed=self.on_histograms_failed,
            on_finished=self.on_histograms_finished,
            name="weight-histograms",
        )

    @Slot(object)
    def on_histograms_computed(self, result: tuple[int, tuple]) -> None:
        """Show an opened model's histograms, unless something newer is shown."""
        token, histograms = result
        if token == self._task_token:
            self.panel.set_histograms(histograms)

    @Slot(str)
    def on_histograms_failed(self, _message: str) -> None:
        """Leave the histogram empty: the model's start is unknown."""

    @Slot()
    def on_histograms_finished(self) -> None:
        """Nothing to clean up."""


def _histogram_task(
    model: SavedModel, token: int
) -> Callable[[threading.Event, Callable[[Any], None]], tuple[int, tuple]]:
    """Return the task computing a model's weights against their recorded start."""
    # A model's weights are never trained in place (runs train copies): read as is.
    weights = model.network.weights
    config, sizes = dict(model.config), model.network.layer_sizes

    def task(_cancel: threading.Event, _report: Callable[[Any], None]):
        start = initial_weights(config, sizes)
        if start is None:
            return token, ()
        return token, WeightHistograms(start).of(weights)

    return task
