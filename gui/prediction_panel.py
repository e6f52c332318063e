"""Shows a prediction: a verdict line, ten probability bars and the network's input.

`PredictionPanel` is painted from plain arrays handed to it; it computes nothing. The
input preview can carry the "why" overlay (signed pixel attributions, red = toward).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QLabel, QLayout, QSizePolicy, QVBoxLayout, QWidget

from gui.image_grid import array_to_qimage
from gui.wording import with_article

_ACCENT = QColor(46, 125, 220)
_UNSURE = QColor(150, 150, 150)
_BAR_BACKGROUND = QColor(128, 128, 128, 40)
# The smallest readable row: a label and a bar with a little air.
MIN_ROW_HEIGHT = 15
MAX_BAR_HEIGHT = 22  # taller rows get air around their bar, not a thicker bar
MAX_ROW_HEIGHT = 36  # beyond that the rows drift apart and stop reading as a chart


def attribution_overlay(attribution: np.ndarray) -> QImage:
    """Colour a signed ``(H, W)`` map: red pushes toward the class, blue away.

    Opacity grows with magnitude relative to the largest one, so the picture reads
    the same however large the gradients are.
    """
    values = np.asarray(attribution, dtype=np.float32)
    peak = float(np.abs(values).max()) if values.size else 0.0
    rgba = np.zeros(values.shape + (4,), dtype=np.uint8)
    if peak > 0.0:
        strength = np.clip(np.abs(values) / peak, 0.0, 1.0)
        positive = values > 0
        rgba[..., 0] = np.where(positive, 255, 40)
        rgba[..., 1] = np.where(positive, 60, 120)
        rgba[..., 2] = np.where(positive, 40, 255)
        rgba[..., 3] = np.rint(np.sqrt(strength) * 210).astype(np.uint8)
    height, width = values.shape
    rgba = np.ascontiguousarray(rgba)
    return QImage(
        rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888
    ).copy()


class ProbabilityBars(QWidget):
    """One horizontal bar per class, the top class highlighted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: tuple[str, ...] = tuple(str(i) for i in range(10))
        self._probabilities: np.ndarray | None = None
        self._sure = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("The network's probability for each class.")
        self._fit_rows()

    def _fit_rows(self) -> None:
        rows = max(len(self._names), 1)
        row = max(MIN_ROW_HEIGHT, self.fontMetrics().height() + 2)
        self.setMinimumSize(160, rows * row)
        self.setMaximumHeight(rows * max(row, MAX_ROW_HEIGHT))

    def set_class_names(self, names: Sequence[str]) -> None:
        """Label the bars."""
        self._names = tuple(names)
        self._fit_rows()
        self.updateGeometry()
        self.update()

    def set_probabilities(self, probabilities: np.ndarray | None, sure: bool) -> None:
        """Show ``(C,)`` probabilities, or empty bars for None."""
        self._probabilities = (
            None if probabilities is None else np.asarray(probabilities, np.float32)
        )
        self._sure = sure
        self.update()

    def probabilities(self) -> np.ndarray | None:
        """Return the probabilities shown, or None."""
        return self._probabilities

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(260, 24 * len(self._names))

    def _columns(self) -> tuple[float, float, float]:
        # Measured in bold, the top class's font, so that no name is cut off.
        bold = QFont(self.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        label_width = max(metrics.horizontalAdvance(n) for n in self._names) + 10
        value_width = metrics.horizontalAdvance("100.0%") + 8
        bar_width = max(self.width() - label_width - value_width, 10)
        return label_width, bar_width, value_width

    def row_height(self) -> float:
        """Return the height of one class's row, in pixels."""
        return self.height() / max(len(self._names), 1)

    def bar_rect(self, row: int) -> QRectF:
        """Return the rectangle of one class's bar, in widget coordinates."""
        label_width, bar_width, _ = self._columns()
        row_height = self.row_height()
        height = min(row_height - 2 * min(3.0, row_height / 5), MAX_BAR_HEIGHT)
        top = row * row_height + (row_height - height) / 2
        return QRectF(label_width, top, bar_width, height)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        row_height = self.row_height()
        label_width, bar_width, value_width = self._columns()
        top = (
            int(np.argmax(self._probabilities))
            if self._probabilities is not None
            else -1
        )
        text_colour = self.palette().windowText().color()
        for row, name in enumerate(self._names):
            y = row * row_height
            bar_rect = self.bar_rect(row)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_BAR_BACKGROUND)
            painter.drawRoundedRect(bar_rect, 3, 3)
            value = (
                float(self._probabilities[row])
                if self._probabilities is not None and row < len(self._probabilities)
                else 0.0
            )
            highlighted = row == top
            colour = _ACCENT if self._sure else _UNSURE
            if not highlighted:
                colour = QColor(colour)
                colour.setAlpha(110)
            painter.setBrush(colour)
            filled = QRectF(bar_rect)
            filled.setWidth(bar_rect.width() * np.clip(value, 0.0, 1.0))
            painter.drawRoundedRect(filled, 3, 3)
            font = QFont(self.font())
            font.setBold(highlighted)
            painter.setFont(font)
            painter.setPen(text_colour)
            painter.drawText(
                QRectF(0, y, label_width - 6, row_height),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            if self._probabilities is not None:
                painter.drawText(
                    QRectF(label_width + bar_width + 4, y, value_width, row_height),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    f"{100 * value:.1f}%",
                )
        painter.end()


class InputPreview(QWidget):
    """The exact image the network sees, enlarged with square pixels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._array: np.ndarray | None = None
        self.setMinimumSize(112, 112)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setToolTip(
            "The input the network sees, made from your drawing by the same conversion "
            "the model was trained for."
        )

    def set_image(self, image: np.ndarray | None, max_value: int = 255) -> None:
        """Show a 2-D image in ``0..max_value``, or nothing."""
        self._array = None if image is None else np.array(image)
        self._image = None if image is None else array_to_qimage(image, max_value)
        self.update()

    def image(self) -> np.ndarray | None:
        """Return the array shown, or None."""
        return self._array

    def set_overlay(self, overlay: QImage | None) -> None:
        """Draw a translucent image of the same grid over the input, or nothing."""
        self._overlay = overlay
        self.update()

    def has_overlay(self) -> bool:
        """Return True when an overlay is drawn."""
        return self._overlay is not None

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(168, 168)

    def hasHeightForWidth(self) -> bool:  # noqa: D102
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: D102
        return width

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        side = float(min(self.width(), self.height()) - 2)
        rect = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        painter.fillRect(rect, QColor(0, 0, 0))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            # Under the overlay the ink is dimmed so red and blue read clearly.
            painter.setOpacity(0.45 if self._overlay is not None else 1.0)
            painter.drawImage(rect, self._image)
            painter.setOpacity(1.0)
            if self._overlay is not None:
                painter.drawImage(rect, self._overlay)
        painter.setPen(QPen(QColor(110, 110, 110), 1))
        painter.drawRect(rect)
        painter.end()


class PredictionPanel(QWidget):
    """Verdict line over the probability bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = QLabel(self)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setWordWrap(True)
        self.detail = QLabel(self)
        self.detail.setWordWrap(True)
        self.bars = ProbabilityBars(self)
        for label in (self.verdict, self.detail):
            # The bars take the height; the texts keep theirs.
            label.setSizePolicy(
                QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum
            )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.detail)
        layout.addWidget(self.bars, 1)
        # No taller than its parts: the column gives the rest to what follows.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinAndMaxSize)
        self.show_message("Draw a digit", "")

    def set_class_names(self, names: Sequence[str]) -> None:
        """Label the bars."""
        self.bars.set_class_names(names)

    def show_message(self, verdict: str, detail: str) -> None:
        """Show text and empty bars (no model, or nothing drawn)."""
        self.verdict.setText(verdict)
        self.detail.setText(detail)
        self.bars.set_probabilities(None, True)

    def show_prediction(
        self,
        probabilities: np.ndarray,
        class_name: str,
        sure: bool,
        reason: str,
        confidence: float | None = None,
        not_a_digit: float = 0.0,
    ) -> None:
        """Show a verdict for ``(C,)`` probabilities.

        ``confidence`` is the named class's probability (by default the largest),
        ``not_a_digit`` the model's "not a digit" output (0 without one).
        """
        if confidence is None:
            confidence = float(np.max(probabilities))
        if sure:
            self.verdict.setText(f"It's {with_article(class_name)}")
            detail = f"{100 * confidence:.1f}% sure"
            if not_a_digit > confidence:
                # Answered all the same: the threshold lets real digits in odd
                # hands through, and the bars below show "not a digit" ahead.
                detail += (
                    f', an unusual one: {100 * not_a_digit:.1f}% "not a digit",'
                    " too little to turn it away"
                )
            self.detail.setText(detail)
        else:
            self.verdict.setText("Not sure")
            self.detail.setText(f"{reason} Best guess: {class_name}.")
        self.bars.set_probabilities(probabilities, sure)

    def verdict_text(self) -> str:
        """Return the verdict line."""
        return self.verdict.text()
