"""What the window shows of a run and of an opened model's history.

**RunDisplay** turns the training controller's signals and the document's ``opened``
into curves, training health, status-bar text, banner messages and the run list (whose
history export it makes: ``gui.history_export``); it decides nothing
about the run itself (``gui.training_controller``) or the file (``gui.model_document``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from core.hand_reading import hand_reading_text
from core.model_io import SavedModel
from gui.banner import Banner
from gui.history_export import HistoryExport
from gui.kept_runs import RunModels
from gui.model_document import (
    ModelDocument,
    epochs_text,
    layer_sizes,
)
from gui.model_views import ModelViews
from gui.run_history import describe_config, plotted_history
from gui.status_bar import TrainingStatusBar
from gui.train_tab import TrainTab
from gui.training_controller import TrainingController, outcome_message
from gui.training_worker import (
    BatchProgress,
    PreparedData,
    TrainingJob,
    TrainingOutcome,
)
from gui.wording import count


class RunDisplay(QObject):
    """Shows runs as they go and opened models' histories on the Train tab."""

    def __init__(
        self,
        training: TrainingController,
        document: ModelDocument,
        train_tab: TrainTab,
        status_bar: TrainingStatusBar,
        views: ModelViews,
        run_models: RunModels,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._training = training
        self._document = document
        self._train_tab = train_tab
        self._plots = train_tab.plot_panel
        self._banner: Banner = train_tab.banner
        self._status_bar = status_bar
        self._views = views
        self._run_models = run_models
        self.history_export = HistoryExport(
            self._plots, run_models.kept, document, train_tab.settings, self
        )
        train_tab.health.connect_training(training)
        training.run_started.connect(self.on_run_started)
        training.preparing.connect(status_bar.show_preparing)
        training.prepared.connect(self.on_run_prepared)
        training.batch_progress.connect(self.on_batch_progress)
        training.epochs_finished.connect(self.on_epochs_finished)
        training.status_changed.connect(status_bar.show_status)
        training.snapshot_taken.connect(self.on_snapshot_taken)
        training.succeeded.connect(self.on_run_succeeded)
        training.failed.connect(self.on_run_failed)
        document.opened.connect(self.on_document_opened)

    @Slot(object)
    def on_run_started(self, job: TrainingJob) -> None:
        """Start the run's curves and lock the settings."""
        # Said where the run's outcome will be: the plots keep their height when it
        # comes (a new height lays out and repaints every plot at once, a stall).
        self._banner.show_message("info", running_text(job.config.epochs))
        base = job.base
        # A fine-tune continues its base model's curves, after a line naming it.
        before = (
            None
            if base is None
            else plotted_history(base.history, base.phases, then=job.request().kind)
        )
        run = self._plots.start_run(
            job.label, job.config.to_dict(), job.config.epochs, before
        )
        self._run_models.begin(run.run_id, job)
        self._train_tab.show_run(job.label)
        self._status_bar.show_run_starting(job.config.epochs, job.threads)
        self._train_tab.set_locked(True)

    @Slot(object)
    def on_run_prepared(self, prepared: PreparedData) -> None:
        """Say what trains on what; keep the validation split for Evaluate."""
        validation = (
            f", validating on {prepared.validation_size:,}"
            if prepared.validation_size
            else ", no validation set"
        )
        text = (
            f"Training {'-'.join(map(str, prepared.layer_sizes))} on "
            f"{prepared.train_size:,} images{validation}."
        )
        run, notes = prepared.run, []
        if run is not None and run.request.kind == "fine_tune":
            reading = hand_reading_text(run.hand_turn, run.hand_width)
            notes = [reading] if reading else []
        # First: the status bar's right part hides a long message's end.
        text = " ".join([*notes, text])
        self._status_bar.showMessage(text, 10000 if notes else 5000)
        self._views.set_validation_set(prepared.validation_set)

    @Slot(object)
    def on_batch_progress(self, message: BatchProgress) -> None:
        """Plot the new mini-batch losses."""
        self._plots.add_batches(message.x, message.loss, message.smoothed)

    @Slot(object)
    def on_epochs_finished(self, rows: list[dict]) -> None:
        """Plot the finished epochs."""
        for values in rows:
            self._plots.add_epoch(float(values["epoch"]), values)

    @Slot(object)
    def on_snapshot_taken(self, model: SavedModel) -> None:
        """Make the weights after the latest epoch the current model."""
        self._adopt(model, live=True)

    @Slot(object, object)
    def on_run_succeeded(self, model: SavedModel, outcome: TrainingOutcome) -> None:
        """Keep the final model and say how the run ended."""
        self._adopt(model, live=False)
        self._banner.show_message(*outcome_message(outcome, model))
        self._status_bar.showMessage(self._banner.text(), 8000)

    def _adopt(self, model: SavedModel, live: bool) -> None:
        job = self._training.job
        # A new network replaces the opened file's name; a fine-tune of it keeps it.
        fine_tune = job is not None and job.base is not None
        self._document.adopt_trained(model, live=live, same_file=fine_tune)

    @Slot(str)
    def on_run_failed(self, details: str) -> None:
        """Show the error in the window (the traceback behind Details…)."""
        lines = [line for line in details.strip().splitlines() if line.strip()]
        headline = lines[-1] if lines else "unknown error"
        self._banner.show_message("error", f"Training failed: {headline}", details)

    @Slot(object)
    def on_document_opened(self, model: SavedModel) -> None:
        """Fill the controls from the file's settings and plot its history."""
        self._train_tab.show_opened_model(model)
        data_panel = self._train_tab.data_panel
        if model.dataset_name and data_panel.current_name() != model.dataset_name:
            data_panel.select(model.dataset_name)
        path = self._document.path
        name = path.name if path else ""
        run = self._plots.add_history_run(
            f"{name}: {describe_config(model.config, layer_sizes(model))}",
            model.config,
            plotted_history(model.history, model.phases),
        )
        self._run_models.keep_opened(run.run_id, model, path)
        epochs = epochs_text(model)
        self._banner.show_message(
            "info",
            f"Opened {name}: trained on {model.dataset_name or 'unknown data'}"
            f"{', ' + epochs if epochs else ''}; its history is in the plots.",
        )


def running_text(epochs: int) -> str:
    """Return the banner's text while a run trains (short: one line when narrow)."""
    return (
        f"Training {count(epochs, 'epoch')}… Pause it to step through it or to "
        "change the learning rate."
    )
