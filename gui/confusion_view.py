"""A clickable confusion-matrix heat map with the count in every cell.

Rows are true classes, columns predictions. Colour is the share of the row (so rare
classes read as clearly as common ones): blue on the diagonal, red off it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


def _blend(share: float, full: QColor) -> QColor:
    # Square root so that a few mistakes out of hundreds are still visible.
    t = float(np.sqrt(np.clip(share, 0.0, 1.0)))
    return QColor(
        round(255 + (full.red() - 255) * t),
        round(255 + (full.green() - 255) * t),
        round(255 + (full.blue() - 255) * t),
    )


_DIAGONAL = QColor(25, 90, 190)
_OFF_DIAGONAL = QColor(200, 30, 30)


class ConfusionMatrixView(QWidget):
    """Counts of (true, predicted) pairs; click a cell to pick it.

    Signals
    -------
    cell_clicked(int, int)
        True class (row) and predicted class (column) of the clicked cell.
    """

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts = np.zeros((0, 0), dtype=np.int64)
        self._names: tuple[str, ...] = ()
        self._selected: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(260, 260)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setSizePolicy(policy)
        self.setToolTip("")

    def set_matrix(self, counts: np.ndarray, class_names: Sequence[str]) -> None:
        """Show a ``(C, C)`` count matrix, rows true, columns predicted."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"a square matrix is needed, got shape {counts.shape}")
        if len(class_names) != counts.shape[0]:
            raise ValueError(
                f"{len(class_names)} class names for a {counts.shape[0]}-class matrix"
            )
        self._counts = counts.astype(np.int64)
        self._names = tuple(class_names)
        self._selected = None
        self.update()

    def clear(self) -> None:
        """Show nothing."""
        self._counts = np.zeros((0, 0), dtype=np.int64)
        self._names = ()
        self._selected = None
        self.update()

    def counts(self) -> np.ndarray:
        """Return the matrix shown."""
        return self._counts.copy()

    def select_cell(self, true: int, predicted: int) -> None:
        """Pick a cell as if clicked."""
        size = self._counts.shape[0]
        if not (0 <= true < size and 0 <= predicted < size):
            raise IndexError(f"no cell ({true}, {predicted}) in a {size}-class matrix")
        self._selected = (true, predicted)
        self.update()
        self.cell_clicked.emit(true, predicted)

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(420, 420)

    # -- geometry -------------------------------------------------------------------

    def _grid(self) -> tuple[QRectF, float]:
        size = max(self._counts.shape[0], 1)
        line = self.fontMetrics().height()
        # Room for "true" and the widest row name ("not a digit"), and above the
        # grid for "predicted" and column names of up to two lines.
        margin_left = 2 * line + self._widest_name() + 4
        margin_top = line * 3.6
        side = min(self.width() - margin_left - 8, self.height() - margin_top - 8)
        cell = max(side / size, 4.0)
        return QRectF(margin_left, margin_top, cell * size, cell * size), cell

    def _widest_name(self) -> int:
        metrics = self.fontMetrics()
        widths = [metrics.horizontalAdvance(name) for name in self._names]
        return max([metrics.height(), *widths])

    def cell_rect(self, true: int, predicted: int) -> QRectF:
        """Where a cell is drawn, in widget coordinates."""
        grid, cell = self._grid()
        return QRectF(
            grid.left() + predicted * cell, grid.top() + true * cell, cell, cell
        )

    def cell_at(self, position: QPointF) -> tuple[int, int] | None:
        """Return the (true, predicted) cell under a widget position, or None."""
        size = self._counts.shape[0]
        if size == 0:
            return None
        grid, cell = self._grid()
        if not grid.contains(position):
            return None
        column = int((position.x() - grid.left()) // cell)
        row = int((position.y() - grid.top()) // cell)
        if 0 <= row < size and 0 <= column < size:
            return row, column
        return None

    # -- painting -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        size = self._counts.shape[0]
        text_colour = self.palette().windowText().color()
        if size == 0:
            painter.setPen(text_colour)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "No evaluation yet"
            )
            painter.end()
            return
        grid, cell = self._grid()
        row_totals = self._counts.sum(axis=1)
        font = QFont(self.font())
        metrics = self.fontMetrics()
        small = QFont(font)
        if cell < metrics.horizontalAdvance("0000") + 4:
            small.setPointSizeF(max(font.pointSizeF() * 0.75, 6.0))
        for true in range(size):
            for predicted in range(size):
                count = int(self._counts[true, predicted])
                share = count / row_totals[true] if row_totals[true] else 0.0
                colour = _blend(
                    share, _DIAGONAL if true == predicted else _OFF_DIAGONAL
                )
                rect = self.cell_rect(true, predicted)
                painter.fillRect(rect, colour)
                if count:
                    painter.setFont(small)
                    painter.setPen(
                        QColor(255, 255, 255) if share > 0.35 else QColor(30, 30, 30)
                    )
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
        painter.setPen(QPen(QColor(200, 200, 200), 1))
        for i in range(size + 1):
            offset = i * cell
            painter.drawLine(
                QPointF(grid.left(), grid.top() + offset),
                QPointF(grid.right(), grid.top() + offset),
            )
            painter.drawLine(
                QPointF(grid.left() + offset, grid.top()),
                QPointF(grid.left() + offset, grid.bottom()),
            )
        painter.setFont(font)
        painter.setPen(text_colour)
        line = metrics.height()
        widest = self._widest_name()
        for i, name in enumerate(self._names):
            # A name wider than its column ("not a digit") breaks between words.
            painter.drawText(
                QRectF(
                    grid.left() + i * cell, grid.top() - 2 * line - 2, cell, 2 * line
                ),
                Qt.AlignmentFlag.AlignHCenter
                | Qt.AlignmentFlag.AlignBottom
                | Qt.TextFlag.TextWordWrap,
                name,
            )
            painter.drawText(
                QRectF(grid.left() - widest - 4, grid.top() + i * cell, widest, cell),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(
            QRectF(grid.left(), grid.top() - 3.4 * line, grid.width(), line),
            Qt.AlignmentFlag.AlignCenter,
            "predicted",
        )
        painter.save()
        painter.translate(grid.left() - widest - 4 - 0.8 * line, grid.center().y())
        painter.rotate(-90)
        painter.drawText(
            QRectF(-grid.height() / 2, -line / 2, grid.height(), line),
            Qt.AlignmentFlag.AlignCenter,
            "true",
        )
        painter.restore()
        if self._selected is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(QPen(QColor(255, 170, 0), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(*self._selected).adjusted(1, 1, -1, -1))
        painter.end()

    # -- input ----------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        cell = self.cell_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and cell is not None:
            self.select_cell(*cell)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        cell = self.cell_at(event.position())
        if cell is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(
                event.globalPosition().toPoint(), self._describe(*cell), self
            )
        super().mouseMoveEvent(event)

    def event(self, event: QEvent) -> bool:  # noqa: D102
        if event.type() == QEvent.Type.ToolTip:
            return True
        return super().event(event)

    def _describe(self, true: int, predicted: int) -> str:
        count = int(self._counts[true, predicted])
        total = int(self._counts[true].sum())
        share = f" ({100 * count / total:.1f}% of the {total} {self._names[true]}s)"
        what = (
            f"{self._names[true]} read correctly"
            if true == predicted
            else f"{self._names[true]} read as {self._names[predicted]}"
        )
        return f"{what}: {count} image(s){share if total else ''}\nClick to see them."
