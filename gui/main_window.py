"""The main window: builds the Train / Draw / Evaluate / Inside tabs, commands, status.

It connects them to the model document (``gui.model_document``) and the training
controller (``gui.training_controller``) and decides what is shown when; it computes
nothing and holds no model, file or run state of its own.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget

from core import user_dirs
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
    model_summary,
)
from gui.model_views import ModelViews
from gui.run_display import RunDisplay
from gui.settings import AppSettings
from gui.status_bar import TrainingStatusBar
from gui.step_commands import StepCommands
from gui.step_through_view import StepThroughWindow
from gui.train_tab import TrainTab
from gui.training_controller import (
    STOP_WAIT_MS,
    TrainingController,
    fine_tune_job,
)
from gui.training_worker import (
    TrainingJob,
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

        self.train_tab = TrainTab(self.settings, self.data_dir)
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
        self.draw_tab.input_changed.connect(self.inside_tab.show_input)
        self.inside_tab.image_chosen.connect(self.on_image_chosen)
        self.numbers.connect_sources(self.document, self.draw_tab, self.evaluate_tab)
        self.document.state_changed.connect(self.on_document_state_changed)

        training = self.training
        # The display's slots run first: the run is laid out before the actions.
        self.run_display = RunDisplay(
            training,
            self.document,
            self.train_tab,
            self.status_bar,
            self.views,
            self.run_models,
            self,
        )
        training.run_started.connect(self.on_run_started)
        training.cancelled.connect(self.on_run_cancelled)
        training.finished.connect(self.on_run_finished)

    def _connect_steps(self) -> None:
        actions, steps = self.commands, self.steps
        actions.step_batch.triggered.connect(steps.step_batch)
        actions.step_epoch.triggered.connect(steps.step_epoch)
        actions.continue_training.triggered.connect(steps.continue_training)
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
        self.steps.start_new()

    @Slot(bool)
    def on_steps_paused_changed(self, paused: bool) -> None:
        """Show Resume while a run waits (or will, after its step)."""
        self.commands.pause.setChecked(paused)
        self._update_actions()

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
        drawings = PersonalDrawings(
            self.data_dir,
            dataset.image_shape,
            self.draw_tab.read_right(),
            self.draw_tab.misread_share(),
        )
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
    def on_run_started(self, _job: TrainingJob) -> None:
        """Show the Train tab, laid out and painted for the run, before it starts."""
        self._update_actions()
        self.tabs.setCurrentIndex(0)
        # Lay out and paint the window for the run (new curves and legend, locked
        # settings: 10-20 ms) before the worker starts, not beside its first epoch.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.UpdateRequest)

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

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt)
        """Accept a dragged model file."""
        self.files.accept_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt)
        """Open the dropped model file."""
        self.files.open_dropped(event)

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
