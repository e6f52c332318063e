"""The drawing canvas: smooth anti-aliased strokes on a grey-scale QImage.

Owns the strokes (for per-stroke undo) and the backing image; knows nothing of models
or preprocessing. Input: mouse, pen tablet and touch. Ink is bright (255) on black.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

CANVAS_SIZE = 280
DEFAULT_PEN_WIDTH = 18.0
MIN_PEN_WIDTH = 4.0
MAX_PEN_WIDTH = 48.0
# Points closer than this (canvas pixels) to the previous one add nothing visible.
_MIN_POINT_DISTANCE = 0.75


@dataclass
class Stroke:
    """One pen-down to pen-up path in canvas coordinates."""

    width: float
    points: list[QPointF] = field(default_factory=list)

    def path(self) -> QPainterPath:
        """Return the smoothed path: quadratic curves through the midpoints."""
        path = QPainterPath(self.points[0])
        if len(self.points) == 1:
            return path
        for i in range(1, len(self.points) - 1):
            here, after = self.points[i], self.points[i + 1]
            path.quadTo(here, (here + after) / 2.0)
        path.lineTo(self.points[-1])
        return path


def _draw_stroke(painter: QPainter, stroke: Stroke) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if len(stroke.points) == 1:
        # A tap leaves a round dot the size of the pen.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255))
        radius = stroke.width / 2.0
        painter.drawEllipse(stroke.points[0], radius, radius)
        return
    pen = QPen(QColor(255, 255, 255), stroke.width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(stroke.path())


class DrawingCanvas(QWidget):
    """A square canvas the user draws digits on.

    Signals
    -------
    changed()
        The ink changed (a stroke grew, ended, was undone, or the canvas was cleared).
    stroke_finished()
        The pen was lifted.
    """

    changed = Signal()
    stroke_finished = Signal()

    def __init__(self, parent: QWidget | None = None, size: int = CANVAS_SIZE) -> None:
        super().__init__(parent)
        self._size = int(size)
        self._image = QImage(self._size, self._size, QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        self._before_stroke: QImage | None = None
        self._strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._pen_width = DEFAULT_PEN_WIDTH
        self._overlay: QImage | None = None
        self._picture: QImage | None = None  # an opened image under the strokes
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(160, 160)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setToolTip(
            "Draw a digit with the mouse, a pen or a finger.\n"
            "Ctrl+Z undoes the last stroke, Esc or Delete clears."
        )

    # -- public API -----------------------------------------------------------------

    @property
    def canvas_size(self) -> int:
        """Side of the square backing image in pixels."""
        return self._size

    def pen_width(self) -> float:
        """Pen width in canvas pixels."""
        return self._pen_width

    def set_pen_width(self, width: float) -> None:
        """Set the width of the next strokes (existing strokes keep theirs)."""
        self._pen_width = float(np.clip(width, MIN_PEN_WIDTH, MAX_PEN_WIDTH))

    def stroke_count(self) -> int:
        """Return the number of finished strokes (not the one being drawn)."""
        return len(self._strokes)

    def is_blank(self) -> bool:
        """Return True when nothing is drawn (and no picture is shown)."""
        return not self._strokes and self._current is None and self._picture is None

    def only_picture(self) -> bool:
        """Return True when a picture is shown and nothing is drawn on it."""
        return self._picture is not None and not self._strokes and not self._current

    def set_picture(self, picture: np.ndarray) -> None:
        """Replace everything with a picture: uint8 ``(size, size)``, bright ink.

        Strokes drawn afterwards go on top of it; Clear removes it too.
        """
        image = np.ascontiguousarray(picture, dtype=np.uint8)
        if image.shape != (self._size, self._size):
            raise ValueError(f"a {self._size}x{self._size} picture is needed")
        self._picture = QImage(
            image.data,
            self._size,
            self._size,
            self._size,
            QImage.Format.Format_Grayscale8,
        ).copy()
        self._strokes.clear()
        self._current = None
        self._before_stroke = None
        self._render_all()
        self.changed.emit()

    def to_array(self) -> np.ndarray:
        """Return the ink as uint8 ``(size, size)``, 0 = paper, 255 = full ink."""
        image = self._image
        view = np.frombuffer(
            image.constBits(), dtype=np.uint8, count=image.sizeInBytes()
        )
        rows = view.reshape(image.height(), image.bytesPerLine())
        return rows[:, : image.width()].copy()

    def clear(self) -> None:
        """Remove every stroke."""
        if self.is_blank():
            return
        self._strokes.clear()
        self._current = None
        self._before_stroke = None
        self._picture = None
        self._image.fill(0)
        self.update()
        self.changed.emit()

    def undo(self) -> None:
        """Remove the last stroke."""
        if self._current is not None:
            self._current = None
            self._before_stroke = None
        elif self._strokes:
            self._strokes.pop()
        else:
            return
        self._render_all()
        self.changed.emit()

    def add_stroke(
        self, points: Sequence[tuple[float, float]], width: float | None = None
    ) -> None:
        """Draw one whole stroke through ``points`` given in canvas pixels."""
        if not points:
            return
        stroke = Stroke(self._pen_width if width is None else float(width))
        stroke.points = [QPointF(float(x), float(y)) for x, y in points]
        self._strokes.append(stroke)
        self._paint_stroke(self._image, stroke)
        self.update()
        self.changed.emit()
        self.stroke_finished.emit()

    def set_overlay(self, overlay: QImage | None) -> None:
        """Show a translucent image (any size, stretched) over the ink, or None."""
        self._overlay = overlay
        self.update()

    # -- geometry -------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(self._size + 40, self._size + 40)

    def hasHeightForWidth(self) -> bool:  # noqa: D102
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: D102
        return width

    def target_rect(self) -> QRectF:
        """Return the square, in widget coordinates, where the canvas is shown."""
        side = float(min(self.width(), self.height()) - 8)
        side = max(side, 1.0)
        return QRectF(
            (self.width() - side) / 2.0, (self.height() - side) / 2.0, side, side
        )

    def widget_to_canvas(self, position: QPointF) -> QPointF:
        """Map a widget position to canvas pixels."""
        rect = self.target_rect()
        scale = self._size / rect.width()
        return QPointF(
            (position.x() - rect.left()) * scale, (position.y() - rect.top()) * scale
        )

    # -- painting -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        rect = self.target_rect()
        painter.fillRect(rect, QColor(0, 0, 0))
        if self._picture is not None:
            painter.drawImage(rect, self._picture)
        # The strokes are re-drawn as vectors at the widget's resolution, so the ink
        # stays sharp however large the canvas is shown; the backing image holds the
        # same strokes at canvas resolution for the conversion.
        painter.save()
        painter.setClipRect(rect)
        painter.translate(rect.topLeft())
        painter.scale(rect.width() / self._size, rect.height() / self._size)
        for stroke in self._strokes:
            _draw_stroke(painter, stroke)
        if self._current is not None:
            _draw_stroke(painter, self._current)
        painter.restore()
        if self._overlay is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(rect, self._overlay)
        painter.setPen(QPen(QColor(110, 110, 110), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self.hasFocus():
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.drawRect(rect.adjusted(-2, -2, 2, 2))
        if self.is_blank():
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")
        painter.end()

    def _paint_stroke(self, image: QImage, stroke: Stroke) -> None:
        painter = QPainter(image)
        _draw_stroke(painter, stroke)
        painter.end()

    def _render_all(self) -> None:
        if self._picture is not None:
            self._image = self._picture.copy()
        else:
            self._image.fill(0)
        for stroke in self._strokes:
            self._paint_stroke(self._image, stroke)
        self.update()

    # -- input ----------------------------------------------------------------------

    def _begin(self, position: QPointF) -> None:
        self._before_stroke = self._image.copy()
        self._current = Stroke(self._pen_width, [self.widget_to_canvas(position)])
        self._redraw_current()

    def _extend(self, position: QPointF) -> None:
        if self._current is None:
            return
        point = self.widget_to_canvas(position)
        last = self._current.points[-1]
        if (point - last).manhattanLength() < _MIN_POINT_DISTANCE:
            return
        self._current.points.append(point)
        self._redraw_current()

    def _end(self) -> None:
        if self._current is None:
            return
        self._strokes.append(self._current)
        self._current = None
        self._before_stroke = None
        self.changed.emit()
        self.stroke_finished.emit()

    def _redraw_current(self) -> None:
        # Repaint the whole growing stroke over the image saved at pen-down, so the
        # smoothed curve replaces its provisional tail instead of piling up.
        assert self._current is not None and self._before_stroke is not None
        self._image = self._before_stroke.copy()
        self._paint_stroke(self._image, self._current)
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        if event.button() == Qt.MouseButton.LeftButton:
            self._extend(event.position())
            self._end()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: D102
        # Accepting stops Qt from also synthesising mouse events for the pen.
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self._begin(event.position())
        elif kind == QEvent.Type.TabletMove and self._current is not None:
            self._extend(event.position())
        elif kind == QEvent.Type.TabletRelease:
            self._extend(event.position())
            self._end()
        event.accept()

    def event(self, event: QEvent) -> bool:  # noqa: D102
        kind = event.type()
        if kind in (
            QEvent.Type.TouchBegin,
            QEvent.Type.TouchUpdate,
            QEvent.Type.TouchEnd,
            QEvent.Type.TouchCancel,
        ):
            points = event.points()
            if kind == QEvent.Type.TouchCancel:
                if self._current is not None:
                    self.undo()
            elif points:
                position = points[0].position()
                if kind == QEvent.Type.TouchBegin:
                    self._begin(position)
                elif kind == QEvent.Type.TouchUpdate:
                    self._extend(position)
                else:
                    self._extend(position)
                    self._end()
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: D102
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Delete):
            self.clear()
            event.accept()
        else:
            super().keyPressEvent(event)
