"""Small widget helpers shared by the panels: keyed combo boxes and form rows.

Imports Qt only; no core, no computation.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget


def keyed_combo(
    items: Iterable[tuple[str, str]], tooltip: str, parent: QWidget | None = None
) -> QComboBox:
    """Make a combo box showing labels and storing keys as item data."""
    combo = QComboBox(parent)
    for key, label in items:
        combo.addItem(label, key)
    combo.setToolTip(tooltip)
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
