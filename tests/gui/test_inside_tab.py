"""The Inside tab: the map, the robustness curves and the data view, checked against
direct computations on a small trained model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from trained_model import holdout, trained_model

from core.datasets import load_bundled
from core.metrics import loss_and_accuracy
from core.neurons import layer_outputs
from core.robustness import DISTORTIONS
from gui.inside_tab import InsideTab


@pytest.fixture(scope="module")
def model():
    return trained_model("mnist-sample", (32, 16), 3)


@pytest.fixture
def tab(qtbot):
    widget = InsideTab()
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def _svd_xy(features):
    centred = features.astype(np.float64) - features.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2]


def _assert_up_to_sign(got, want):
    for axis in range(2):
        sign = np.sign(got[:, axis] @ want[:, axis])
        np.testing.assert_allclose(
            got[:, axis],
            sign * want[:, axis],
            rtol=1e-3,
            atol=1e-3 * np.abs(want).max(),
        )


def test_the_map_places_each_image_by_the_svd_of_its_activations(qtbot, tab, model):
    data = holdout("mnist-sample")
    view = tab.map_view
    tab.set_model(model)
    tab.set_data(load_bundled("mnist-sample"), data)
    # A 500-image holdout is too few dots: the training images come first.
    assert view.data_combo.currentData() == "training images"
    view.data_combo.setCurrentIndex(view.data_combo.findData("held-out images"))
    qtbot.waitUntil(
        lambda: view.is_drawn() and len(view.map_plot().digit_map.indices) == len(data),
        timeout=30000,
    )
    plot = view.map_plot()
    assert view.layer_combo.currentData() == 1  # the last hidden layer
    assert len(plot.digit_map.indices) == len(data)
    activations = layer_outputs(
        model.network, model.normalization.apply(data.images_at(slice(None)))
    )
    want = _svd_xy(activations[1])
    got = np.column_stack([plot.x, plot.y])
    _assert_up_to_sign(got, want[plot.order])
    # Every image is one dot; the misclassified ones are ringed.
    predictions = activations[-1].argmax(axis=1)
    assert len(view.dots_item.data) == len(data)
    assert len(view.ring_item.data) == np.count_nonzero(predictions != data.labels)
    np.testing.assert_array_equal(plot.labels, data.labels[plot.order])
    # Hover finds the dot under the pointer; a click puts its image on the canvas.
    row = 17
    xy = plot.digit_map.projection.coordinates[row]
    scene = view.plot_item.vb.mapViewToScene(QPointF(float(xy[0]), float(xy[1])))
    assert np.allclose(plot.digit_map.projection.coordinates[view.point_at(scene)], xy)
    with qtbot.waitSignal(tab.image_chosen) as chosen:
        view.choose(row)
    np.testing.assert_array_equal(chosen.args[0].image, data.image_at(row))
    # The drawing is a star placed by the same projection.
    tab.show_input(data.image_at(row))
    np.testing.assert_allclose(view.drawing_position(), xy, rtol=1e-4, atol=1e-4)
    assert "Image 17" in view.describe(row)


def test_the_raw_pixel_map(qtbot, tab, model):
    data = holdout("mnist-sample")
    view = tab.map_view
    tab.set_model(model)
    tab.set_data(None, data)
    qtbot.waitUntil(view.is_drawn, timeout=30000)
    view.layer_combo.setCurrentIndex(view.layer_combo.findData(-1))
    qtbot.waitUntil(
        lambda: view.is_drawn() and view.map_plot().digit_map.layer is None,
        timeout=30000,
    )
    plot = view.map_plot()
    want = _svd_xy(data.images_at(slice(None)).reshape(len(data), -1) / 255.0)
    _assert_up_to_sign(np.column_stack([plot.x, plot.y]), want[plot.order])
    assert "raw pixels" in view.status_label.text()


def test_robustness_curves_start_at_the_plain_accuracy_and_keep_earlier_models(
    qtbot, tab, model
):
    data = holdout("mnist-sample")
    view = tab.robustness_view
    tab.pages.setCurrentWidget(view)
    tab.set_model(model)
    tab.set_data(None, data)
    qtbot.waitUntil(lambda: view.result() is not None, timeout=60000)
    _, plain = loss_and_accuracy(model.network, data, model.normalization)
    result = view.result()
    assert result.plain_accuracy == pytest.approx(plain)
    for name, curve in result.curves.items():
        at = np.flatnonzero(curve.levels == DISTORTIONS[name].identity)[0]
        assert curve.accuracy[at] == pytest.approx(plain)
        x, y = view._current.items[name].getData()
        np.testing.assert_allclose(y, 100 * curve.accuracy)
    qtbot.waitUntil(lambda: not view.is_running(), timeout=5000)
    assert view.progress.value() == 100
    # A new model: the first one's curves stay, faint, for comparison.
    other = trained_model("mnist-sample", (32, 16), 3, "tanh")
    tab.set_model(other)
    assert [label for label, _ in view.earlier()][0].startswith("784-32-16-10 · relu")
    first = view.earlier()[0][1]
    qtbot.waitUntil(lambda: view.result() is not None, timeout=60000)
    assert view.result() is not first
    faint = view._earlier[0][1].items["rotation"]
    np.testing.assert_allclose(
        faint.getData()[1], 100 * first.curves["rotation"].accuracy
    )
    assert faint.opts["pen"].color().alpha() < 255
    text = view.describe("rotation", 31.0)  # the nearest level, 30 degrees
    at = list(first.curves["rotation"].levels).index(30.0)
    now = view.result().curves["rotation"].accuracy[at]
    before = first.curves["rotation"].accuracy[at]
    assert "Rotation 30 degrees" in text
    assert f"now: {100 * now:.1f}%" in text
    assert f"{view.earlier()[0][0]}: {100 * before:.1f}%" in text
    view.forget_earlier()
    assert view.earlier() == []


def test_robustness_can_be_cancelled(qtbot, tab, model):
    view = tab.robustness_view
    tab.pages.setCurrentWidget(view)
    tab.set_model(model)
    tab.set_data(load_bundled("mnist-sample"), None)
    qtbot.waitUntil(view.is_running, timeout=5000)
    view.cancel_button.click()
    qtbot.waitUntil(lambda: not view.is_running(), timeout=10000)
    assert view.result() is None and view.measure_button.isEnabled()


def test_the_data_view_counts_averages_and_histogram_equal_numpy(qtbot, tab):
    data = load_bundled("digits-8x8")
    view = tab.data_view
    tab.pages.setCurrentWidget(view)
    tab.set_data(data, None)
    qtbot.waitUntil(lambda: view.summary() is not None, timeout=20000)
    counts = np.bincount(data.labels, minlength=10)
    np.testing.assert_array_equal(view._bars.opts["height"], counts)
    summary = view.summary()
    for k in range(10):
        np.testing.assert_allclose(
            summary.means[k], data.images_at(data.labels == k).mean(axis=0), rtol=1e-5
        )
    assert view.means.count() == 10
    # Every class average in one row, whole.
    room = view.means.viewport().rect()
    averages = [
        view.means.visualRect(view.means.model().index(k, 0)) for k in range(10)
    ]
    assert all(room.contains(rect) for rect in averages), (room, averages)
    assert len({rect.top() for rect in averages}) == 1
    histogram = np.bincount(data.images_at(slice(None)).ravel(), minlength=17)
    x, y = view._histogram.getData()
    np.testing.assert_allclose(y, np.log10(np.maximum(histogram, 1)))
    view.log_check.setChecked(False)
    np.testing.assert_array_equal(view._histogram.getData()[1], histogram)
    zero = 100 * histogram[0] / histogram.sum()
    assert f"{zero:.1f}% of the pixels are 0" in view.histogram_label.text()
    # Browsing by class, and a chosen image goes to the canvas.
    view.class_combo.setCurrentIndex(view.class_combo.findData(3))
    np.testing.assert_array_equal(
        view.browsed_indices(), np.flatnonzero(data.labels == 3)
    )
    assert view.grid.count() == counts[3]
    with qtbot.waitSignal(tab.image_chosen) as chosen:
        view.grid.image_activated.emit(4)
    index = np.flatnonzero(data.labels == 3)[4]
    np.testing.assert_array_equal(chosen.args[0].image, data.image_at(index))
    assert chosen.args[0].go_to_canvas and chosen.args[0].max_value == 16
    # A class average clicked browses that class.
    view.means.setCurrentIndex(view.means.model().index(5, 0))
    qtbot.waitUntil(lambda: view.class_combo.currentData() == 5, timeout=1000)
    assert view.grid.count() == counts[5]


def test_in_the_window_an_image_goes_to_the_canvas(qtbot, window, model, tmp_path):
    from core.model_io import save_model

    path = tmp_path / "m.npz"
    save_model(path, model.network, model.metadata)
    assert window.files.open_path(path, confirmed=True)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[-1] == "Inside"
    window.commands.tabs[3].trigger()
    assert window.tabs.currentWidget() is window.inside_tab
    inside = window.inside_tab
    # The images no training saw are the ones Evaluate tests on, named like there:
    # the bundled sample's test part.
    test_part = window.data_panel.test_set
    assert window.views.held_out() == (test_part, "test")
    combo = inside.robustness_view.data_combo
    assert combo.itemData(0) == "test images"
    assert combo.itemText(0) == f"test images ({len(test_part):,})"
    inside.pages.setCurrentWidget(inside.data_view)
    qtbot.waitUntil(lambda: inside.data_view.summary() is not None, timeout=20000)
    inside.data_view.grid.image_activated.emit(0)
    assert window.tabs.currentWidget() is window.draw_tab
    # The network page measures edits on the same images.
    panel = window.draw_tab.network_panel
    panel.set_scale(0, 0, 0.0)
    assert f"{len(test_part):,} test images" in panel.edits_label.text()
    panel.reset_edits()
    data = inside.data_view.dataset()
    np.testing.assert_array_equal(
        window.draw_tab.current_image(),
        data.image_at(inside.data_view.browsed_indices()[0]),
    )
    # The map marks what the Draw tab shows.
    window.commands.tabs[3].trigger()
    inside.pages.setCurrentWidget(inside.map_view)
    qtbot.waitUntil(inside.map_view.is_drawn, timeout=30000)
    assert inside.map_view.drawing_position() is not None
    window.close()


def test_the_same_data_again_computes_nothing_again(qtbot, tab, model, monkeypatch):
    data = holdout("mnist-sample")
    training = load_bundled("mnist-sample")
    tab.set_model(model)
    tab.set_data(training, data)
    requests = []
    for view in (tab.map_view, tab.robustness_view):
        monkeypatch.setattr(view, "_request", lambda: requests.append(1))
    tab.set_data(training, data)
    assert requests == []
    tab.set_data(training, data, "test")  # a new name: the choices are offered anew
    assert len(requests) == 2
    assert tab.map_view.data_combo.findData("test images") >= 0
