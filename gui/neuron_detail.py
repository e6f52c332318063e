"""What one hidden neuron looks for, and the controls that edit it.

Its incoming weights, the images that excite it most, switch off and output scale.

`NeuronDetail` shows arrays handed to it and reports the user's edits; it computes
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.evaluation_worker import diverging_rgb
from gui.image_grid import ImageGrid

PICTURE_SIDE = 150
MAX_SCALE = 3.0


class WeightPicture(QWidget):
    """A first-layer unit's incoming weights as an image: red +, blue -."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setFixedSize(PICTURE_SIDE, PICTURE_SIDE)
        self.setToolTip(
            "Incoming weights, one per input pixel: red pixels excite the unit, blue "
            "ones inhibit it (scaled to the largest weight)."
        )

    def set_weights(self, weights: np.ndarray | None, shape: tuple[int, int]) -> None:
        """Show ``weights`` ``(H*W,)`` as an ``shape`` picture, or nothing."""
        if weights is None:
            self._image = None
        else:
            values = np.asarray(weights, np.float32).reshape(shape)
            peak = float(np.abs(values).max()) or 1.0
            rgb = np.ascontiguousarray(diverging_rgb(values / peak))
            height, width = shape
            self._image = QImage(
                rgb.data, width, height, width * 3, QImage.Format.Format_RGB888
            ).copy()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        rect = QRectF(0, 0, self.width() - 1, self.height() - 1)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(rect, self._image)
        painter.setPen(QColor(150, 150, 150))
        painter.drawRect(rect)
        painter.end()


class NeuronDetail(QWidget):
    """The selected hidden neuron: weights, most exciting images, edit controls.

    Signals
    -------
    scale_changed(int, int, float)
        The user set the neuron's output scale (layer, unit, scale; 0 is off).
    image_activated(int)
        A most-exciting image was double-clicked: its dataset index.
    """

    scale_changed = Signal(int, int, float)
    image_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._neuron: tuple[int, int] | None = None
        self._indices = np.zeros(0, np.int64)

        self.title = QLabel(self)
        font = QFont(self.font())
        font.setBold(True)
        self.title.setFont(font)
        self.value_label = QLabel(self)
        self.value_label.setWordWrap(True)
        self.off_button = QPushButton("Switch off", self)
        self.off_button.setCheckable(True)
        self.off_button.setToolTip(
            "Silence this unit: it passes 0 to the next layer (right-click a neuron "
            "does the same)"
        )
        self.scale_box = QDoubleSpinBox(self)
        self.scale_box.setRange(0.0, MAX_SCALE)
        self.scale_box.setSingleStep(0.1)
        self.scale_box.setDecimals(2)
        self.scale_box.setPrefix("output x")
        self.scale_box.setValue(1.0)
        self.scale_box.setKeyboardTracking(False)
        self.scale_box.setToolTip(
            "Multiply this unit's output before the next layer reads it (1 = as "
            "trained, 0 = off)"
        )

        self.weights_label = QLabel("Incoming weights", self)
        self.picture = WeightPicture(self)
        self.bars = pg.PlotWidget(self)
        self.bars.setFixedHeight(PICTURE_SIDE)
        self.bars.setMinimumWidth(PICTURE_SIDE)
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.hideButtons()
        self.bars.getPlotItem().setLabel("bottom", "unit of the layer below")
        self.bars.setToolTip(
            "Incoming weights from each unit of the layer below: red excites, blue "
            "inhibits"
        )
        # One item per sign: a single brush each draws thousands of bars quickly.
        self._excite_bars = pg.BarGraphItem(
            x=[], height=[], width=0.8, brush=(200, 40, 30), pen=None
        )
        self._inhibit_bars = pg.BarGraphItem(
            x=[], height=[], width=0.8, brush=(30, 90, 210), pen=None
        )
        self.bars.addItem(self._excite_bars)
        self.bars.addItem(self._inhibit_bars)
        self.weights_stack = QStackedWidget(self)
        self.weights_stack.addWidget(self.picture)
        self.weights_stack.addWidget(self.bars)
        self.weights_stack.setFixedHeight(PICTURE_SIDE)

        self.images_label = QLabel("Images that excite it most", self)
        # Uncaptioned tiles, four to a row: 16 images in a square.
        self.images = ImageGrid(self, tile=32, gap=(0, 3))
        self.images.setSelectionMode(ImageGrid.SelectionMode.NoSelection)
        self.images.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        cell = self.images.gridSize().width()
        self.images.setFixedWidth(4 * cell + 2 * self.images.frameWidth() + 4)
        self.images.setFixedHeight(PICTURE_SIDE)
        self.images.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.images.setToolTip(
            "The images of the loaded dataset that give this unit its largest "
            "activation (double-click one to put it on the canvas)"
        )

        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.value_label, 1)
        top.addWidget(self.off_button)
        top.addWidget(self.scale_box)
        left = QVBoxLayout()
        left.addWidget(self.weights_label)
        left.addWidget(self.weights_stack)
        right = QVBoxLayout()
        right.addWidget(self.images_label)
        right.addWidget(self.images)
        self.notes = QLabel(self)
        self.notes.setWordWrap(True)
        self.notes.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.notes.setStyleSheet("color: palette(placeholder-text);")
        pictures = QHBoxLayout()
        pictures.addLayout(left)
        pictures.addLayout(right)
        pictures.addWidget(self.notes, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(pictures)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.off_button.toggled.connect(self._on_off_toggled)
        self.scale_box.valueChanged.connect(self._on_scale_changed)
        self.images.image_activated.connect(self._on_image_activated)

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(520, PICTURE_SIDE + 60)

    def neuron(self) -> tuple[int, int] | None:
        """Return the (layer, unit) shown, or None."""
        return self._neuron

    def show_neuron(
        self,
        layer: int,
        unit: int,
        weights: np.ndarray,
        image_shape: tuple[int, int] | None,
        scale: float,
    ) -> None:
        """Show a unit's incoming ``weights`` (an image when ``image_shape``)."""
        self._neuron = (layer, unit)
        self.title.setText(f"Hidden layer {layer + 1}, unit {unit}")
        self.notes.setText(
            (
                "Red pixels excite this unit, blue ones inhibit it: it answers to ink "
                "where its picture is red."
                if image_shape is not None
                else f"Each bar is the weight from one unit of layer {layer}: red "
                "excites this unit, blue inhibits it."
            )
            + " Double-click an image to put it on the canvas. Switching the unit "
            "off changes this view's copy of the network, never the model."
        )
        if image_shape is not None:
            self.weights_label.setText("Incoming weights (one per pixel)")
            self.picture.set_weights(weights, image_shape)
            self.weights_stack.setCurrentWidget(self.picture)
        else:
            self.weights_label.setText(
                f"Incoming weights from the {weights.size} units of layer {layer}"
            )
            values = np.asarray(weights, np.float32)
            units = np.arange(values.size)
            up = values >= 0
            self._excite_bars.setOpts(x=units[up], height=values[up])
            self._inhibit_bars.setOpts(x=units[~up], height=values[~up])
            self.bars.getPlotItem().enableAutoRange()
            self.weights_stack.setCurrentWidget(self.bars)
        self.set_scale(scale)

    def bar_heights(self) -> np.ndarray:
        """Return the weights drawn as bars, in unit order."""
        x = np.concatenate([self._excite_bars.opts["x"], self._inhibit_bars.opts["x"]])
        heights = np.concatenate(
            [self._excite_bars.opts["height"], self._inhibit_bars.opts["height"]]
        )
        return heights[np.argsort(x, kind="stable")]

    def set_value(self, text: str) -> None:
        """Describe the unit's value for the current input."""
        self.value_label.setText(text)

    def set_scale(self, scale: float) -> None:
        """Show the unit's edit without reporting it back."""
        for widget in (self.off_button, self.scale_box):
            widget.blockSignals(True)
        self.off_button.setChecked(scale == 0)
        self.off_button.setText("Switch on" if scale == 0 else "Switch off")
        self.scale_box.setValue(scale)
        for widget in (self.off_button, self.scale_box):
            widget.blockSignals(False)

    def set_images(
        self,
        images: np.ndarray | None,
        max_value: int,
        indices: np.ndarray,
        tooltips: Sequence[str] | None,
        message: str = "",
    ) -> None:
        """Show the most exciting images (None: ``message`` instead)."""
        if images is None:
            self._indices = np.zeros(0, np.int64)
            self.images.clear()
            self.images.set_placeholder(message)
            return
        self._indices = np.asarray(indices, np.int64)
        self.images.set_placeholder("")
        self.images.set_images(images, max_value, tooltips=tooltips)

    def shown_indices(self) -> np.ndarray:
        """Return the dataset indices of the images shown."""
        return self._indices

    @Slot(bool)
    def _on_off_toggled(self, off: bool) -> None:
        if self._neuron is not None:
            self.scale_changed.emit(*self._neuron, 0.0 if off else 1.0)

    @Slot(float)
    def _on_scale_changed(self, value: float) -> None:
        if self._neuron is not None:
            self.scale_changed.emit(*self._neuron, float(value))

    @Slot(int)
    def _on_image_activated(self, row: int) -> None:
        if 0 <= row < len(self._indices):
            self.image_activated.emit(int(self._indices[row]))
