"""Item 21: every tab works from 1024x640 up and grows on a large screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSize
from template_model import template_model

from gui.main_window import MINIMUM_SIZE
from gui.prediction_panel import MIN_ROW_HEIGHT


@pytest.fixture(scope="module")
def model():
    return template_model("mnist-sample")


def _settle(qtbot, window, width: int, height: int) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.size() == QSize(width, height), timeout=2000)
    qtbot.wait(50)  # let the layouts run


def _draw(qtbot, window, model) -> None:
    window.tabs.setCurrentWidget(window.draw_tab)
    tab = window.draw_tab
    tab.set_model(model)
    canvas = tab.canvas
    size = canvas.canvas_size
    canvas.add_stroke([(0.3 * size, 0.25 * size), (0.7 * size, 0.25 * size)])
    canvas.add_stroke([(0.7 * size, 0.25 * size), (0.45 * size, 0.8 * size)])
    tab.update_prediction()
    assert tab.current_probabilities() is not None


def test_the_window_cannot_be_made_smaller_than_where_it_works(window):
    assert (
        (window.minimumWidth(), window.minimumHeight())
        == MINIMUM_SIZE
        == (
            1024,
            640,
        )
    )


def test_every_probability_bar_is_visible_at_1024x640(qtbot, window, model):
    _draw(qtbot, window, model)
    _settle(qtbot, window, 1024, 640)
    bars = window.draw_tab.prediction.bars
    visible = bars.visibleRegion()
    window_area = QRect(0, 0, window.width(), window.height())
    assert bars.row_height() >= MIN_ROW_HEIGHT
    for row in range(10):
        rect = bars.bar_rect(row).toAlignedRect()
        assert visible.contains(rect), (row, rect, visible.boundingRect())
        top_left = bars.mapTo(window, rect.topLeft())
        assert window_area.contains(QRect(top_left, rect.size())), row
    # The winning bar and its figure are there to read.
    assert bars.probabilities() is not None


def test_the_draw_tab_sliders_have_room_at_1024x640(qtbot, window, model):
    _draw(qtbot, window, model)
    _settle(qtbot, window, 1024, 640)
    tab = window.draw_tab
    for slider in (tab.pen_slider, tab.noise_slider):
        assert slider.isVisible() and slider.width() >= 150, slider.width()
    assert tab.undo_button.isVisible() and tab.clear_button.isVisible()


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_no_tab_is_squeezed_below_its_minimum_at_1024x640(qtbot, window, index):
    window.tabs.setCurrentIndex(index)
    _settle(qtbot, window, 1024, 640)
    tab = window.tabs.currentWidget()
    needed = tab.minimumSizeHint().expandedTo(tab.minimumSize())
    assert tab.width() >= needed.width() and tab.height() >= needed.height(), (
        tab.size(),
        needed,
    )


def test_canvas_bars_and_plots_grow_on_a_large_screen(qtbot, window, model):
    _draw(qtbot, window, model)
    sizes = {}
    for width, height in ((1024, 640), (1920, 1080)):
        _settle(qtbot, window, width, height)
        window.tabs.setCurrentWidget(window.draw_tab)
        qtbot.wait(50)
        canvas_side = window.draw_tab.canvas.target_rect().width()
        preview = window.draw_tab.preview.width()
        window.tabs.setCurrentWidget(window.train_tab)
        qtbot.wait(50)
        plots = window.plot_panel.graphics.size()
        window.tabs.setCurrentWidget(window.evaluate_tab)
        qtbot.wait(50)
        confusion = window.evaluate_tab.confusion.size()
        tiles = window.evaluate_tab.mistakes_grid.iconSize().width()
        sizes[width] = (canvas_side, preview, plots, confusion, tiles)
    small, large = sizes[1024], sizes[1920]
    assert large[0] >= 1.5 * small[0]  # the canvas
    assert large[1] > small[1]  # what the network sees
    assert large[2].width() >= 1.5 * small[2].width()
    assert large[2].height() >= 1.5 * small[2].height()  # the plots
    assert large[3].width() > small[3].width()
    assert large[3].height() > small[3].height()  # the confusion matrix
    assert large[4] > small[4]  # the galleries' image tiles
