"""The real main window: build, set layers, train live, pause/resume/stop, save and
reopen, bad files, repeated runs without leaks, closing while training."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.model_io import load_model
from core.presets import PRESETS
from gui.main_window import MainWindow


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _small_settings(window: MainWindow, epochs: int = 2, layers=(16,)) -> None:
    """Set a fast network through the widgets: hidden layers, epochs, batch size."""
    panel = window.network_panel
    while panel.hidden_sizes():
        panel._rows[-1].remove_button.click()
    for size in layers:
        panel.add_button.click()
        panel._rows[-1].size_box.setValue(size)
    window.training_panel.epochs_box.setValue(epochs)
    window.training_panel.batch_size_box.setValue(128)
    window.training_panel.patience_box.setValue(0)
    window.training_panel.augment_group.setChecked(False)


def _train(qtbot, window: MainWindow, timeout: int = 30000) -> None:
    assert window.start_action.isEnabled(), window.config_error_label.text()
    window.start_action.trigger()
    assert window.is_training
    qtbot.waitUntil(lambda: not window.is_training, timeout=timeout)


def _start_and_wait_for_batches(qtbot, window: MainWindow) -> None:
    window.start_action.trigger()
    qtbot.waitUntil(
        lambda: (
            window.plot_panel.current_run is not None
            and len(window.plot_panel.current_run.batches) > 0
        ),
        timeout=10000,
    )


def test_window_opens_fast_with_four_areas(qtbot, app_settings, data_dir):
    started = time.perf_counter()
    window = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert time.perf_counter() - started < 2.0
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Train", "Draw", "Evaluate", "Inside"]
    assert window.toolbar.actions() and window.statusBar().isVisible()
    qtbot.waitUntil(lambda: window.data_panel.dataset is not None, timeout=10000)
    window.data_panel.shutdown(5000)


def test_every_control_has_a_tooltip(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
    )

    missing = []
    for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit):
        for widget in window.train_splitter.findChildren(kind):
            if (
                widget.parent() is not None
                and type(widget).__name__ in ("QLineEdit",)
                and isinstance(widget.parent(), QAbstractSpinBox | QComboBox)
            ):
                continue
            if not widget.toolTip() and not widget.objectName().startswith("qt_"):
                text = widget.text() if hasattr(widget, "text") else ""
                missing.append(f"{type(widget).__name__} {text}")
    assert missing == []
    for action in (window.start_action, window.pause_action, window.stop_action):
        assert action.toolTip() and action.shortcuts()


def test_layers_set_through_widgets_change_the_parameter_count(window):
    _small_settings(window, layers=(32, 16))
    assert window.network_panel.hidden_sizes() == (32, 16)
    expected = 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert window.network_panel.parameters_label.text() == f"{expected:,}"
    window.network_panel._rows[1].up_button.click()
    assert window.network_panel.hidden_sizes() == (16, 32)
    assert window.current_config().hidden_sizes == (16, 32)


def test_training_fills_the_plots_and_the_status_bar(qtbot, window):
    _small_settings(window, epochs=2)
    _train(qtbot, window)
    run = window.plot_panel.current_run
    steps = int(np.ceil(4500 / 128))
    assert len(run.batches) == 2 * steps
    assert list(run.epoch_column("epoch")) == [1.0, 2.0]
    assert np.all(np.isfinite(run.epoch_column("validation_accuracy")))
    window.plot_panel.redraw()
    curves = window.plot_panel._curves[run.run_id]
    assert len(curves.batch_raw.getData()[0]) == 2 * steps
    assert len(curves.validation_accuracy.getData()[0]) == 2
    assert window.status_epoch.text() == "epoch 2/2"
    assert window.status_progress.value() == 100
    assert "samples/s" in window.status_speed.text()
    assert window.status_lr.text().startswith("lr ")
    assert window.banner.isVisible() and "finished" in window.banner.text()
    assert window.model is not None and window.unsaved
    assert window.save_action.isEnabled() and window.start_action.isEnabled()


def test_controls_are_locked_while_training(qtbot, window):
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    assert not window.network_panel.isEnabled()
    assert not window.training_panel.isEnabled()
    assert not window.data_panel.dataset_combo.isEnabled()
    assert not window.start_action.isEnabled() and not window.save_action.isEnabled()
    assert window.pause_action.isEnabled() and window.stop_action.isEnabled()
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: not window.is_training, timeout=10000)
    assert window.network_panel.isEnabled() and window.start_action.isEnabled()
    assert not window.stop_action.isEnabled() and not window.pause_action.isEnabled()


def test_model_line_and_status_bar_keep_their_size_while_training(qtbot, window):
    # A new size would re-lay out the window (or the status bar) on every update.
    sizes = [w.size() for w in (window.status_epoch, window.status_speed)]
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    text = window.model_label.text()
    assert "Training" in text
    qtbot.waitUntil(lambda: len(window._history) >= 2, timeout=10000)
    assert window.model is not None and window.model_label.text() == text
    qtbot.waitUntil(lambda: "samples/s" in window.status_speed.text(), timeout=5000)
    assert [w.size() for w in (window.status_epoch, window.status_speed)] == sizes
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: not window.is_training, timeout=10000)
    # The run has ended: the line describes the model kept.
    assert "Training" not in window.model_label.text()
    assert "epochs" in window.model_label.text()


def test_pause_resume_and_stop(qtbot, window):
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    window.pause_action.trigger()
    assert window.pause_action.isChecked() and window.pause_action.text() == "&Resume"
    qtbot.wait(150)  # let batches already queued arrive
    count = len(window.plot_panel.current_run.batches)
    qtbot.wait(300)
    assert len(window.plot_panel.current_run.batches) == count
    window.pause_action.trigger()
    assert not window.pause_action.isChecked()
    qtbot.waitUntil(
        lambda: len(window.plot_panel.current_run.batches) > count, timeout=5000
    )
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: not window.is_training, timeout=10000)
    assert "stopped" in window.banner.text().lower()
    assert window.plot_panel.current_run.outcome == "stopped"


def test_save_and_reopen_through_the_dialog_code(qtbot, window, tmp_path, monkeypatch):
    _small_settings(window, epochs=2)
    _train(qtbot, window)
    target = tmp_path / "my model.npz"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "my model"), "")
    )
    assert window.save_action.isEnabled()
    window.save_action.trigger()
    assert target.exists() and not window.unsaved
    saved = load_model(target)
    assert len(saved.history) == 2 and saved.config["hidden_sizes"] == [16]
    assert window.settings.recent_files[0] == str(target)

    window.on_new()
    assert window.model is None
    runs_before = len(window.plot_panel.runs)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), "")
    )
    window.open_action.trigger()
    assert window.model is not None and window.model_path == target
    assert len(window.plot_panel.runs) == runs_before + 1
    history_run = window.plot_panel.current_run
    assert list(history_run.epoch_column("epoch")) == [1.0, 2.0]
    np.testing.assert_allclose(
        history_run.epoch_column("validation_accuracy"),
        [row["validation_accuracy"] for row in saved.history],
    )
    assert "my model.npz" in window.model_label.text()
    assert window.network_panel.hidden_sizes() == (16,)
    probabilities = window.model.predict_proba(window.data_panel.dataset.images[:3])
    np.testing.assert_allclose(
        probabilities, saved.predict_proba(window.data_panel.dataset.images[:3])
    )


def test_bad_file_shows_the_engine_message_and_the_app_carries_on(
    qtbot, window, tmp_path, dialogs
):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    assert window.open_model(bad) is False
    (call,) = dialogs.of_kind("critical")
    assert "broken.npz" in call[2]
    assert window.model is None
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    assert window.model is not None


def test_drop_of_an_npz_opens_it(qtbot, window, tmp_path, monkeypatch):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "dropped.npz"
    assert window.save_model_to(path)
    window.on_new()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.model_path == path, timeout=3000)


def test_unsaved_training_asks_before_open_and_cancel_keeps_it(
    qtbot, window, dialogs, monkeypatch
):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    dialogs.answer = QMessageBox.StandardButton.Cancel
    opened = []
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: opened.append(1) or ("", "")
    )
    window.open_action.trigger()
    assert dialogs.of_kind("question") and opened == []
    window.close()
    assert window.isVisible()  # Cancel keeps the window open
    dialogs.answer = QMessageBox.StandardButton.Discard


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_fills_every_control(qtbot, window, name):
    index = window.preset_combo.findData(name)
    window.preset_combo.setCurrentIndex(index)
    assert window.current_config() == PRESETS[name].config
    qtbot.waitUntil(lambda: window.data_panel.current_name() == PRESETS[name].dataset)
    assert window.settings.last_preset == name


def test_invalid_settings_are_explained_before_start(window):
    window.training_panel.schedule_combo.setCurrentIndex(
        window.training_panel.schedule_combo.findData("cosine")
    )
    window.training_panel.learning_rate_box.setValue(0.001)
    window.training_panel.min_learning_rate_box.setValue(0.01)
    assert not window.start_action.isEnabled()
    assert "min_learning_rate" in window.config_error_label.text()
    assert window.config_error_label.isVisibleTo(window)
    window.training_panel.min_learning_rate_box.setValue(0.0)
    assert window.start_action.isEnabled()
    assert not window.config_error_label.isVisibleTo(window)


def test_start_and_stop_twenty_times_without_leaks(qtbot, window):
    _small_settings(window, epochs=500)
    baseline = _thread_count()
    for _ in range(20):
        window.start_action.trigger()
        qtbot.waitUntil(lambda: window.is_training, timeout=2000)
        window.stop_action.trigger()
        qtbot.waitUntil(lambda: not window.is_training, timeout=10000)
    qtbot.waitUntil(lambda: _thread_count() <= baseline, timeout=5000)
    assert len(window.plot_panel.runs) == 20
    import gc

    from gui.training_worker import TrainingWorker

    gc.collect()
    # type(), not isinstance(): dead weakref proxies (numba keeps some) raise there.
    alive = [o for o in gc.get_objects() if type(o) is TrainingWorker]
    assert len(alive) <= 1


def test_close_while_training_stops_the_worker(qtbot, window, dialogs):
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    qtbot.waitUntil(lambda: window.model is not None, timeout=10000)
    baseline_threads = _thread_count()
    started = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - started < 2.5
    assert not window.is_training and not window.isVisible()
    assert dialogs.of_kind("question")  # asked about the unsaved model first
    qtbot.waitUntil(lambda: _thread_count() < baseline_threads, timeout=5000)


def test_settings_persist_geometry_preset_and_mirror(
    qtbot, window, app_settings, data_dir
):
    window.resize(1000, 700)
    window.preset_combo.setCurrentIndex(window.preset_combo.findData("textbook-8x8"))
    window.data_panel.mirror_edit.setText("file:///tmp/mnist/")
    window.data_panel.mirror_edit.editingFinished.emit()
    window.close()
    assert app_settings.geometry == window.saveGeometry()
    again = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(again)
    assert again.preset_combo.currentData() == "textbook-8x8"
    assert again.data_panel.mirror() == "file:///tmp/mnist/"
    qtbot.waitUntil(lambda: again.data_panel.dataset is not None, timeout=10000)
    assert again.data_panel.dataset.name == "digits-8x8"
    again.data_panel.shutdown(5000)


def test_hand_made_settings_come_back_after_a_restart(
    qtbot, window, app_settings, data_dir
):
    custom = dataclasses.replace(
        PRESETS["recommended"].config, hidden_sizes=(64, 32), learning_rate=0.003
    )
    window.apply_config(custom)
    assert window.preset_combo.currentIndex() == 0  # "Custom"
    window.close()
    again = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(again)
    restored = again.current_config()
    assert restored.hidden_sizes == (64, 32)
    assert restored.learning_rate == pytest.approx(0.003)
    qtbot.waitUntil(lambda: again.data_panel.dataset is not None, timeout=10000)
    again.data_panel.shutdown(5000)


def test_fine_tune_uses_the_personal_drawings(qtbot, window, data_dir):
    from core.personal_set import PersonalSet

    _small_settings(window, epochs=1)
    _train(qtbot, window)
    images = window.data_panel.dataset.images
    for index in range(3):
        PersonalSet(data_dir).add(images[index], 7, "mnist")
    window.on_fine_tune_requested()
    assert window.is_training
    qtbot.waitUntil(lambda: not window.is_training, timeout=20000)
    assert window.plot_panel.current_run.label.startswith("fine-tune")
    assert window._prepared.extra_size == 3
    assert len(window.model.history) == 3


def test_divergence_is_explained_in_the_window(qtbot, window):
    _small_settings(window, epochs=3, layers=(64, 64, 64))
    activation = window.network_panel.activation_combo
    activation.setCurrentIndex(activation.findData("leaky_relu"))
    panel = window.training_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("momentum"))
    panel.momentum_box.setValue(0.9)
    panel.learning_rate_box.setValue(50.0)
    _train(qtbot, window)
    assert window.banner.kind == "error"
    assert "diverged" in window.banner.text().lower()
    assert "learning rate" in window.banner.text().lower()
    assert window.plot_panel.current_run.outcome == "diverged"


def test_recent_files_menu_reopens_a_model(qtbot, window, tmp_path):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "recent.npz"
    assert window.save_model_to(path)
    window.on_new()
    window.rebuild_recent_menu()
    actions = [a for a in window.recent_menu.actions() if a.data() == str(path)]
    assert len(actions) == 1
    actions[0].trigger()
    assert window.model_path == path and window.model is not None


def test_missing_recent_file_is_dropped(qtbot, window, tmp_path, dialogs):
    gone = tmp_path / "gone.npz"
    window.settings.add_recent_file(str(gone))
    window.rebuild_recent_menu()
    action = next(a for a in window.recent_menu.actions() if a.data() == str(gone))
    action.trigger()
    assert dialogs.of_kind("warning")
    assert str(gone) not in window.settings.recent_files


def test_uncaught_exception_is_logged_and_shown(qtbot, monkeypatch, caplog):
    from gui import app as app_module

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    try:
        raise ValueError("something odd")
    except ValueError as exc:
        app_module._exception_hook(ValueError, exc, exc.__traceback__)
    assert shown and "something odd" in shown[0]
    assert "something odd" in caplog.text


def test_early_stop_is_explained_in_the_window(qtbot, window):
    window.data_panel.select("digits-8x8")  # small and fast: 1,797 images of 8x8
    qtbot.waitUntil(
        lambda: (
            window.data_panel.dataset is not None
            and window.data_panel.dataset.name == "digits-8x8"
        ),
        timeout=10000,
    )
    _small_settings(window, epochs=40)
    panel = window.training_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("constant"))
    panel.dropout_box.setValue(0.0)
    panel.l2_box.setValue(0.0)
    panel.learning_rate_box.setValue(0.05)
    panel.normalization_combo.setCurrentIndex(
        panel.normalization_combo.findData("scale")
    )
    panel.validation_box.setValue(0.1)
    panel.patience_box.setValue(1)
    _train(qtbot, window)
    assert window.banner.kind == "info"
    assert window.banner.text().startswith("Early stop")
    assert "kept the weights of epoch" in window.banner.text()
    assert window.plot_panel.current_run.outcome == "early_stopped"
    assert len(window.model.history) < 40
    best = window.model.metrics["best_epoch"]
    assert best == len(window.model.history) - 1
    kept = window.model.history[best - 1]["validation_accuracy"]
    assert window.model.metrics["validation_accuracy"] == kept


def test_hovering_a_plot_reads_out_values(qtbot, window):
    _small_settings(window, epochs=2)
    _train(qtbot, window)
    plot = window.plot_panel.accuracy_plot
    window.plot_panel.redraw()
    qtbot.wait(50)
    run = window.plot_panel.current_run
    accuracy = 100 * float(run.epoch_column("validation_accuracy")[1])
    scene_point = plot.vb.mapViewToScene(QPointF(2.0, accuracy))
    window.plot_panel.on_scene_mouse_moved(scene_point)
    text = window.plot_panel.hover_label.text()
    assert text.startswith(f"run {run.run_id}, epoch 2: accuracy")
    assert f"validation {accuracy:.2f}%" in text


def test_draw_and_evaluate_tabs_get_the_model_when_shown(qtbot, window):
    from gui.draw_tab import DrawTab
    from gui.evaluate_tab import EvaluateTab

    assert isinstance(window.draw_tab, DrawTab)
    assert isinstance(window.evaluate_tab, EvaluateTab)
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    assert window.draw_tab.model() is None  # not shown yet: nothing computed for it
    window.tab_actions[1].trigger()
    assert window.tabs.currentWidget() is window.draw_tab
    assert window.draw_tab.model() is window.model
    window.tab_actions[2].trigger()
    qtbot.waitUntil(lambda: window.evaluate_tab.report() is not None, timeout=20000)
    # Evaluated on the run's own validation split: the same figure as the last epoch.
    assert window.evaluate_tab.report().accuracy == pytest.approx(
        window.model.metrics["validation_accuracy"], abs=1e-6
    )
    window.evaluate_tab.shutdown()


def test_log_scale_shortcut_and_check_box_agree(window):
    assert window.log_action.shortcut().toString() == "Ctrl+L"
    window.log_action.trigger()
    assert window.plot_panel.log_check.isChecked()
    assert window.plot_panel.loss_plot.ctrl.logYCheck.isChecked()
    window.plot_panel.log_check.setChecked(False)
    assert not window.log_action.isChecked()
