"""gui.drawing_canvas: strokes from mouse, pen and keys land in the backing image."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.drawing_canvas import CANVAS_SIZE, DrawingCanvas


@pytest.fixture
def canvas(qtbot):
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(CANVAS_SIZE + 8, CANVAS_SIZE + 8)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _drag(qtbot, widget, points):
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(widget, QPoint(*point))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def _canvas_point(widget, x, y):
    mapped = widget.widget_to_canvas(QPointF(x, y))
    return int(round(mapped.y())), int(round(mapped.x()))


def test_a_mouse_stroke_inks_its_path_and_nothing_far_away(qtbot, canvas):
    with qtbot.waitSignal(canvas.stroke_finished):
        _drag(qtbot, canvas, [(60, 60), (100, 100), (140, 140), (180, 180)])
    ink = canvas.to_array()
    assert ink.shape == (CANVAS_SIZE, CANVAS_SIZE) and ink.dtype == np.uint8
    for x in (60, 100, 140, 180):
        assert ink[_canvas_point(canvas, x, x)] == 255
    assert ink[_canvas_point(canvas, 60, 200)] == 0
    assert canvas.stroke_count() == 1 and not canvas.is_blank()


def test_strokes_are_antialiased(qtbot, canvas):
    _drag(qtbot, canvas, [(50, 70), (230, 120)])
    values = np.unique(canvas.to_array())
    assert ((values > 0) & (values < 255)).any()


def test_undo_removes_only_the_last_stroke(qtbot, canvas):
    _drag(qtbot, canvas, [(60, 60), (60, 200)])
    after_first = canvas.to_array()
    _drag(qtbot, canvas, [(200, 60), (200, 200)])
    assert not np.array_equal(canvas.to_array(), after_first)
    with qtbot.waitSignal(canvas.changed):
        canvas.undo()
    np.testing.assert_array_equal(canvas.to_array(), after_first)
    assert canvas.stroke_count() == 1
    canvas.undo()
    assert canvas.is_blank() and canvas.to_array().max() == 0
    canvas.undo()
    assert canvas.is_blank()


@pytest.mark.parametrize("key", [Qt.Key.Key_Escape, Qt.Key.Key_Delete])
def test_escape_and_delete_clear_the_canvas(qtbot, canvas, key):
    _drag(qtbot, canvas, [(60, 60), (200, 200)])
    qtbot.keyClick(canvas, key)
    assert canvas.is_blank() and canvas.to_array().max() == 0


def test_a_wider_pen_leaves_more_ink(qtbot, canvas):
    canvas.set_pen_width(6)
    _drag(qtbot, canvas, [(60, 140), (220, 140)])
    thin = int((canvas.to_array() > 127).sum())
    canvas.clear()
    canvas.set_pen_width(30)
    _drag(qtbot, canvas, [(60, 140), (220, 140)])
    thick = int((canvas.to_array() > 127).sum())
    assert thick > 3 * thin


def test_a_tap_leaves_a_round_dot(qtbot, canvas):
    canvas.set_pen_width(20)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(144, 144))
    ink = canvas.to_array() > 127
    rows, cols = np.nonzero(ink)
    assert canvas.stroke_count() == 1
    assert 16 <= rows.max() - rows.min() + 1 <= 22
    assert 16 <= cols.max() - cols.min() + 1 <= 22


def test_the_stroke_lands_at_the_same_canvas_place_when_the_widget_is_bigger(qtbot):
    arrays = []
    for side in (200, 400):
        widget = DrawingCanvas()
        qtbot.addWidget(widget)
        widget.resize(side, side)
        widget.show()
        qtbot.waitExposed(widget)
        rect = widget.target_rect()

        def at(fx, fy, rect=rect):
            return (
                int(rect.left() + fx * rect.width()),
                int(rect.top() + fy * rect.height()),
            )

        _drag(qtbot, widget, [at(0.3, 0.2), at(0.5, 0.5), at(0.7, 0.8)])
        arrays.append(widget.to_array() > 127)
    overlap = (arrays[0] & arrays[1]).sum() / max(arrays[0].sum(), 1)
    assert overlap > 0.8


def test_pen_tablet_events_draw_and_are_accepted(qtbot, canvas):
    device = QPointingDevice.primaryPointingDevice()

    def send(kind, x, y, buttons):
        position = QPointF(x, y)
        event = QTabletEvent(
            kind,
            device,
            position,
            canvas.mapToGlobal(position),
            0.8,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            Qt.KeyboardModifier.NoModifier,
            Qt.MouseButton.LeftButton,
            buttons,
        )
        QApplication.sendEvent(canvas, event)
        return event

    press = send(QEvent.Type.TabletPress, 80, 80, Qt.MouseButton.LeftButton)
    send(QEvent.Type.TabletMove, 140, 140, Qt.MouseButton.LeftButton)
    send(QEvent.Type.TabletRelease, 200, 200, Qt.MouseButton.NoButton)
    assert press.isAccepted()
    assert canvas.stroke_count() == 1
    assert canvas.to_array()[_canvas_point(canvas, 140, 140)] == 255


def test_a_finger_on_a_touch_screen_draws(qtbot, canvas):
    device = QTest.createTouchDevice()
    QTest.touchEvent(canvas, device).press(0, QPoint(80, 80), canvas).commit()
    QTest.touchEvent(canvas, device).move(0, QPoint(140, 140), canvas).commit()
    QTest.touchEvent(canvas, device).release(0, QPoint(200, 200), canvas).commit()
    assert canvas.stroke_count() == 1
    ink = canvas.to_array()
    assert ink[_canvas_point(canvas, 140, 140)] == 255
    assert ink[_canvas_point(canvas, 200, 80)] == 0


def test_add_stroke_draws_programmatically(canvas):
    canvas.add_stroke([(40, 40), (140, 140), (240, 40)], width=12)
    assert canvas.stroke_count() == 1
    ink = canvas.to_array()
    # Quadratic smoothing: the curve passes near, not through, the middle point.
    assert ink[40, 40] == ink[40, 240] == ink[102, 128] == 255
    assert ink[140, 140] < 255


def test_the_widget_shows_the_strokes_at_its_own_size(qtbot):
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(600, 600)
    widget.show()
    qtbot.waitExposed(widget)
    _drag(qtbot, widget, [(100, 300), (500, 300)])
    shown = widget.grab().toImage()
    assert QColor(shown.pixel(300, 300)).lightness() == 255
    assert QColor(shown.pixel(300, 200)).lightness() == 0
