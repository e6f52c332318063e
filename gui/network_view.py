"""The network as columns of neurons, coloured by their activation for one input.

`NetworkView` paints a `core.neurons.Trace` handed to it and reports hover and clicks;
it computes nothing. Positions are laid out, and the picture rendered into a pixmap,
once per trace or resize: other repaints only copy the pixmap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetricsF,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolTip, QWidget

from core.neurons import Trace
from gui.image_grid import array_to_qimage

ROW_HEIGHT = 24
MIN_ROW_HEIGHT = 15
MAX_SHOWN = 24
MAX_COLUMN_STEP = 240
_HEADER = 34
_FOOTER = 22
_INPUT_COLUMN = 92
_QUIET = QColor(236, 236, 236)
_HOT = QColor(222, 84, 22)
_COLD = QColor(40, 110, 200)
_POSITIVE = QColor(200, 40, 30)
_NEGATIVE = QColor(30, 90, 210)
_SELECTED = QColor(20, 120, 255)
_OFF = QColor(120, 120, 120)

Neuron = tuple[int, int]


def activation_colour(value: float, peak: float) -> QColor:
    """Grey at 0, orange toward ``+peak``, blue toward ``-peak``."""
    t = 0.0 if peak <= 0 else max(-1.0, min(1.0, value / peak))
    end = _HOT if t >= 0 else _COLD
    t = abs(t)
    return QColor(
        round(_QUIET.red() + (end.red() - _QUIET.red()) * t),
        round(_QUIET.green() + (end.green() - _QUIET.green()) * t),
        round(_QUIET.blue() + (end.blue() - _QUIET.blue()) * t),
    )


class NetworkView(QWidget):
    """Input picture, hidden layers and outputs as columns; links into the winner.

    Signals
    -------
    neuron_clicked(int, int)
        A hidden neuron was clicked: its layer (counted from 0) and unit.
    neuron_toggled(int, int)
        Switch a hidden neuron off, or back on (its context menu).
    """

    neuron_clicked = Signal(int, int)
    neuron_toggled = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._trace: Trace | None = None
        self._names: tuple[str, ...] = ()
        self._input: QImage | None = None
        self._scales: dict[Neuron, float] = {}
        self._selected: Neuron | None = None
        self._message = "No model yet."
        self._positions: dict[Neuron, QPointF] = {}
        self._columns: list[float] = []
        self._radius = 8.0
        self._peaks: list[float] = []
        self._picture: QPixmap | None = None
        self._offset = 0.0
        self.setMouseTracking(True)
        self.setMinimumSize(320, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- input ----------------------------------------------------------------------

    def max_shown(self) -> int:
        """Return how many neurons fit in a column at the current height."""
        rows = (self.height() - _HEADER - _FOOTER) // MIN_ROW_HEIGHT
        return int(np.clip(rows, 4, MAX_SHOWN))

    def set_trace(
        self,
        trace: Trace | None,
        class_names: Sequence[str] = (),
        input_image: np.ndarray | None = None,
        max_value: int = 255,
        scales: Mapping[Neuron, float] | None = None,
        selected: Neuron | None = None,
    ) -> None:
        """Show one input's trace (None: show the message instead)."""
        self._trace = trace
        self._names = tuple(class_names)
        self._input = (
            None if input_image is None else array_to_qimage(input_image, max_value)
        )
        self._scales = dict(scales or {})
        self._selected = selected
        if trace is not None:
            self._peaks = [float(np.abs(values).max()) for values in trace.outputs]
            self._peaks[-1] = max(self._peaks[-1], 1.0)  # probabilities: absolute
        self._layout_positions()
        self._picture = None
        self.update()

    def set_message(self, text: str) -> None:
        """Show ``text`` instead of a network."""
        self._trace = None
        self._message = text
        self._positions = {}
        self._picture = None
        self.update()

    def trace(self) -> Trace | None:
        """Return the trace shown, or None."""
        return self._trace

    def position_of(self, layer: int, unit: int) -> QPointF | None:
        """Return the centre of a shown neuron, or None."""
        return self._positions.get((layer, unit))

    def neuron_at(self, position: QPointF) -> Neuron | None:
        """Return the (layer, unit) of the neuron under ``position``, or None."""
        reach = (self._radius + 3) ** 2
        for neuron, centre in self._positions.items():
            offset = centre - position
            if offset.x() ** 2 + offset.y() ** 2 <= reach:
                return neuron
        return None

    def describe(self, layer: int, unit: int) -> str:
        """Tooltip text of one neuron: where it is and its value."""
        trace = self._trace
        assert trace is not None
        value = float(trace.outputs[layer][unit])
        if layer == len(trace.outputs) - 1:
            name = self._names[unit] if unit < len(self._names) else str(unit)
            return f"Output {unit} (class {name}): {100 * value:.2f}%"
        text = f"Hidden layer {layer + 1}, unit {unit}: activation {value:.4g}"
        scale = self._scales.get((layer, unit))
        if scale == 0:
            text += " (switched off: passes on 0)"
        elif scale is not None:
            text += f" (output x{scale:g}: passes on {value * scale:.4g})"
        return text + "\nClick for its weights and the images that excite it most."

    # -- layout ---------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(560, 480)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: D102
        super().resizeEvent(event)
        self._layout_positions()
        self._picture = None

    def _label_width(self) -> float:
        """Width of the widest output label ("not a digit  100%"), in bold."""
        bold = QFont(self.font())
        bold.setBold(True)
        metrics = QFontMetricsF(bold)
        names = self._names or ("0",)
        return max(metrics.horizontalAdvance(f"{name}  100%") for name in names) + 2

    def _layout_positions(self) -> None:
        self._positions = {}
        trace = self._trace
        if trace is None:
            return
        layers = len(trace.outputs)
        left = _INPUT_COLUMN + 24
        # Room for the output labels, 5 px right of neurons of radius 9 at most.
        right = self.width() - self._label_width() - 14
        step = min((right - left) / max(layers - 1, 1), MAX_COLUMN_STEP)
        # A short network sits in the middle rather than spread thin.
        self._offset = max(0.0, (right - left - step * (layers - 1)) / 2)
        left += self._offset
        self._columns = [left + step * i for i in range(layers)]
        tallest = max(len(units) for units in trace.shown)
        room = self.height() - _HEADER - _FOOTER
        row = float(np.clip(room / max(tallest, 1), MIN_ROW_HEIGHT, ROW_HEIGHT))
        self._radius = max(4.0, min(9.0, row * 0.36))
        for layer, units in enumerate(trace.shown):
            height = row * len(units)
            top = _HEADER + (room - height) / 2 + row / 2
            for position, unit in enumerate(units):
                self._positions[(layer, int(unit))] = QPointF(
                    self._columns[layer], top + position * row
                )

    # -- painting -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        ratio = self.devicePixelRatioF()
        if self._picture is None or self._picture.size() != self.size() * ratio:
            self._picture = QPixmap(self.size() * ratio)
            self._picture.setDevicePixelRatio(ratio)
            self._render(self._picture)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        painter.end()

    def _render(self, target: QPixmap) -> None:
        painter = QPainter(target)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        trace = self._trace
        if trace is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_input(painter)
        self._paint_links(painter)
        self._paint_headers(painter)
        self._paint_neurons(painter)
        painter.end()

    def _paint_input(self, painter: QPainter) -> None:
        side = float(_INPUT_COLUMN - 12)
        top = _HEADER + (self.height() - _HEADER - _FOOTER - side) / 2
        rect = QRectF(8 + self._offset, top, side, side)
        painter.fillRect(rect, QColor(0, 0, 0))
        if self._input is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(rect, self._input)
        painter.setPen(QPen(QColor(150, 150, 150), 1))
        painter.drawRect(rect)
        # Every input pixel feeds every first-layer unit: an arrow says so.
        painter.setPen(QPen(QColor(150, 150, 150), 1.5))
        y = rect.center().y()
        tip = QPointF(rect.right() + 16, y)
        painter.drawLine(QPointF(rect.right() + 3, y), tip)
        painter.drawLine(tip, tip + QPointF(-5, -4))
        painter.drawLine(tip, tip + QPointF(-5, 4))

    def _paint_headers(self, painter: QPainter) -> None:
        trace = self._trace
        assert trace is not None
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        painter.setPen(self.palette().windowText().color())
        layers = len(trace.outputs)
        width = self._input.width() if self._input is not None else 0
        height = self._input.height() if self._input is not None else 0
        painter.drawText(
            QRectF(self._offset, 4, _INPUT_COLUMN + 4, _HEADER - 6),
            Qt.AlignmentFlag.AlignCenter,
            f"Input\n{width}x{height}" if width else "Input",
        )
        span = (self._columns[1] - self._columns[0]) if layers > 1 else 120.0
        for layer, x in enumerate(self._columns):
            size = trace.outputs[layer].size
            title = "Output" if layer == layers - 1 else f"Hidden {layer + 1}"
            painter.drawText(
                QRectF(x - span / 2, 4, span, _HEADER - 6),
                Qt.AlignmentFlag.AlignCenter,
                f"{title}\n{size} units" if layer < layers - 1 else title,
            )
            hidden = trace.hidden_count(layer)
            if hidden:
                painter.setPen(self.palette().placeholderText().color())
                painter.drawText(
                    QRectF(x - span / 2, self.height() - _FOOTER, span, _FOOTER - 2),
                    Qt.AlignmentFlag.AlignCenter,
                    f"+{hidden} more (up to {trace.hidden_peak(layer):.2g})",
                )
                painter.setPen(self.palette().windowText().color())

    def _paint_links(self, painter: QPainter) -> None:
        trace = self._trace
        assert trace is not None
        if not trace.links:
            return
        strongest = max(abs(link.contribution) for link in trace.links) or 1.0
        for link in sorted(trace.links, key=lambda item: abs(item.contribution)):
            start = self._positions.get((link.layer, link.source))
            end = self._positions.get((link.layer + 1, link.target))
            if start is None or end is None:
                continue
            strength = abs(link.contribution) / strongest
            base = _POSITIVE if link.contribution > 0 else _NEGATIVE
            # Opaque, mixed with the white page: translucent wide strokes cost the
            # raster engine about 20 times more.
            mix = 0.25 + 0.75 * strength
            colour = QColor(
                round(255 + (base.red() - 255) * mix),
                round(255 + (base.green() - 255) * mix),
                round(255 + (base.blue() - 255) * mix),
            )
            pen = QPen(colour, 0.8 + 4.2 * strength)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            painter.setPen(pen)
            painter.drawLine(start, end)

    def _paint_neurons(self, painter: QPainter) -> None:
        """Circles first, then their labels: a few pen and font changes in all."""
        trace = self._trace
        assert trace is not None
        last = len(trace.outputs) - 1
        r = self._radius
        outline = QPen(QColor(90, 90, 90), 1)
        off = QPen(_OFF, 1.2, Qt.PenStyle.DashLine)
        cross = QPen(_OFF, 1.5)
        d = r * 0.6
        for (layer, unit), centre in self._positions.items():
            value = float(trace.outputs[layer][unit])
            scale = self._scales.get((layer, unit))
            painter.setBrush(
                activation_colour(
                    value * (1.0 if scale is None else scale), self._peaks[layer]
                )
            )
            painter.setPen(off if scale == 0 else outline)
            painter.drawEllipse(centre, r, r)
            if scale == 0:
                painter.setPen(cross)
                painter.drawLine(centre + QPointF(-d, -d), centre + QPointF(d, d))
                painter.drawLine(centre + QPointF(-d, d), centre + QPointF(d, -d))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        rings = [((last, trace.predicted), QPen(QColor(20, 20, 20), 2.2))]
        if self._selected is not None:
            rings.append((self._selected, QPen(_SELECTED, 2.2)))
        for neuron, pen in rings:
            centre = self._positions.get(neuron)
            if centre is not None:
                painter.setPen(pen)
                painter.drawEllipse(centre, r + 3, r + 3)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.75))
        painter.setFont(small)
        painter.setPen(QColor(120, 120, 120))
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for (layer, unit), centre in self._positions.items():
            if layer == last:
                continue
            scale = self._scales.get((layer, unit))
            label = str(unit) if scale is None or scale == 0 else f"{unit} x{scale:g}"
            painter.drawText(
                QRectF(centre.x() + r + 2, centre.y() - 8, 60, 16), left, label
            )
        normal = QFont(self.font())
        bold = QFont(normal)
        bold.setBold(True)
        painter.setPen(self.palette().windowText().color())
        for unit in trace.shown[last]:
            unit = int(unit)
            centre = self._positions[(last, unit)]
            painter.setFont(bold if unit == trace.predicted else normal)
            name = self._names[unit] if unit < len(self._names) else str(unit)
            value = float(trace.outputs[last][unit])
            painter.drawText(
                QRectF(centre.x() + r + 5, centre.y() - 9, self._label_width(), 18),
                left,
                f"{name}  {100 * value:.0f}%",
            )

    # -- mouse ----------------------------------------------------------------------

    def _hidden_neuron_at(self, position: QPointF) -> Neuron | None:
        neuron = self.neuron_at(position)
        if neuron is None or self._trace is None:
            return None
        return neuron if neuron[0] < len(self._trace.outputs) - 1 else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        neuron = self.neuron_at(event.position())
        if neuron is None or self._trace is None:
            QToolTip.hideText()
            self.unsetCursor()
        else:
            hidden = neuron[0] < len(self._trace.outputs) - 1
            self.setCursor(
                Qt.CursorShape.PointingHandCursor
                if hidden
                else Qt.CursorShape.ArrowCursor
            )
            QToolTip.showText(
                event.globalPosition().toPoint(), self.describe(*neuron), self
            )
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        neuron = self._hidden_neuron_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and neuron is not None:
            self.neuron_clicked.emit(*neuron)
            event.accept()
            return
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: D102
        neuron = self._hidden_neuron_at(QPointF(event.pos()))
        if neuron is None:
            return
        menu = QMenu(self)
        off = self._scales.get(neuron) == 0
        action = menu.addAction(
            f"Switch unit {neuron[1]} back on"
            if off
            else f"Switch unit {neuron[1]} off"
        )
        if menu.exec(event.globalPos()) is action:
            self.neuron_toggled.emit(*neuron)
