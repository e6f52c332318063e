"""The main window: builds the Train / Draw / Evaluate / Inside tabs, commands, status.

It connects them to the model document (``gui.model_document``) and the training
controller (``gui.training_controller``) and decides what is shown when; it computes
nothing and holds no model, file or run state of its own.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from core import user_dirs
from core.model_io import SavedModel, app_version
from core.run import PersonalDrawings, RunError
from core.training import ConfigError
from gui.background import set_blas_setting
from gui.draw_tab import DrawTab
from gui.evaluate_tab import EvaluateTab
from gui.file_commands import FileCommands
from gui.inside_tab import InsideTab
from gui.kept_runs import KeptRuns, RunModels
from gui.live_network import ChosenImage
from gui.model_document import (
    ModelDocument,
    count,
    epochs_text,
    layer_sizes,
    model_details,
    model_summary,
)
from gui.model_views import ModelViews
from gui.run_history import describe_config, plotted_history
from gui.settings import AppSettings
from gui.status_bar import TrainingStatusBar
from gui.step_commands import StepCommands
from gui.step_through_view import Example, StepThroughWindow, drawing_example
from gui.train_tab import TrainTab
from gui.training_controller import (
    STOP_WAIT_MS,
    TrainingController,
    fine_tune_job,
    outcome_message,
    training_job,
)
from gui.training_worker import (
    BatchProgress,
    PreparedData,
    TrainingJob,
    TrainingOutcome,
)
from gui.widgets import guard_wheel
from gui.window_actions import WindowActions

# Every tab is laid out to work from here up (docs/gui.md).
MINIMUM_SIZE = (1024, 640)


class MainWindow(QMainWindow):
    """Digit Studio's window. ``settings`` and ``data_dir`` default to the user's.

    ``closed()`` follows every close that went through, also one finished later,
    hidden, once a training step ended: the app quits on it (``gui.app``).
    """

    closed = Signal()

    def __init__(
        self, settings: AppSettings | None = None, data_dir: Path | None = None
    ) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.data_dir = Path(data_dir) if data_dir is not None else user_dirs.data_dir()
        self.document = ModelDocument(self.settings, self)
        self.training = TrainingController(self)
        self._closing = False
        self._close_pending = False
        self._save_on_close: Path | None = None
        self.setWindowTitle("Digit Studio")
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.setMinimumSize(*MINIMUM_SIZE)

        self.train_tab = TrainTab(self.settings, self.data_dir, self.training)
        self.data_panel = self.train_tab.data_panel
        self.plot_panel = self.train_tab.plot_panel
        self.banner = self.train_tab.banner
        self.draw_tab = DrawTab(data_dir=self.data_dir)
        self.evaluate_tab = EvaluateTab()
        self.inside_tab = InsideTab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for tab, name, tip in (
            (self.train_tab, "Train", "Build a network and watch it learn"),
            (self.draw_tab, "Draw", "Draw a digit and see what the model says"),
            (
                self.evaluate_tab,
                "Evaluate",
                "Test accuracy, confusions, mistakes, weights",
            ),
            (
                self.inside_tab,
                "Inside",
                "Where the digits live, what breaks the model, the data",
            ),
        ):
            index = self.tabs.addTab(tab, name)
            self.tabs.setTabToolTip(index, f"{tip} (Ctrl+{index + 1})")
        self.setCentralWidget(self.tabs)
        self.numbers = StepThroughWindow(self)
        self.views = ModelViews(
            self.document,
            self.tabs,
            self.draw_tab,
            self.evaluate_tab,
            self.inside_tab,
            self.data_panel,
        )
        kept = KeptRuns()
        self.files = FileCommands(self, self.document, self.training, kept)
        self.run_models = RunModels(
            kept,
            self.document,
            self.training,
            self.plot_panel,
            self.tabs,
            self.evaluate_tab,
            self.files.save_as,
            self.settings,
            self,
        )
        self.commands = WindowActions(self, self.train_tab.preset_combo, self.document)
        self.status_bar = TrainingStatusBar()
        self.setStatusBar(self.status_bar)
        self._use_threads_setting(self.settings.blas_threads)
        self._connect()
        self.steps = StepCommands(
            self.training,
            self.document,
            self.train_tab,
            self.files,
            self.status_bar,
            self.data_dir,
            self,
        )
        self._connect_steps()
        guard_wheel(self)  # every control made without the panels' helpers
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        self.train_tab.restore_settings()
        self._update_actions()
        self._update_title()

    def _connect(self) -> None:
        actions = self.commands
        for action, slot in (
            (actions.new, self.on_new),
            (actions.open, self.files.open),
            (actions.open_image, self.on_open_image),
            (actions.save, self.files.save),
            (actions.save_as, self.files.save_as),
            (actions.quit, self.close),
            (actions.start, self.on_start),
            (actions.pause, self.on_pause_toggled),
            (actions.stop, self.on_stop),
            (actions.log_scale, self.on_log_scale_toggled),
            (actions.model_details, self.on_model_details),
            (actions.about, self.on_about),
            *[(action, self.on_tab_action) for action in actions.tabs],
        ):
            action.triggered.connect(slot)
        actions.recent_menu.file_chosen.connect(self.files.open_recent)
        actions.threads_menu.setting_chosen.connect(self.on_threads_setting_chosen)
        self.plot_panel.log_check.toggled.connect(actions.log_scale.setChecked)
        self.train_tab.config_changed.connect(self._update_actions)
        self.data_panel.dataset_loaded.connect(self._update_actions)
        self.data_panel.loading_changed.connect(self.on_data_loading_changed)
        self.draw_tab.fine_tune_requested.connect(self.on_fine_tune_requested)
        self.draw_tab.personal_set_changed.connect(self.on_personal_set_changed)
        self.draw_tab.numbers_requested.connect(self.on_show_numbers)
        self.draw_tab.input_changed.connect(self.on_draw_input_changed)
        self.draw_tab.input_changed.connect(self.inside_tab.show_input)
        self.inside_tab.image_chosen.connect(self.on_image_chosen)
        self.evaluate_tab.example_chosen.connect(self.on_example_chosen)
        self.document.model_changed.connect(self.on_numbers_model_changed)

        self.document.opened.connect(self.on_document_opened)
        self.document.state_changed.connect(self.on_document_state_changed)

        training = self.training
        training.run_started.connect(self.on_run_started)
        training.preparing.connect(self.status_bar.show_preparing)
        training.prepared.connect(self.on_run_prepared)
        training.batch_progress.connect(self.on_batch_progress)
        training.epochs_finished.connect(self.on_epochs_finished)
        training.status_changed.connect(self.status_bar.show_status)
        training.snapshot_taken.connect(self.on_snapshot_taken)
        training.succeeded.connect(self.on_run_succeeded)
        training.failed.connect(self.on_run_failed)
        training.cancelled.connect(self.on_run_cancelled)
        training.finished.connect(self.on_run_finished)

    def _connect_steps(self) -> None:
        actions, steps = self.commands, self.steps
        actions.step_batch.triggered.connect(steps.step_batch)
        actions.step_epoch.triggered.connect(steps.step_epoch)
        actions.continue_training.triggered.connect(steps.continue_training)
        steps.new_run_requested.connect(self.on_new_run_requested)
        steps.paused_changed.connect(self.on_steps_paused_changed)

    def save_settings(self) -> None:
        """Persist geometry, splitter, preset, dataset and mirror."""
        self.settings.geometry = self.saveGeometry()
        self.train_tab.save_settings()
        self.settings.sync()

    # ============================================================= training
    @Slot()
    def on_start(self) -> None:
        """Train a new network with the current settings."""
        self._start_new(None)

    @Slot(str)
    def on_new_run_requested(self, hold_after: str) -> None:
        """Start a new run that pauses after its first step (a step with no model)."""
        self._start_new(hold_after)

    @Slot(bool)
    def on_steps_paused_changed(self, paused: bool) -> None:
        """Show Resume while a run waits (or will, after its step)."""
        self.commands.pause.setChecked(paused)
        self._update_actions()

    def _start_new(self, hold_after: str | None) -> None:
        if self.training.is_running:
            return
        problem = self.train_tab.start_problem()
        dataset = self.data_panel.dataset
        if problem or dataset is None:
            self.banner.show_message(
                "warning", problem or "The dataset is still loading."
            )
            return
        # No question while the current model is kept in the run list (comparing runs
        # is the point): only a model that would be lost is asked about.
        if not self.files.confirm_discard("Start a new run"):
            return
        drawings = None
        if self.data_panel.include_personal():
            drawings = PersonalDrawings(self.data_dir, dataset.image_shape)
        config = self.train_tab.current_config()
        self.steps.start_paused(training_job(config, dataset, drawings), hold_after)

    @Slot()
    def on_fine_tune_requested(self) -> None:
        """Fine-tune the current model on the personal drawings plus training data."""
        model = self.document.model
        if self.training.is_running or model is None:
            return
        dataset = self.data_panel.dataset
        if dataset is None:
            self.banner.show_message(
                "warning",
                "To fine-tune, select the dataset the model was trained on "
                f"({model.dataset_name or 'same image size'}) on the Train tab.",
            )
            self.tabs.setCurrentIndex(0)
            return
        drawings = PersonalDrawings(self.data_dir, dataset.image_shape)
        try:
            # The model's own settings; the controls' only for a model without any.
            fallback = None if model.config else self.train_tab.current_config()
            job = fine_tune_job(model, dataset, drawings, fallback)
        except (RunError, ConfigError) as exc:
            self.banner.show_message("warning", f"Cannot fine-tune: {exc}")
            self.tabs.setCurrentIndex(0)
            return
        self.training.start(job)

    @Slot(object)
    def on_threads_setting_chosen(self, setting: int | str) -> None:
        """Keep the BLAS thread setting: for the next run, and evaluation from now."""
        self.settings.blas_threads = setting
        self._use_threads_setting(self.settings.blas_threads)

    def _use_threads_setting(self, setting: int | str) -> None:
        set_blas_setting(setting)
        self.commands.threads_menu.set_setting(setting)
        self.status_bar.show_threads_setting(setting)

    @Slot()
    def on_pause_toggled(self) -> None:
        """Pause or resume the running training."""
        if self.commands.pause.isChecked():
            if not self.training.pause():
                self.commands.pause.setChecked(False)
                return
            self.status_bar.show_paused()
            self.status_bar.showMessage("Paused: press Resume (F6) to continue.")
        else:
            self.training.resume()
            self.status_bar.clearMessage()
        self.steps.on_pause_toggled(self.commands.pause.isChecked())
        if self.training.job is not None:
            paused = self.commands.pause.isChecked()
            self.train_tab.show_run(self.training.job.label, paused)
        self._update_actions()

    @Slot()
    def on_stop(self) -> None:
        """Ask the training to stop after the current mini-batch."""
        if self.training.stop():
            self.status_bar.show_stopping()
            self.commands.stop.setEnabled(False)

    @Slot(object)
    def on_run_started(self, job: TrainingJob) -> None:
        """Lay the window out for the run before its thread starts."""
        self.banner.hide()
        base = job.base
        # A fine-tune continues its base model's curves, after a line naming it.
        before = (
            None
            if base is None
            else plotted_history(base.history, base.phases, then=job.request().kind)
        )
        run = self.plot_panel.start_run(
            job.label, job.config.to_dict(), job.config.epochs, before
        )
        self.run_models.begin(run.run_id, job)
        self.train_tab.show_run(job.label)
        self.status_bar.show_run_starting(job.config.epochs, job.threads)
        self.train_tab.set_locked(True)
        self._update_actions()
        self.tabs.setCurrentIndex(0)
        # Lay out and paint the window for the run (new curves and legend, locked
        # settings: 10-20 ms) before the worker starts, not beside its first epoch.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.UpdateRequest)

    @Slot(object)
    def on_run_prepared(self, prepared: PreparedData) -> None:
        """Say what trains on what; keep the validation split for Evaluate."""
        validation = (
            f", validating on {prepared.validation_size:,}"
            if prepared.validation_size
            else ", no validation set"
        )
        self.status_bar.showMessage(
            f"Training {'-'.join(map(str, prepared.layer_sizes))} on "
            f"{prepared.train_size:,} images{validation}.",
            5000,
        )
        self.views.set_validation_set(prepared.validation_set)

    @Slot(object)
    def on_batch_progress(self, message: BatchProgress) -> None:
        """Plot the new mini-batch losses."""
        self.plot_panel.add_batches(message.x, message.loss, message.smoothed)

    @Slot(object)
    def on_epochs_finished(self, rows: list[dict]) -> None:
        """Plot the finished epochs."""
        for values in rows:
            self.plot_panel.add_epoch(float(values["epoch"]), values)

    @Slot(object)
    def on_snapshot_taken(self, model: SavedModel) -> None:
        """Make the weights after the latest epoch the current model."""
        self._adopt(model, live=True)

    @Slot(object, object)
    def on_run_succeeded(self, model: SavedModel, outcome: TrainingOutcome) -> None:
        """Keep the final model and say how the run ended."""
        self._adopt(model, live=False)
        self.banner.show_message(*outcome_message(outcome, model))
        self.status_bar.showMessage(self.banner.text(), 8000)

    def _adopt(self, model: SavedModel, live: bool) -> None:
        job = self.training.job
        # A new network replaces the opened file's name; a fine-tune of it keeps it.
        fine_tune = job is not None and job.base is not None
        self.document.adopt_trained(model, live=live, same_file=fine_tune)

    @Slot(str)
    def on_run_failed(self, details: str) -> None:
        """Show the error in the window (the traceback behind Details…)."""
        lines = [line for line in details.strip().splitlines() if line.strip()]
        headline = lines[-1] if lines else "unknown error"
        self.banner.show_message("error", f"Training failed: {headline}", details)

    @Slot(int)
    def on_run_cancelled(self, epochs: int) -> None:
        """Say the run was stopped; the last epoch's weights stay the current model."""
        stopped = self.steps.stopped_text(epochs)
        if stopped is not None:
            text = stopped
        elif epochs and self.document.model is not None:
            text = (
                f"Training stopped after {count(epochs, 'epoch')}; the model keeps "
                "the weights of the last finished epoch."
            )
        else:
            text = "Training stopped before the first epoch ended."
        self.banner.show_message("info", text)

    @Slot(str)
    def on_run_finished(self, outcome: str) -> None:
        """End-of-run cleanup: unlock the controls whatever happened."""
        self.plot_panel.finish_run(outcome)
        self._describe_model()  # the full description, now that the run has ended
        self.commands.pause.setChecked(False)
        self.status_bar.show_run_ended(outcome)
        self.train_tab.set_locked(False)
        self._update_actions()
        self._update_title()
        if self._close_pending:
            QTimer.singleShot(0, self.close)

    @Slot()
    def on_document_state_changed(self) -> None:
        """Show the model, its file name and whether it is saved."""
        self._describe_model()
        self._update_actions()
        self._update_title()

    def _describe_model(self) -> None:
        if self.training.is_running:
            # The run's text stays until it ends: each new text of this word-wrapped
            # label re-lays out and repaints the whole tab beside the training (the
            # status bar and the plots show the epochs).
            return
        document = self.document
        self.train_tab.show_model_text(model_summary(document.model, document.path))

    def _update_actions(self) -> None:
        running = self.training.is_running
        problem = self.train_tab.start_problem()
        ready = not running and not problem and self.data_panel.dataset is not None
        steps = getattr(self, "steps", None)
        self.commands.update(
            running,
            ready,
            self.document.model is not None,
            paused=steps is not None and steps.paused,
            can_continue=steps is not None and steps.can_continue() and not problem,
        )
        self.train_tab.show_problem(problem, running)

    def _update_title(self) -> None:
        path = self.document.path
        self.setWindowModified(self.document.unsaved)
        self.setWindowTitle(f"{path.name if path else 'untitled'}[*] — Digit Studio")

    # ============================================================== dataset
    @Slot(bool)
    def on_data_loading_changed(self, loading: bool) -> None:
        """Disable Start while the dataset loads."""
        if loading:
            self.status_bar.showMessage("Loading the dataset…")
        else:
            self.status_bar.clearMessage()
        self._update_actions()

    @Slot(int)
    def on_personal_set_changed(self, _count: int) -> None:
        """Update the "Include my drawings" count."""
        self.data_panel.update_personal_count()

    # ====================================================== one example, numbers
    @Slot()
    def on_show_numbers(self) -> None:
        """Follow the Draw tab's input through the network, in its own window."""
        image = self.draw_tab.current_image()
        self.numbers.follow(self.document.model, drawing_example(image), show=True)

    @Slot(object)
    def on_draw_input_changed(self, image: object) -> None:
        """Keep the numbers on the drawing as it changes (while they are shown)."""
        self.numbers.follow(self.document.model, drawing_example(image))

    @Slot(bool)
    def on_numbers_model_changed(self, _live: bool) -> None:
        """Follow the example through each new model (a step of training, too)."""
        if self.numbers.isVisible():
            self.numbers.view.set_model(self.document.model)

    @Slot(object)
    def on_example_chosen(self, example: Example) -> None:
        """Follow a dataset image chosen on the Evaluate tab through the network."""
        self.numbers.follow(self.document.model, example, show=True)

    # ================================================================ files
    @Slot()
    def on_new(self) -> None:
        """Forget the current model (the plots keep the runs)."""
        if self.files.new():
            self.banner.hide()

    @Slot()
    def on_open_image(self) -> None:
        """Choose an image file and classify it on the Draw tab."""
        path = self.files.ask_image_path()
        if path:
            self.tabs.setCurrentWidget(self.draw_tab)
            self.draw_tab.open_image(path)

    @Slot(object)
    def on_image_chosen(self, chosen: ChosenImage) -> None:
        """Put an image from the Inside tab on the Draw tab's canvas."""
        self.draw_tab.put_image(chosen)
        if chosen.go_to_canvas:
            self.tabs.setCurrentWidget(self.draw_tab)
        else:
            self.status_bar.showMessage(
                f"On the Draw tab's canvas: {chosen.description}.", 5000
            )

    @Slot(object)
    def on_document_opened(self, model: SavedModel) -> None:
        """Fill the controls from the file's settings and plot its history."""
        self.train_tab.show_opened_model(model)
        if model.dataset_name and self.data_panel.current_name() != model.dataset_name:
            self.data_panel.select(model.dataset_name)
        name = self.document.path.name if self.document.path else ""
        run = self.plot_panel.add_history_run(
            f"{name}: {describe_config(model.config, layer_sizes(model))}",
            model.config,
            plotted_history(model.history, model.phases),
        )
        self.run_models.keep_opened(run.run_id, model, self.document.path)
        epochs = epochs_text(model)
        self.banner.show_message(
            "info",
            f"Opened {name}: trained on {model.dataset_name or 'unknown data'}"
            f"{', ' + epochs if epochs else ''}; its history is in the plots.",
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt)
        """Accept a dragged .npz file."""
        if any(
            u.toLocalFile().lower().endswith(".npz") for u in event.mimeData().urls()
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt)
        """Open the dropped .npz file."""
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith(".npz"):
                event.acceptProposedAction()
                QTimer.singleShot(0, lambda p=path: self.files.open_path(p))
                return

    # ============================================================== misc UI
    @Slot()
    def on_log_scale_toggled(self) -> None:
        """Toggle the log-scale loss axis."""
        self.plot_panel.log_check.setChecked(self.commands.log_scale.isChecked())

    @Slot()
    def on_tab_action(self) -> None:
        """Switch tabs from the keyboard."""
        action = self.sender()
        if action in self.commands.tabs:
            self.tabs.setCurrentIndex(self.commands.tabs.index(action))

    @Slot()
    def on_model_details(self) -> None:
        """Show the model's metadata and per-epoch history."""
        if self.document.model is None:
            return
        text, details = model_details(self.document.model, self.document.path)
        box = QMessageBox(
            QMessageBox.Icon.Information, "Model details", text, parent=self
        )
        box.setDetailedText(details)
        box.exec()

    @Slot()
    def on_about(self) -> None:
        """About box."""
        QMessageBox.about(
            self,
            "About Digit Studio",
            f"Digit Studio {app_version()}\n\nA multilayer perceptron written from "
            "scratch in NumPy that learns handwritten digits while you watch.",
        )

    # ============================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt)
        """Ask about unsaved work, stop training cleanly, save settings.

        A training step that outlasts the wait is not cut short: the window hides
        and the close (with a save asked for) finishes when the run has ended.
        """
        if not self._closing:
            decision = self.files.confirm_close()
            if decision is None:
                event.ignore()
                return
            self._closing = True
            self._save_on_close = decision.save_to
            self.save_settings()
        if self.training.is_running:
            self.training.shutdown(STOP_WAIT_MS)
            if self.training.is_running:
                # The current step is still running: hide now, close once it ends.
                self._close_pending = True
                self.hide()
                event.ignore()
                return
        path, self._save_on_close = self._save_on_close, None
        if path is not None and not self.files.save_to(path):
            # The error is shown; nothing is lost: the window stays.
            self._closing = self._close_pending = False
            self.show()
            event.ignore()
            return
        self._close_pending = False
        self.data_panel.shutdown(STOP_WAIT_MS)
        for tab in (self.draw_tab, self.evaluate_tab, self.inside_tab):
            tab.shutdown()
        event.accept()
        self.closed.emit()
