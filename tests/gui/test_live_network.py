"""The Draw tab's live network view: activations, neuron detail, edits, test images,
noise. Values are checked against the network's own forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from trained_model import holdout, trained_model

from core.canvas_image import placed_to_canvas
from core.datasets import load_bundled
from core.metrics import loss_and_accuracy
from core.model_io import load_model
from core.neuron_edits import NeuronEdit, edited_network
from core.neurons import layer_outputs, most_exciting
from core.robustness import add_noise
from gui.draw_tab import DrawTab
from gui.live_network import ChosenImage
from gui.model_document import model_details


@pytest.fixture(scope="module")
def model():
    return trained_model("mnist-sample", (32, 16), 3)


@pytest.fixture
def tab(qtbot, tmp_path, monkeypatch, model):
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path))
    widget = DrawTab()
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_model(model)
    widget.network_panel.set_data(load_bundled("mnist-sample"), holdout("mnist-sample"))
    yield widget
    widget.shutdown()


def _assert_every_tile_in_view(grid) -> None:
    """Every image of the grid is on screen, four to a row: no scrolling."""
    room = grid.viewport().rect()
    rects = [grid.visualRect(grid.model().index(row, 0)) for row in range(grid.count())]
    assert all(room.contains(rect) for rect in rects), (room, rects)
    assert len({rect.top() for rect in rects}) == 4


def _draw_seven(tab):
    tab.canvas.add_stroke([(80, 70), (200, 70), (120, 230)], width=20)
    tab.update_prediction()


def _inputs(model, image):
    return model.normalization.apply(image.reshape(1, -1))


def _by_hand(model, image, silenced=()):
    """Forward pass in float64, with some hidden (layer, unit) outputs zeroed."""
    a = _inputs(model, image).astype(np.float64)
    network = model.network
    outputs = []
    for i, (w, b) in enumerate(zip(network.weights, network.biases, strict=True)):
        z = a @ w.astype(np.float64) + b
        if i == len(network.weights) - 1:
            e = np.exp(z - z.max())
            outputs.append((e / e.sum())[0])
            return outputs
        a = np.maximum(z, 0.0)
        outputs.append(a[0].copy())
        for layer, unit in silenced:
            if layer == i:
                a[0, unit] = 0.0


def test_drawn_activations_equal_the_forward_pass(qtbot, tab, model):
    _draw_seven(tab)
    view = tab.network_panel.view
    trace = view.trace()
    image = tab.current_image()
    assert trace is not None and image is not None
    expected = _by_hand(model, image)
    for got, want in zip(trace.outputs, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        trace.outputs[-1], tab.current_probabilities(), rtol=1e-6
    )
    # Every shown neuron is drawn, and its tooltip reads its value.
    for layer, units in enumerate(trace.shown):
        assert units.size == min(view.max_shown(), model.network.layer_sizes[layer + 1])
        for unit in units:
            assert view.position_of(layer, int(unit)) is not None
    unit = int(trace.shown[0][0])
    assert f"{expected[0][unit]:.4g}" in view.describe(0, unit)
    assert trace.predicted == int(np.argmax(expected[-1]))
    # The links into the winning output are its strongest contributions.
    into_winner = [link for link in trace.links if link.layer == 1]
    contributions = expected[1] * model.network.weights[2][:, trace.predicted]
    assert into_winner[0].source == int(np.argmax(np.abs(contributions)))


def test_the_view_follows_the_throttled_prediction_only(qtbot, tab, model, monkeypatch):
    import gui.live_network as live

    traced = []
    original_trace = live.trace
    monkeypatch.setattr(
        live, "trace", lambda *a, **k: traced.append(1) or original_trace(*a, **k)
    )
    canvas = tab.canvas
    rect = canvas.target_rect()
    start = QPoint(int(rect.left() + 40), int(rect.top() + 40))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    for step in range(60):
        qtbot.mouseMove(canvas, start + QPoint(3 * step, 2 * step))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(180, 120))
    qtbot.waitUntil(lambda: not tab.prediction_pending(), timeout=2000)
    # 60 mouse moves, a handful of throttled predictions, one trace each.
    assert 1 <= len(traced) <= 6


def test_clicking_a_hidden_neuron_shows_its_weights_and_most_exciting_images(
    qtbot, tab, model
):
    _draw_seven(tab)
    panel = tab.network_panel
    trace = panel.view.trace()
    unit = int(trace.shown[0][2])
    qtbot.mouseClick(
        panel.view,
        Qt.MouseButton.LeftButton,
        pos=panel.view.position_of(0, unit).toPoint(),
    )
    assert panel.selected() == (0, unit)
    assert panel.detail.isVisible() and f"unit {unit}" in panel.detail.title.text()
    assert panel.detail.weights_stack.currentWidget() is panel.detail.picture
    qtbot.waitUntil(panel.exciting_ready, timeout=20000)
    data = load_bundled("mnist-sample")
    shown = panel.detail.shown_indices()
    assert shown.size == 16 and panel.detail.images.count() == 16
    _assert_every_tile_in_view(panel.detail.images)
    activations = layer_outputs(
        model.network, model.normalization.apply(data.images_at(slice(None)))
    )[0]
    column = activations[:, unit]
    # The 16 shown are the 16 largest activations of that unit over the dataset.
    np.testing.assert_allclose(
        np.sort(column[shown])[::-1], np.sort(column)[::-1][:16], rtol=1e-5
    )
    direct = most_exciting(
        model.network, data.images_at(slice(None)), model.normalization
    )
    np.testing.assert_array_equal(shown, direct[0][0][unit])
    # A deeper unit shows its incoming weights as bars.
    deeper = int(trace.shown[1][0])
    panel.select(1, deeper)
    assert panel.detail.weights_stack.currentWidget() is panel.detail.bars
    heights = panel.detail.bar_heights()
    np.testing.assert_array_equal(heights, model.network.weights[1][:, deeper])


def test_switching_a_neuron_off_changes_the_prediction_as_computed(qtbot, tab, model):
    _draw_seven(tab)
    panel = tab.network_panel
    trace = panel.view.trace()
    # The strongest contributor to the answer, switched off from its detail.
    strongest = max(
        (link for link in trace.links if link.layer == 1),
        key=lambda link: abs(link.contribution),
    )
    unit = strongest.source
    qtbot.mouseClick(
        panel.view,
        Qt.MouseButton.LeftButton,
        pos=panel.view.position_of(1, unit).toPoint(),
    )
    panel.detail.off_button.click()
    assert panel.edits() == (NeuronEdit(1, unit, 0.0),)
    image = tab.current_image()
    expected = _by_hand(model, image, silenced=[(1, unit)])[-1]
    np.testing.assert_allclose(
        tab.current_probabilities(), expected, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        panel.view.trace().outputs[-1], expected, rtol=1e-4, atol=1e-6
    )
    assert f"layer 2, unit {unit} off" in panel.edits_label.text()
    # The accuracy change, measured in the background, is the direct one.
    qtbot.waitUntil(lambda: panel.accuracy() is not None, timeout=20000)
    data = holdout("mnist-sample")
    _, before = loss_and_accuracy(model.network, data, model.normalization)
    edited = edited_network(model.network, [NeuronEdit(1, unit, 0.0)])
    _, after = loss_and_accuracy(edited, data, model.normalization)
    result = panel.accuracy()
    assert result.before == pytest.approx(before) and result.after == pytest.approx(
        after
    )
    points = 100 * (after - before)
    sign = "+" if points >= 0 else "−"
    assert f"{sign}{abs(points):.2f} points" in panel.edits_label.text()
    # Scaling instead of silencing: the spin box.
    panel.detail.scale_box.setValue(0.5)
    assert panel.edits() == (NeuronEdit(1, unit, 0.5),)
    half = edited_network(model.network, [NeuronEdit(1, unit, 0.5)])
    np.testing.assert_allclose(
        tab.current_probabilities(),
        half.predict_proba(_inputs(model, image))[0],
        rtol=1e-5,
        atol=1e-7,
    )
    # The model itself is never changed; reset brings its answer back.
    panel.reset_edits()
    assert panel.edits() == ()
    np.testing.assert_allclose(
        tab.current_probabilities(), model.predict_proba(image), rtol=1e-6
    )


def test_right_click_toggles_and_a_new_model_clears_edits(
    qtbot, tab, model, monkeypatch
):
    _draw_seven(tab)
    panel = tab.network_panel
    unit = int(panel.view.trace().shown[0][0])
    panel.view.neuron_toggled.emit(0, unit)
    assert panel.edits() == (NeuronEdit(0, unit, 0.0),)
    panel.view.neuron_toggled.emit(0, unit)
    assert panel.edits() == ()
    panel.toggle(0, unit)
    tab.set_model(trained_model("mnist-sample", (32, 16), 3, "tanh"))
    assert panel.edits() == ()


def test_save_the_edited_model(qtbot, tab, model, tmp_path, monkeypatch):
    _draw_seven(tab)
    panel = tab.network_panel
    panel.set_scale(0, 3, 0.0)
    panel.set_scale(1, 2, 1.5)
    qtbot.waitUntil(lambda: panel.accuracy() is not None, timeout=20000)
    path = tmp_path / "edited"
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    panel.save_button.click()
    saved = load_model(tmp_path / "edited.npz")
    (record,) = saved.edits
    assert record["units"] == [
        {"hidden_layer": 0, "unit": 3, "scale": 0.0},
        {"hidden_layer": 1, "unit": 2, "scale": 1.5},
    ]
    assert record["evaluation"]["accuracy_after"] == pytest.approx(
        panel.accuracy().after
    )
    x = _inputs(model, tab.current_image())
    np.testing.assert_array_equal(
        saved.network.forward(x), panel.edited_model().network.forward(x)
    )
    assert "Saved" in panel.edits_label.text()
    text, _details = model_details(saved, None)
    assert "Edited after training: layer 1, unit 3 off; layer 2, unit 2 x1.5" in text


def test_a_test_image_on_the_canvas_is_read_exactly(qtbot, tab, model):
    data = holdout("mnist-sample")
    image = data.image_at(7)
    tab.put_image(ChosenImage(image, data.max_value, "x", "a test image"))
    np.testing.assert_array_equal(tab.current_image(), image)
    np.testing.assert_allclose(tab.current_probabilities(), model.predict_proba(image))
    assert tab.picture().grid == (28, 28)
    np.testing.assert_array_equal(
        tab.canvas.to_array(), placed_to_canvas(image, 255, 280)
    )
    # Drawing over it adds ink in place; Clear removes the image too.
    tab.canvas.add_stroke([(5, 5), (60, 5)], width=10)
    tab.update_prediction()
    assert tab.current_image()[0, :6].min() > 0
    np.testing.assert_array_equal(tab.current_image()[10:], image[10:])
    tab.canvas.undo()
    tab.update_prediction()
    np.testing.assert_array_equal(tab.current_image(), image)
    tab.canvas.clear()
    assert tab.canvas.is_blank() and tab.picture() is None


def test_double_clicking_a_most_exciting_image_puts_it_on_the_canvas(qtbot, tab, model):
    _draw_seven(tab)
    panel = tab.network_panel
    panel.select(0, 0)
    qtbot.waitUntil(panel.exciting_ready, timeout=20000)
    index = int(panel.detail.shown_indices()[0])
    panel.detail.images.image_activated.emit(0)
    np.testing.assert_array_equal(
        tab.current_image(), load_bundled("mnist-sample").images[index]
    )


def test_the_noise_slider_adds_noise_to_what_the_network_sees(qtbot, tab, model):
    data = holdout("mnist-sample")
    image = data.image_at(3)
    tab.put_image(ChosenImage(image, data.max_value, "x", "a test image"))
    tab.noise_slider.setValue(30)
    qtbot.waitUntil(lambda: not tab.prediction_pending(), timeout=2000)
    noisy = add_noise(image, 0.3, 255)
    np.testing.assert_array_equal(tab.current_image(), noisy)
    assert not np.array_equal(noisy, image)
    np.testing.assert_allclose(tab.current_probabilities(), model.predict_proba(noisy))
    assert tab.noise_label.text() == "Noise 30%"
    np.testing.assert_array_equal(tab.preview.image(), noisy)
    tab.noise_slider.setValue(0)
    qtbot.waitUntil(lambda: not tab.prediction_pending(), timeout=2000)
    np.testing.assert_array_equal(tab.current_image(), image)


def test_the_personal_set_is_one_tab_away(qtbot, tab):
    assert tab.side_tabs.currentWidget() is tab.network_panel
    tab.side_tabs.setCurrentIndex(1)
    assert tab.gallery.isVisible() and not tab.network_panel.isVisible()
