"""Item 1: every run's model is kept until the app closes; the run list restores,
saves and evaluates it; nothing is trained in place; unsaved questions come once.
Item 7: closing during a long training step quits once the step ends."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from template_model import template_model

import core.training
from core.model_io import load_model
from core.network import MLP
from gui.app import quit_when_closed
from gui.kept_runs import KeptRuns, model_bytes
from gui.main_window import MainWindow


def _small_settings(window: MainWindow, epochs: int = 1) -> None:
    panel = window.train_tab.network_panel
    while panel.hidden_sizes():
        panel._rows[-1].remove_button.click()
    panel.add_button.click()
    panel._rows[-1].size_box.setValue(16)
    training = window.train_tab.training_panel
    training.epochs_box.setValue(epochs)
    training.batch_size_box.setValue(128)
    training.patience_box.setValue(0)
    training.augment_group.setChecked(False)
    # Seconds to make and train on; runs are the subject here.
    training.negatives_box.setValue(0)
    training.pen_digits_check.setChecked(False)


def _train(qtbot, window: MainWindow) -> None:
    assert window.commands.start.isEnabled(), window.train_tab.config_error_label.text()
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=30000)


def _weights(model) -> list[np.ndarray]:
    return [p.copy() for p in model.network.parameters()]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _item(window: MainWindow, run_id: int):
    return window.plot_panel._list_item(run_id)


def _menu_action(window: MainWindow, run_id: int, text: str):
    menu = window.plot_panel.run_menu(run_id)
    return next(a for a in menu.actions() if a.text() == text)


# ------------------------------------------------------------------ KeptRuns
def _model(hidden: int):
    base = template_model()
    return dataclasses.replace(base, network=MLP([784, hidden, 10], seed=hidden))


def test_kept_runs_find_by_identity_and_track_saving(tmp_path):
    kept = KeptRuns()
    a, b = _model(8), _model(9)
    kept.keep(1, a)
    kept.keep(2, b, tmp_path / "b.npz", saved=True)
    assert kept.find(a) == 1 and kept.find(b) == 2
    assert kept.find(dataclasses.replace(a)) is None  # an equal copy is another model
    assert kept.unsaved() == [1]
    assert kept.mark_saved(a, tmp_path / "a.npz") == 1
    assert kept.unsaved() == [] and kept.get(1).path == tmp_path / "a.npz"
    kept.drop(1)
    assert 1 not in kept and kept.find(a) is None


def test_the_memory_cap_lets_saved_models_go_first_and_never_the_shown_one():
    size = model_bytes(_model(32))
    kept = KeptRuns(limit_bytes=int(3.5 * size))
    models = {i: _model(32) for i in range(1, 7)}
    kept.keep(1, models[1])  # unsaved, shown below
    kept.keep(2, models[2], saved=True)
    kept.keep(3, models[3])
    assert kept.keep(4, models[4], shown=models[1]) == [2]  # the saved one first
    assert kept.keep(5, models[5], shown=models[1]) == [3]  # then the oldest unsaved
    assert kept.keep(6, models[6], shown=models[1]) == [4]  # never the shown one
    assert kept.find(models[1]) == 1 and kept.total_bytes <= kept.limit_bytes
    assert kept.dropped == [2, 3, 4]


# ----------------------------------------------------------- in the window
def test_start_keeps_the_unsaved_model_and_the_run_list_restores_it(
    qtbot, window, dialogs
):
    _small_settings(window)
    _train(qtbot, window)
    first = window.document.model
    first_weights = _weights(first)
    assert window.document.unsaved
    _train(qtbot, window)  # Start again: no question, nothing lost
    assert not dialogs.of_kind("question")
    second = window.document.model
    assert second is not first
    run_ids = [run.run_id for run in window.plot_panel.runs]
    assert "not saved" in _item(window, run_ids[0]).text()
    assert _item(window, run_ids[1]).text().startswith("▶ ")  # the model shown
    # Double-click the first run: its model is the window's again, still unsaved.
    window.plot_panel.on_run_item_double_clicked(_item(window, run_ids[0]))
    assert window.document.model is first and window.document.unsaved
    assert window.document.path is None
    assert _item(window, run_ids[0]).text().startswith("▶ ")
    assert _item(window, run_ids[0]).font().bold()
    assert _same(_weights(first), first_weights)
    window.commands.tabs[1].trigger()
    assert window.draw_tab.model() is first  # Draw uses the model made current
    # "Make current" in the context menu does the same for the second run.
    _menu_action(window, run_ids[1], "Make current").trigger()
    assert window.document.model is second


def test_a_kept_run_is_saved_and_evaluated_from_the_run_list(
    qtbot, window, tmp_path, monkeypatch
):
    _small_settings(window)
    _train(qtbot, window)
    first = window.document.model
    _train(qtbot, window)
    run_id = window.plot_panel.runs[0].run_id
    target = tmp_path / "first.npz"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "")
    )
    _menu_action(window, run_id, "Save as…").trigger()
    assert target.exists()
    assert _same(_weights(load_model(target)), _weights(first))
    assert window.document.path == target and not window.document.unsaved
    assert "saved: first.npz" in _item(window, run_id).text()
    window.commands.tabs[0].trigger()
    _train(qtbot, window)  # a third run; the saved first one stays restorable
    _menu_action(window, run_id, "Evaluate").trigger()
    assert window.tabs.currentWidget() is window.evaluate_tab
    qtbot.waitUntil(lambda: window.evaluate_tab.report() is not None, timeout=20000)
    assert window.evaluate_tab._model is first
    assert window.document.path == target and not window.document.unsaved
    window.evaluate_tab.shutdown()


def test_run_actions_wait_while_a_run_trains(qtbot, window):
    _small_settings(window)
    _train(qtbot, window)
    run_id = window.plot_panel.runs[0].run_id
    _small_settings(window, epochs=500)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: window.training.is_running, timeout=5000)
    action = _menu_action(window, run_id, "Make current")
    assert not action.isEnabled() and "trains" in action.toolTip()
    running = window.plot_panel.current_run
    qtbot.waitUntil(lambda: len(running.epochs) >= 2, timeout=20000)
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    assert _menu_action(window, run_id, "Make current").isEnabled()
    # The stopped run's model (its last finished epoch) is kept too.
    kept = window.run_models.kept.get(running.run_id)
    assert kept is not None and kept.model is window.document.model
    assert "not saved" in _item(window, running.run_id).text()


def test_quit_asks_once_about_every_unsaved_run(qtbot, window, dialogs, tmp_path):
    _small_settings(window)
    _train(qtbot, window)
    _train(qtbot, window)
    _train(qtbot, window)
    assert window.files.save_to(tmp_path / "third.npz")  # the current one is saved
    window.commands.new.trigger()  # New: the runs stay; nothing asked
    assert not dialogs.of_kind("question") and window.document.model is None
    dialogs.answer = QMessageBox.StandardButton.Cancel
    window.close()
    questions = dialogs.of_kind("question")
    assert len(questions) == 1 and window.isVisible()
    assert "2 trained models in the run list are not saved" in questions[0][2]
    dialogs.answer = QMessageBox.StandardButton.Discard
    window.close()
    assert len(dialogs.of_kind("question")) == 2 and not window.isVisible()


def test_removing_runs_with_unsaved_models_asks_once(qtbot, window, dialogs):
    _small_settings(window)
    _train(qtbot, window)
    _train(qtbot, window)
    _train(qtbot, window)
    panel = window.plot_panel
    dialogs.answer = QMessageBox.StandardButton.Cancel
    panel.clear_button.click()
    assert len(panel.runs) == 3 and len(dialogs.of_kind("question")) == 1
    assert "2 trained models" in dialogs.of_kind("question")[0][2]
    dialogs.answer = QMessageBox.StandardButton.Yes
    panel.clear_button.click()
    assert len(panel.runs) == 1 and len(dialogs.of_kind("question")) == 2
    assert window.run_models.kept.unsaved() == [panel.runs[0].run_id]


def test_fine_tuning_trains_a_copy_and_keeps_the_file_of_the_original(
    qtbot, window, data_dir, tmp_path
):
    _small_settings(window)
    _train(qtbot, window)
    path = tmp_path / "base.npz"
    assert window.files.save_to(path)
    original = window.document.model
    before = _weights(original)
    tab = window.draw_tab
    window.commands.tabs[1].trigger()
    size = tab.canvas.canvas_size
    tab.canvas.add_stroke([(0.3 * size, 0.25 * size), (0.7 * size, 0.8 * size)])
    tab.update_prediction()
    tab.mark_wrong(1)
    window.on_fine_tune_requested()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=30000)
    tuned_run = window.plot_panel.runs[-1].run_id
    kept = window.run_models.kept.get(tuned_run)
    assert kept is not None and kept.model is window.document.model
    assert kept.model is not original and kept.path == path and not kept.saved
    assert _same(_weights(original), before)  # the model shown was never trained
    first_run = window.plot_panel.runs[0].run_id
    assert window.run_models.kept.get(first_run).model is original


# ------------------------------------------------------------- closing (7)
@pytest.fixture
def slow_step(monkeypatch):
    """Make the next training step take 3.5 s once ``slow`` is set."""
    slow, entered = threading.Event(), threading.Event()
    original = core.training._Run.step

    def step(self, epoch, index):
        if slow.is_set():
            slow.clear()
            entered.set()
            time.sleep(3.5)
        return original(self, epoch, index)

    monkeypatch.setattr(core.training._Run, "step", step)
    return slow, entered


class _FakeApp:
    def __init__(self) -> None:
        self.quits = 0
        self.quit_on_last_window = True

    def setQuitOnLastWindowClosed(self, value: bool) -> None:  # noqa: N802
        self.quit_on_last_window = value

    def quit(self) -> None:
        self.quits += 1


def test_closing_during_a_long_step_quits_once_it_ends_and_saves_whole(
    qtbot, window, dialogs, slow_step, tmp_path, monkeypatch
):
    slow, entered = slow_step
    app = _FakeApp()
    quit_when_closed(app, window)
    assert app.quit_on_last_window is False
    _small_settings(window, epochs=500)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: window.document.model is not None, timeout=20000)
    slow.set()
    assert entered.wait(10)
    target = tmp_path / "on-quit.npz"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "")
    )
    dialogs.answer = QMessageBox.StandardButton.Save
    started = time.perf_counter()
    assert not window.close()  # the step goes on: the window hides for now
    assert time.perf_counter() - started < 3.0
    assert not window.isVisible() and window.training.is_running
    assert app.quits == 0 and not target.exists()
    with qtbot.waitSignal(window.closed, timeout=15000):
        pass
    assert app.quits == 1  # the process ends with the run
    assert not window.training.is_running
    saved = load_model(target)  # written after the run stopped, whole
    assert _same(_weights(saved), _weights(window.document.model))
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []


def test_a_close_during_a_long_step_without_saving_quits_too(
    qtbot, window, dialogs, slow_step
):
    slow, entered = slow_step
    app = _FakeApp()
    quit_when_closed(app, window)
    _small_settings(window, epochs=500)
    window.commands.start.trigger()
    qtbot.waitUntil(
        lambda: (
            window.plot_panel.current_run is not None
            and len(window.plot_panel.current_run.batches) > 0
        ),
        timeout=20000,
    )
    slow.set()
    assert entered.wait(10)
    dialogs.answer = QMessageBox.StandardButton.Discard
    window.close()
    assert not window.isVisible() and app.quits == 0
    with qtbot.waitSignal(window.closed, timeout=15000):
        pass
    assert app.quits == 1 and not window.training.is_running


def test_a_close_without_training_quits_at_once(window):
    app = _FakeApp()
    quit_when_closed(app, window)
    assert window.close()
    assert app.quits == 1


def test_the_run_list_double_click_needs_a_kept_model(qtbot, window):
    _small_settings(window)
    _train(qtbot, window)
    run_id = window.plot_panel.runs[0].run_id
    window.plot_panel.remove_run(run_id)
    window.plot_panel.start_run("plotted only", {})  # no model behind it
    plotted = window.plot_panel.runs[-1].run_id
    model = window.document.model
    window.plot_panel.on_run_item_double_clicked(_item(window, plotted))
    assert window.document.model is model
    assert not _menu_action(window, plotted, "Make current").isEnabled()
    assert _item(window, plotted).flags() & Qt.ItemFlag.ItemIsEnabled


def test_quit_with_save_saves_the_current_model_then_closes(
    qtbot, window, dialogs, tmp_path, monkeypatch
):
    app = _FakeApp()
    quit_when_closed(app, window)
    _small_settings(window)
    _train(qtbot, window)
    target = tmp_path / "at-quit.npz"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "")
    )
    dialogs.answer = QMessageBox.StandardButton.Save
    assert window.close()
    assert _same(_weights(load_model(target)), _weights(window.document.model))
    assert app.quits == 1 and len(dialogs.of_kind("question")) == 1
