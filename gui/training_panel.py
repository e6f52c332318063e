"""The training settings panel: optimizer, rate schedule, regularisation and more.

Also augmentation, validation split, seed and early stopping.

Produces the training part of a ``TrainingConfig``. Imports Qt, core.augment, the
core registries of optimizers, schedules and normalisations (names, labels, tooltips
and the settings each one uses) and core.training's limits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QVBoxLayout,
    QWidget,
)

from core.augment import AugmentConfig
from core.choices import Choice
from core.datasets import NORMALIZATIONS
from core.optimizers import OPTIMIZERS
from core.schedules import SCHEDULES
from core.training import MAX_NEGATIVES
from gui.widgets import (
    LogSpinBox,
    combo_key,
    double_spin,
    keyed_combo,
    set_combo_key,
    spin,
)

# (field, label, minimum, maximum, decimals, step, tooltip)
AUGMENT_AMOUNTS = [
    ("shift", "Shift", 0.0, 14.0, 1, 0.5, "Largest random shift, in pixels"),
    ("rotation", "Rotation", 0.0, 180.0, 1, 1.0, "Largest random rotation, in degrees"),
    ("scale", "Scale", 0.0, 0.9, 2, 0.05, "Largest relative size change (0.1 = ±10 %)"),
    ("shear", "Shear", 0.0, 60.0, 1, 1.0, "Largest horizontal shear, in degrees"),
    (
        "elastic",
        "Elastic",
        0.0,
        10.0,
        1,
        0.5,
        "RMS displacement of a smooth warp, pixels",
    ),
    (
        "thickness",
        "Thickness",
        0.0,
        1.0,
        2,
        0.05,
        "Largest stroke thickening or thinning (fraction of a 1-pixel dilation)",
    ),
    (
        "noise",
        "Noise",
        0.0,
        1.0,
        2,
        0.01,
        "Gaussian noise, fraction of the brightest pixel",
    ),
    (
        "probability",
        "Probability",
        0.0,
        1.0,
        2,
        0.05,
        "Share of each mini-batch that is augmented",
    ),
    (
        "aspect",
        "Width",
        0.0,
        0.9,
        2,
        0.05,
        "Largest change of the width alone (0.2 = 80 % to 120 % as wide)",
    ),
    (
        "styles",
        "Styles",
        0.0,
        1.0,
        2,
        0.05,
        "Share of 1s, 6s, 7s and 9s given the strokes people write: a flag or a "
        "foot, a crossbar, an arch, a curled or hooked tail",
    ),
    (
        "restroke",
        "New pen",
        0.0,
        1.0,
        2,
        0.05,
        "Share of images redrawn with a steady pen of random width",
    ),
]


class TrainingPanel(QWidget):
    """Training hyperparameter controls; emits ``config_changed`` on every change."""

    config_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.optimizer_combo = _registry_combo(
            OPTIMIZERS, "How the weights follow the gradient"
        )
        self.learning_rate_box = LogSpinBox(
            1e-7, 100.0, 1e-3, "Learning rate (step size); arrows step 1, 2, 5, 10 ..."
        )
        self.momentum_box = double_spin(
            0.0, 0.999, 0.9, "Momentum: share of the previous step kept", 3, 0.05
        )
        self.nesterov_check = QCheckBox("Nesterov")
        self.nesterov_check.setToolTip("Use Nesterov's look-ahead momentum")
        self.beta1_box = double_spin(
            0.0, 0.9999, 0.9, "Adam beta1: decay of the gradient average", 4, 0.01
        )
        self.beta2_box = double_spin(
            0.0,
            0.99999,
            0.999,
            "Adam beta2: decay of the squared-gradient average",
            5,
            0.001,
        )
        self.schedule_combo = _registry_combo(
            SCHEDULES, "How the learning rate changes over the epochs"
        )
        self.step_epochs_box = spin(
            1, 10000, 10, "Step decay: every this many epochs ..."
        )
        self.step_gamma_box = double_spin(
            0.01, 1.0, 0.5, "... multiply the learning rate by this", 3, 0.05
        )
        self.min_learning_rate_box = LogSpinBox(
            0.0, 100.0, 0.0, "Cosine schedule: the learning rate at the last epoch"
        )
        self.batch_size_box = spin(
            0,
            65536,
            128,
            "Images per gradient step; 0 = the whole training set at once",
        )
        self.batch_size_box.setSpecialValueText("full batch")
        self.epochs_box = spin(1, 100000, 10, "Passes over the training set")
        self.l2_box = LogSpinBox(
            0.0, 10.0, 0.0, "L2 weight decay coefficient (0 = off)"
        )
        self.dropout_box = double_spin(
            0.0,
            0.9,
            0.0,
            "Probability of dropping each hidden unit in training",
            2,
            0.05,
        )
        self.normalization_combo = _registry_combo(
            NORMALIZATIONS, "How pixel values become network inputs"
        )
        self.validation_box = double_spin(
            0.0,
            0.9,
            0.1,
            "Share of the data held out for validation (0 = none)",
            2,
            0.05,
        )
        self.seed_box = spin(0, 2**31 - 1, 0, "Random seed: same seed, same run")
        self.patience_box = spin(
            0,
            10000,
            0,
            "Early stopping: stop after this many epochs without a better validation "
            "loss and keep the best weights (off = train every epoch)",
        )
        self.patience_box.setSpecialValueText("off")
        self.patience_box.setSuffix(" epochs")
        self.deskew_check = QCheckBox("Stand digits upright")
        self.deskew_check.setToolTip(
            "Deskew every image by its moments before training; the model then "
            "reads every image deskewed (drawings, tests, fine-tunes)"
        )
        self.negatives_box = spin(
            0,
            MAX_NEGATIVES,
            0,
            "Made-up drawings that are not digits (scribbles, shapes, letters, "
            "pieces of digits), added as one more class, 'not a digit', so the "
            "model can turn them away; 28x28 digits only",
        )
        self.negatives_box.setSpecialValueText("none")
        self.negatives_box.setSingleStep(500)
        self.pen_digits_check = QCheckBox("Add 7,494 digits people wrote")
        self.pen_digits_check.setToolTip(
            "Real handwriting: digits 30 people wrote on a tablet (UCI pen digits), "
            "drawn on this canvas, join the training images, so the model reads "
            "drawings better than MNIST alone teaches it to; 28x28 digits only"
        )

        optimization = QGroupBox("Optimisation")
        self._opt_form = form = QFormLayout(optimization)
        form.addRow("Optimizer:", self.optimizer_combo)
        form.addRow("Learning rate:", self.learning_rate_box)
        form.addRow("Momentum:", self.momentum_box)
        form.addRow("", self.nesterov_check)
        form.addRow("Adam β1:", self.beta1_box)
        form.addRow("Adam β2:", self.beta2_box)
        form.addRow("Schedule:", self.schedule_combo)
        form.addRow("Step every:", self.step_epochs_box)
        form.addRow("Step factor:", self.step_gamma_box)
        form.addRow("Final rate:", self.min_learning_rate_box)
        form.addRow("Batch size:", self.batch_size_box)
        form.addRow("Epochs:", self.epochs_box)

        regularisation = QGroupBox("Regularisation and data")
        form2 = QFormLayout(regularisation)
        form2.addRow("L2:", self.l2_box)
        form2.addRow("Dropout:", self.dropout_box)
        form2.addRow("Inputs:", self.normalization_combo)
        form2.addRow("Validation:", self.validation_box)
        form2.addRow("Seed:", self.seed_box)
        form2.addRow("Early stopping:", self.patience_box)
        form2.addRow("Deskew:", self.deskew_check)
        form2.addRow("Not a digit:", self.negatives_box)
        form2.addRow("Handwriting:", self.pen_digits_check)

        self.augment_group = QGroupBox("Augmentation")
        self.augment_group.setCheckable(True)
        self.augment_group.setChecked(False)
        self.augment_group.setToolTip(
            "Random distortions of each training mini-batch; tick to switch on"
        )
        form3 = QFormLayout(self.augment_group)
        self.augment_boxes: dict[str, Any] = {}
        defaults = AugmentConfig()
        for name, label, low, high, decimals, step, tip in AUGMENT_AMOUNTS:
            box = double_spin(
                low, high, float(getattr(defaults, name)), tip, decimals, step
            )
            self.augment_boxes[name] = box
            form3.addRow(label + ":", box)
        self.elastic_grid_box = spin(
            2, 16, int(defaults.elastic_grid), "Elastic warp control points per side"
        )
        form3.addRow("Elastic grid:", self.elastic_grid_box)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(optimization)
        layout.addWidget(regularisation)
        layout.addWidget(self.augment_group)

        for combo in (
            self.optimizer_combo,
            self.schedule_combo,
            self.normalization_combo,
        ):
            combo.currentIndexChanged.connect(self.on_control_changed)
        boxes = [
            self.learning_rate_box,
            self.momentum_box,
            self.beta1_box,
            self.beta2_box,
            self.step_epochs_box,
            self.step_gamma_box,
            self.min_learning_rate_box,
            self.batch_size_box,
            self.epochs_box,
            self.l2_box,
            self.dropout_box,
            self.validation_box,
            self.seed_box,
            self.patience_box,
            self.negatives_box,
            self.elastic_grid_box,
            *self.augment_boxes.values(),
        ]
        for box in boxes:
            box.valueChanged.connect(self.on_control_changed)
        self.nesterov_check.toggled.connect(self.on_control_changed)
        self.deskew_check.toggled.connect(self.on_control_changed)
        self.pen_digits_check.toggled.connect(self.on_control_changed)
        self.augment_group.toggled.connect(self.on_control_changed)
        # The widget of every setting that applies to one optimizer or schedule
        # only (the registries name them); the others always apply.
        self._setting_widgets: dict[str, QWidget] = {
            "momentum": self.momentum_box,
            "nesterov": self.nesterov_check,
            "beta1": self.beta1_box,
            "beta2": self.beta2_box,
            "step_epochs": self.step_epochs_box,
            "step_gamma": self.step_gamma_box,
            "min_learning_rate": self.min_learning_rate_box,
        }
        self._update_rows()

    def values(self) -> dict[str, Any]:
        """Return the training fields of a ``TrainingConfig``."""
        applies = self._applicable_settings()
        return {
            "optimizer": combo_key(self.optimizer_combo),
            "learning_rate": self.learning_rate_box.value(),
            "momentum": self.momentum_box.value(),
            # Hidden settings must not make the config invalid.
            "nesterov": self.nesterov_check.isChecked() and "nesterov" in applies,
            "beta1": self.beta1_box.value(),
            "beta2": self.beta2_box.value(),
            "schedule": combo_key(self.schedule_combo),
            "step_epochs": self.step_epochs_box.value(),
            "step_gamma": self.step_gamma_box.value(),
            "min_learning_rate": (
                self.min_learning_rate_box.value()
                if "min_learning_rate" in applies
                else 0.0
            ),
            "batch_size": self.batch_size_box.value(),
            "epochs": self.epochs_box.value(),
            "l2": self.l2_box.value(),
            "dropout": self.dropout_box.value(),
            "seed": self.seed_box.value(),
            "validation_fraction": self.validation_box.value(),
            "early_stopping_patience": self.patience_box.value(),
            "normalization": combo_key(self.normalization_combo),
            "augment": self.augment_config(),
            "deskew": self.deskew_check.isChecked(),
            "negatives": self.negatives_box.value(),
            "pen_digits": self.pen_digits_check.isChecked(),
        }

    def set_editable(self, names: Collection[str] | None) -> None:
        """Let only the settings ``names`` be edited (a paused run's); None: all."""
        widgets = {"learning_rate": self.learning_rate_box, **self._setting_widgets}
        editable = {widgets[name] for name in names or () if name in widgets}
        for kind in (QAbstractSpinBox, QComboBox, QCheckBox):
            for widget in self.findChildren(kind):
                widget.setEnabled(names is None or widget in editable)
        self.augment_group.setEnabled(names is None)

    def augment_config(self) -> AugmentConfig:
        """Return the augmentation settings (all off when the group is unticked)."""
        if not self.augment_group.isChecked():
            return AugmentConfig()
        amounts = {name: box.value() for name, box in self.augment_boxes.items()}
        return AugmentConfig(elastic_grid=self.elastic_grid_box.value(), **amounts)

    def set_values(self, config: Any) -> None:
        """Fill every control from a ``TrainingConfig``."""
        self.blockSignals(True)
        try:
            set_combo_key(self.optimizer_combo, config.optimizer)
            set_combo_key(self.schedule_combo, config.schedule)
            set_combo_key(self.normalization_combo, config.normalization)
            self.learning_rate_box.setValue(config.learning_rate)
            self.momentum_box.setValue(config.momentum)
            self.nesterov_check.setChecked(bool(config.nesterov))
            self.beta1_box.setValue(config.beta1)
            self.beta2_box.setValue(config.beta2)
            self.step_epochs_box.setValue(config.step_epochs)
            self.step_gamma_box.setValue(config.step_gamma)
            self.min_learning_rate_box.setValue(config.min_learning_rate)
            self.batch_size_box.setValue(config.batch_size)
            self.epochs_box.setValue(config.epochs)
            self.l2_box.setValue(config.l2)
            self.dropout_box.setValue(config.dropout)
            self.validation_box.setValue(config.validation_fraction)
            # A seed beyond the box (the command line takes up to 2**63 - 1) would
            # overflow it: the box shows its largest seed instead.
            self.seed_box.setValue(min(config.seed, self.seed_box.maximum()))
            self.patience_box.setValue(config.early_stopping_patience)
            self.deskew_check.setChecked(bool(config.deskew))
            self.negatives_box.setValue(int(config.negatives))
            self.pen_digits_check.setChecked(bool(config.pen_digits))
            augment = config.augment
            self.augment_group.setChecked(bool(augment.is_active))
            for name, box in self.augment_boxes.items():
                box.setValue(float(getattr(augment, name)))
            self.elastic_grid_box.setValue(int(augment.elastic_grid))
        finally:
            self.blockSignals(False)
        self._update_rows()
        self.config_changed.emit()

    @Slot()
    def on_control_changed(self) -> None:
        """Show the settings that apply and tell listeners."""
        self._update_rows()
        if not self.signalsBlocked():
            self.config_changed.emit()

    def _applicable_settings(self) -> set[str]:
        """Return the names of the chosen optimizer's and schedule's own settings."""
        optimizer = OPTIMIZERS.get(combo_key(self.optimizer_combo))
        schedule = SCHEDULES.get(combo_key(self.schedule_combo))
        return {
            *(optimizer.settings if optimizer else ()),
            *(schedule.settings if schedule else ()),
        }

    def _update_rows(self) -> None:
        applies = self._applicable_settings()
        for name, widget in self._setting_widgets.items():
            self._opt_form.setRowVisible(widget, name in applies)
        for combo in (
            self.optimizer_combo,
            self.schedule_combo,
            self.normalization_combo,
        ):
            _show_choice_tooltip(combo)


def _registry_combo(registry: Mapping[str, Choice], tooltip: str) -> QComboBox:
    """Make a combo box of a registry's labels, each with its own tooltip."""
    combo = keyed_combo(
        ((choice.name, choice.label) for choice in registry.values()), tooltip
    )
    for index, choice in enumerate(registry.values()):
        combo.setItemData(index, choice.tooltip, Qt.ItemDataRole.ToolTipRole)
    combo.setProperty("description", tooltip)
    return combo


def _show_choice_tooltip(combo: QComboBox) -> None:
    """Set the combo's tooltip to its description and the chosen item's tooltip."""
    description = combo.property("description")
    chosen = combo.currentData(Qt.ItemDataRole.ToolTipRole)
    combo.setToolTip(f"{description}. {chosen}." if chosen else description)
