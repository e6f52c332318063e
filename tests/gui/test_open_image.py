"""Item 25: an image file goes onto the Draw tab's canvas (File > Open Image…, or
dropped) and through the same conversion as the canvas and `predict`."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QFileDialog
from template_model import template_model

import gui.picture as picture_module
from cli.images import read_grey
from core.datasets import load_bundled
from core.preprocess import canvas_to_image
from gui.draw_tab import DrawTab


@pytest.fixture(scope="module")
def model():
    return template_model("mnist-sample")


@pytest.fixture
def tab(qtbot, tmp_path, monkeypatch, model):
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path))
    widget = DrawTab()
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    widget.set_model(model)
    return widget


def _digit_file(tmp_path, name: str, polarity: str) -> tuple:
    """Write a real MNIST digit, enlarged, as a file; return it and its label."""
    sample = load_bundled("mnist-sample")
    index = 17
    digit = np.kron(sample.images[index], np.ones((5, 5), np.uint8))  # 140x140
    page = np.zeros((200, 260), np.uint8)
    page[30:170, 60:200] = digit
    if polarity == "dark":  # pencil on paper
        grey = 255 - page
        image = QImage(grey.data, 260, 200, 260, QImage.Format.Format_Grayscale8)
    elif polarity == "bright":
        image = QImage(page.data, 260, 200, 260, QImage.Format.Format_Grayscale8)
    else:  # black strokes on a transparent background
        image = QImage(260, 200, QImage.Format.Format_ARGB32)
        image.fill(QColor(0, 0, 0, 0))
        for y, x in zip(*np.nonzero(page), strict=True):
            image.setPixelColor(int(x), int(y), QColor(0, 0, 0, int(page[y, x])))
    path = tmp_path / name
    assert image.copy().save(str(path))
    return path, int(sample.labels[index])


def _opened(qtbot, tab, path) -> None:
    tab.open_image(path)
    qtbot.waitUntil(lambda: not tab.is_opening_image(), timeout=10000)
    qtbot.waitUntil(lambda: tab.current_image() is not None, timeout=10000)


@pytest.mark.parametrize(
    ("name", "polarity"),
    [("pencil.png", "dark"), ("screen.jpg", "bright"), ("strokes.png", "transparent")],
)
def test_an_image_file_is_classified_like_predict_does(
    qtbot, tab, model, tmp_path, name, polarity
):
    path, label = _digit_file(tmp_path, name, polarity)
    _opened(qtbot, tab, path)
    assert not tab.canvas.is_blank()
    # Exactly what `predict` makes of the file: the same reading, the same conversion.
    expected = canvas_to_image(read_grey(path), model.image_shape)
    np.testing.assert_array_equal(tab.current_image(), expected)
    np.testing.assert_allclose(
        tab.current_probabilities(), model.predict_proba(expected), rtol=1e-6
    )
    assert name in tab.status_label.text()
    # The canvas's picture is the same digit: a stroke added on it is converted
    # with the picture, and the result stays close to the file's.
    size = tab.canvas.canvas_size
    tab.canvas.add_stroke([(0.5 * size, 0.5 * size)], width=4)
    tab.update_prediction()
    drawn = tab.current_image().astype(np.float32)
    assert np.abs(drawn - expected).mean() < 25.0
    tab.canvas.clear()
    assert tab.canvas.is_blank()
    tab.update_prediction()
    assert tab.current_image() is None


def test_a_file_at_the_datasets_size_is_read_as_a_dataset_image(
    qtbot, tab, model, tmp_path
):
    # An MNIST digit saved as a 28x28 file: its strokes kept, as `predict` keeps
    # them, and the status says so.
    digit = np.ascontiguousarray(load_bundled("mnist-sample").images[17])
    path = tmp_path / "mnist.png"
    image = QImage(digit.data, 28, 28, 28, QImage.Format.Format_Grayscale8)
    assert image.copy().save(str(path))
    _opened(qtbot, tab, path)
    expected = canvas_to_image(read_grey(path), model.image_shape)
    assert np.abs(expected.astype(np.float64) - digit).mean() < 0.5
    np.testing.assert_array_equal(tab.current_image(), expected)
    assert "read as a dataset image" in tab.status_label.text()
    big, _ = _digit_file(tmp_path, "big.png", "dark")
    _opened(qtbot, tab, big)
    assert "converted like a drawing" in tab.status_label.text()


def test_the_file_is_read_off_the_gui_thread(qtbot, tab, tmp_path, monkeypatch):
    threads = []
    original = picture_module.read_grey

    def recording(path):
        threads.append(threading.current_thread())
        return original(path)

    monkeypatch.setattr(picture_module, "read_grey", recording)
    path, _ = _digit_file(tmp_path, "digit.png", "dark")
    _opened(qtbot, tab, path)
    assert threads and threads[0] is not threading.main_thread()


def test_too_large_or_broken_files_are_refused_with_a_message(
    qtbot, tab, tmp_path, monkeypatch, dialogs
):
    path, _ = _digit_file(tmp_path, "digit.png", "dark")
    monkeypatch.setattr(picture_module, "MAX_IMAGE_PIXELS", 10_000)  # 260x200 > it
    tab.open_image(path)
    qtbot.waitUntil(lambda: not tab.is_opening_image(), timeout=10000)
    (_, title, text), *_ = dialogs.of_kind("warning")
    assert title == "Cannot open the image" and "260 x 200 pixels" in text
    assert tab.canvas.is_blank()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    tab.open_image(broken)
    qtbot.waitUntil(lambda: not tab.is_opening_image(), timeout=10000)
    assert len(dialogs.of_kind("warning")) == 2 and tab.canvas.is_blank()


def test_an_image_dropped_on_the_draw_tab_goes_on_the_canvas(qtbot, tab, tmp_path):
    path, _ = _digit_file(tmp_path, "dropped.png", "dark")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    tab.dragEnterEvent(enter)
    assert enter.isAccepted()
    tab.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: not tab.is_opening_image(), timeout=10000)
    qtbot.waitUntil(lambda: tab.current_image() is not None, timeout=10000)
    assert "dropped.png" in tab.status_label.text()


def test_file_open_image_shows_it_on_the_draw_tab(qtbot, window, tmp_path, monkeypatch):
    window.document.restore(template_model(), None, unsaved=False)
    path, _ = _digit_file(tmp_path, "menu.png", "dark")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    assert window.commands.open_image in window.menuBar().actions()[0].menu().actions()
    window.commands.open_image.trigger()
    assert window.tabs.currentWidget() is window.draw_tab
    qtbot.waitUntil(lambda: not window.draw_tab.is_opening_image(), timeout=10000)
    qtbot.waitUntil(lambda: window.draw_tab.current_image() is not None, timeout=10000)
    assert not window.draw_tab.canvas.is_blank()


def test_a_model_file_dragged_over_the_draw_tab_is_left_to_the_window(tab, tmp_path):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(tmp_path / "model.npz"))])
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter.ignore()
    tab.dragEnterEvent(enter)
    assert not enter.isAccepted()
