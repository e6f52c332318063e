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

import gui.main_window as main_window_module
from core.datasets import load_bundled
from core.model_io import load_model, save_model
from core.personal_set import PersonalSet
from core.presets import PRESETS
from core.run import (
    FINE_TUNE_EPOCHS,
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import TrainingConfig
from gui.main_window import MainWindow
from gui.run_history import PhaseMark


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _small_settings(window: MainWindow, epochs: int = 2, layers=(16,)) -> None:
    """Set a fast network through the widgets: hidden layers, epochs, batch size."""
    panel = window.train_tab.network_panel
    while panel.hidden_sizes():
        panel._rows[-1].remove_button.click()
    for size in layers:
        panel.add_button.click()
        panel._rows[-1].size_box.setValue(size)
    window.train_tab.training_panel.epochs_box.setValue(epochs)
    window.train_tab.training_panel.batch_size_box.setValue(128)
    window.train_tab.training_panel.patience_box.setValue(0)
    window.train_tab.training_panel.augment_group.setChecked(False)
    # The preset's made-up non-digits and pen digits would add 19,494 images to
    # every run.
    window.train_tab.training_panel.negatives_box.setValue(0)
    window.train_tab.training_panel.pen_digits_check.setChecked(False)


def _train(qtbot, window: MainWindow, timeout: int = 30000) -> None:
    assert window.commands.start.isEnabled(), window.train_tab.config_error_label.text()
    window.commands.start.trigger()
    assert window.training.is_running
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=timeout)


def _start_and_wait_for_batches(qtbot, window: MainWindow) -> None:
    window.commands.start.trigger()
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
    assert window.commands.toolbar.actions() and window.statusBar().isVisible()
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
        for widget in window.train_tab.findChildren(kind):
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
    for action in (window.commands.start, window.commands.pause, window.commands.stop):
        assert action.toolTip() and action.shortcuts()


def test_layers_set_through_widgets_change_the_parameter_count(window):
    _small_settings(window, layers=(32, 16))
    assert window.train_tab.network_panel.hidden_sizes() == (32, 16)
    expected = 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert window.train_tab.network_panel.parameters_label.text() == f"{expected:,}"
    window.train_tab.network_panel._rows[1].up_button.click()
    assert window.train_tab.network_panel.hidden_sizes() == (16, 32)
    assert window.train_tab.current_config().hidden_sizes == (16, 32)


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
    assert window.status_bar.epoch_label.text() == "epoch 2/2"
    assert window.status_bar.progress_bar.value() == 100
    assert "samples/s" in window.status_bar.speed_label.text()
    assert window.status_bar.lr_label.text().startswith("lr ")
    assert window.banner.isVisible() and "finished" in window.banner.text()
    assert window.document.model is not None and window.document.unsaved
    assert window.commands.save.isEnabled() and window.commands.start.isEnabled()


def test_controls_are_locked_while_training(qtbot, window):
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    assert not window.train_tab.network_panel.isEnabled()
    assert not window.train_tab.training_panel.isEnabled()
    assert not window.data_panel.dataset_combo.isEnabled()
    assert (
        not window.commands.start.isEnabled() and not window.commands.save.isEnabled()
    )
    assert window.commands.pause.isEnabled() and window.commands.stop.isEnabled()
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    assert (
        window.train_tab.network_panel.isEnabled() and window.commands.start.isEnabled()
    )
    assert (
        not window.commands.stop.isEnabled() and not window.commands.pause.isEnabled()
    )


def test_model_line_and_status_bar_keep_their_size_while_training(qtbot, window):
    # A new size would re-lay out the window (or the status bar) on every update.
    sizes = [
        w.size() for w in (window.status_bar.epoch_label, window.status_bar.speed_label)
    ]
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    text = window.train_tab.model_label.text()
    assert "Training" in text
    qtbot.waitUntil(lambda: len(window.training.history) >= 2, timeout=10000)
    assert (
        window.document.model is not None
        and window.train_tab.model_label.text() == text
    )
    qtbot.waitUntil(
        lambda: "samples/s" in window.status_bar.speed_label.text(), timeout=5000
    )
    assert [
        w.size() for w in (window.status_bar.epoch_label, window.status_bar.speed_label)
    ] == sizes
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    # The run has ended: the line describes the model kept.
    assert "Training" not in window.train_tab.model_label.text()
    assert "epochs" in window.train_tab.model_label.text()


def test_the_plots_keep_their_height_when_a_run_starts_and_ends(qtbot, window):
    # A new height lays out and repaints every plot in one pass: the window's
    # longest stall, if it came as a run starts or as its outcome is shown.
    window.resize(1024, 640)
    _small_settings(window, epochs=500)
    window.banner.close_button.click()  # dismissed: its room stays
    qtbot.wait(50)
    height = window.train_tab.plots_area.height()
    _start_and_wait_for_batches(qtbot, window)
    qtbot.waitUntil(lambda: len(window.training.history) >= 1, timeout=10000)
    qtbot.wait(50)
    assert "Pause" in window.banner.text()
    assert window.train_tab.plots_area.height() == height
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    qtbot.wait(50)
    assert "stopped" in window.banner.text()
    assert "Training" not in window.train_tab.model_label.text()
    assert window.train_tab.plots_area.height() == height


def test_pause_resume_and_stop(qtbot, window):
    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    window.commands.pause.trigger()
    assert (
        window.commands.pause.isChecked() and window.commands.pause.text() == "&Resume"
    )
    qtbot.wait(150)  # let batches already queued arrive
    count = len(window.plot_panel.current_run.batches)
    qtbot.wait(300)
    assert len(window.plot_panel.current_run.batches) == count
    window.commands.pause.trigger()
    assert not window.commands.pause.isChecked()
    qtbot.waitUntil(
        lambda: len(window.plot_panel.current_run.batches) > count, timeout=5000
    )
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    assert "stopped" in window.banner.text().lower()
    assert window.plot_panel.current_run.outcome == "stopped"


def test_save_and_reopen_through_the_dialog_code(qtbot, window, tmp_path, monkeypatch):
    _small_settings(window, epochs=2)
    _train(qtbot, window)
    target = tmp_path / "my model.npz"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "my model"), "")
    )
    assert window.commands.save.isEnabled()
    window.commands.save.trigger()
    assert target.exists() and not window.document.unsaved
    saved = load_model(target)
    assert len(saved.history) == 2 and saved.config["hidden_sizes"] == [16]
    assert window.settings.recent_files[0] == str(target)

    window.on_new()
    assert window.document.model is None
    runs_before = len(window.plot_panel.runs)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), "")
    )
    window.commands.open.trigger()
    assert window.document.model is not None and window.document.path == target
    assert len(window.plot_panel.runs) == runs_before + 1
    history_run = window.plot_panel.current_run
    assert list(history_run.epoch_column("epoch")) == [1.0, 2.0]
    np.testing.assert_allclose(
        history_run.epoch_column("validation_accuracy"),
        [row["validation_accuracy"] for row in saved.history],
    )
    assert "my model.npz" in window.train_tab.model_label.text()
    assert window.train_tab.network_panel.hidden_sizes() == (16,)
    probabilities = window.document.model.predict_proba(
        window.data_panel.dataset.images[:3]
    )
    np.testing.assert_allclose(
        probabilities, saved.predict_proba(window.data_panel.dataset.images[:3])
    )


def test_bad_file_shows_the_engine_message_and_the_app_carries_on(
    qtbot, window, tmp_path, dialogs
):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    assert window.files.open_path(bad) is False
    (call,) = dialogs.of_kind("critical")
    assert "broken.npz" in call[2]
    assert window.document.model is None
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    assert window.document.model is not None


def test_drop_of_an_npz_opens_it(qtbot, window, tmp_path, monkeypatch):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "dropped.npz"
    assert window.files.save_to(path)
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
    qtbot.waitUntil(lambda: window.document.path == path, timeout=3000)


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
    # The model stays in the run list, so opening another loses nothing: no question.
    window.commands.open.trigger()
    assert not dialogs.of_kind("question") and opened == [1]
    # Once its run is removed (which drops the model), Open asks before losing it.
    opened.clear()
    window.plot_panel.remove_run(window.plot_panel.runs[-1].run_id)
    window.commands.open.trigger()
    assert dialogs.of_kind("question") and opened == []
    window.close()
    assert window.isVisible()  # Cancel keeps the window open
    dialogs.answer = QMessageBox.StandardButton.Discard


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_fills_every_control(qtbot, window, name):
    index = window.train_tab.preset_combo.findData(name)
    window.train_tab.preset_combo.setCurrentIndex(index)
    assert window.train_tab.current_config() == PRESETS[name].config
    qtbot.waitUntil(lambda: window.data_panel.current_name() == PRESETS[name].dataset)
    assert window.settings.last_preset == name


def test_invalid_settings_are_explained_before_start(window):
    window.train_tab.training_panel.schedule_combo.setCurrentIndex(
        window.train_tab.training_panel.schedule_combo.findData("cosine")
    )
    window.train_tab.training_panel.learning_rate_box.setValue(0.001)
    window.train_tab.training_panel.min_learning_rate_box.setValue(0.01)
    assert not window.commands.start.isEnabled()
    assert "min_learning_rate" in window.train_tab.config_error_label.text()
    assert window.train_tab.config_error_label.isVisibleTo(window)
    window.train_tab.training_panel.min_learning_rate_box.setValue(0.0)
    assert window.commands.start.isEnabled()
    assert not window.train_tab.config_error_label.isVisibleTo(window)


def test_start_and_stop_twenty_times_without_leaks(qtbot, window):
    _small_settings(window, epochs=500)
    baseline = _thread_count()
    for _ in range(20):
        window.commands.start.trigger()
        qtbot.waitUntil(lambda: window.training.is_running, timeout=2000)
        window.commands.stop.trigger()
        qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
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
    qtbot.waitUntil(lambda: window.document.model is not None, timeout=10000)
    baseline_threads = _thread_count()
    started = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - started < 2.5
    assert not window.training.is_running and not window.isVisible()
    assert dialogs.of_kind("question")  # asked about the unsaved model first
    qtbot.waitUntil(lambda: _thread_count() < baseline_threads, timeout=5000)


def test_settings_persist_geometry_preset_and_mirror(
    qtbot, window, app_settings, data_dir
):
    window.resize(1000, 700)
    window.train_tab.preset_combo.setCurrentIndex(
        window.train_tab.preset_combo.findData("textbook-8x8")
    )
    window.data_panel.mirror_edit.setText("file:///tmp/mnist/")
    window.data_panel.mirror_edit.editingFinished.emit()
    window.close()
    assert app_settings.geometry == window.saveGeometry()
    again = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(again)
    assert again.train_tab.preset_combo.currentData() == "textbook-8x8"
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
    window.train_tab.apply_config(custom)
    assert window.train_tab.preset_combo.currentIndex() == 0  # "Custom"
    window.close()
    again = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(again)
    restored = again.train_tab.current_config()
    assert restored.hidden_sizes == (64, 32)
    assert restored.learning_rate == pytest.approx(0.003)
    qtbot.waitUntil(lambda: again.data_panel.dataset is not None, timeout=10000)
    again.data_panel.shutdown(5000)


def _fine_tune_on_three_drawings(qtbot, window: MainWindow, data_dir) -> None:
    images = window.data_panel.dataset.images
    for index in range(3):
        PersonalSet(data_dir).add(images[index], 7, "mnist")
    window.on_fine_tune_requested()
    assert window.training.is_running
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=20000)


def test_fine_tune_uses_the_personal_drawings(qtbot, window, data_dir, monkeypatch):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    # The Draw tab's drawings read right go with the personal set (to choose the
    # hand's reading; these three corrections have no canvas, so none is searched).
    read_right = ((np.zeros((280, 280), np.uint8), 7),)
    monkeypatch.setattr(window.draw_tab, "read_right", lambda: read_right)
    monkeypatch.setattr(window.draw_tab, "misread_share", lambda: 0.25)
    jobs = []
    job = main_window_module.fine_tune_job
    monkeypatch.setattr(
        main_window_module,
        "fine_tune_job",
        lambda model, dataset, drawings, *rest: (
            jobs.append(drawings) or job(model, dataset, drawings, *rest)
        ),
    )
    _fine_tune_on_three_drawings(qtbot, window, data_dir)
    [drawings] = jobs
    assert (drawings.read_right, drawings.misread_share) == (read_right, 0.25)
    assert window.plot_panel.current_run.label.startswith("fine-tune")
    assert window.training.prepared_data.extra_size == 3
    tuned = window.document.model
    # The whole history: the first run's epoch, then the fine-tune as a later phase.
    tuned_epochs = list(range(1, FINE_TUNE_EPOCHS + 1))
    assert [row["phase"] for row in tuned.history] == [0] + [1] * FINE_TUNE_EPOCHS
    assert [row["epoch"] for row in tuned.history] == [1, *tuned_epochs]
    assert [phase["kind"] for phase in tuned.phases] == ["train", "fine_tune"]
    assert tuned.metrics["personal_images"] == 3
    assert tuned.metrics["epochs_completed"] == FINE_TUNE_EPOCHS
    # Its curve continues the first run's on the epoch axis, after a "fine-tune" line.
    run = window.plot_panel.current_run
    assert list(run.epoch_column("epoch")) == [1.0] + [1.0 + n for n in tuned_epochs]
    assert run.marks == (PhaseMark(1.0, "fine-tune"),)
    assert run.batches.column(0).min() > 1.0
    assert f"1 epoch + {FINE_TUNE_EPOCHS} fine-tune epochs" in (
        window.train_tab.model_label.text()
    )


def test_divergence_is_explained_in_the_window(qtbot, window):
    _small_settings(window, epochs=3, layers=(64, 64, 64))
    activation = window.train_tab.network_panel.activation_combo
    activation.setCurrentIndex(activation.findData("leaky_relu"))
    panel = window.train_tab.training_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("momentum"))
    panel.momentum_box.setValue(0.9)
    panel.learning_rate_box.setValue(50.0)
    _train(qtbot, window)
    assert window.banner.kind == "error"
    assert "diverged" in window.banner.text().lower()
    assert "learning rate" in window.banner.text().lower()
    assert window.plot_panel.current_run.outcome == "diverged"


def test_a_finite_blow_up_is_an_error_not_a_success(qtbot, window):
    _small_settings(window, epochs=3)
    panel = window.train_tab.training_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    panel.learning_rate_box.setValue(100.0)
    _train(qtbot, window)
    assert window.banner.kind == "error"
    assert "diverged" in window.banner.text()
    assert "more than 10 times its starting value" in window.banner.text()
    assert window.plot_panel.current_run.outcome == "diverged"


def test_recent_files_menu_reopens_a_model(qtbot, window, tmp_path):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "recent.npz"
    assert window.files.save_to(path)
    window.on_new()
    window.commands.recent_menu.rebuild()
    actions = [
        a for a in window.commands.recent_menu.actions() if a.data() == str(path)
    ]
    assert len(actions) == 1
    actions[0].trigger()
    assert window.document.path == path and window.document.model is not None


def test_missing_recent_file_is_dropped(qtbot, window, tmp_path, dialogs):
    gone = tmp_path / "gone.npz"
    window.settings.add_recent_file(str(gone))
    window.commands.recent_menu.rebuild()
    action = next(
        a for a in window.commands.recent_menu.actions() if a.data() == str(gone)
    )
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
    panel = window.train_tab.training_panel
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
    assert len(window.document.model.history) < 40
    best = window.document.model.metrics["best_epoch"]
    assert best == len(window.document.model.history) - 1
    kept = window.document.model.history[best - 1]["validation_accuracy"]
    assert window.document.model.metrics["validation_accuracy"] == kept


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
    window.commands.tabs[1].trigger()
    assert window.tabs.currentWidget() is window.draw_tab
    assert window.draw_tab.model() is window.document.model
    window.commands.tabs[2].trigger()
    qtbot.waitUntil(lambda: window.evaluate_tab.report() is not None, timeout=20000)
    # The bundled sample has a test part that no training uses: the figure is a
    # test accuracy, on those 1,000 images.
    report = window.evaluate_tab.report()
    assert len(report.dataset) == 1000
    assert window.evaluate_tab.accuracy_label.text().startswith("Test accuracy: ")
    assert (
        "1,000 test images of mnist-sample" in window.evaluate_tab.status_label.text()
    )
    window.evaluate_tab.shutdown()


def test_evaluate_names_a_validation_figure_validation(qtbot, window):
    window.commands.tabs[0].trigger()
    window.data_panel.select("digits-8x8")
    qtbot.waitUntil(
        lambda: (
            window.data_panel.dataset is not None
            and window.data_panel.dataset.name == "digits-8x8"
        ),
        timeout=10000,
    )
    _small_settings(window, epochs=2)
    _train(qtbot, window)
    window.commands.tabs[2].trigger()
    qtbot.waitUntil(lambda: window.evaluate_tab.report() is not None, timeout=20000)
    # Evaluated on the run's own validation split: the same figure as the last epoch,
    # and called what it is.
    assert window.evaluate_tab.report().accuracy == pytest.approx(
        window.document.model.metrics["validation_accuracy"], abs=1e-6
    )
    label = window.evaluate_tab.accuracy_label.text()
    assert label.startswith("Validation accuracy: "), label
    assert "validation images of digits-8x8" in window.evaluate_tab.status_label.text()
    assert "no test split" in window.evaluate_tab.accuracy_label.toolTip()
    window.evaluate_tab.shutdown()


def test_log_scale_shortcut_and_check_box_agree(window):
    assert window.commands.log_scale.shortcut().toString() == "Ctrl+L"
    window.commands.log_scale.trigger()
    assert window.plot_panel.log_check.isChecked()
    assert window.plot_panel.loss_plot.ctrl.logYCheck.isChecked()
    window.plot_panel.log_check.setChecked(False)
    assert not window.commands.log_scale.isChecked()


def _parameters(model) -> list[np.ndarray]:
    return [p.copy() for p in model.network.parameters()]


def test_fine_tuning_never_touches_the_model_the_window_shows(qtbot, window):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    shown = window.document.model
    before = _parameters(shown)
    window.commands.tabs[1].trigger()  # the Draw tab: its gallery and button
    assert window.draw_tab.model() is shown
    gallery = window.draw_tab.gallery
    for image in window.data_panel.dataset.images[:3]:
        assert gallery.add(image, 7) is not None
    button = gallery.fine_tune_button
    assert button.isEnabled()
    untouched = []  # checked at every epoch while it trains

    def check(rows) -> None:
        # Fast epochs arrive merged: one check stands for every epoch it brings.
        same = all(
            np.array_equal(a, b)
            for a, b in zip(before, _parameters(shown), strict=True)
        )
        untouched.extend([same] * len(rows))

    window.training.epochs_finished.connect(check)
    button.click()
    assert window.training.is_running and window.document.model is shown
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=20000)
    assert window.plot_panel.current_run.label.startswith("fine-tune")
    assert untouched == [True] * FINE_TUNE_EPOCHS
    for old, now in zip(before, _parameters(shown), strict=True):
        np.testing.assert_array_equal(now, old)
    # The result was adopted as a new model; it trained, the one shown before did not.
    tuned = window.document.model
    assert tuned is not shown and tuned.network is not shown.network
    assert [row["phase"] for row in tuned.history] == [0] + [1] * FINE_TUNE_EPOCHS
    assert window.document.unsaved
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, _parameters(tuned), strict=True)
    )


def test_failed_open_keeps_the_model_and_its_file(qtbot, window, tmp_path, dialogs):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "good.npz"
    assert window.files.save_to(path)
    model, title = window.document.model, window.windowTitle()
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    assert window.files.open_path(bad) is False
    assert dialogs.of_kind("critical")
    assert window.document.model is model and window.document.path == path
    assert not window.document.unsaved and window.windowTitle() == title


def test_a_run_stopped_before_its_first_epoch_keeps_the_opened_file(
    qtbot, window, tmp_path
):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    path = tmp_path / "kept.npz"
    assert window.files.save_to(path)
    window.on_new()
    assert window.files.open_path(path)
    opened = window.document.model
    _small_settings(window, epochs=500)
    window.commands.start.trigger()
    window.commands.stop.trigger()  # before the worker has prepared the data
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    assert "before the first epoch" in window.banner.text()
    assert window.document.model is opened and window.document.path == path
    assert not window.document.unsaved
    assert window.windowTitle().startswith("kept.npz")


def test_the_window_is_freed_without_the_garbage_collector(
    qtbot, app_settings, data_dir
):
    # A reference cycle through the window would leave it to the garbage collector,
    # which empties its objects while Qt still delivers signals to them.
    import gc
    import weakref

    window = MainWindow(settings=app_settings, data_dir=data_dir)
    window.show()
    panel = window.data_panel
    qtbot.waitUntil(lambda: panel.dataset is not None, timeout=10000)
    window.close()
    panel.shutdown(5000)
    qtbot.wait(50)
    alive = weakref.ref(window)
    gc.disable()
    try:
        del window
        assert alive() is None
    finally:
        gc.enable()


def _fine_tuned_file(path) -> None:
    """Write a model trained 2 epochs on the MNIST sample, then fine-tuned."""
    dataset = load_bundled("mnist-sample")
    config = TrainingConfig(hidden_sizes=(16,), epochs=2, batch_size=128)
    prepared = prepare_run(RunRequest(dataset, config))
    base = build_model(prepared, prepared.network, run_training(prepared))
    drawings = dataset.subset(np.arange(4))
    tuning = prepare_run(fine_tune_request(base, dataset, drawings))
    tuned = build_model(tuning, tuning.network, run_training(tuning))
    save_model(path, tuned.network, tuned.metadata)


def test_an_opened_fine_tuned_model_shows_both_phases(qtbot, window, tmp_path):
    path = tmp_path / "tuned.npz"
    _fine_tuned_file(path)
    saved = load_model(path)
    assert window.files.open_path(path)
    run = window.plot_panel.current_run
    epochs = 2 + FINE_TUNE_EPOCHS
    assert list(run.epoch_column("epoch")) == [float(n) for n in range(1, epochs + 1)]
    np.testing.assert_allclose(
        run.epoch_column("validation_accuracy"),
        [row["validation_accuracy"] for row in saved.history],
    )
    assert run.marks == (PhaseMark(2.0, "fine-tune"),)
    lines = window.plot_panel._curves[run.run_id].phase_lines
    assert len(lines) == 2  # one in each plot, named
    assert {line.getViewBox() for line in lines} == {
        window.plot_panel.loss_plot.vb,
        window.plot_panel.accuracy_plot.vb,
    }
    assert all(line.value() == 2.0 and line.isVisible() for line in lines)
    assert all(line.label.toPlainText() == "fine-tune" for line in lines)
    window.plot_panel.redraw()
    accuracy = 100 * float(run.epoch_column("validation_accuracy")[3])
    window.plot_panel.on_scene_mouse_moved(
        window.plot_panel.accuracy_plot.vb.mapViewToScene(QPointF(4.0, accuracy))
    )
    assert window.plot_panel.hover_label.text().startswith(
        f"run {run.run_id}, epoch 4 (fine-tune epoch 2): accuracy"
    )
    # The model line and the banner count the original run's epochs and the fine-tune.
    phases = f"2 epochs + {FINE_TUNE_EPOCHS} fine-tune epochs"
    assert phases in window.train_tab.model_label.text()
    assert phases in window.banner.text()
    # An earlier run's phase lines fade with it and go when it is removed.
    window.plot_panel.start_run("next", {})
    assert all(line.pen.color().alpha() < 200 for line in lines)
    window.plot_panel.remove_run(run.run_id)
    assert all(line.scene() is None for line in lines)


def test_fine_tuning_an_opened_file_keeps_its_name_and_its_whole_history(
    qtbot, window, tmp_path, data_dir
):
    path = tmp_path / "tuned.npz"
    _fine_tuned_file(path)
    assert window.files.open_path(path)
    _fine_tune_on_three_drawings(qtbot, window, data_dir)
    assert window.banner.kind == "success", window.banner.text()
    # Trained further from the opened file: Save keeps its name.
    assert window.document.path == path and window.document.unsaved
    assert window.windowTitle().startswith("tuned.npz")
    tuned = window.document.model
    phases = [0, 0] + [1] * FINE_TUNE_EPOCHS + [2] * FINE_TUNE_EPOCHS
    assert [row["phase"] for row in tuned.history] == phases
    assert [p["kind"] for p in tuned.phases] == ["train", "fine_tune", "fine_tune"]
    run = window.plot_panel.current_run
    assert list(run.epoch_column("epoch")) == [
        float(n) for n in range(1, len(phases) + 1)
    ]
    second = 2.0 + FINE_TUNE_EPOCHS
    assert run.marks == (PhaseMark(2.0, "fine-tune"), PhaseMark(second, "fine-tune"))
    assert run.batches.column(0).min() > second
    tuned_twice = f"{FINE_TUNE_EPOCHS} fine-tune epochs"
    assert f"2 epochs + {tuned_twice} + {tuned_twice}" in (
        window.train_tab.model_label.text()
    )
    assert window.files.save_to(path)
    assert [row["phase"] for row in load_model(path).history] == phases


def test_fine_tune_on_data_that_does_not_fit_says_why_on_the_train_tab(qtbot, window):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    model = window.document.model
    window.data_panel.select("digits-8x8")
    qtbot.waitUntil(
        lambda: getattr(window.data_panel.dataset, "name", "") == "digits-8x8",
        timeout=10000,
    )
    window.commands.tabs[1].trigger()
    window.on_fine_tune_requested()
    assert not window.training.is_running
    assert window.tabs.currentIndex() == 0
    assert window.banner.kind == "warning"
    text = window.banner.text()
    assert text.startswith("Cannot fine-tune: The model reads 28x28 images")
    assert "mnist-sample" in text
    assert window.document.model is model


def test_a_stopped_fine_tune_counts_its_own_epochs(qtbot, window, data_dir):
    _small_settings(window, epochs=2, layers=(256,))
    _train(qtbot, window)
    # Stop as soon as the fine-tune's first epoch has ended (its model holds 3).
    window.training.snapshot_taken.connect(lambda _model: window.training.stop())
    _fine_tune_on_three_drawings(qtbot, window, data_dir)
    assert [row["phase"] for row in window.document.model.history] == [0, 0, 1]
    assert window.banner.text().startswith("Training stopped after 1 epoch;")


def test_paused_and_stopped_runs_say_so_and_stopping_clears(qtbot, window):
    from gui.status_bar import STOPPING

    _small_settings(window, epochs=500)
    _start_and_wait_for_batches(qtbot, window)
    line = window.train_tab.model_label
    assert "Training…" in line.text()
    window.commands.pause.trigger()
    assert "Paused" in line.text() and "Training…" not in line.text()
    assert window.status_bar.progress_bar.format() == "paused"
    window.commands.pause.trigger()
    assert "Training…" in line.text()
    window.commands.stop.trigger()
    assert window.status_bar.currentMessage() == STOPPING
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)
    assert window.status_bar.currentMessage() != STOPPING  # it stopped
    bar_text = window.status_bar.progress_bar.format()
    assert bar_text.startswith("stopped") and "done" not in bar_text


def test_a_finished_run_is_done_in_the_status_bar(qtbot, window):
    _small_settings(window, epochs=1)
    _train(qtbot, window)
    assert window.status_bar.progress_bar.format() == "done"


def test_help_lists_every_keyboard_shortcut(window, dialogs):
    actions = window.commands
    menu_titles = [a.text() for a in window.menuBar().actions()]
    help_menu = window.menuBar().actions()[menu_titles.index("&Help")].menu()
    assert actions.shortcuts in help_menu.actions()
    actions.shortcuts.trigger()
    (_, title, text), *_ = dialogs.of_kind("information")
    assert title == "Keyboard shortcuts"
    for action in (actions.new, actions.start, actions.stop, actions.log_scale):
        for key in action.shortcuts():
            assert key.toString() in text, key.toString()
    assert "Ctrl+1" in text and "Ctrl+Z" in text and "Undo the last stroke" in text
