"""+1 batch, +1 epoch, Continue training, a paused run's rate, in the window."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PySide6.QtWidgets import QFileDialog
from test_main_window import _small_settings

from core.datasets import Normalization, load_bundled
from core.model_io import load_model, save_model
from core.run import RunRequest, build_model, prepare_run, run_training
from core.training import TrainingConfig
from gui.main_window import MainWindow
from gui.run_history import PhaseMark
from gui.training_panel import TrainingPanel
from gui.training_worker import PreparedData
from gui.window_actions import STEP_TIPS

BATCHES = 36  # 4,500 training images of the bundled sample in batches of 128


def _held(qtbot, window: MainWindow, batches_done: int, epoch: int = 1):
    qtbot.waitUntil(
        lambda: (
            (hold := window.training.hold) is not None
            and (hold.epoch, hold.batches_done) == (epoch, batches_done)
        ),
        timeout=20000,
    )
    return window.training.hold


def _stop(qtbot, window: MainWindow) -> None:
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=10000)


def _momentum(panel: TrainingPanel, rate: float = 0.05) -> None:
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("momentum"))
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("constant"))
    panel.learning_rate_box.setValue(rate)


def test_step_controls_are_enabled_only_when_they_apply(qtbot, window):
    actions = window.commands
    _small_settings(window, epochs=200)
    assert actions.step_batch.isEnabled() and actions.step_epoch.isEnabled()
    assert not actions.continue_training.isEnabled()  # no model to continue
    assert STEP_TIPS["batch"][2] in actions.step_batch.toolTip()
    assert "(F7)" in actions.step_batch.toolTip()
    actions.start.trigger()
    assert not actions.step_batch.isEnabled() and not actions.step_epoch.isEnabled()
    actions.pause.trigger()
    assert actions.step_batch.isEnabled() and actions.step_epoch.isEnabled()
    assert STEP_TIPS["epoch"][0] in actions.step_epoch.toolTip()
    assert not actions.continue_training.isEnabled()
    actions.pause.trigger()  # resume
    assert not actions.step_batch.isEnabled()
    qtbot.waitUntil(lambda: window.document.model is not None, timeout=20000)
    _stop(qtbot, window)
    assert actions.continue_training.isEnabled() and actions.step_batch.isEnabled()
    assert STEP_TIPS["batch"][1] in actions.step_batch.toolTip()
    panel = window.train_tab.training_panel
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("cosine"))
    panel.learning_rate_box.setValue(0.001)
    panel.min_learning_rate_box.setValue(0.01)
    assert window.train_tab.config_problem
    assert not actions.continue_training.isEnabled()


def test_plus_one_batch_and_epoch_step_a_paused_run(qtbot, window):
    _small_settings(window, epochs=50)
    actions = window.commands
    actions.step_batch.trigger()  # no model yet: a new run, paused after one batch
    assert window.training.is_running and actions.pause.isChecked()
    hold = _held(qtbot, window, 1)
    run = window.plot_panel.current_run
    assert len(run.batches) == 1 and len(run.epochs) == 0
    assert window.training._worker.control.paused
    assert "Paused in epoch 1 after mini-batch 1 of 36" in (
        window.status_bar.currentMessage()
    )
    # The window shows the weights where the run waits.
    assert window.document.model is hold.model
    assert hold.model.metrics["stopped"] == "interrupted"
    snapshot = [p.copy() for p in hold.model.network.parameters()]
    qtbot.wait(200)
    assert len(run.batches) == 1  # it waits
    actions.step_batch.trigger()
    actions.step_batch.trigger()
    hold = _held(qtbot, window, 3)
    assert len(run.batches) == 3
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(snapshot, hold.model.network.parameters(), strict=True)
    )
    actions.step_epoch.trigger()
    hold = _held(qtbot, window, BATCHES)
    assert not hold.mid_epoch and len(run.batches) == BATCHES
    qtbot.waitUntil(lambda: len(run.epochs) == 1, timeout=5000)
    assert "Paused after epoch 1" in window.status_bar.currentMessage()
    actions.step_batch.trigger()
    _held(qtbot, window, 1, epoch=2)
    _stop(qtbot, window)
    assert not window.status_bar.currentMessage().startswith("Paused")
    assert "in epoch 2 after mini-batch 1 of 36" in window.banner.text()
    assert "keeps the weights reached there" in window.banner.text()
    assert window.document.model.history[-1]["epoch"] == 1


def test_learning_rate_changes_while_paused_and_is_marked(qtbot, window, tmp_path):
    _small_settings(window, epochs=2)
    panel = window.train_tab.training_panel
    _momentum(panel)
    window.commands.step_batch.trigger()
    assert panel.learning_rate_box.isEnabled() and panel.momentum_box.isEnabled()
    assert not panel.batch_size_box.isEnabled() and not panel.epochs_box.isEnabled()
    assert not panel.optimizer_combo.isEnabled()
    assert not window.train_tab.network_panel.isEnabled()
    _held(qtbot, window, 1)
    panel.learning_rate_box.setValue(0.2)
    panel.momentum_box.setValue(0.5)
    window.commands.step_batch.trigger()
    _held(qtbot, window, 2)
    run = window.plot_panel.current_run
    change = PhaseMark(1 / BATCHES, "lr 0.2, mom. 0.5", "change")
    qtbot.waitUntil(lambda: change in run.marks, timeout=5000)
    assert window.training.hold.model.phases[0]["changes"] == [
        {
            "at_epoch": 1 / BATCHES,
            "at_batch": 1,
            "learning_rate": 0.2,
            "momentum": 0.5,
        }
    ]
    lines = window.plot_panel._curves[run.run_id].change_lines
    assert len(lines) == 2 and all(line.value() == change.epoch for line in lines)
    window.commands.pause.trigger()  # resume: the rate locks again
    assert not panel.learning_rate_box.isEnabled()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=30000)
    assert panel.learning_rate_box.isEnabled() and panel.batch_size_box.isEnabled()
    model = window.document.model
    assert [row["learning_rate"] for row in model.history] == [0.2, 0.2]
    assert model.phases[0]["config"]["learning_rate"] == 0.05
    path = tmp_path / "changed.npz"
    assert window.files.save_to(path)
    assert window.files.open_path(path)
    assert change in window.plot_panel.current_run.marks  # from the file


def test_an_invalid_change_is_explained_and_not_sent(qtbot, window):
    _small_settings(window, epochs=2)
    panel = window.train_tab.training_panel
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("cosine"))
    panel.learning_rate_box.setValue(0.01)
    panel.min_learning_rate_box.setValue(0.001)
    window.commands.step_batch.trigger()
    _held(qtbot, window, 1)
    panel.learning_rate_box.setValue(0.0001)
    assert "Not applied" in window.banner.text()
    assert "min_learning_rate" in window.banner.text()
    assert window.training._worker.control.take_settings() == {}
    _stop(qtbot, window)


def _two_epoch_file(path) -> None:
    dataset = load_bundled("mnist-sample")
    config = TrainingConfig(hidden_sizes=(16,), epochs=2, batch_size=128)
    prepared = prepare_run(RunRequest(dataset, config))
    model = build_model(prepared, prepared.network, run_training(prepared))
    save_model(path, model.network, model.metadata)


def test_continue_training_an_opened_file_keeps_its_history(
    qtbot, window, tmp_path, monkeypatch
):
    path = tmp_path / "two.npz"
    _two_epoch_file(path)
    assert window.files.open_path(path)
    opened = window.document.model
    panel = window.train_tab.training_panel
    panel.epochs_box.setValue(2)
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    panel.learning_rate_box.setValue(0.1)
    assert window.commands.continue_training.isEnabled()
    window.commands.continue_training.trigger()
    assert window.training.is_running and not window.commands.pause.isChecked()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=30000)
    model = window.document.model
    assert [phase["kind"] for phase in model.phases] == ["train", "continue"]
    assert model.phases[0] == opened.phases[0]
    assert model.phases[1]["config"]["optimizer"] == "sgd"
    assert [(row["phase"], row["epoch"]) for row in model.history] == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    ]
    run = window.plot_panel.current_run
    assert list(run.epoch_column("epoch")) == [1.0, 2.0, 3.0, 4.0]
    assert run.marks == (PhaseMark(2.0, "continued"),)
    assert window.document.path == path  # Save writes it back
    assert "2 epochs + 2 continued epochs" in window.train_tab.model_label.text()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    window.commands.save.trigger()
    assert [p["kind"] for p in load_model(path).phases] == ["train", "continue"]


def test_plus_one_epoch_on_a_finished_run_continues_it_as_a_new_phase(qtbot, window):
    _small_settings(window, epochs=1)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=30000)
    finished = window.document.model
    window.train_tab.training_panel.epochs_box.setValue(3)  # the continuation's
    window.commands.step_epoch.trigger()
    assert window.training.is_running
    assert window.training.job.base is finished
    hold = _held(qtbot, window, BATCHES)
    assert [p["kind"] for p in hold.model.phases] == ["train", "continue"]
    run = window.plot_panel.current_run
    qtbot.waitUntil(lambda: len(run.epochs) == 2, timeout=5000)
    assert list(run.epoch_column("epoch")) == [1.0, 2.0]
    assert PhaseMark(1.0, "continued") in run.marks
    window.commands.step_epoch.trigger()
    _held(qtbot, window, BATCHES, epoch=2)
    _stop(qtbot, window)
    model = window.document.model
    assert [(row["phase"], row["epoch"]) for row in model.history] == [
        (0, 1),
        (1, 1),
        (1, 2),
    ]
    assert finished.history == model.history[:1]  # the finished run's model is kept


def test_the_status_bar_says_what_a_fine_tune_found_of_the_hand(window):
    def prepared(turn: int, width: float = 1.0, kind="fine_tune") -> PreparedData:
        normalization = Normalization("scale", 255.0)
        request = SimpleNamespace(kind=kind)
        run = SimpleNamespace(hand_turn=turn, hand_width=width, request=request)
        return PreparedData(5000, 500, normalization, (784, 10), None, 20, run)

    window.run_display.on_run_prepared(prepared(-40))
    message = window.status_bar.currentMessage()
    assert message.startswith("Your model now reads your digits turned back 40°. ")
    window.run_display.on_run_prepared(prepared(0))
    assert "turned" not in window.status_bar.currentMessage()
    window.run_display.on_run_prepared(prepared(0, 1.75))
    message = window.status_bar.currentMessage()
    assert message.startswith("Your model now reads your digits 1.75x wider. ")
    window.run_display.on_run_prepared(prepared(0, 1.75, "train"))
    assert "wider" not in window.status_bar.currentMessage()
