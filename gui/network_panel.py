"""The network architecture panel: hidden layers, activation, output/cost, initialiser.

Owns the editable layer list and the live parameter count; produces the architecture
part of a ``TrainingConfig``. Imports Qt and the core registries (names only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.activations import ACTIVATIONS
from core.initializers import INITIALIZERS
from core.losses import OUTPUTS
from gui.widgets import combo_key, keyed_combo, set_combo_key, spin
from gui.wording import ACTIVATION_LABELS, INIT_LABELS, OUTPUT_LABELS

MAX_HIDDEN_LAYERS = 10
MAX_LAYER_SIZE = 4096


def _labelled(registry: Sequence[str], labels: dict[str, str]) -> list[tuple[str, str]]:
    known = [k for k in labels if k in registry]
    return [(k, labels[k]) for k in known] + [
        (k, k) for k in registry if k not in labels
    ]


def parameter_count(layer_sizes: Sequence[int]) -> int:
    """Weights plus biases of an MLP with these layer sizes."""
    return sum(
        a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    )


class _LayerRow(QWidget):
    """One hidden layer: its size and buttons to move or remove it."""

    def __init__(self, panel: NetworkPanel, size: int) -> None:
        super().__init__()
        self.panel = panel
        self.title = QLabel()
        self.size_box: QSpinBox = spin(
            1, MAX_LAYER_SIZE, size, "Number of neurons in this hidden layer"
        )
        self.size_box.setKeyboardTracking(False)
        self.up_button = QToolButton(
            text="▲", toolTip="Move this layer up (closer to the input)"
        )
        self.down_button = QToolButton(
            text="▼", toolTip="Move this layer down (closer to the output)"
        )
        self.remove_button = QToolButton(text="✕", toolTip="Remove this hidden layer")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.size_box, 1)
        layout.addWidget(self.up_button)
        layout.addWidget(self.down_button)
        layout.addWidget(self.remove_button)
        self.size_box.valueChanged.connect(panel.on_layer_size_changed)
        self.up_button.clicked.connect(panel.on_layer_up_clicked)
        self.down_button.clicked.connect(panel.on_layer_down_clicked)
        self.remove_button.clicked.connect(panel.on_layer_remove_clicked)


class NetworkPanel(QGroupBox):
    """Architecture controls; emits ``config_changed`` whenever one of them changes."""

    config_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Network", parent)
        self._input_size = 784
        self._output_size = 10
        self._image_shape = (28, 28)
        self._rows: list[_LayerRow] = []

        self.input_label = QLabel()
        self.input_label.setToolTip(
            "Input size, fixed by the chosen dataset's image size"
        )
        self.output_label = QLabel()
        self.output_label.setToolTip(
            "Output size, fixed by the dataset's number of classes"
        )
        self.layers_box = QVBoxLayout()
        self.layers_box.setSpacing(2)
        self.add_button = QPushButton("Add layer")
        self.add_button.setToolTip(
            f"Add a hidden layer after the last one (at most {MAX_HIDDEN_LAYERS})"
        )
        self.add_button.clicked.connect(self.on_add_clicked)
        self.no_layers_label = QLabel("No hidden layer: a linear classifier.")
        self.no_layers_label.setToolTip("The inputs connect straight to the outputs")

        self.activation_combo = keyed_combo(
            _labelled(list(ACTIVATIONS), ACTIVATION_LABELS),
            "Activation function of every hidden layer",
        )
        self.output_combo = keyed_combo(
            _labelled(list(OUTPUTS), OUTPUT_LABELS),
            "Output layer and the cost it minimises",
        )
        self.init_combo = keyed_combo(
            _labelled(list(INITIALIZERS), INIT_LABELS),
            "How the initial weights are drawn (He suits ReLU, Xavier suits "
            "sigmoid and tanh)",
        )
        self.parameters_label = QLabel()
        self.parameters_label.setToolTip("Trainable weights and biases of the network")
        self.summary_label = QLabel()
        self.summary_label.setToolTip("Layer sizes from input to output")
        self.summary_label.setWordWrap(True)

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Input:", self.input_label)
        hidden = QVBoxLayout()
        hidden.addLayout(self.layers_box)
        hidden.addWidget(self.no_layers_label)
        hidden.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        form.addRow("Hidden layers:", hidden)
        form.addRow("Output:", self.output_label)
        form.addRow("Activation:", self.activation_combo)
        form.addRow("Output / cost:", self.output_combo)
        form.addRow("Initialisation:", self.init_combo)
        form.addRow("Parameters:", self.parameters_label)
        form.addRow("Layers:", self.summary_label)

        for combo in (self.activation_combo, self.output_combo, self.init_combo):
            combo.currentIndexChanged.connect(self.on_control_changed)
        self.set_hidden_sizes((256,))
        self.set_io(784, 10, (28, 28))

    # ------------------------------------------------------------- public
    def hidden_sizes(self) -> tuple[int, ...]:
        """Return the hidden layer sizes, input side first."""
        return tuple(row.size_box.value() for row in self._rows)

    def set_hidden_sizes(self, sizes: Sequence[int]) -> None:
        """Replace the hidden layers."""
        sizes = [int(s) for s in sizes][:MAX_HIDDEN_LAYERS]
        while len(self._rows) > len(sizes):
            self._remove_row(self._rows[-1])
        while len(self._rows) < len(sizes):
            self._append_row(1)
        for row, size in zip(self._rows, sizes, strict=True):
            row.size_box.blockSignals(True)
            row.size_box.setValue(size)
            row.size_box.blockSignals(False)
        self._refresh()

    def add_layer(self, size: int | None = None) -> None:
        """Append a hidden layer (default: the size of the last one, or 64)."""
        if len(self._rows) >= MAX_HIDDEN_LAYERS:
            return
        if size is None:
            size = self._rows[-1].size_box.value() if self._rows else 64
        self._append_row(size)
        self._refresh()

    def remove_layer(self, index: int) -> None:
        """Remove the hidden layer at ``index``."""
        self._remove_row(self._rows[index])
        self._refresh()

    def move_layer(self, index: int, offset: int) -> None:
        """Swap hidden layer ``index`` with its neighbour ``index + offset``."""
        other = index + offset
        if not (0 <= index < len(self._rows) and 0 <= other < len(self._rows)):
            return
        sizes = list(self.hidden_sizes())
        sizes[index], sizes[other] = sizes[other], sizes[index]
        self.set_hidden_sizes(sizes)
        self._rows[other].size_box.setFocus()

    def set_io(
        self, input_size: int, output_size: int, image_shape: tuple[int, int]
    ) -> None:
        """Show the dataset's input and output sizes."""
        self._input_size, self._output_size = int(input_size), int(output_size)
        self._image_shape = tuple(image_shape)
        h, w = self._image_shape
        self.input_label.setText(f"{self._input_size} ({h}x{w} pixels)")
        self.output_label.setText(f"{self._output_size} classes")
        self._refresh()

    def layer_sizes(self) -> list[int]:
        """Return all layer sizes, input to output."""
        return [self._input_size, *self.hidden_sizes(), self._output_size]

    def values(self) -> dict[str, Any]:
        """Return the architecture fields of a ``TrainingConfig``."""
        return {
            "hidden_sizes": self.hidden_sizes(),
            "activation": combo_key(self.activation_combo),
            "output": combo_key(self.output_combo),
            "init": combo_key(self.init_combo),
        }

    def set_values(self, config: Any) -> None:
        """Fill the controls from a ``TrainingConfig`` (or anything with its fields)."""
        self.blockSignals(True)
        try:
            self.set_hidden_sizes(tuple(config.hidden_sizes))
            set_combo_key(self.activation_combo, config.activation)
            set_combo_key(self.output_combo, config.output)
            set_combo_key(self.init_combo, config.init)
        finally:
            self.blockSignals(False)
        self._refresh()

    # -------------------------------------------------------------- slots
    @Slot()
    def on_add_clicked(self) -> None:
        """Add a hidden layer."""
        self.add_layer()

    @Slot()
    def on_layer_size_changed(self) -> None:
        """Refresh after a layer size change."""
        self._refresh()

    @Slot()
    def on_layer_up_clicked(self) -> None:
        """Move the clicked row's layer towards the input."""
        self.move_layer(self._sender_index(), -1)

    @Slot()
    def on_layer_down_clicked(self) -> None:
        """Move the clicked row's layer towards the output."""
        self.move_layer(self._sender_index(), +1)

    @Slot()
    def on_layer_remove_clicked(self) -> None:
        """Remove the clicked row's layer."""
        self.remove_layer(self._sender_index())

    @Slot()
    def on_control_changed(self) -> None:
        """Refresh after a combo box change."""
        self._refresh()

    # ------------------------------------------------------------ private
    def _sender_index(self) -> int:
        button = self.sender()
        for index, row in enumerate(self._rows):
            if button in (row.up_button, row.down_button, row.remove_button):
                return index
        return -1

    def _append_row(self, size: int) -> None:
        row = _LayerRow(self, size)
        self._rows.append(row)
        self.layers_box.addWidget(row)

    def _remove_row(self, row: _LayerRow) -> None:
        self._rows.remove(row)
        self.layers_box.removeWidget(row)
        row.setParent(None)
        row.deleteLater()

    def _refresh(self) -> None:
        count = len(self._rows)
        for index, row in enumerate(self._rows):
            row.title.setText(f"{index + 1}.")
            row.up_button.setEnabled(index > 0)
            row.down_button.setEnabled(index < count - 1)
        self.add_button.setEnabled(count < MAX_HIDDEN_LAYERS)
        self.no_layers_label.setVisible(count == 0)
        sizes = self.layer_sizes()
        self.parameters_label.setText(f"{parameter_count(sizes):,}")
        self.summary_label.setText(" → ".join(str(s) for s in sizes))
        if not self.signalsBlocked():
            self.config_changed.emit()
