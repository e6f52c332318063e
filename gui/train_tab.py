"""The Train tab: the settings column, and beside it the banner, model line and plots.

Owns ``TrainTab``: it turns the controls into a validated ``TrainingConfig``, fills
them from a preset or a config, and keeps their part of the saved settings. Starts
nothing itself; the window does.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.datasets import Dataset
from core.guidance import Fix
from core.model_io import SavedModel
from core.presets import PRESETS
from core.training import ConfigError, TrainingConfig
from gui.banner import Banner
from gui.data_panel import DataPanel
from gui.guidance_strip import GuidanceStrip
from gui.health_panel import HealthPanel
from gui.health_view import HealthView
from gui.model_document import saved_config
from gui.network_panel import NetworkPanel
from gui.plot_export import PlotSaver
from gui.plot_panel import PlotPanel
from gui.plots_area import PlotsArea
from gui.settings import AppSettings
from gui.training_panel import TrainingPanel

CUSTOM_PRESET = "custom"


# The banner's first message, where a run's outcome will be.
WELCOME = "New here? Start from a preset: “recommended” reads drawings best."


class TrainTab(QSplitter):
    """Settings on the left, the run's messages and plots on the right.

    ``config_changed()`` follows every change of the settings, once they are
    re-validated (``config_problem`` says what is wrong, "" when nothing is).
    """

    config_changed = Signal()

    def __init__(self, settings: AppSettings, data_dir: Path) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.settings = settings
        self.config_problem = ""
        self._applying_preset = False
        self.data_panel = DataPanel(data_dir, settings.download_mirror)
        self.network_panel = NetworkPanel()
        self.training_panel = TrainingPanel()
        self.config_error_label = QLabel()
        self.config_error_label.setWordWrap(True)
        self.config_error_label.setStyleSheet("color: #b00020;")
        self.config_error_label.setToolTip("Why training cannot start yet")
        self.config_error_label.hide()
        self.banner = Banner()
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setToolTip(
            "The current model (File > Model details… for more)"
        )
        # Two lines always (a model's description often takes two): a run's end
        # would otherwise change the plots' height, relaying and repainting them all.
        self.model_label.setMinimumHeight(
            2 * self.model_label.fontMetrics().lineSpacing()
        )
        self.plot_panel = PlotPanel()
        self.guidance = GuidanceStrip()
        self.health_panel = HealthPanel()
        self.health_panel.link_epochs(self.plot_panel.loss_plot)
        self.health = HealthView(self.health_panel, self.guidance)
        self.plot_savers = [
            PlotSaver(self.plot_panel.loss_plot, "loss", self.plot_panel),
            PlotSaver(self.plot_panel.accuracy_plot, "accuracy", self.plot_panel),
        ]
        self.preset_combo = self._build_preset_combo()
        self.addWidget(self._build_settings_column())
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 4, 4)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.model_label)
        right_layout.addWidget(self.guidance)
        self.plots_area = PlotsArea(self.plot_panel, self.health_panel, "Health")
        right_layout.addWidget(self.plots_area, 1)
        self.addWidget(right)
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        self.setSizes([420, 860])
        self.setChildrenCollapsible(False)
        self.show_model_text(None)
        self.banner.show_message("info", WELCOME)

        self.network_panel.config_changed.connect(self.on_config_changed)
        self.training_panel.config_changed.connect(self.on_config_changed)
        self.data_panel.include_personal_changed.connect(self.on_config_changed)
        self.data_panel.dataset_loaded.connect(self.on_dataset_loaded)
        self.data_panel.mirror_changed.connect(self.on_mirror_changed)
        self.guidance.fix_chosen.connect(self.apply_fix)

    def _build_settings_column(self) -> QWidget:
        panels = QWidget()
        panels_layout = QVBoxLayout(panels)
        panels_layout.setContentsMargins(4, 4, 4, 4)
        panels_layout.addWidget(self.data_panel)
        panels_layout.addWidget(self.network_panel)
        panels_layout.addWidget(self.training_panel)
        panels_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(panels)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        self.settings_scroll = scroll
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(scroll, 1)
        column_layout.addWidget(self.config_error_label)
        return column

    def _build_preset_combo(self) -> QComboBox:
        combo = QComboBox()
        combo.addItem("Custom", CUSTOM_PRESET)
        for name, preset in PRESETS.items():
            combo.addItem(name, name)
            combo.setItemData(
                combo.count() - 1,
                f"{preset.description}\n{preset.reference}",
                Qt.ItemDataRole.ToolTipRole,
            )
        combo.setToolTip(
            "Fill every setting from a ready-made setup (the same presets as the "
            "command line)"
        )
        combo.currentIndexChanged.connect(self.on_preset_changed)
        return combo

    # ------------------------------------------------------------- settings
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

    def apply_config(self, config: TrainingConfig, custom: bool = False) -> None:
        """Fill every control from ``config``; ``custom`` shows the preset "Custom"."""
        if custom:
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(0)
            self.preset_combo.blockSignals(False)
        self._applying_preset = True
        try:
            self.network_panel.set_values(config)
            self.training_panel.set_values(config)
        finally:
            self._applying_preset = False
        self.on_config_changed()

    @Slot(object)
    def apply_fix(self, fix: Fix) -> bool:
        """Put a guidance fix into the settings for the next run.

        The fix changes the settings the controls hold now; False (and a warning
        in the banner) when they are invalid or the fix does not fit them.
        """
        try:
            config = self.current_config().replace(**fix.settings())
        except (ConfigError, TypeError, ValueError) as exc:
            self.banner.show_message("warning", f"Cannot apply {fix.label}: {exc}")
            return False
        self.apply_config(config, custom=True)
        self.guidance.mark_applied(fix)
        return True

    def show_opened_model(self, model: SavedModel) -> None:
        """Fill the controls from an opened model's settings; show its health."""
        config = saved_config(model)
        if config is not None:
            self.apply_config(config, custom=True)
        self.health.show_model(model)

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
        """Re-validate the settings and mark a preset changed by hand as custom."""
        try:
            config = self.current_config()
            self.config_problem = ""
        except ConfigError as exc:
            config = None
            self.config_problem = str(exc)
        if not self._applying_preset:
            name = str(self.preset_combo.currentData())
            if name in PRESETS and (config is None or config != PRESETS[name].config):
                self.preset_combo.blockSignals(True)
                self.preset_combo.setCurrentIndex(0)
                self.preset_combo.blockSignals(False)
        self.config_changed.emit()

    def start_problem(self) -> str:
        """Return why Start cannot train now ("" while the dataset still loads)."""
        if self.config_problem:
            return self.config_problem
        if self.data_panel.is_loading():
            return ""
        if self.data_panel.dataset is None:
            return "Choose a dataset that is available (Full MNIST needs a download)."
        return ""

    def show_problem(self, problem: str, running: bool) -> None:
        """Explain under the settings why Start is disabled (not while training)."""
        self.config_error_label.setText(problem)
        self.config_error_label.setVisible(bool(problem) and not running)

    def set_locked(self, locked: bool, editable: Collection[str] = ()) -> None:
        """Lock the settings while a run trains, but for ``editable`` (paused)."""
        self.data_panel.set_locked(locked)
        self.network_panel.setEnabled(not locked)
        self.training_panel.setEnabled(not locked or bool(editable))
        self.training_panel.set_editable(editable if locked else None)
        self.preset_combo.setEnabled(not locked)

    def show_run(self, label: str, paused: bool = False) -> None:
        """Name the run that trains (or waits, paused) in the model line."""
        self.show_model_text(f"<b>{'Paused' if paused else 'Training…'}</b> {label}")

    def show_model_text(self, text: str | None) -> None:
        """Set the model line (None: no model yet)."""
        self.model_label.setText(
            text or "No model yet: choose settings and press Start (F5)."
        )

    # -------------------------------------------------------------- dataset
    @Slot(object)
    def on_dataset_loaded(self, dataset: Dataset | None) -> None:
        """Show the dataset's input and output sizes."""
        if dataset is not None:
            self.network_panel.set_io(
                dataset.input_size, dataset.num_classes, dataset.image_shape
            )
            self.settings.last_dataset = dataset.name

    @Slot(str)
    def on_mirror_changed(self, mirror: str) -> None:
        """Persist the download mirror."""
        self.settings.download_mirror = mirror

    # ------------------------------------------------------- saved settings
    def restore_settings(self) -> None:
        """Restore the splitter, the preset or hand-made settings, the dataset."""
        splitter = self.settings.splitter_state
        if splitter is not None:
            self.restoreState(splitter)
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
        """Store the splitter, preset, hand-made settings, dataset and mirror."""
        self.settings.splitter_state = self.saveState()
        self.settings.last_preset = str(self.preset_combo.currentData())
        try:
            custom = (
                None
                if self.preset_combo.currentIndex() > 0
                else self.current_config().to_dict()
            )
        except ConfigError:
            custom = None
        self.settings.custom_config = custom
        if self.data_panel.current_name():
            self.settings.last_dataset = self.data_panel.current_name()
        self.settings.download_mirror = self.data_panel.mirror()
