"""Start, +1 batch, +1 epoch and Continue training, and what a paused run may change.

Owns ``StepCommands``: what the run controls do in each state (start a new run; step
a paused run; with none running, continue the current model as a new phase, or start
a new run, and pause after the step), the learning rate and momentum fields of a
paused run, and the lines in the plots where such a change took effect. The rules
are ``core``'s (`core.training.TrainingControl`, ``changed_config``,
`core.run.continue_request`); this decides what is shown and when. Holds no
reference to the window.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from core.run import PersonalDrawings, RunError
from core.training import ConfigError, changeable_settings, changed_config
from gui.banner import Banner
from gui.data_panel import DataPanel
from gui.file_commands import FileCommands
from gui.model_document import ModelDocument
from gui.plot_panel import PlotPanel
from gui.run_history import change_name
from gui.status_bar import TrainingStatusBar
from gui.train_tab import TrainTab
from gui.training_controller import TrainingController, continue_job, training_job
from gui.training_worker import HoldProgress, SettingsProgress, TrainingJob
from gui.wording import count

STEP_KINDS = ("batch", "epoch")


class StepCommands(QObject):
    """Start, the step controls and Continue training.

    Signal ``paused_changed(bool)`` when the run starts or stops waiting for the
    user, so that the window updates its commands.
    """

    paused_changed = Signal(bool)

    def __init__(
        self,
        training: TrainingController,
        document: ModelDocument,
        train_tab: TrainTab,
        files: FileCommands,
        status_bar: TrainingStatusBar,
        data_dir: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._training = training
        self._document = document
        self._train_tab = train_tab
        self._files = files
        self._status_bar = status_bar
        self._data_dir = data_dir
        self.paused = False  # the running run is paused, or will be after its step
        self._message = ""  # what the status bar says of the pause
        training.run_started.connect(self.on_run_started)
        training.held.connect(self.on_run_held)
        training.settings_applied.connect(self.on_settings_applied)
        training.finished.connect(self.on_run_finished)
        train_tab.config_changed.connect(self.on_settings_edited)

    @property
    def _data_panel(self) -> DataPanel:
        return self._train_tab.data_panel

    @property
    def _banner(self) -> Banner:
        return self._train_tab.banner

    @property
    def _plots(self) -> PlotPanel:
        return self._train_tab.plot_panel

    # ------------------------------------------------------------- commands
    def can_continue(self) -> bool:
        """Return True when there is a model to train on and a dataset.

        A dataset the model cannot read is explained when the command is used.
        """
        return (
            not self._training.is_running
            and self._document.model is not None
            and self._data_panel.dataset is not None
        )

    @Slot()
    def step_batch(self) -> None:
        """+1 batch."""
        self.step("batch")

    @Slot()
    def step_epoch(self) -> None:
        """+1 epoch."""
        self.step("epoch")

    @Slot()
    def continue_training(self) -> None:
        """Continue training: the current model on with the settings on the left."""
        self.continue_model()

    def step(self, kind: str) -> None:
        """+1 batch (``"batch"``) or +1 epoch (``"epoch"``), whatever the state."""
        if self._training.is_running:
            if self.paused and self._training.step(kind):
                self._show_stepping(kind)
            return
        if self._document.model is None:
            self.start_new(hold_after=kind)
        else:
            self.continue_model(hold_after=kind)

    def start_new(self, hold_after: str | None = None) -> None:
        """Train a new network with the settings on the left."""
        if self._training.is_running:
            return
        problem = self._train_tab.start_problem()
        dataset = self._data_panel.dataset
        if problem or dataset is None:
            self._banner.show_message(
                "warning", problem or "The dataset is still loading."
            )
            return
        # No question while the current model is kept in the run list (comparing runs
        # is the point): only a model that would be lost is asked about.
        if not self._files.confirm_discard("Start a new run"):
            return
        drawings = None
        if self._data_panel.include_personal():
            drawings = PersonalDrawings(self._data_dir, dataset.image_shape)
        config = self._train_tab.current_config()
        self.start_paused(training_job(config, dataset, drawings), hold_after)

    def start_paused(self, job: TrainingJob, hold_after: str | None) -> bool:
        """Start ``job``; with ``hold_after`` it pauses after that first step."""
        self._set_paused(hold_after is not None)
        started = self._training.start(job, hold_after=hold_after)
        if not started:
            self._set_paused(False)
        return started

    def continue_model(self, hold_after: str | None = None) -> None:
        """Train the current model on with the settings on the left (a new phase)."""
        model, dataset = self._document.model, self._data_panel.dataset
        if self._training.is_running or model is None:
            return
        if dataset is None:
            self._banner.show_message(
                "warning",
                "To continue training, select the dataset the model was trained on "
                f"({model.dataset_name or 'same image size'}).",
            )
            return
        drawings = None
        if self._data_panel.include_personal():
            drawings = PersonalDrawings(self._data_dir, dataset.image_shape)
        try:
            job = continue_job(
                model, dataset, self._train_tab.current_config(), drawings
            )
        except (RunError, ConfigError) as exc:
            self._banner.show_message("warning", f"Cannot continue training: {exc}")
            return
        if self._files.confirm_discard("Continue training"):
            self.start_paused(job, hold_after)

    @Slot(bool)
    def on_pause_toggled(self, paused: bool) -> None:
        """Unlock the rate of a run the user paused; lock it again on resume."""
        self._set_paused(paused and self._training.is_running)

    def _set_paused(self, paused: bool) -> None:
        job = self._training.job
        editable = changeable_settings(job.config) if paused and job else ()
        if self._training.is_running:
            self._train_tab.set_locked(True, editable)
        if paused != self.paused:
            self.paused = paused
            self.paused_changed.emit(paused)

    def _show_stepping(self, kind: str) -> None:
        what = "one more mini-batch" if kind == "batch" else "to the end of the epoch"
        self._status_bar.showMessage(f"Training {what}, then pausing…")

    # ------------------------------------------------------- the run's signals
    @Slot(object)
    def on_run_started(self, job: TrainingJob) -> None:
        """Keep the learning rate of a run that starts paused editable."""
        self._set_paused(self.paused)

    @Slot(object)
    def on_run_held(self, hold: HoldProgress) -> None:
        """Say where the run waits and what can be done now."""
        self._set_paused(True)
        job = self._training.job
        if job is not None:
            names = changeable_settings(job.config)
            what = " and momentum" if "momentum" in names else ""
            self._train_tab.show_model_text(
                f"<b>Paused</b> {escape(job.label)}. The learning rate{what} can be "
                "changed now, for the next steps."
            )
        self._status_bar.show_paused()
        self._message = (
            f"Paused {where_held(hold)} · F7 +1 batch · F8 +1 epoch · F6 resume"
        )
        self._status_bar.showMessage(self._message)

    @Slot(object)
    def on_settings_applied(self, progress: SettingsProgress) -> None:
        """Mark in the plots where the new settings took effect."""
        event = progress.event
        values = {"learning_rate": event.learning_rate, "momentum": event.momentum}
        self._plots.add_change_mark(progress.x, change_name(values))
        self._status_bar.showMessage(
            f"{change_name(values)} from epoch {event.epoch}, mini-batch "
            f"{event.batch_index + 1} on.",
            8000,
        )

    @Slot(str)
    def on_run_finished(self, _outcome: str) -> None:
        """Nothing waits any more."""
        self._set_paused(False)
        if self._message and self._status_bar.currentMessage() == self._message:
            self._status_bar.clearMessage()
        self._message = ""

    @Slot()
    def on_settings_edited(self) -> None:
        """Send a paused run its new learning rate (and momentum), once valid."""
        job = self._training.job
        if job is None or not self.paused:
            return
        try:
            config = self._train_tab.current_config()
            names = changeable_settings(job.config)
            values = {name: getattr(config, name) for name in names}
            changed_config(job.config, values)
        except ConfigError as exc:
            self._banner.show_message("warning", f"Not applied: {exc}")
            return
        self._training.change_settings(values)

    def stopped_text(self, epochs: int) -> str | None:
        """How a stopped run's model ends, when it ends mid-epoch (else None)."""
        hold = self._training.latest_hold
        if hold is None or not hold.mid_epoch:
            return None
        return (
            f"Training stopped {where_held(hold)}; the model keeps the weights reached "
            f"there ({count(epochs, 'finished epoch')} in its history)."
        )


def where_held(hold: HoldProgress) -> str:
    """Say where a run waits: "in epoch 2 after mini-batch 5 of 36", "after epoch 3"."""
    if hold.mid_epoch:
        return (
            f"in epoch {hold.epoch} after mini-batch {hold.batches_done} of "
            f"{hold.batches_per_epoch}"
        )
    return f"after epoch {hold.epoch}"
