"""gui.plot_panel: throttled redraw, earlier runs, hide/remove, log scale, hover."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from gui.plot_panel import HOVER_HINT, REDRAW_INTERVAL_MS, PlotPanel
from gui.run_history import (
    GrowableSeries,
    PhaseMark,
    describe_config,
    plotted_history,
)


@pytest.fixture
def panel(qtbot):
    widget = PlotPanel()
    qtbot.addWidget(widget)
    widget.resize(480, 360)
    widget.show()
    return widget


def _feed_epochs(panel: PlotPanel, epochs: int, offset: float = 0.0) -> None:
    for epoch in range(1, epochs + 1):
        panel.add_epoch(
            float(epoch),
            {
                "train_loss": 1.0 / epoch + offset,
                "train_accuracy": 0.5 + 0.04 * epoch,
                "validation_loss": 1.1 / epoch + offset,
                "validation_accuracy": 0.45 + 0.04 * epoch,
            },
        )


def test_redraws_are_throttled_however_fast_points_arrive(qtbot, panel):
    panel.start_run("run", {})
    rng = np.random.default_rng(0)
    for chunk in range(500):
        x = chunk + np.linspace(0.0, 1.0, 4, endpoint=False)
        losses = rng.random(4)
        panel.add_batches(x, losses, losses)
    assert panel.redraw_count == 0  # nothing drawn synchronously
    qtbot.wait(3 * REDRAW_INTERVAL_MS)
    assert 1 <= panel.redraw_count <= 2
    curves = panel._curves[panel.current_run.run_id]
    assert len(curves.batch_raw.getData()[0]) == 2000


def test_redraw_rate_stays_within_the_throttle(qtbot, panel):
    panel.start_run("run", {})
    started = time.perf_counter()
    for step in range(30):
        panel.add_batches(np.array([step * 0.01]), np.array([1.0]), np.array([1.0]))
        qtbot.wait(5)
    qtbot.wait(2 * REDRAW_INTERVAL_MS)
    seconds = time.perf_counter() - started
    assert panel.redraw_count <= seconds / (REDRAW_INTERVAL_MS / 1000) + 1
    assert len(panel._curves[panel.current_run.run_id].batch_raw.getData()[0]) == 30


def test_a_redraw_follows_new_points_within_the_throttle_interval(qtbot, panel):
    panel.start_run("run", {})
    panel.add_batches(np.array([0.1, 0.2]), np.array([2.0, 1.5]), np.array([2, 1.8]))
    qtbot.waitUntil(lambda: panel.redraw_count == 1, timeout=10 * REDRAW_INTERVAL_MS)
    panel.add_batches(np.array([0.3]), np.array([1.2]), np.array([1.6]))
    qtbot.waitUntil(lambda: panel.redraw_count == 2, timeout=10 * REDRAW_INTERVAL_MS)
    raw = panel._curves[panel.current_run.run_id].batch_raw.getData()
    assert list(raw[0]) == [0.1, 0.2, 0.3] and list(raw[1]) == [2.0, 1.5, 1.2]


def test_loss_range_moves_in_steps_and_keeps_every_point(panel):
    panel.start_run("run", {}, epochs=2)
    x = np.linspace(0.01, 0.5, 50)
    loss = 2.3 - 2.8 * (x - 0.01)  # falls from 2.3 to about 0.93
    panel.add_batches(x, loss, loss)
    panel.redraw()
    low, high = panel.loss_plot.vb.viewRange()[1]
    assert low <= 0.9 and high >= 2.3
    # A slightly lower loss stays inside the rounded range: the axis is not redrawn.
    panel.add_batches(np.array([0.51]), np.array([0.88]), np.array([0.9]))
    panel.redraw()
    assert panel.loss_plot.vb.viewRange()[1] == [low, high]
    # A loss below it widens the range to show it.
    panel.add_batches(np.array([0.52]), np.array([low - 0.3]), np.array([0.7]))
    panel.redraw()
    assert panel.loss_plot.vb.viewRange()[1][0] < low - 0.3


def test_earlier_runs_stay_faint_with_a_legend_naming_their_settings(panel):
    label = describe_config(
        {
            "activation": "relu",
            "optimizer": "adam",
            "learning_rate": 0.001,
            "batch_size": 64,
        },
        [784, 32, 10],
    )
    assert label == "784-32-10 relu adam lr=0.001 bs=64"
    first = panel.start_run(label, {})
    _feed_epochs(panel, 3)
    panel.finish_run("completed")
    second = panel.start_run("second", {})
    _feed_epochs(panel, 2, offset=0.1)
    panel.redraw()
    legend = [item[1].text for item in panel.accuracy_legend.items]
    assert f"run 1: {label}" in legend  # short enough to be shown whole
    assert "validation" in [item[1].text for item in panel.loss_legend.items]
    old = panel._curves[first.run_id].validation_loss
    assert old.opts["pen"].color().alpha() < 255
    assert (
        panel._curves[second.run_id].validation_loss.opts["pen"].color().alpha() == 255
    )
    assert len(old.getData()[0]) == 3


def test_a_run_can_be_hidden_and_removed(qtbot, panel):
    first = panel.start_run("first", {})
    _feed_epochs(panel, 2)
    panel.start_run("second", {})
    item = panel.run_list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not first.visible
    assert not panel._curves[first.run_id].validation_loss.isVisible()
    item.setCheckState(Qt.CheckState.Checked)
    assert panel._curves[first.run_id].validation_loss.isVisible()
    panel.run_list.setCurrentRow(0)
    assert panel.remove_button.isEnabled()
    panel.remove_button.click()
    assert [run.label for run in panel.runs] == ["second"]
    assert panel.run_list.count() == 1
    assert first.run_id not in panel._curves


def test_log_scale_toggle(panel):
    panel.log_check.setChecked(True)
    assert panel.loss_plot.ctrl.logYCheck.isChecked()
    panel.log_check.setChecked(False)
    assert not panel.loss_plot.ctrl.logYCheck.isChecked()


def test_hover_reads_out_the_nearest_values(panel):
    panel.start_run("run", {})
    _feed_epochs(panel, 4)
    panel.redraw()
    text = panel.describe_point("accuracy", 2.1, 53.0)
    assert text.startswith("run 1, epoch 2: accuracy")
    assert "train 58.00%" in text and "validation 53.00%" in text
    text = panel.describe_point("loss", 3.9, 0.25)
    assert "epoch 4" in text and "train 0.2500" in text


def test_history_of_a_file_becomes_a_run(panel):
    history = [
        {
            "epoch": 1,
            "train_loss": 0.5,
            "train_accuracy": 0.8,
            "validation_loss": None,
            "validation_accuracy": None,
        },
        {
            "epoch": 2,
            "train_loss": 0.3,
            "train_accuracy": 0.9,
            "validation_loss": None,
            "validation_accuracy": None,
        },
    ]
    run = panel.add_history_run("model.npz", {}, history)
    assert run.finished and run.outcome == "loaded"
    assert run.history()[1]["train_loss"] == pytest.approx(0.3)
    assert run.history()[1]["validation_loss"] is None


def _rows(phases: list[int]) -> list[dict]:
    rows, within = [], {}
    for phase in phases:
        within[phase] = within.get(phase, 0) + 1
        rows.append({"phase": phase, "epoch": within[phase], "train_loss": 1.0})
    return rows


def test_plotted_history_lays_the_phases_end_to_end():
    phases = [{"kind": "train"}, {"kind": "fine_tune"}, {"kind": "fine_tune"}]
    history = plotted_history(_rows([0, 0, 0, 1, 1, 2]), phases, then="fine_tune")
    assert list(history.epochs) == [1, 2, 3, 4, 5, 6]
    assert history.marks == (
        PhaseMark(3.0, "fine-tune"),
        PhaseMark(5.0, "fine-tune"),
        PhaseMark(6.0, "fine-tune"),
    )
    assert history.end == 6.0
    empty = plotted_history([], [{"kind": "train"}], then="fine_tune")
    assert empty.end == 0.0 and empty.marks == (PhaseMark(0.0, "fine-tune"),)


def test_a_run_continuing_a_history_is_plotted_after_it(panel):
    phases = [{"kind": "train"}, {"kind": "fine_tune"}]
    before = plotted_history(_rows([0, 0, 0, 0]), phases, then="fine_tune")
    run = panel.start_run("fine-tune", {}, epochs=3, before=before)
    panel.add_batches(np.array([0.5, 1.0]), np.array([1.0, 0.9]), np.array([1, 0.9]))
    _feed_epochs(panel, 2)
    assert list(run.epoch_column("epoch")) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(run.batches.column(0), [4.5, 5.0])
    assert run.marks == (PhaseMark(4.0, "fine-tune"),)
    low, high = panel.loss_plot.vb.viewRange()[0]
    assert low <= 0.0 and 7.0 <= high < 7.5  # the whole fine-tune fits from the start
    panel.redraw()
    assert panel.describe_point("loss", 6.0, 0.5).startswith(
        f"run {run.run_id}, epoch 6 (fine-tune epoch 2): loss"
    )


@pytest.mark.parametrize("chunks", [1, 7, 300])
def test_growable_series_keeps_every_point(chunks):
    series = GrowableSeries(2, capacity=4)
    rng = np.random.default_rng(chunks)
    expected = []
    for _ in range(chunks):
        values = rng.random(rng.integers(1, 9))
        series.extend(values, 2 * values)
        expected.append(values)
    joined = np.concatenate(expected)
    np.testing.assert_array_equal(series.column(0), joined)
    np.testing.assert_array_equal(series.column(1), 2 * joined)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"optimizer": "sgd", "learning_rate": 3.0, "batch_size": 0},
            "sgd lr=3 full batch",
        ),
        ({"l2": 1e-4, "dropout": 0.2}, "l2=0.0001 dropout=0.2"),
        ({"augment": {"shift": 2.0, "probability": 1.0}}, "augmented"),
        ({"augment": {"shift": 0.0, "probability": 1.0}}, ""),
    ],
)
def test_describe_config_names_the_settings(config, expected):
    assert describe_config(config) == expected


def _flat_run(panel, label, epochs, loss, planned=None):
    panel.start_run(label, {}, planned or epochs)
    for epoch in range(1, epochs + 1):
        panel.add_epoch(
            float(epoch),
            {
                "train_loss": loss,
                "train_accuracy": 0.9,
                "validation_loss": loss,
                "validation_accuracy": 0.9,
            },
        )
    panel.redraw()
    panel.finish_run("completed")


def _x_span(panel) -> float:
    return panel.loss_plot.vb.viewRange()[0][1]


def test_epoch_axis_follows_the_visible_runs(qtbot, panel):
    panel.resize(900, 600)
    _flat_run(panel, "long", 3000, 0.5)
    assert 3000 <= _x_span(panel) <= 3100
    panel.start_run("short", {}, 50)
    assert _x_span(panel) >= 3000  # the long run is still shown whole
    panel.set_run_visible(1, False)  # untick the long run: the new one fills the axis
    assert 50 <= _x_span(panel) <= 52
    legend = [label.text for _, label in panel.accuracy_legend.items]
    assert not any(text.startswith("run 1:") for text in legend)
    panel.set_run_visible(1, True)
    assert _x_span(panel) >= 3000
    panel.remove_run(1)
    assert 50 <= _x_span(panel) <= 52
    _feed_epochs(panel, 20)
    panel.finish_run("stopped")  # stopped early: the axis fits what was trained
    assert 20 <= _x_span(panel) <= 21


def _hover(panel, plot, epoch, value):
    panel.redraw()
    scene = plot.vb.mapViewToScene(pg.Point(epoch, value))
    panel.on_scene_mouse_moved(scene)
    return panel.hover_label.text()


def test_hover_read_out_ends_when_the_pointer_leaves_or_its_run_goes(qtbot, panel):
    _flat_run(panel, "first", 10, 0.5)
    _flat_run(panel, "second", 10, 1.5)
    text = _hover(panel, panel.loss_plot, 5, 1.5)
    assert text.startswith("run 2, epoch 5")
    assert panel._cursors[0].isVisible()
    QApplication.sendEvent(panel.graphics, QEvent(QEvent.Type.Leave))
    assert panel.hover_label.text() == HOVER_HINT
    assert not any(line.isVisible() for line in panel._cursors)
    assert _hover(panel, panel.loss_plot, 5, 1.5).startswith("run 2, epoch 5")
    panel.remove_run(2)
    assert panel.hover_label.text() == HOVER_HINT
    assert _hover(panel, panel.loss_plot, 5, 0.5).startswith("run 1, epoch 5")
    panel.set_run_visible(1, False)
    assert panel.hover_label.text() == HOVER_HINT


def test_hover_names_a_run_only_where_it_is_drawn(qtbot, panel):
    panel.resize(900, 600)
    _flat_run(panel, "ten epochs", 10, 0.5)
    _flat_run(panel, "fifty epochs", 50, 0.9)
    # Far right of the short run's end, at its height: nothing is drawn there.
    text = _hover(panel, panel.loss_plot, 40, 0.5)
    assert "run 1" not in text and text == "epoch 40.00"
    assert _hover(panel, panel.loss_plot, 40, 0.9).startswith("run 2, epoch 40")
    assert _hover(panel, panel.loss_plot, 9.9, 0.5).startswith("run 1, epoch 10")


def _texts(axis) -> list[tuple[QRectF, str]]:
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _, text in texts if text]


def test_log_scale_tick_labels_never_overlap(qtbot, panel):
    panel.resize(700, 900)
    panel.start_run("run", {}, 40)
    x = np.linspace(0.0, 40.0, 400)
    loss = 2.0 * np.exp(-x / 9) + 0.03  # two decades: 2.03 down to 0.04
    panel.add_batches(x, loss, loss)
    panel.log_check.setChecked(True)
    panel.redraw()
    qtbot.wait(50)
    labels = _texts(panel.loss_plot.getAxis("left"))
    assert len(labels) >= 3
    for i, (rect, text) in enumerate(labels):
        for other, other_text in labels[i + 1 :]:
            assert not rect.intersects(other), (text, other_text)


def test_the_last_epoch_label_is_shown_whole(qtbot, panel):
    panel.resize(640, 420)
    for rate in ("0.001", "0.002", "0.005"):  # earlier runs with long names
        _flat_run(panel, f"784-256-10 relu adam lr={rate} bs=128", 50, 0.5)
    qtbot.wait(50)
    axis = panel.loss_plot.getAxis("bottom")
    labels = _texts(axis)
    assert "50" in [text for _, text in labels]
    view = panel.graphics.viewport().rect()
    for rect, text in labels:
        shown = panel.graphics.mapFromScene(axis.mapRectToScene(rect)).boundingRect()
        assert view.contains(shown), (text, shown, view)


def _sample_colour(panel, legend, index: int) -> QColor:
    sample, _ = legend.items[index]
    image = QImage(20, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    sample.paint(painter)
    painter.end()
    return image.pixelColor(10, 10)


def test_legend_markers_have_the_colours_of_their_points(qtbot, panel):
    panel.start_run("run", {}, 5)  # the legend is built before any point exists
    curves = panel._curves[panel.current_run.run_id]
    names = [label.text for _, label in panel.loss_legend.items]
    for name, item in (
        ("train, per epoch", curves.train_loss),
        ("validation", curves.validation_loss),
    ):
        brush = pg.mkBrush(item.opts["symbolBrush"]).color()
        colour = _sample_colour(panel, panel.loss_legend, names.index(name))
        assert (colour.red(), colour.green(), colour.blue()) == (
            brush.red(),
            brush.green(),
            brush.blue(),
        ), name


def test_legends_keep_settings_whole_and_stay_two_rows_deep(qtbot, panel):
    panel.resize(760, 500)
    for rate in ("0.001", "0.002", "0.005", "0.01", "0.02"):
        label = f"784-512-256-10 relu adam lr={rate} bs=64 augmented dropout=0.1"
        _flat_run(panel, label, 3, 0.5)
    qtbot.wait(50)
    texts = [label.text for _, label in panel.accuracy_legend.items]
    assert any(text.startswith("run 4: ") for text in texts)  # the latest earlier
    for text in texts:
        if text.startswith("run "):
            run_id = int(text.split(":")[0].split()[1])
            full = panel._find(run_id).label.split(" ")
            for word in text.split(": ", 1)[1].removesuffix(" …").split(" "):
                assert word in full, (word, text)  # never "lr=0.00"
    for legend in (panel.loss_legend, panel.accuracy_legend):
        assert legend.layout.rowCount() <= 2
        assert legend.boundingRect().width() <= panel.graphics.width()


def test_remove_earlier_runs_needs_earlier_runs(qtbot, panel):
    assert not panel.clear_button.isEnabled()
    panel.start_run("first", {})
    assert not panel.clear_button.isEnabled()
    panel.start_run("second", {})
    assert panel.clear_button.isEnabled()
    panel.clear_button.click()
    assert [run.label for run in panel.runs] == ["second"]
    assert not panel.clear_button.isEnabled()


def test_settings_changes_are_dotted_named_lines_apart_from_phases(panel):
    phases = [
        {"kind": "train", "changes": [{"at_epoch": 1.5, "learning_rate": 0.01}]},
        {
            "kind": "continue",
            "changes": [{"at_epoch": 0.25, "learning_rate": 0.2, "momentum": 0.5}],
        },
    ]
    history = plotted_history(_rows([0, 0, 1, 1]), phases)
    assert history.marks == (
        PhaseMark(2.0, "continued"),
        PhaseMark(1.5, "lr 0.01", "change"),
        PhaseMark(2.25, "lr 0.2, mom. 0.5", "change"),
    )
    run = panel.add_history_run("file", {}, history)
    curves = panel._curves[run.run_id]
    assert len(curves.phase_lines) == 6 and len(curves.change_lines) == 4
    for line in curves.phase_lines:
        style = line.pen.style()
        if line in curves.change_lines:
            assert style == Qt.PenStyle.DotLine
        else:
            assert style == Qt.PenStyle.DashLine
    # Hovering names the phase, never a change of settings.
    assert run.phase_at(2.5) == ("continued", 0.5)
    assert run.phase_at(1.8) is None
    live = panel.start_run("live", {}, epochs=4)
    panel.add_change_mark(0.5, "lr 0.3")
    assert live.marks == (PhaseMark(0.5, "lr 0.3", "change"),)
    assert len(panel._curves[live.run_id].change_lines) == 2


def test_a_few_batch_points_are_dotted_so_that_one_shows(panel):
    run = panel.start_run("stepped", {}, epochs=2)
    panel.add_batches(np.array([0.01]), np.array([2.0]), np.array([2.0]))
    panel.redraw()
    smooth = panel._curves[run.run_id].batch_smooth
    assert smooth.opts["symbol"] == "o"
    x = np.linspace(0.02, 1.0, 60)
    panel.add_batches(x, np.ones_like(x), np.ones_like(x))
    panel.redraw()
    assert smooth.opts["symbol"] is None
