"""Item 20: the wheel scrolls the settings; a control takes it only when focused."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from gui.widgets import GUARDED_CONTROLS


def _wheel(widget, steps: int = -1) -> None:
    """Send one wheel notch (negative: towards the user, i.e. scroll down)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _settings(window):
    window.resize(1024, 640)
    window.train_tab.setSizes([420, 600])
    scroll = window.train_tab.settings_scroll
    return scroll, scroll.verticalScrollBar()


def test_wheel_over_an_unfocused_control_scrolls_the_settings(qtbot, window):
    scroll, bar = _settings(window)
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    window.setFocus()
    panel = window.train_tab.network_panel
    output = panel.output_combo
    before = output.currentIndex()
    epochs = window.train_tab.training_panel.epochs_box
    epochs_before = epochs.value()
    start = bar.value()
    _wheel(output)
    _wheel(epochs)
    assert output.currentIndex() == before  # "Output / cost" stays as it was
    assert epochs.value() == epochs_before
    assert bar.value() > start  # the turn scrolled the settings instead


def test_a_focused_control_takes_the_wheel(qtbot, window):
    _settings(window)
    epochs = window.train_tab.training_panel.epochs_box
    epochs.setFocus()
    qtbot.waitUntil(epochs.hasFocus, timeout=2000)
    value = epochs.value()
    _wheel(epochs, steps=1)
    assert epochs.value() == value + 1


def test_every_value_control_is_guarded_even_ones_added_later(qtbot, window):
    panel = window.train_tab.network_panel
    panel.add_button.click()  # a new layer row with its own spin box
    controls = [
        w for w in window.findChildren(QWidget) if isinstance(w, GUARDED_CONTROLS)
    ]
    assert len(controls) > 20
    for control in controls:
        # A wheel turn never focuses them (which would let it through).
        assert control.focusPolicy() != Qt.FocusPolicy.WheelFocus, control
        assert control.property("wheel_guarded"), control
    row_box = panel._rows[-1].size_box
    size = row_box.value()
    window.setFocus()
    _wheel(row_box, steps=1)
    assert row_box.value() == size
