"""The main window: toolbar, menus, status bar and the Train / Draw / Evaluate tabs.

Owns the current model snapshot, the training run's lifecycle (start, pause, stop,
close), opening and saving model files, presets and persisted settings. Computes
nothing itself: training runs in gui.training_worker, data loading in gui.background.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QThread, QTimer, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core import user_dirs
from core.datasets import Dataset, Normalization
from core.model_io import (
    ModelFileError,
    ModelMetadata,
    SavedModel,
    app_version,
    load_model,
    save_model,
    utc_now_iso,
)
from core.personal_set import load_personal_dataset
from core.presets import PRESETS
from core.training import ConfigError, TrainingConfig
from gui.data_panel import DataPanel, personal_target
from gui.inside_tab import InsideTab
from gui.live_network import ChosenImage
from gui.network_panel import NetworkPanel
from gui.plot_panel import PlotPanel
from gui.run_history import describe_config
from gui.settings import AppSettings
from gui.training_panel import TrainingPanel
from gui.training_worker import (
    BatchProgress,
    EpochProgress,
    PreparedData,
    TrainingJob,
    TrainingOutcome,
    TrainingWorker,
    start_training,
)
from gui.widgets import fixed_label

try:  # The Draw and Evaluate tabs are built separately; the window works without.
    from gui.draw_tab import DrawTab
except ImportError:  # pragma: no cover - only while the tab is being written
    DrawTab = None
try:
    from gui.evaluate_tab import EvaluateTab
except ImportError:  # pragma: no cover
    EvaluateTab = None

CUSTOM_PRESET = "custom"
STOP_WAIT_MS = 2000
STATUS_HZ = 5
FINE_TUNE_EPOCHS = 3
FINE_TUNE_REPEAT = 5
FINE_TUNE_LIMIT = 10000
MODEL_FILTER = "Digit Studio models (*.npz);;All files (*)"
BANNER_STYLES = {
    "info": "background: #e7f1fb; border: 1px solid #9cc3e6; color: #0b3a62;",
    "success": "background: #e8f5e9; border: 1px solid #9ccc9f; color: #1b4d20;",
    "warning": "background: #fff4e0; border: 1px solid #f0c36d; color: #5c3d00;",
    "error": "background: #fdecea; border: 1px solid #e6a19b; color: #7a1410;",
}


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Banner(QFrame):
    """A coloured message line above the plots, with details and a close box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.details = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Show the full error report")
        self.details_button.clicked.connect(self.on_details_clicked)
        self.close_button = QPushButton("✕")
        self.close_button.setFlat(True)
        self.close_button.setFixedWidth(28)
        self.close_button.setToolTip("Dismiss this message")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.details_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, kind: str, text: str, details: str = "") -> None:
        """Show ``text`` styled as info, success, warning or error."""
        self.kind, self.details = kind, details
        self.label.setText(text)
        self.setStyleSheet(f"Banner {{ {BANNER_STYLES[kind]} border-radius: 4px; }}")
        self.details_button.setVisible(bool(details))
        self.show()

    def text(self) -> str:
        """Return the message shown."""
        return self.label.text()

    @Slot()
    def on_details_clicked(self) -> None:
        """Show the details in a dialog."""
        box = QMessageBox(
            QMessageBox.Icon.Information, "Details", self.label.text(), parent=self
        )
        box.setDetailedText(self.details)
        box.exec()


class MainWindow(QMainWindow):
    """Digit Studio's window. ``settings`` and ``data_dir`` default to the user's."""

    def __init__(
        self,
        settings: AppSettings | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.data_dir = Path(data_dir) if data_dir is not None else user_dirs.data_dir()
        self.model: SavedModel | None = None
        self.model_path: Path | None = None
        self.unsaved = False
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._running_job: TrainingJob | None = None
        self._config_error = ""
        self._prepared: PreparedData | None = None
        self._history: list[dict[str, Any]] = []
        self._outcome_text = ""
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._started_at = 0.0
        self._last_draw_update = 0.0
        self._closing = False
        self._close_pending = False
        self._applying_preset = False
        self._evaluation_holdout: Dataset | None = None
        self._pending_tabs: set[QWidget] = set()
        self._app_version = app_version()
        self._pending_status: BatchProgress | None = None
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(int(1000 / STATUS_HZ))
        self._status_timer.timeout.connect(self.on_status_timer)

        self.setWindowTitle("Digit Studio")
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.setMinimumSize(960, 600)

        self._build_actions()
        self._set_icons()
        self._build_tabs()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._restore_settings()
        self._update_actions()
        self._update_title()

    # =============================================================== building
    def _action(
        self,
        text: str,
        slot,
        shortcut: Any = None,
        tip: str = "",
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        keys = ", ".join(s.toString() for s in action.shortcuts())
        full_tip = f"{tip} ({keys})" if keys else tip
        action.setToolTip(full_tip)
        action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action(
            "&New",
            self.on_new,
            QKeySequence.StandardKey.New,
            "Forget the current model",
        )
        self.open_action = self._action(
            "&Open…", self.on_open, QKeySequence.StandardKey.Open, "Open a model file"
        )
        self.save_action = self._action(
            "&Save", self.on_save, QKeySequence.StandardKey.Save, "Save the model"
        )
        self.save_as_action = self._action(
            "Save &As…",
            self.on_save_as,
            QKeySequence.StandardKey.SaveAs,
            "Save the model under a new name",
        )
        self.quit_action = self._action(
            "&Quit", self.close, QKeySequence.StandardKey.Quit, "Close Digit Studio"
        )
        self.start_action = self._action(
            "&Start training",
            self.on_start,
            ["F5", "Ctrl+Return"],
            "Train a new network with the settings on the left",
        )
        self.pause_action = self._action(
            "&Pause",
            self.on_pause_toggled,
            "F6",
            "Pause or resume the training",
            checkable=True,
        )
        self.stop_action = self._action(
            "S&top", self.on_stop, ["Shift+F5", "Ctrl+."], "Stop the training"
        )
        self.log_action = self._action(
            "&Log-scale loss",
            self.on_log_action,
            "Ctrl+L",
            "Show the loss on a logarithmic axis",
            checkable=True,
        )
        self.model_info_action = self._action(
            "Model &details…",
            self.on_model_details,
            "Ctrl+I",
            "Show the current model's metadata and history",
        )
        self.about_action = self._action(
            "&About Digit Studio", self.on_about, None, "About"
        )
        self.tab_actions = [
            self._action(
                f"&{name} tab",
                self.on_tab_action,
                f"Ctrl+{index + 1}",
                f"Switch to the {name} tab",
            )
            for index, name in enumerate(("Train", "Draw", "Evaluate", "Inside"))
        ]

    def _set_icons(self) -> None:
        pixmap = QStyle.StandardPixmap
        for action, icon in (
            (self.new_action, pixmap.SP_FileIcon),
            (self.open_action, pixmap.SP_DialogOpenButton),
            (self.save_action, pixmap.SP_DialogSaveButton),
            (self.start_action, pixmap.SP_MediaPlay),
            (self.pause_action, pixmap.SP_MediaPause),
            (self.stop_action, pixmap.SP_MediaStop),
        ):
            action.setIcon(self.style().standardIcon(icon))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.model_info_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = self.menuBar().addMenu("&Training")
        train_menu.addAction(self.start_action)
        train_menu.addAction(self.pause_action)
        train_menu.addAction(self.stop_action)
        view_menu = self.menuBar().addMenu("&View")
        for action in self.tab_actions:
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.log_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)
        self.rebuild_recent_menu()

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.new_action)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.save_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Preset: "))
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Custom", CUSTOM_PRESET)
        for name, preset in PRESETS.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1,
                f"{preset.description}\n{preset.reference}",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.preset_combo.setToolTip(
            "Fill every setting from a ready-made setup (the same presets as the "
            "command line)"
        )
        self.preset_combo.currentIndexChanged.connect(self.on_preset_changed)
        toolbar.addWidget(self.preset_combo)
        toolbar.addSeparator()
        toolbar.addAction(self.start_action)
        toolbar.addAction(self.pause_action)
        toolbar.addAction(self.stop_action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_tabs(self) -> None:
        self.data_panel = DataPanel(self.data_dir, self.settings.download_mirror)
        self.network_panel = NetworkPanel()
        self.training_panel = TrainingPanel()
        self.config_error_label = QLabel()
        self.config_error_label.setWordWrap(True)
        self.config_error_label.setStyleSheet("color: #b00020;")
        self.config_error_label.setToolTip("Why training cannot start yet")
        self.config_error_label.hide()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(self.data_panel)
        left_layout.addWidget(self.network_panel)
        left_layout.addWidget(self.training_panel)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        self.settings_scroll = scroll
        left_column = QWidget()
        left_column_layout = QVBoxLayout(left_column)
        left_column_layout.setContentsMargins(0, 0, 0, 0)
        left_column_layout.addWidget(scroll, 1)
        left_column_layout.addWidget(self.config_error_label)

        self.banner = Banner()
        self.model_label = QLabel("No model yet: choose settings and press Start (F5).")
        self.model_label.setWordWrap(True)
        self.model_label.setToolTip(
            "The current model (File > Model details… for more)"
        )
        self.plot_panel = PlotPanel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 4, 4)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.model_label)
        right_layout.addWidget(self.plot_panel, 1)

        self.train_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.train_splitter.addWidget(left_column)
        self.train_splitter.addWidget(right)
        self.train_splitter.setStretchFactor(0, 0)
        self.train_splitter.setStretchFactor(1, 1)
        self.train_splitter.setSizes([420, 860])
        self.train_splitter.setChildrenCollapsible(False)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.train_splitter, "Train")
        self.tabs.setTabToolTip(0, "Build a network and watch it learn (Ctrl+1)")
        if DrawTab is not None:
            self.draw_tab = DrawTab(data_dir=self.data_dir)
            self.draw_tab.fine_tune_requested.connect(self.on_fine_tune_requested)
            if hasattr(self.draw_tab, "personal_set_changed"):
                self.draw_tab.personal_set_changed.connect(self.on_personal_set_changed)
        else:
            self.draw_tab = QLabel("The Draw tab is not available in this build.")
        if EvaluateTab is not None:
            self.evaluate_tab = EvaluateTab()
        else:
            self.evaluate_tab = QLabel(
                "The Evaluate tab is not available in this build."
            )
        for widget in (self.draw_tab, self.evaluate_tab):
            if isinstance(widget, QLabel):
                widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tabs.addTab(self.draw_tab, "Draw")
        self.tabs.setTabToolTip(1, "Draw a digit and see what the model says (Ctrl+2)")
        self.tabs.addTab(self.evaluate_tab, "Evaluate")
        self.tabs.setTabToolTip(
            2, "Test accuracy, confusions, mistakes, weights (Ctrl+3)"
        )
        self.inside_tab = InsideTab()
        self.tabs.addTab(self.inside_tab, "Inside")
        self.tabs.setTabToolTip(
            3, "Where the digits live, what breaks the model, the data (Ctrl+4)"
        )
        self.inside_tab.image_chosen.connect(self.on_image_chosen)
        if hasattr(self.draw_tab, "input_changed"):
            self.draw_tab.input_changed.connect(self.inside_tab.show_input)
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self.on_tab_changed)

        self.plot_panel.log_check.toggled.connect(self.log_action.setChecked)
        self.network_panel.config_changed.connect(self.on_config_changed)
        self.training_panel.config_changed.connect(self.on_config_changed)
        self.data_panel.dataset_loaded.connect(self.on_dataset_loaded)
        self.data_panel.loading_changed.connect(self.on_data_loading_changed)
        self.data_panel.mirror_changed.connect(self.on_mirror_changed)
        self.data_panel.include_personal_changed.connect(self.on_config_changed)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_epoch = fixed_label(
            "epoch –", "epoch 00000/00000", "Current epoch / epochs of the run"
        )
        # Beside the progress bar, whatever room the widest text would need.
        self.status_epoch.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.status_progress = QProgressBar()
        self.status_progress.setRange(0, 100)
        self.status_progress.setValue(0)
        self.status_progress.setMaximumWidth(260)
        self.status_progress.setMinimumWidth(160)
        self.status_progress.setFormat("idle")
        self.status_progress.setToolTip("Progress of the whole run and time left")
        self.status_speed = fixed_label(
            "– samples/s", "000,000,000 samples/s", "Training speed"
        )
        self.status_lr = fixed_label("lr –", "lr 0.000e-00", "Current learning rate")
        for widget in (
            self.status_epoch,
            self.status_progress,
            self.status_speed,
            self.status_lr,
        ):
            bar.addPermanentWidget(widget)

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.splitter_state
        if splitter is not None:
            self.train_splitter.restoreState(splitter)
        preset = self.settings.last_preset or "recommended"
        index = self.preset_combo.findData(preset)
        custom = self.settings.custom_config
        if index > 0:
            self.preset_combo.setCurrentIndex(index)  # fills the controls
        elif custom is not None:
            try:
                self.apply_config(TrainingConfig.from_dict(custom))
            except (ConfigError, ValueError, TypeError, KeyError):
                self.on_config_changed()  # settings from another version: defaults
        else:
            self.on_config_changed()
        self.data_panel.refresh(select=self.settings.last_dataset or None)

    def save_settings(self) -> None:
        """Persist geometry, splitter, preset, dataset and mirror."""
        self.settings.geometry = self.saveGeometry()
        self.settings.splitter_state = self.train_splitter.saveState()
        self.settings.last_preset = str(self.preset_combo.currentData())
        try:
            custom = (
                None
                if self.preset_combo.currentIndex() > 0
                else (self.current_config().to_dict())
            )
        except ConfigError:
            custom = None
        self.settings.custom_config = custom
        if self.data_panel.current_name():
            self.settings.last_dataset = self.data_panel.current_name()
        self.settings.download_mirror = self.data_panel.mirror()
        self.settings.sync()

    # ================================================================ config
    def current_config(self) -> TrainingConfig:
        """Return the settings as a validated config; raises ``ConfigError``."""
        values = {**self.network_panel.values(), **self.training_panel.values()}
        try:
            config = TrainingConfig(**values)
            config.validate()
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc)) from exc
        return config

    def apply_config(self, config: TrainingConfig) -> None:
        """Fill every control from ``config``."""
        self._applying_preset = True
        try:
            self.network_panel.set_values(config)
            self.training_panel.set_values(config)
        finally:
            self._applying_preset = False
        self.on_config_changed()

    @Slot(int)
    def on_preset_changed(self, _index: int) -> None:
        """Fill the controls from the chosen preset and select its dataset."""
        name = str(self.preset_combo.currentData())
        if name == CUSTOM_PRESET or name not in PRESETS:
            return
        preset = PRESETS[name]
        self.apply_config(preset.config)
        self.settings.last_preset = name
        if self.data_panel.current_name() != preset.dataset:
            self.data_panel.select(preset.dataset)

    @Slot()
    def on_config_changed(self) -> None:
        """Re-validate the settings, explain problems inline, mark a custom preset."""
        try:
            config = self.current_config()
            self._config_error = ""
        except ConfigError as exc:
            config = None
            self._config_error = str(exc)
        if not self._applying_preset:
            name = str(self.preset_combo.currentData())
            if name in PRESETS and (config is None or config != PRESETS[name].config):
                self.preset_combo.blockSignals(True)
                self.preset_combo.setCurrentIndex(0)
                self.preset_combo.blockSignals(False)
        self._update_actions()

    def _start_problem(self) -> str:
        if self._config_error:
            return self._config_error
        if self.data_panel.is_loading():
            return ""
        if self.data_panel.dataset is None:
            return "Choose a dataset that is available (Full MNIST needs a download)."
        return ""

    # ============================================================== dataset
    @Slot(object)
    def on_dataset_loaded(self, dataset: Dataset | None) -> None:
        """Show the dataset's input and output sizes; hand its test data to Evaluate."""
        if dataset is not None:
            self.network_panel.set_io(
                dataset.input_size, dataset.num_classes, dataset.image_shape
            )
            self.settings.last_dataset = dataset.name
            self._evaluation_holdout = None
            self._pending_tabs.add(self.evaluate_tab)
            if self.tabs.currentWidget() is self.evaluate_tab:
                self._push_model(self.evaluate_tab)
            self._push_inside_data()
        self._update_actions()

    @Slot(bool)
    def on_data_loading_changed(self, loading: bool) -> None:
        """Disable Start while the dataset loads."""
        if loading:
            self.statusBar().showMessage("Loading the dataset…")
        else:
            self.statusBar().clearMessage()
        self._update_actions()

    @Slot(str)
    def on_mirror_changed(self, mirror: str) -> None:
        """Persist the download mirror."""
        self.settings.download_mirror = mirror

    @Slot(int)
    def on_personal_set_changed(self, _count: int) -> None:
        """Update the "Include my drawings" count."""
        self.data_panel.update_personal_count()

    def _set_evaluation_data(self) -> None:
        if not hasattr(self.evaluate_tab, "set_dataset"):
            return
        data = self._held_out_images()
        if data is not None and self.model is not None:
            if tuple(data.image_shape) != tuple(self.model.image_shape):
                data = None
        self.evaluate_tab.set_dataset(data)

    def _held_out_images(self) -> Dataset | None:
        """Return the images no training saw: the test set, else a holdout."""
        return (
            self.data_panel.test_set
            or self._evaluation_holdout
            or self.data_panel.holdout
        )

    def _push_inside_data(self) -> None:
        """Hand the loaded and held-out images to the views that look inside."""
        held_out = self._held_out_images()
        training = self.data_panel.dataset
        self.inside_tab.set_data(training, held_out)
        if hasattr(self.draw_tab, "network_panel"):
            self.draw_tab.network_panel.set_data(training, held_out)

    @Slot(object)
    def on_image_chosen(self, chosen: ChosenImage) -> None:
        """Put an image from the Inside tab on the Draw tab's canvas."""
        if not hasattr(self.draw_tab, "put_image"):
            return
        self.draw_tab.put_image(chosen)
        if chosen.go_to_canvas:
            self.tabs.setCurrentWidget(self.draw_tab)
        else:
            self.statusBar().showMessage(
                f"On the Draw tab's canvas: {chosen.description}.", 5000
            )

    # ============================================================= training
    @property
    def is_training(self) -> bool:
        """True while a training thread runs."""
        return self._thread is not None

    @Slot()
    def on_start(self) -> None:
        """Train a new network with the current settings."""
        if self.is_training:
            return
        problem = self._start_problem()
        if problem or self.data_panel.dataset is None:
            self.banner.show_message(
                "warning", problem or "The dataset is still loading."
            )
            return
        # No question here: comparing runs is the point, and every run stays plotted.
        config = self.current_config()
        dataset = self.data_panel.dataset
        extra = None
        if self.data_panel.include_personal():
            extra = _PersonalLoader(self.data_dir, personal_target(dataset.image_shape))
        job = TrainingJob(
            config=config,
            dataset=dataset,
            extra_loader=extra,
            extra_repeat=FINE_TUNE_REPEAT if extra else 1,
            label=describe_config(
                config.to_dict(),
                [dataset.input_size, *config.hidden_sizes, dataset.num_classes],
            ),
        )
        self._start_job(job)

    @Slot()
    def on_fine_tune_requested(self) -> None:
        """Fine-tune the current model on the personal drawings plus training data."""
        if self.is_training or self.model is None:
            return
        dataset = self.data_panel.dataset
        if dataset is None or tuple(dataset.image_shape) != tuple(
            self.model.image_shape
        ):
            self.banner.show_message(
                "warning",
                "To fine-tune, select the dataset the model was trained on "
                f"({self.model.dataset_name or 'same image size'}) on the Train tab.",
            )
            self.tabs.setCurrentIndex(0)
            return
        try:
            base = (
                TrainingConfig.from_dict(self.model.config)
                if self.model.config
                else None
            )
        except (ConfigError, ValueError, TypeError, KeyError):
            base = None
        if base is None:
            try:
                base = self.current_config()
            except ConfigError as exc:
                self.banner.show_message("warning", f"Cannot fine-tune: {exc}")
                return
        config = dataclasses.replace(
            base,
            epochs=FINE_TUNE_EPOCHS,
            learning_rate=base.learning_rate * 0.3,
            early_stopping_patience=0,
            schedule="constant",
        )
        target = personal_target(dataset.image_shape)
        job = TrainingJob(
            config=config,
            dataset=dataset,
            network=self.model.network.copy(),
            normalization=self.model.normalization,
            extra_loader=_PersonalLoader(self.data_dir, target),
            extra_repeat=FINE_TUNE_REPEAT,
            limit=FINE_TUNE_LIMIT,
            label="fine-tune on my drawings: " + describe_config(config.to_dict()),
            require_extra=True,
        )
        self._start_job(job)

    def _start_job(self, job: TrainingJob) -> None:
        self._running_job = job
        if job.network is None:
            # A new network, not the opened file's: Save must ask for a name.
            self.model_path = None
        self._history = []
        self._prepared = None
        self._paused_total = 0.0
        self._paused_since = None
        self._started_at = time.monotonic()
        self.banner.hide()
        self.plot_panel.start_run(job.label, job.config.to_dict(), job.config.epochs)
        self.model_label.setText(f"<b>Training…</b> {job.label}")
        self.status_epoch.setText(f"epoch 0/{job.config.epochs}")
        self.status_progress.setValue(0)
        self.status_progress.setFormat("starting…")
        self._thread, self._worker = start_training(job, self, start=False)
        self._set_locked(True)
        self._update_actions()
        self.tabs.setCurrentIndex(0)
        # Lay out and paint the window for the run (new curves and legend, locked
        # settings: 10-20 ms) before the worker starts, not beside its first epoch.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.UpdateRequest)
        self._thread.start()

    @Slot()
    def on_pause_toggled(self) -> None:
        """Pause or resume the running training."""
        if self._worker is None or not shiboken6.isValid(self._worker):
            self.pause_action.setChecked(False)
            return
        if self.pause_action.isChecked():
            self._worker.pause()
            self._paused_since = time.monotonic()
            self.status_progress.setFormat("paused")
            self.statusBar().showMessage("Paused: press Resume (F6) to continue.")
        else:
            self._worker.resume()
            if self._paused_since is not None:
                self._paused_total += time.monotonic() - self._paused_since
            self._paused_since = None
            self.statusBar().clearMessage()
        self._update_actions()

    @Slot()
    def on_stop(self) -> None:
        """Ask the training to stop after the current mini-batch."""
        if self._worker is not None and shiboken6.isValid(self._worker):
            self._worker.cancel()
            self.statusBar().showMessage("Stopping…")
            self.stop_action.setEnabled(False)

    @Slot()
    def on_worker_started(self) -> None:
        """Show that the worker is preparing the data."""
        self.status_progress.setFormat("preparing data…")

    @Slot(object)
    def on_worker_prepared(self, prepared: PreparedData) -> None:
        """Note the prepared data (split done, network built)."""
        self._prepared = prepared
        validation = (
            f", validating on {prepared.validation_size:,}"
            if prepared.validation_size
            else ", no validation set"
        )
        self.statusBar().showMessage(
            f"Training {'-'.join(map(str, prepared.layer_sizes))} on "
            f"{prepared.train_size:,} images{validation}.",
            5000,
        )
        if prepared.validation_set is not None and self.data_panel.test_set is None:
            self._evaluation_holdout = prepared.validation_set

    @Slot(object)
    def on_worker_progress(self, message: BatchProgress | EpochProgress) -> None:
        """Plot the new points and update the status bar."""
        if isinstance(message, BatchProgress):
            self.plot_panel.add_batches(message.x, message.loss, message.smoothed)
            # The status bar follows at most STATUS_HZ times a second: its widgets
            # repaint on every change, and the GUI thread's time is the worker's too
            # (the GIL).
            self._pending_status = message
            if not self._status_timer.isActive():
                self._status_timer.start()
        elif isinstance(message, EpochProgress):
            self._pending_status = None  # the epoch message is newer
            for event in message.events:
                values = dataclasses.asdict(event)
                # Stored JSON-ready (NaN/inf become None) so snapshots need no pass.
                self._history.append({k: _finite_or_none(v) for k, v in values.items()})
                self.plot_panel.add_epoch(float(event.epoch), values)
            event = message.event
            self.status_epoch.setText(f"epoch {event.epoch}/{event.epochs}")
            if event.samples_per_second:
                self.status_speed.setText(f"{event.samples_per_second:,.0f} samples/s")
            self.status_lr.setText(f"lr {event.learning_rate:.3g}")
            self._show_fraction(message.fraction)
            self._set_model(self._snapshot_model(message.snapshot), live=True)

    @Slot()
    def on_status_timer(self) -> None:
        """Show the latest batch progress in the status bar."""
        message, self._pending_status = self._pending_status, None
        if message is None or not self.is_training:
            return
        self.status_epoch.setText(f"epoch {message.epoch}/{message.epochs}")
        self.status_speed.setText(f"{message.samples_per_second:,.0f} samples/s")
        self.status_lr.setText(f"lr {message.learning_rate:.3g}")
        self._show_fraction(message.fraction)

    def _show_fraction(self, fraction: float) -> None:
        # Format first: the new value then repaints the bar (synchronously) once with
        # both; the other order paints it twice. Whole percents for the same reason.
        if self._paused_since is None:
            elapsed = time.monotonic() - self._started_at - self._paused_total
            if fraction > 0.005 and elapsed > 0.5:
                left = elapsed * (1.0 - fraction) / fraction
                self.status_progress.setFormat(f"%p% · ETA {_format_duration(left)}")
            else:
                self.status_progress.setFormat("%p%")
        self.status_progress.setValue(int(fraction * 100))

    @Slot(object)
    def on_worker_succeeded(self, outcome: TrainingOutcome) -> None:
        """Keep the final model and say how the run ended."""
        model = self._snapshot_model(outcome.network, outcome)
        self._set_model(model, live=False)
        self.unsaved = True
        accuracy = model.metrics.get("validation_accuracy")
        if accuracy is None:
            accuracy = model.metrics.get("train_accuracy")
            which = "training"
        else:
            which = "validation"
        summary = (
            f"{_count(outcome.epochs_completed, 'epoch')} in "
            f"{_format_duration(outcome.seconds)}"
        )
        if accuracy is not None:
            summary += f", {which} accuracy {100 * accuracy:.2f}%"
        if outcome.reason == "diverged":
            text = (
                f"Training stopped: the loss became NaN or infinite (diverged). "
                f"{outcome.message or 'Lower the learning rate and start again.'}"
            )
            self.banner.show_message("error", text)
        elif outcome.reason == "early_stopped":
            self.banner.show_message(
                "info",
                f"Early stop after {summary}. "
                f"{outcome.message or 'The validation loss stopped improving.'}",
            )
        else:
            extra = "" if outcome.message.startswith("Finished") else outcome.message
            self.banner.show_message(
                "success", f"Training finished: {summary}. {extra}".strip()
            )
        self._outcome_text = outcome.reason
        self.statusBar().showMessage(self.banner.text(), 8000)

    @Slot(str)
    def on_worker_failed(self, details: str) -> None:
        """Show the error in the window (the traceback behind Details…)."""
        lines = [line for line in details.strip().splitlines() if line.strip()]
        headline = lines[-1] if lines else "unknown error"
        self.banner.show_message("error", f"Training failed: {headline}", details)
        self._outcome_text = "failed"

    @Slot()
    def on_worker_cancelled(self) -> None:
        """Say the run was stopped; the last epoch's weights stay the current model."""
        epochs = len(self._history)
        if epochs and self.model is not None:
            self.unsaved = True
            text = (
                f"Training stopped after {epochs} epoch{'s' * (epochs != 1)}; the "
                "model keeps the weights of the last finished epoch."
            )
        else:
            text = "Training stopped before the first epoch ended."
        self.banner.show_message("info", text)
        self._outcome_text = "stopped"

    @Slot()
    def on_worker_finished(self) -> None:
        """End-of-run cleanup: unlock the controls whatever happened."""
        self.plot_panel.finish_run(self._outcome_text or "ended")
        self._outcome_text = ""
        self._status_timer.stop()
        self._pending_status = None
        thread, self._thread = self._thread, None
        if thread is not None and shiboken6.isValid(thread):
            # The thread quits right after this signal; wait for it so that the
            # next run never overlaps this one (gui.background keeps both objects
            # alive until the thread has ended).
            thread.wait(STOP_WAIT_MS)
        self._worker = None
        self._running_job = None
        self._describe_model()  # the full description, now that the run has ended
        self.pause_action.setChecked(False)
        self._paused_since = None
        self.status_progress.setFormat(
            "%p% · done" if self.status_progress.value() else "idle"
        )
        self._set_locked(False)
        self._update_actions()
        self._update_title()
        if self._close_pending:
            QTimer.singleShot(0, self.close)

    def _snapshot_model(
        self, network: Any, outcome: TrainingOutcome | None = None
    ) -> SavedModel:
        job = self._running_job
        assert job is not None
        dataset = job.dataset
        normalization = (
            outcome.normalization
            if outcome is not None
            else (self._prepared.normalization if self._prepared else job.normalization)
        )
        if normalization is None:
            normalization = Normalization("scale", dataset.max_value)
        history = list(self._history)
        metrics: dict[str, Any] = {"epochs": len(history)}
        # With early stopping the kept weights are the best epoch's, not the last's.
        best = outcome.best_epoch if outcome is not None else None
        source = history[best - 1] if best and best <= len(history) else None
        if source is None and history:
            source = history[-1]
        if outcome is not None and best:
            metrics["best_epoch"] = best
        if source is not None:
            for key in (
                "train_loss",
                "train_accuracy",
                "validation_loss",
                "validation_accuracy",
            ):
                if source.get(key) is not None:
                    metrics[key] = source[key]
        if outcome is not None:
            metrics["training_seconds"] = round(outcome.seconds, 3)
            metrics["stopped"] = outcome.reason
        return SavedModel(
            network=network,
            normalization=normalization,
            image_shape=dataset.image_shape,
            class_names=dataset.class_names,
            dataset_name=dataset.name,
            config=job.config.to_dict(),
            history=history,
            metrics=metrics,
            created=utc_now_iso(),
            app_version=self._app_version,
        )

    def _set_model(self, model: SavedModel | None, live: bool) -> None:
        self.model = model
        if live and model is not None:
            self.unsaved = True  # even a run that then fails leaves trained weights
        self._describe_model()
        # The Draw and Evaluate tabs get the model when they are shown (their first
        # use of a model may fit or evaluate something). A visible Draw tab follows
        # the training live, at most once a second; Evaluate waits for the end.
        self._pending_tabs = {self.draw_tab, self.evaluate_tab, self.inside_tab}
        now = time.monotonic()
        current = self.tabs.currentWidget()
        if current is self.draw_tab and (
            not live or now - self._last_draw_update > 1.0
        ):
            self._last_draw_update = now
            self._push_model(current)
        elif current in (self.evaluate_tab, self.inside_tab) and not live:
            self._push_model(current)
        self._update_actions()
        self._update_title()

    def _push_model(self, tab: QWidget) -> None:
        self._pending_tabs.discard(tab)
        if tab is self.evaluate_tab:
            self._set_evaluation_data()
        if tab in (self.draw_tab, self.inside_tab):
            self._push_inside_data()
        if hasattr(tab, "set_model"):
            tab.set_model(self.model)

    @Slot(int)
    def on_tab_changed(self, _index: int) -> None:
        """Hand the current model to the tab just shown if it has not seen it."""
        tab = self.tabs.currentWidget()
        if tab in self._pending_tabs:
            self._push_model(tab)

    def _describe_model(self) -> None:
        if self.is_training:
            # The run's text stays until it ends: each new text of this word-wrapped
            # label re-lays out and repaints the whole tab beside the training (the
            # status bar and the plots show the epochs).
            return
        model = self.model
        if model is None:
            self.model_label.setText(
                "No model yet: choose settings and press Start (F5)."
            )
            return
        sizes = [model.network.input_size, *[w.shape[1] for w in model.network.weights]]
        parts = [
            f"<b>{self.model_path.name if self.model_path else 'Unsaved model'}</b>",
            "-".join(map(str, sizes)),
            model.config.get("activation", ""),
            f"trained on {model.dataset_name}" if model.dataset_name else "",
        ]
        if model.history:
            parts.append(_count(len(model.history), "epoch"))
        accuracy = model.metrics.get("validation_accuracy")
        if accuracy is not None:
            parts.append(f"validation accuracy {100 * accuracy:.2f}%")
        if model.created:
            parts.append(f"created {model.created}")
        self.model_label.setText(" · ".join(p for p in parts if p))

    def _set_locked(self, locked: bool) -> None:
        self.data_panel.set_locked(locked)
        self.network_panel.setEnabled(not locked)
        self.training_panel.setEnabled(not locked)
        self.preset_combo.setEnabled(not locked)

    def _update_actions(self) -> None:
        running = self.is_training
        problem = self._start_problem()
        ready = not running and not problem and self.data_panel.dataset is not None
        self.start_action.setEnabled(ready)
        self.pause_action.setEnabled(running)
        self.pause_action.setText(
            "&Resume" if self.pause_action.isChecked() else "&Pause"
        )
        self.stop_action.setEnabled(running)
        has_model = self.model is not None
        self.save_action.setEnabled(has_model and not running)
        self.save_as_action.setEnabled(has_model and not running)
        self.open_action.setEnabled(not running)
        self.new_action.setEnabled(not running)
        self.recent_menu.setEnabled(not running)
        self.model_info_action.setEnabled(has_model)
        self.config_error_label.setText(problem)
        self.config_error_label.setVisible(bool(problem) and not running)

    def _update_title(self) -> None:
        name = self.model_path.name if self.model_path else "untitled"
        self.setWindowModified(self.unsaved)
        self.setWindowTitle(f"{name}[*] — Digit Studio")

    # ================================================================ files
    def _confirm_discard(self, doing: str) -> bool:
        """Ask before throwing away unsaved training; True means go ahead."""
        if not self.unsaved or self.model is None:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved model",
            f"The trained model is not saved. Save it before you {doing.lower()}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.on_save()
        return answer == QMessageBox.StandardButton.Discard

    @Slot()
    def on_new(self) -> None:
        """Forget the current model (the plots keep the runs)."""
        if self.is_training or not self._confirm_discard("Start over"):
            return
        self.model_path = None
        self.unsaved = False
        self._set_model(None, live=False)
        self.banner.hide()

    @Slot()
    def on_open(self) -> None:
        """Choose a model file and open it."""
        if self.is_training or not self._confirm_discard("Open another model"):
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", self.settings.last_folder, MODEL_FILTER
        )
        if path:
            self.open_model(path, confirmed=True)

    def open_model(self, path: str | Path, confirmed: bool = False) -> bool:
        """Load a model file, show its metadata and history; errors go to a dialog."""
        if self.is_training:
            return False
        if not confirmed and not self._confirm_discard("Open another model"):
            return False
        path = Path(path)
        try:
            model = load_model(path)
        except (ModelFileError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open the model", str(exc))
            return False
        self.model_path = path
        self.unsaved = False
        self.settings.last_folder = str(path.parent)
        self.settings.add_recent_file(str(path))
        config = None
        if model.config:
            try:
                config = TrainingConfig.from_dict(model.config)
            except (ConfigError, ValueError, TypeError, KeyError):
                config = None
        if config is not None:
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(0)
            self.preset_combo.blockSignals(False)
            self.apply_config(config)
        if model.dataset_name and self.data_panel.current_name() != model.dataset_name:
            self.data_panel.select(model.dataset_name)
        sizes = [model.network.input_size, *[w.shape[1] for w in model.network.weights]]
        self.plot_panel.add_history_run(
            f"{path.name}: {describe_config(model.config, sizes)}",
            model.config,
            model.history,
        )
        self._evaluation_holdout = None
        self._set_model(model, live=False)
        epochs = len(model.history)
        self.banner.show_message(
            "info",
            f"Opened {path.name}: trained on {model.dataset_name or 'unknown data'}"
            f"{', ' + _count(epochs, 'epoch') if epochs else ''}; its history is in "
            "the plots.",
        )
        return True

    @Slot()
    def on_save(self) -> bool:
        """Save to the current file (or ask for one)."""
        if self.model_path is None:
            return self.on_save_as()
        return self.save_model_to(self.model_path)

    @Slot()
    def on_save_as(self) -> bool:
        """Ask for a file name and save."""
        if self.model is None:
            return False
        path = self._ask_save_path()
        return path is not None and self.save_model_to(path)

    def _ask_save_path(self) -> Path | None:
        default = self.model_path or Path(self.settings.last_folder) / "model.npz"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", str(default), MODEL_FILTER
        )
        if not path:
            return None
        return Path(path if path.lower().endswith(".npz") else path + ".npz")

    def save_model_to(self, path: Path) -> bool:
        """Write the current model atomically; errors go to a dialog."""
        model = self.model
        if model is None or self.is_training:
            return False
        metadata = ModelMetadata(
            normalization=model.normalization,
            image_shape=tuple(model.image_shape),
            class_names=tuple(model.class_names),
            dataset_name=model.dataset_name,
            config=model.config,
            history=model.history,
            metrics={k: _finite_or_none(v) for k, v in model.metrics.items()},
            created=model.created,
            app_version=model.app_version,
        )
        try:
            save_model(path, model.network, metadata)
        except (ModelFileError, OSError) as exc:
            QMessageBox.critical(self, "Cannot save the model", str(exc))
            return False
        self.model_path = Path(path)
        self.unsaved = False
        self.settings.last_folder = str(Path(path).parent)
        self.settings.add_recent_file(str(path))
        self._describe_model()
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    @Slot()
    def rebuild_recent_menu(self) -> None:
        """List the recent model files."""
        self.recent_menu.clear()
        files = self.settings.recent_files
        for index, name in enumerate(files):
            action = self.recent_menu.addAction(f"&{index + 1} {Path(name).name}")
            action.setData(name)
            action.setToolTip(name)
            action.triggered.connect(self.on_recent_triggered)
        if not files:
            empty = self.recent_menu.addAction("No recent files")
            empty.setEnabled(False)

    @Slot()
    def on_recent_triggered(self) -> None:
        """Open a recent file."""
        action = self.sender()
        if isinstance(action, QAction):
            path = str(action.data())
            if not Path(path).exists():
                self.settings.remove_recent_file(path)
                QMessageBox.warning(self, "File not found", f"{path} no longer exists.")
                return
            self.open_model(path)

    # ============================================================ dragging
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
                QTimer.singleShot(0, lambda p=path: self.open_model(p))
                return

    # ============================================================== misc UI
    @Slot()
    def on_log_action(self) -> None:
        """Toggle the log-scale loss axis."""
        self.plot_panel.log_check.setChecked(self.log_action.isChecked())

    @Slot()
    def on_tab_action(self) -> None:
        """Switch tabs from the keyboard."""
        action = self.sender()
        if action in self.tab_actions:
            self.tabs.setCurrentIndex(self.tab_actions.index(action))

    @Slot()
    def on_model_details(self) -> None:
        """Show the model's metadata and per-epoch history."""
        model = self.model
        if model is None:
            return
        lines = [
            f"File: {self.model_path or 'not saved'}",
            f"Dataset: {model.dataset_name}",
            f"Image: {model.image_shape[0]}x{model.image_shape[1]}, "
            f"classes: {', '.join(model.class_names)}",
            f"Created: {model.created} (Digit Studio {model.app_version})",
            f"Network: {model.network!r}",
            "Metrics: " + ", ".join(f"{k}={v}" for k, v in model.metrics.items()),
        ]
        history = "\n".join(
            f"epoch {row.get('epoch')}: "
            + ", ".join(
                f"{k} {v:.4f}"
                for k, v in row.items()
                if isinstance(v, float) and k != "epoch"
            )
            for row in model.history
        )
        config = "\n".join(f"{k}: {v}" for k, v in model.config.items())
        box = QMessageBox(
            QMessageBox.Icon.Information, "Model details", "\n".join(lines), parent=self
        )
        box.setDetailedText(f"Settings\n{config}\n\nHistory\n{history}")
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
        """Ask about unsaved work, stop training cleanly, save settings."""
        if not self._closing:
            if not self._confirm_close():
                event.ignore()
                return
            self._closing = True
            self.save_settings()
        if self.is_training:
            self.shutdown_training(STOP_WAIT_MS)
            if self.is_training:
                # The current step is still running: hide now, close once it ends.
                self._close_pending = True
                self.hide()
                event.ignore()
                return
        self._close_pending = False
        self.data_panel.shutdown(STOP_WAIT_MS)
        for tab in (self.draw_tab, self.evaluate_tab, self.inside_tab):
            if hasattr(tab, "shutdown"):
                tab.shutdown()
        event.accept()

    def _confirm_close(self) -> bool:
        """Ask before quitting with unsaved training; True means go ahead."""
        has_work = self.model is not None and (self.unsaved or self.is_training)
        if not has_work:
            return True
        doing = "quit (the training stops)" if self.is_training else "quit"
        answer = QMessageBox.question(
            self,
            "Unsaved model",
            f"The trained model is not saved. Save it before you {doing}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            # The file name first: cancelling that dialog keeps the run going.
            path = self.model_path or self._ask_save_path()
            if path is None:
                return False
            self.shutdown_training(STOP_WAIT_MS)
            return not self.is_training and self.save_model_to(path)
        return True

    def shutdown_training(self, timeout_ms: int) -> None:
        """Cancel the run and wait up to ``timeout_ms`` for its thread to end.

        When it ends in time, the worker's queued signals (last snapshot, cancelled,
        finished) are delivered at once, so the model and the controls are final.
        """
        thread, worker = self._thread, self._worker
        if worker is not None and shiboken6.isValid(worker):
            worker.cancel()
        if thread is None or not shiboken6.isValid(thread):
            return
        if thread.wait(timeout_ms):
            QCoreApplication.sendPostedEvents(self)
            if self._thread is thread:
                self.on_worker_finished()


class _PersonalLoader:
    """Loads the personal drawings in the worker thread (a callable for TrainingJob)."""

    def __init__(self, data_dir: Path, target: str) -> None:
        self.data_dir = data_dir
        self.target = target

    def __call__(self) -> Dataset | None:
        return load_personal_dataset(self.data_dir, self.target)
