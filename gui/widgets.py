"""Small widget helpers shared by the panels: combo boxes, spin boxes, wheel guard.

The wheel guard makes value controls take the mouse wheel only when focused.
Imports Qt only; no core, no computation.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

# Controls whose value the wheel changes (scroll bars are sliders too, but scroll).
GUARDED_CONTROLS = (QComboBox, QAbstractSpinBox, QSlider)


class _WheelGuard(QObject):
    """Gives a wheel turn over an unfocused control to the scroll area behind it.

    A settings column scrolls under a still pointer: without this, whatever combo box
    or spin box slides under the pointer takes the rest of the turn and changes.
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() != QEvent.Type.Wheel or watched.hasFocus():
            return False
        area = _scroll_area_of(watched)
        if area is not None:
            viewport = area.viewport()
            position = viewport.mapFromGlobal(event.globalPosition().toPoint())
            QApplication.sendEvent(
                viewport,
                QWheelEvent(
                    position.toPointF(),
                    event.globalPosition(),
                    event.pixelDelta(),
                    event.angleDelta(),
                    event.buttons(),
                    event.modifiers(),
                    event.phase(),
                    event.inverted(),
                ),
            )
        event.accept()  # handled: Qt must not also pass it up
        return True


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


_GUARD: _WheelGuard | None = None


def guard_wheel(root: QWidget) -> None:
    """Make ``root`` and every value control in it take the wheel only when focused.

    Combo boxes, spin boxes and sliders get the strong focus policy (a wheel turn no
    longer focuses them) and one shared event filter, which passes an unfocused wheel
    turn to the scroll area behind the control instead. Cheap: only these controls'
    own events go through the filter. The panels' control helpers below call it for
    every control they make; the window calls it once for the rest.
    """
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    controls = [root] if isinstance(root, GUARDED_CONTROLS) else []
    controls += root.findChildren(QWidget)
    for control in controls:
        if isinstance(control, GUARDED_CONTROLS) and not control.property(
            "wheel_guarded"
        ):
            control.setProperty("wheel_guarded", True)
            if control.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            control.installEventFilter(_GUARD)


def keyed_combo(
    items: Iterable[tuple[str, str]], tooltip: str, parent: QWidget | None = None
) -> QComboBox:
    """Make a combo box showing labels and storing keys as item data."""
    combo = QComboBox(parent)
    for key, label in items:
        combo.addItem(label, key)
    combo.setToolTip(tooltip)
    guard_wheel(combo)
    return combo


def combo_key(combo: QComboBox) -> str:
    """Return the key of the selected item."""
    return str(combo.currentData())


def set_combo_key(combo: QComboBox, key: str) -> bool:
    """Select the item with ``key``; False when there is none."""
    index = combo.findData(key)
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True


def offer_datasets(combo: QComboBox, sets: dict) -> None:
    """List named datasets (name to images) in ``combo`` as "name (count)".

    The chosen name stays chosen when it is still offered, else the first is; no
    signal is emitted.
    """
    combo.blockSignals(True)
    previous = combo.currentData()
    combo.clear()
    for name, data in sets.items():
        combo.addItem(f"{name} ({len(data):,})", name)
    combo.setCurrentIndex(max(combo.findData(previous), 0))
    combo.blockSignals(False)


def fixed_label(text: str, widest: str, tooltip: str) -> QLabel:
    """Make a label sized once for its ``widest`` text.

    A label whose size may change asks every layout above it to recompute on each new
    text (and the status bar then repaints whole); a fixed size does not, so labels
    updated several times a second stay cheap.
    """
    label = QLabel(widest)
    label.setFixedSize(label.sizeHint())
    label.setText(text)
    label.setToolTip(tooltip)
    return label


def spin(
    minimum: int, maximum: int, value: int, tooltip: str, suffix: str = ""
) -> QSpinBox:
    """Make an integer spin box with range, value, tooltip and optional suffix."""
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setToolTip(tooltip)
    box.setSuffix(suffix)
    box.setAccelerated(True)
    guard_wheel(box)
    return box


def double_spin(
    minimum: float,
    maximum: float,
    value: float,
    tooltip: str,
    decimals: int = 3,
    step: float = 0.1,
    suffix: str = "",
) -> QDoubleSpinBox:
    """Make a float spin box with range, value, decimals, step and tooltip."""
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tooltip)
    box.setSuffix(suffix)
    box.setAccelerated(True)
    guard_wheel(box)
    return box


class LogSpinBox(QDoubleSpinBox):
    """A spin box for rates: shows values like 1e-05, steps 1, 2, 5, 10, ..."""

    def __init__(self, minimum: float, maximum: float, value: float, tooltip: str):
        super().__init__()
        self.setDecimals(10)
        self.setRange(minimum, maximum)
        self.setValue(value)
        self.setToolTip(tooltip)
        self.setKeyboardTracking(False)
        guard_wheel(self)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        """Compact text: ``0.001``, ``3``, ``1e-05``."""
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt override)
        """Parse any float notation."""
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, position: int):  # noqa: D102 (Qt override)
        from PySide6.QtGui import QValidator

        stripped = text.strip()
        if stripped in ("", "-", ".", "e", "1e", "1e-"):
            return QValidator.State.Intermediate, text, position
        try:
            value = float(stripped)
        except ValueError:
            last = stripped[-1:]
            if last in ("e", "E", "-", "+", "."):
                return QValidator.State.Intermediate, text, position
            return QValidator.State.Invalid, text, position
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, position
        return QValidator.State.Intermediate, text, position

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        """Step through 1, 2, 5, 10, ... instead of adding a constant."""
        import math

        value = self.value()
        if value <= 0:
            self.setValue(self.minimum() if steps > 0 else 0.0)
            return
        ladder = (1.0, 2.0, 5.0)
        exponent = math.floor(math.log10(value))
        mantissa = value / 10**exponent
        index = min(range(3), key=lambda i: abs(ladder[i] - mantissa))
        position = exponent * 3 + index + steps
        new_value = ladder[position % 3] * 10 ** (position // 3)
        self.setValue(min(max(new_value, self.minimum()), self.maximum()))
