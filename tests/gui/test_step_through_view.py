"""One example through the network: the view shows core.step_through's numbers."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from template_model import template_model
from test_draw_tab import _draw_scribble, _draw_seven, _wait_prediction

from core.datasets import load_bundled
from core.network import MLP
from core.step_through import step_through
from gui.step_through_view import Example, StepThroughView, number


@pytest.fixture(scope="module")
def model():
    base = template_model("mnist-sample", sharpness=0.2)  # about 70% sure
    return dataclasses.replace(
        base, config={"optimizer": "sgd", "learning_rate": 0.5, "l2": 0.0}
    )


@pytest.fixture(scope="module")
def images():
    return load_bundled("mnist-sample")


@pytest.fixture
def view(qtbot):
    widget = StepThroughView()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    return widget


def _settled(qtbot, view, computations):
    qtbot.waitUntil(
        lambda: view.computations > computations and not view.is_computing(),
        timeout=10000,
    )
    return view.result()


def _plain(html: str) -> str:
    """A number as the browser's plain text reads it (no tags, a true minus)."""
    return re.sub("<[^>]+>", "", html)


def _expected(model, image, label, rate, units=3):
    x = model.normalization.apply(image.reshape(1, -1))[0]
    return step_through(model.network, x, label, rate, units=units)


def test_the_view_shows_the_numbers_core_returns(qtbot, view, model, images):
    image = images.images[7]
    view.set_model(model)
    assert view.rate_box.value() == 0.5  # the model's own rate (plain SGD)
    view.show_example(Example(image, int(images.labels[7]), "Test image 7"))
    shown = _settled(qtbot, view, 0)
    expected = _expected(model, image, int(images.labels[7]), 0.5)
    assert shown.label == expected.label == int(images.labels[7])
    assert shown.loss == expected.loss and shown.loss_after == expected.loss_after
    for mine, theirs in zip(shown.gradients, expected.gradients, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    text = view.browser.toPlainText()
    assert "Test image 7" in text
    assert "so wl = (Wl)T" in text  # the textbook's w is our W transposed
    for layer in expected.layers:
        for unit in layer.units:
            assert _plain(number(unit.z)) in text
            assert _plain(number(unit.delta)) in text
            assert _plain(number(unit.new_bias)) in text or unit is not layer.units[0]
        for update in layer.updates:
            assert _plain(number(update.gradient)) in text
            assert _plain(number(update.new_weight)) in text
    assert f"= {_plain(number(expected.loss))}" in text
    assert _plain(number(expected.loss_after)) in text
    assert "−ln" in text  # the softmax's cross-entropy, as the model's cost


def test_true_class_rate_and_units_recompute(qtbot, view, model, images):
    image = images.images[3]
    view.set_model(model)
    view.show_example(Example(image, None, "Your drawing"))
    first = _settled(qtbot, view, 0)
    assert first.label == first.predicted  # a drawing: the predicted class
    other = (first.predicted + 1) % 10
    view.label_combo.setCurrentIndex(view.label_combo.findData(other))
    relabelled = _settled(qtbot, view, 1)
    assert relabelled.label == other and relabelled.loss > first.loss
    view.rate_box.setValue(0.05)
    slower = _settled(qtbot, view, 2)
    assert slower.learning_rate == 0.05
    assert slower.loss_after == _expected(model, image, other, 0.05).loss_after
    view.units_box.setValue(5)
    wider = _settled(qtbot, view, 3)
    assert len(wider.layers[0].units) == 5


def test_the_textbook_network_is_written_as_such(qtbot, view, model, images):
    # Sigmoid hidden units and outputs with the quadratic cost, as in chapter 1.
    network = MLP(model.network.layer_sizes, "sigmoid", "sigmoid_quadratic")
    for mine, theirs in zip(
        network.parameters(), model.network.parameters(), strict=True
    ):
        mine[...] = theirs
    view.set_model(dataclasses.replace(model, network=network))
    view.show_example(Example(images.images[0], int(images.labels[0]), "Image 0"))
    shown = _settled(qtbot, view, 0)
    text = view.browser.toPlainText()
    assert "½" in text and "σ′" in text and "−ln" not in text
    assert "Layer 1: hidden layer, σ, 10 units (784 inputs)" in text
    assert "Layer 2: output layer, σ, 10 units (10 inputs)" in text
    assert _plain(number(shown.loss)) in text


def test_an_image_that_does_not_fit_says_so(qtbot, view, model):
    view.set_model(model)
    view.show_example(Example(np.zeros((8, 8), np.uint8), 1, "Small image"))
    assert view.result() is None
    assert "does not fit" in view.browser.toPlainText()


def test_the_window_follows_the_drawing_as_it_changes(qtbot, window, model):
    window.document.restore(model, None, unsaved=True)
    window.tabs.setCurrentWidget(window.draw_tab)
    tab = window.draw_tab
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.numbers_button.click()
    numbers = window.numbers
    assert numbers.isVisible()
    shown = _settled(qtbot, numbers.view, 0)
    image = tab.current_image()
    expected = _expected(model, image, None, 0.5)
    assert shown.loss == expected.loss and shown.predicted == expected.predicted
    _draw_scribble(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    qtbot.waitUntil(
        lambda: (
            numbers.view.result() is not None
            and numbers.view.result().loss
            == _expected(model, tab.current_image(), None, 0.5).loss
        ),
        timeout=10000,
    )
    assert not np.array_equal(image, tab.current_image())
    tab.canvas.clear()
    qtbot.waitUntil(lambda: numbers.view.result() is None, timeout=5000)
    assert "Draw a digit" in numbers.view.browser.toPlainText()
    assert numbers.view.thumbnail.pixmap().isNull()
    numbers.close()


def test_a_mistake_double_clicked_on_evaluate_is_followed_with_its_label(
    qtbot, window, model
):
    window.document.restore(model, None, unsaved=True)
    window.tabs.setCurrentWidget(window.evaluate_tab)
    evaluate = window.evaluate_tab
    qtbot.waitUntil(lambda: evaluate.report() is not None, timeout=30000)
    report = evaluate.report()
    evaluate.mistakes_grid.image_activated.emit(0)
    index = int(report.misclassified[0])
    label = int(report.dataset.labels[index])
    numbers = window.numbers
    assert numbers.isVisible()
    shown = _settled(qtbot, numbers.view, 0)
    assert shown.label == label and shown.predicted != label
    assert f"labelled {report.dataset.class_names[label]}" in (
        numbers.view.source_label.text()
    )
    expected = _expected(model, report.dataset.images[index], label, 0.5)
    assert shown.loss == expected.loss
    numbers.close()
