"""gui.evaluate_tab: background evaluation, confusion cells, mistakes, weights."""

from __future__ import annotations

import dataclasses
import gc
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from template_model import template_model

import gui.evaluation_worker as evaluation_worker
from core.calibration import model_judge
from core.datasets import as_part, load_bundled
from core.judgement import NOT_A_DIGIT
from core.metrics import evaluate
from core.model_io import SavedModel
from core.network import MLP
from gui.background import held_threads
from gui.evaluate_tab import EvaluateTab
from gui.evaluation_worker import (
    coloured_tiles,
    diverging_rgb,
    tile_mosaic,
    unit_order,
)


@pytest.fixture(scope="module")
def model():
    return template_model("mnist-sample")


@pytest.fixture(scope="module")
def test_set():
    return load_bundled("mnist-sample").subset(np.arange(3000, 4000))


@pytest.fixture
def tab(qtbot):
    widget = EvaluateTab()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def _evaluated(qtbot, tab, model, dataset):
    with qtbot.waitSignal(tab.evaluated, timeout=10000) as blocker:
        tab.set_dataset(dataset)
        tab.set_model(model)
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=5000)
    return blocker.args[0]


def _random_model(reference: SavedModel) -> SavedModel:
    return dataclasses.replace(reference, network=MLP([784, 32, 10], seed=5))


def test_accuracy_and_confusion_counts_match_core_metrics(qtbot, tab, model, test_set):
    report = _evaluated(qtbot, tab, model, test_set)
    expected = evaluate(model.network, test_set, normalization=model.normalization)
    counts = tab.confusion.counts()
    assert counts.sum() == len(test_set)
    np.testing.assert_array_equal(counts, expected.confusion)
    assert report.accuracy == pytest.approx(expected.accuracy)
    assert f"{100 * expected.accuracy:.2f}%" in tab.accuracy_label.text()
    assert f"{int(np.trace(counts)):,} of {len(test_set):,}" in tab.status_label.text()


def test_evaluation_runs_off_the_gui_thread(qtbot, tab, model, test_set, monkeypatch):
    threads = []
    original = evaluation_worker.evaluate

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation_worker, "evaluate", recording)
    _evaluated(qtbot, tab, model, test_set)
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_clicking_a_cell_shows_that_cells_images(qtbot, tab, model, test_set):
    report = _evaluated(qtbot, tab, model, test_set)
    counts = tab.confusion.counts()
    off_diagonal = counts - np.diag(np.diag(counts))
    true, predicted = np.unravel_index(int(np.argmax(off_diagonal)), counts.shape)
    assert counts[true, predicted] > 0
    centre = tab.confusion.cell_rect(int(true), int(predicted)).center().toPoint()
    with qtbot.waitSignal(tab.confusion.cell_clicked) as clicked:
        qtbot.mouseClick(tab.confusion, Qt.MouseButton.LeftButton, pos=centre)
    assert clicked.args == [true, predicted]
    assert tab.cell_grid.count() == counts[true, predicted]
    chosen = np.flatnonzero(
        (test_set.labels == true) & (report.predictions == predicted)
    )
    shown = np.stack([tab.cell_grid.image(i) for i in range(tab.cell_grid.count())])
    expected = test_set.images[report.cell_indices(int(true), int(predicted))]
    np.testing.assert_array_equal(shown, expected)
    assert sorted(report.cell_indices(int(true), int(predicted))) == list(chosen)
    assert tab.pages.currentIndex() == 1
    cell_count = int(counts[true, predicted])
    plural = "image" if cell_count == 1 else "images"
    assert tab.cell_label.text().endswith(f": {cell_count:,} {plural}")


def test_misclassified_gallery_lists_every_mistake_most_confident_first(
    qtbot, tab, model, test_set
):
    report = _evaluated(qtbot, tab, model, test_set)
    wrong = np.flatnonzero(report.predictions != test_set.labels)
    assert tab.mistakes_grid.count() == len(wrong) > 0
    confidences = report.confidences[report.misclassified]
    assert (np.diff(confidences) <= 0).all()
    first = report.misclassified[0]
    label = test_set.labels[first]
    guess = report.predictions[first]
    assert tab.mistakes_grid.caption(0) == (
        f"{label}→{guess} {100 * report.confidences[first]:.0f}%"
    )


def test_a_validation_part_shows_its_mistakes_cells_and_examples(
    qtbot, tab, model, test_set
):
    # A run's validation set is a part of its dataset (rows, no copy of the images).
    part = as_part(test_set).subset(np.arange(999, -1, -1))
    with qtbot.waitSignal(tab.evaluated, timeout=10000) as blocker:
        tab.set_dataset(part, "validation")
        tab.set_model(model)
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=5000)
    report = blocker.args[0]
    images = test_set.images[::-1]
    wrong = report.misclassified
    shown = np.stack([tab.mistakes_grid.image(i) for i in range(len(wrong))])
    np.testing.assert_array_equal(shown, images[wrong])
    true, guess = int(part.labels[wrong[0]]), int(report.predictions[wrong[0]])
    tab.show_cell(true, guess)
    cell = report.cell_indices(true, guess)
    shown = np.stack([tab.cell_grid.image(i) for i in range(tab.cell_grid.count())])
    np.testing.assert_array_equal(shown, images[cell])
    with qtbot.waitSignal(tab.example_chosen) as chosen:
        tab._on_mistake_activated(0)
    np.testing.assert_array_equal(chosen.args[0].image, images[wrong[0]])


def test_first_layer_weights_are_drawn_as_tiles(qtbot, tab, model, test_set):
    report = _evaluated(qtbot, tab, model, test_set)
    assert tab.weights_view.has_mosaic()
    assert report.weight_tiles.shape == (10, 28, 28, 3)
    assert sorted(report.weight_units) == list(range(10))
    assert tab.weights_view.shown() == 10
    assert "all 10 units" in tab.weights_label.text()
    tab.weights_count.setCurrentIndex(0)
    assert tab.weights_view.shown() == 10
    unit = report.weight_units[0]
    expected = coloured_tiles(model.network.weights[0], (28, 28))[unit]
    np.testing.assert_array_equal(report.weight_tiles[0], expected)


def test_units_are_ordered_by_outgoing_weight_size():
    first = np.zeros((4, 3), np.float32)
    second = np.array([[0.1, 0.1], [3.0, 0.0], [0.0, -1.0]], np.float32)
    np.testing.assert_array_equal(unit_order([first, second]), [1, 2, 0])
    tiles = np.zeros((5, 2, 2, 3), np.uint8)
    mosaic, grid = tile_mosaic(tiles, 3)
    assert grid == (2, 2, 3) and mosaic.shape == (5, 5, 3)


def test_weight_mosaic_colours_signs_and_scales_each_tile():
    weights = np.zeros((4, 2), np.float32)
    weights[0, 0], weights[3, 0] = 2.0, -1.0
    weights[1, 1] = 0.001
    mosaic, grid = tile_mosaic(coloured_tiles(weights, (2, 2)), 2)
    assert grid == (1, 2, 2)
    np.testing.assert_array_equal(mosaic[0, 0], diverging_rgb(np.float32(1.0)))
    np.testing.assert_array_equal(mosaic[1, 1], diverging_rgb(np.float32(-0.5)))
    np.testing.assert_array_equal(mosaic[0, 4], diverging_rgb(np.float32(1.0)))
    assert mosaic[0, 0, 0] > mosaic[0, 0, 2]
    assert mosaic[1, 1, 2] > mosaic[1, 1, 0]


def test_a_newer_model_replaces_a_running_evaluation(qtbot, tab, model, test_set):
    random_model = _random_model(model)
    tab.set_dataset(test_set)
    tab.set_model(model)
    tab.set_model(random_model)
    expected = evaluate(
        random_model.network, test_set, normalization=random_model.normalization
    )
    qtbot.waitUntil(
        lambda: (
            tab.report() is not None
            and not tab.is_running()
            and tab.report().accuracy == pytest.approx(expected.accuracy)
        ),
        timeout=10000,
    )
    np.testing.assert_array_equal(tab.confusion.counts(), expected.confusion)


def test_a_hidden_tab_waits_until_shown(qtbot, model, test_set):
    widget = EvaluateTab()
    qtbot.addWidget(widget)
    widget.set_dataset(test_set)
    widget.set_model(model)
    assert not widget.is_running() and widget.report() is None
    with qtbot.waitSignal(widget.evaluated, timeout=10000):
        widget.show()
    qtbot.waitUntil(lambda: not widget.is_running(), timeout=5000)


def test_a_dataset_of_another_size_gives_a_clear_message(qtbot, tab, model):
    tab.set_dataset(load_bundled("digits-8x8"))
    tab.set_model(model)
    qtbot.waitUntil(
        lambda: "Evaluation failed" in tab.status_label.text(), timeout=5000
    )
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=5000)
    assert "Evaluation failed: the model takes 28x28 images" in tab.status_label.text()
    assert tab.evaluate_button.isEnabled()


def test_no_model_shows_an_empty_tab(qtbot, tab, model, test_set):
    _evaluated(qtbot, tab, model, test_set)
    tab.set_model(None)
    assert tab.report() is None
    assert tab.confusion.counts().size == 0
    assert tab.mistakes_grid.count() == 0
    assert not tab.weights_view.has_mosaic()


def test_without_a_hidden_layer_the_class_templates_are_shown(
    qtbot, tab, model, test_set
):
    linear = dataclasses.replace(model, network=MLP([784, 10], seed=1))
    report = _evaluated(qtbot, tab, linear, test_set)
    assert report.hidden_units == 0
    np.testing.assert_array_equal(report.weight_units, np.arange(10))
    assert tab.weights_view.shown() == 10
    assert "No hidden layer" in tab.weights_label.text()


def test_a_dataset_and_model_handed_over_together_evaluate_once(
    qtbot, tab, model, test_set, monkeypatch
):
    calls = []
    original = evaluation_worker.evaluate

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation_worker, "evaluate", counting)
    _evaluated(qtbot, tab, model, test_set)
    qtbot.wait(50)
    assert len(calls) == 1


def test_deleting_the_tab_mid_evaluation_lets_the_thread_finish(
    qtbot, model, test_set, monkeypatch
):
    started = threading.Event()
    original = evaluation_worker.evaluate

    def slow(*args, **kwargs):
        started.set()
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation_worker, "evaluate", slow)
    widget = EvaluateTab()
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_dataset(test_set)
    widget.set_model(model)
    qtbot.waitUntil(started.is_set, timeout=5000)
    widget.deleteLater()
    del widget
    qtbot.wait(20)
    gc.collect()
    assert held_threads("evaluation") == 1
    qtbot.waitUntil(lambda: held_threads("evaluation") == 0, timeout=10000)


def _with_not_a_digit(reference: SavedModel) -> SavedModel:
    """An 11th output, "not a digit", that wins on the darker images."""
    network = MLP([784, 10, 11], seed=0)
    network.weights[0][...] = reference.network.weights[0]
    network.biases[0][...] = reference.network.biases[0]
    network.weights[1][...] = 0.0
    network.weights[1][:, :10] = reference.network.weights[1]
    network.biases[1][:10] = reference.network.biases[1]
    inputs = reference.normalization.apply(
        load_bundled("mnist-sample").images[:300].reshape(300, -1)
    )
    # The template's output layer passes its hidden scores on as the logits.
    scores = np.maximum(inputs @ network.weights[0] + network.biases[0], 0.0)
    network.biases[1][10] = float(np.quantile(scores.max(axis=1), 0.1))
    return dataclasses.replace(
        reference,
        network=network,
        class_names=(*reference.class_names, NOT_A_DIGIT),
    )


def test_a_not_a_digit_output_gets_a_column_and_its_own_share(
    qtbot, tab, model, test_set
):
    other = _with_not_a_digit(model)
    report = _evaluated(qtbot, tab, other, test_set)
    expected = evaluate(other.network, test_set, normalization=other.normalization)
    assert 0.02 < expected.turned_away < 0.5
    counts = tab.confusion.counts()
    assert counts.shape == (11, 11)
    assert counts[:, 10].sum() == round(expected.turned_away * len(test_set))
    assert not counts[10].any()  # no image of the test set is a non-digit
    assert report.class_names[-1] == NOT_A_DIGIT
    # The accuracy is of the best digit, the turned-away share is shown apart.
    assert report.accuracy == pytest.approx(expected.accuracy)
    assert report.accuracy > np.trace(counts) / len(test_set)
    status = tab.status_label.text()
    assert f"{100 * expected.turned_away:.2f}%) with not a digit first" in status
    # Apart again, what the Draw tab would answer "not sure".
    judge, _ = model_judge(other)
    not_sure = float(np.mean(judge.verdicts(expected.probabilities) == "not_sure"))
    assert report.not_sure == pytest.approx(not_sure)
    assert f"({100 * not_sure:.2f}%) not sure, as the Draw tab judges" in status
    tab.show_cell(3, 10)
    assert "3 classified as not a digit" in tab.cell_label.text()
    # Its name fits: whole beside its row, on two lines above its columns.
    name = tab.confusion.fontMetrics().horizontalAdvance(NOT_A_DIGIT)
    assert tab.confusion.cell_rect(10, 0).left() > name
    assert tab.class_table.horizontalHeaderItem(10).text() == "not a\ndigit"


def test_the_figure_is_named_after_where_its_images_come_from(
    qtbot, tab, model, test_set
):
    _evaluated(qtbot, tab, model, test_set)
    assert tab.accuracy_label.text().startswith("Test accuracy: ")
    assert "no training" in tab.accuracy_label.toolTip()
    for kind, title in (("validation", "Validation"), ("held-out", "Held-out")):
        with qtbot.waitSignal(tab.evaluated, timeout=10000):
            tab.set_dataset(test_set, kind)
        qtbot.waitUntil(lambda: not tab.is_running(), timeout=5000)
        assert tab.accuracy_label.text().startswith(f"{title} accuracy: ")
        assert f"{kind} images of mnist-sample correct" in tab.status_label.text()
        assert "no test split" in tab.accuracy_label.toolTip()
        assert "Test" not in tab.accuracy_label.text()


def test_precision_recall_table_is_aligned_readable_and_grows(
    qtbot, tab, model, test_set
):
    report = _evaluated(qtbot, tab, model, test_set)
    table = tab.class_table
    # One column per class under its name, the values in the same column.
    assert table.columnCount() == 10
    for column in range(10):
        assert table.horizontalHeaderItem(column).text() == str(column)
        assert table.text(0, column) == f"{100 * report.precision[column]:.0f}"
        assert table.text(1, column) == f"{100 * report.recall[column]:.0f}"
    # Readable: the window's font, every cell fully visible.
    assert table.font().pointSizeF() >= tab.font().pointSizeF()
    narrow = table.horizontalHeader().sectionSize(0)
    assert narrow >= table.fontMetrics().horizontalAdvance("100") + 8
    header_height = table.horizontalHeader().height()
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert table.viewport().height() >= rows and header_height > 0
    # It grows with the tab.
    tab.resize(1800, 900)
    qtbot.waitUntil(
        lambda: table.horizontalHeader().sectionSize(0) > narrow, timeout=2000
    )


def test_gallery_captions_are_shown_whole(qtbot, tab, model, test_set):
    _evaluated(qtbot, tab, model, test_set)
    grid = tab.mistakes_grid
    tab.pages.setCurrentIndex(0)
    qtbot.waitUntil(lambda: grid.isVisible(), timeout=2000)
    metrics = grid.fontMetrics()
    captions = [grid.caption(row) for row in range(grid.count())]
    assert any(caption.endswith("100%") for caption in captions) or captions
    widest = max(captions, key=metrics.horizontalAdvance)
    row = captions.index(widest)
    shown = grid.visualRect(grid.model().index(row, 0))
    assert shown.width() >= metrics.horizontalAdvance(widest) + 4, (widest, shown)
    # A wider caption than any digit pair ("T-shirt→Pullover 97%") widens the cells.
    names = ("T-shirt", "Trouser", "Pullover")
    long_captions = [f"{names[i % 3]}→{names[(i + 2) % 3]} 97%" for i in range(6)]
    grid.set_images(test_set.images[:6], 255, captions=long_captions)
    for row, caption in enumerate(long_captions):
        rect = grid.visualRect(grid.model().index(row, 0))
        assert rect.width() >= metrics.horizontalAdvance(caption) + 4, caption


def test_evaluating_leaves_no_batch_buffers_in_the_model(qtbot, tab, test_set):
    # Kept models (every run's, until the app closes) must stay their weights' size.
    model = template_model("mnist-sample")
    _evaluated(qtbot, tab, model, test_set)
    assert model.network._workspaces._by_batch == {}
