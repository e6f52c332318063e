"""Training health, guidance and exports in the real window (issue 17: 1, 2, 5)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QObject, QSize, Slot
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFileDialog

from core.augment import AugmentConfig
from core.datasets import load_bundled
from core.guidance import RunFacts, not_learning, overfitting, vanishing
from core.health import HealthSeries
from core.model_io import load_model
from core.presets import PRESETS
from core.training import TrainingConfig
from gui.guidance_strip import GuidanceStrip
from gui.health_panel import HealthPanel
from gui.main_window import MainWindow
from gui.plot_export import PlotExportError, save_plot
from gui.training_worker import (
    BatchProgress,
    HealthProgress,
    TrainingJob,
    create_training_thread,
)


def _configure(window: MainWindow, config: TrainingConfig) -> None:
    window.train_tab.apply_config(config, custom=True)


def _train(qtbot, window: MainWindow, timeout: int = 60000) -> None:
    assert window.commands.start.isEnabled(), window.train_tab.config_error_label.text()
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=timeout)


SMALL = TrainingConfig(
    hidden_sizes=(24, 12),
    epochs=2,
    batch_size=64,
    validation_fraction=0.1,
    augment=AugmentConfig(),
)


# --------------------------------------------------------------- item 1: health
def test_a_run_plots_every_layers_health_and_its_weights(qtbot, window):
    _configure(window, SMALL)
    _train(qtbot, window)
    panel = window.train_tab.health_panel
    panel.redraw()
    assert panel.layer_sizes == (784, 24, 12, 10)
    assert panel.sample_count >= 2  # the first minibatch of each epoch at least
    for name, layers in (
        ("gradient_norm", 3),
        ("update_ratio", 3),
        ("inactive_share", 2),
    ):
        for layer in range(layers):
            x, y = panel.curve_data(name, layer)
            assert len(x) >= 2 and 0 < x[0] < x[-1] <= 2.0
            assert np.isfinite(y).all()
    assert "dead units" in panel.inactive_plot.name_label.text
    assert panel.layer_combo.count() == 3
    histogram = panel.histogram_shown()
    assert histogram is not None and histogram.current.sum() == pytest.approx(1.0)
    x, y = panel.current_curve.getData()
    assert len(x) == len(histogram.edges)
    # The model keeps each epoch's health means in its history.
    history = window.document.model.history
    assert len(history[0]["gradient_norm"]) == 3
    assert len(history[0]["inactive_share"]) == 2


def test_a_paused_run_shows_its_health_where_it_waits(qtbot, window):
    _configure(window, SMALL.replace(epochs=50))
    window.commands.step_batch.trigger()  # a new run, paused after one minibatch
    qtbot.waitUntil(lambda: window.training.hold is not None, timeout=20000)
    panel = window.train_tab.health_panel
    qtbot.waitUntil(lambda: panel.histogram_shown() is not None, timeout=5000)
    assert panel.sample_count == 1  # the first minibatch of an epoch is sampled
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)


def test_the_worker_sends_samples_histograms_and_final_guidance(qtbot):
    data = load_bundled("mnist-sample").subset(np.arange(600))
    job = TrainingJob(config=SMALL, dataset=data)
    thread, worker = create_training_thread(job)
    seen = _Messages(worker)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        thread.start()
    qtbot.waitUntil(
        lambda: not shiboken6.isValid(thread) or thread.wait(0), timeout=5000
    )
    qtbot.waitUntil(lambda: seen.finished, timeout=5000)
    assert seen.failures == []
    samples = [m.health for m in seen.messages if isinstance(m, BatchProgress)]
    samples = [s for s in samples if s is not None]
    assert samples and all(s.gradient_norm.shape[1] == 3 for s in samples)
    health = [m for m in seen.messages if isinstance(m, HealthProgress)]
    assert health[-1].final and len(health[-1].histograms) == 3
    assert health[-1].advice == ()  # a healthy run


class _Messages(QObject):
    def __init__(self, worker) -> None:
        super().__init__()
        self.messages = []
        self.failures = []
        self.finished = False  # queued like the messages: they all came before
        worker.progress.connect(self.on_progress)
        worker.failed.connect(self.on_failed)
        worker.finished.connect(self.on_finished)

    @Slot(object)
    def on_progress(self, message) -> None:
        self.messages.append(message)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.failures.append(message)

    @Slot()
    def on_finished(self) -> None:
        self.finished = True


def test_the_empty_log_plots_leave_room_for_their_end_labels(qtbot):
    # Stacked, a plot's bottom label met the top label of the one below it.
    panel = HealthPanel()
    qtbot.addWidget(panel)
    for plot in (panel.gradient_plot, panel.update_plot):
        low, high = plot.vb.viewRange()[1]
        assert low < -0.05 and high > 1.05  # 1 and 10 inside, not on the edges


def test_the_panel_draws_only_what_a_log_axis_can_show(qtbot):
    panel = HealthPanel()
    qtbot.addWidget(panel)
    panel.start_run((4, 3, 2), "sigmoid")
    series = HealthSeries(
        x=np.array([0.5, 1.0, 1.5]),
        gradient_norm=np.array([[0.1, 1.0], [0.0, 2.0], [np.nan, 3.0]]),
        update_ratio=np.array([[1e-3, 1e-2]] * 3),
        inactive_share=np.array([[0.0], [0.25], [0.5]]),
    )
    panel.add_samples(series)
    panel.redraw()
    x, y = panel.curve_data("gradient_norm", 0)
    assert list(x) == [0.5]  # 0 and NaN have no place on a log axis
    x, y = panel.curve_data("inactive_share", 0)
    assert list(y) == [0.0, 25.0, 50.0]  # in percent
    assert "saturated units" in panel.inactive_plot.name_label.text
    assert panel.inactive_plot.vb.viewRange()[1][1] == pytest.approx(51, abs=0.5)


def test_an_opened_model_shows_its_health_history_and_histograms(
    qtbot, window, tmp_path
):
    _configure(window, SMALL.replace(epochs=3))
    _train(qtbot, window)
    path = tmp_path / "m.npz"
    window.files.save_to(path)
    window.train_tab.health_panel.clear()
    window.files.open_path(str(path))
    panel = window.train_tab.health_panel
    rows = [row for row in load_model(path).history if row.get("gradient_norm")]
    assert panel.sample_count == len(rows) >= 1
    qtbot.waitUntil(lambda: panel.histogram_shown() is not None, timeout=10000)
    histogram = panel.histogram_shown()
    assert histogram.initial.sum() == pytest.approx(1.0)
    assert not np.array_equal(histogram.initial, histogram.current)


def test_the_plots_sit_side_by_side_when_wide_and_in_tabs_when_narrow(qtbot, window):
    area = window.train_tab.plots_area
    for size, side_by_side in ((QSize(1280, 800), True), (QSize(1024, 640), False)):
        window.resize(size)
        qtbot.waitUntil(lambda s=size: window.size() == s, timeout=2000)
        qtbot.wait(50)
        assert area.side_by_side == side_by_side
        assert area.width() >= area.minimumSizeHint().width()
    area.show_side()
    assert area.tabs.currentWidget() is window.train_tab.health_panel
    window.resize(QSize(1280, 800))
    qtbot.waitUntil(lambda: area.side_by_side, timeout=2000)
    assert window.train_tab.health_panel.isVisible()
    assert window.plot_panel.isVisible()


# ------------------------------------------------------------- item 2: guidance
def test_a_diverging_run_offers_a_lower_learning_rate_and_applies_it(qtbot, window):
    _configure(
        window,
        SMALL.replace(
            hidden_sizes=(64,), optimizer="sgd", learning_rate=5.0, batch_size=32
        ),
    )
    _train(qtbot, window)
    strip = window.train_tab.guidance
    qtbot.waitUntil(lambda: "exploding" in strip.rows, timeout=5000)
    row = strip.rows["exploding"]
    assert strip.isVisible() and row.apply_button.text() == "Apply: lr 0.5"
    row.apply_button.click()
    panel = window.train_tab.training_panel
    assert panel.learning_rate_box.value() == pytest.approx(0.5)
    assert window.train_tab.current_config().learning_rate == pytest.approx(0.5)
    assert window.train_tab.preset_combo.currentData() == "custom"
    assert row.apply_button.text() == "Applied: lr 0.5"


def test_vanishing_gradients_show_in_the_window_and_relu_fixes_them(qtbot, window):
    config = PRESETS["textbook-deep-softmax"].config.replace(optimizer="sgd", epochs=1)
    _configure(window, config.replace(batch_size=32))
    _train(qtbot, window)
    strip = window.train_tab.guidance
    qtbot.waitUntil(lambda: "vanishing" in strip.rows, timeout=5000)
    assert "not_learning" not in strip.rows
    strip.rows["vanishing"].apply_button.click()
    network = window.train_tab.network_panel.values()
    assert (network["activation"], network["init"]) == ("relu", "he")
    assert network["hidden_sizes"] == (50,) * 6  # the rest is kept


def _synthetic_advice():
    """One Advice per rule and situation, from the core rules themselves."""
    sigmoid = TrainingConfig(
        hidden_sizes=(50, 50, 50), activation="sigmoid", init="normal", l2=0.0
    )
    rows = [
        {
            "epoch": epoch,
            "train_loss": 2.30,
            "train_accuracy": 0.1,
            "gradient_norm": [1e-5, 1e-3, 1e-1, 1.0],
            "update_ratio": [1e-8, 1e-6, 1e-4, 1e-3],
        }
        for epoch in (1, 2)
    ]
    overfit = [
        {"epoch": i + 1, "train_loss": t, "validation_loss": v}
        for i, (t, v) in enumerate(
            zip([1, 0.8, 0.6, 0.4], [0.9, 0.7, 0.8, 0.9], strict=True)
        )
    ]
    return [
        not_learning(rows, RunFacts(sigmoid.replace(hidden_sizes=(50,)), 0.1)),
        vanishing(rows, RunFacts(sigmoid, 0.1)),
        overfitting(overfit, RunFacts(sigmoid, 0.1)),
    ]


FIX_CASES = [
    (index, fix_index)
    for index, advice in enumerate(_synthetic_advice())
    for fix_index in range(len(advice.fixes))
]


@pytest.mark.parametrize(("advice_index", "fix_index"), FIX_CASES)
def test_every_fix_fills_the_controls_with_its_settings(
    qtbot, window, advice_index, fix_index
):
    advice = _synthetic_advice()[advice_index]
    fix = advice.fixes[fix_index]
    tab = window.train_tab
    _configure(window, TrainingConfig(hidden_sizes=(50, 50, 50), activation="sigmoid"))
    tab.guidance.show_advice([advice])
    row = tab.guidance.rows[advice.kind]
    if fix_index == 0:
        row.apply_button.click()
    else:
        action = next(
            a for a in row.more_menu.actions() if a.text() == f"Apply: {fix.label}"
        )
        action.trigger()
    config = tab.current_config()
    for name, value in fix.settings().items():
        assert (
            getattr(config, name) == pytest.approx(value)
            if isinstance(value, float)
            else getattr(config, name) == value
        ), name


def test_a_dismissed_warning_stays_hidden_until_the_next_run(qtbot):
    strip = GuidanceStrip()
    qtbot.addWidget(strip)
    advice = _synthetic_advice()
    strip.show_advice(advice)
    assert list(strip.rows) == ["not_learning", "vanishing", "overfitting"]
    strip.rows["vanishing"].close_button.click()
    strip.show_advice(advice)
    assert list(strip.rows) == ["not_learning", "overfitting"]
    strip.clear()
    assert strip.rows == {} and strip.isHidden()
    strip.show_advice(advice)
    assert "vanishing" in strip.rows


# -------------------------------------------------------------- item 5: exports
def _menu_action(window: MainWindow, run_id: int, text: str):
    menu = window.plot_panel.run_menu(run_id)
    return next(a for a in menu.actions() if a.text() == text)


def test_a_runs_history_is_exported_as_csv_from_the_run_list(
    qtbot, window, tmp_path, monkeypatch
):
    _configure(window, SMALL.replace(epochs=3))
    _train(qtbot, window)
    run_id = window.plot_panel.runs[-1].run_id
    target = tmp_path / "history"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), "")
    )
    action = _menu_action(window, run_id, "Export history as CSV…")
    assert action.isEnabled()
    action.trigger()
    path = tmp_path / "history.csv"
    qtbot.waitUntil(lambda: not window.run_display.history_export.busy, timeout=10000)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    history = window.document.model.history
    assert len(rows) == len(history) == 3
    for row, stored in zip(rows, history, strict=True):
        assert float(row["train_loss"]) == stored["train_loss"]
        assert float(row["validation_accuracy"]) == stored["validation_accuracy"]
        assert int(row["epoch"]) == stored["epoch"]
    assert "gradient_norm_layer3" in rows[0] and "inactive_share_layer2" in rows[0]
    assert float(rows[0]["gradient_norm_layer1"]) == history[0]["gradient_norm"][0]


def test_export_waits_for_a_model_with_a_history(qtbot, window, dialogs):
    run = window.plot_panel.start_run("never trained")
    assert not _menu_action(window, run.run_id, "Export history as CSV…").isEnabled()
    window.run_display.history_export.export(run.run_id)
    assert dialogs.of_kind("information")


def _plots(window: MainWindow):
    tab = window.train_tab
    return [(saver.plot, saver) for saver in tab.plot_savers + tab.health_panel.savers]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_every_plot_saves_as_png_and_svg_from_its_menu(
    qtbot, window, tmp_path, monkeypatch, suffix
):
    _configure(window, SMALL.replace(epochs=1))
    _train(qtbot, window)
    window.train_tab.health_panel.redraw()
    plots = _plots(window)
    assert len(plots) == 6  # loss, accuracy and the four health plots
    for index, (plot, saver) in enumerate(plots):
        target = tmp_path / f"plot{index}{suffix}"
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), "")
        )
        saver.actions[suffix].trigger()
        assert target.stat().st_size > 0
        if suffix == ".png":
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            image = QImage(str(target))
            rect = plot.sceneBoundingRect()
            assert (image.width(), image.height()) == (
                int(rect.width()),
                int(rect.height()),
            )
            # Drawn, not blank: the background, the axes' ink and the curves.
            colours = {
                image.pixel(x, y)
                for x in range(0, image.width(), 2)
                for y in range(0, image.height(), 2)
            }
            assert len(colours) >= 3
        else:
            drawing = QSvgRenderer(str(target))
            assert drawing.isValid()
            rect = plot.sceneBoundingRect()
            assert drawing.defaultSize() == QSize(int(rect.width()), int(rect.height()))
            text = target.read_text(encoding="utf-8")
            assert text.count("<path") >= 3  # the frame, the axes and the curves


def test_a_plot_is_saved_only_as_png_or_svg(window, tmp_path):
    folder = tmp_path / "plots"
    folder.mkdir()
    with pytest.raises(PlotExportError, match="png or .svg"):
        save_plot(window.plot_panel.loss_plot, folder / "plot.gif")
    assert list(folder.iterdir()) == []


def test_closed_paths_keep_their_closes_through_the_svg_export():
    from xml.dom import minidom

    from gui import plot_export

    def shift(node, defs, item, options):  # pyqtgraph's: one x,y token per point
        for path in node.getElementsByTagName("path"):
            points = [token.split(",") for token in path.getAttribute("d").split()]
            moved = [f"{x[0]}{float(x[1:]) + 1:g},{y}" for x, y in points]
            path.setAttribute("d", " ".join(moved))

    correct = plot_export._closed_paths_allowed(shift)
    document = minidom.parseString('<g><path d="M0,0 L1,0 Z M2,2 L3,3 Z "/></g>')
    correct(document.documentElement, None, None, None)
    path = document.getElementsByTagName("path")[0]
    assert path.getAttribute("d") == "M1,0 L2,0 Z M3,2 L4,3 Z"
