"""BLAS threads in the app: the setting, the worker, the status bar, background work."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from template_model import template_model

from core import blas_threads
from core.datasets import load_bundled
from core.training import TrainingConfig
from gui import background, status_bar, training_worker
from gui.evaluation_worker import start_evaluation
from gui.settings import APPLICATION, ORGANIZATION, AppSettings
from gui.status_bar import threads_text
from gui.training_worker import (
    BatchProgress,
    EpochProgress,
    TrainingJob,
    create_training_thread,
)


@pytest.fixture(autouse=True)
def automatic_afterwards():
    """Each test starts and ends with the app's default setting."""
    background.set_blas_setting("auto")
    yield
    background.set_blas_setting("auto")


@pytest.fixture()
def applied(monkeypatch):
    """Record every count set on the BLAS pool, with the thread that set it."""
    seen: list[tuple[str, int]] = []
    original = blas_threads.BlasPool.apply

    def spy(pool, threads):
        seen.append((threading.current_thread().name, threads))
        return original(pool, threads)

    monkeypatch.setattr(blas_threads.BlasPool, "apply", spy)
    return seen


@pytest.fixture()
def quick_first_probe(monkeypatch):
    """The first probe at once, however busy the machine (runs here are short)."""
    monkeypatch.setattr(blas_threads, "FIRST_PROBE_DELAY", 0.0)
    monkeypatch.setattr(blas_threads.SpareCores, "__call__", lambda self: None)
    monkeypatch.setattr(blas_threads.SpareCores, "wait", lambda self: 0.0)


class _Pool:
    size = 2


def _ini() -> QSettings:
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def test_the_setting_is_automatic_until_fixed_and_persists(app_settings):
    assert app_settings.blas_threads == "auto"
    app_settings.blas_threads = 2
    app_settings.sync()
    assert AppSettings(_ini()).blas_threads == 2
    for junk in ("0", "-1", "many", "", "2.5"):
        app_settings._settings.setValue("training/blas_threads", junk)
        assert app_settings.blas_threads == "auto", junk
    app_settings.blas_threads = "auto"
    assert AppSettings(_ini()).blas_threads == "auto"


def test_the_status_text_names_the_count_and_why(monkeypatch):
    monkeypatch.setattr(status_bar, "POOL", _Pool())
    assert threads_text("auto", None, running=False) == "threads: automatic"
    assert threads_text("auto", None, running=True) == "measuring threads…"
    assert threads_text("auto", 2, running=True) == "2 threads"
    assert threads_text("auto", 1, running=True) == "1 thread (faster now)"
    assert threads_text(1, 1, running=True) == "1 thread (set)"
    assert threads_text(2, None, running=False) == "2 threads (set)"


@pytest.mark.parametrize("setting", [1, 2, "auto"])
def test_the_worker_trains_with_the_jobs_setting(
    qtbot, monkeypatch, quick_first_probe, setting
):
    passed = []
    original = training_worker.run_training

    def spy(*args, **kwargs):
        passed.append(kwargs.get("threads"))
        return original(*args, **kwargs)

    monkeypatch.setattr(training_worker, "run_training", spy)
    monkeypatch.setattr(training_worker, "EMIT_INTERVAL_S", 0.0)
    dataset = load_bundled("mnist-sample").subset(np.arange(1500))
    config = TrainingConfig(hidden_sizes=(16,), batch_size=32, epochs=2)
    thread, worker = create_training_thread(
        TrainingJob(config=config, dataset=dataset, threads=setting)
    )
    messages = []
    # Direct: the messages are collected in the worker thread as they are made.
    worker.progress.connect(messages.append, type=Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        thread.start()
    thread.wait(5000)
    assert passed == [setting]
    counts = [m.blas_threads for m in messages if isinstance(m, BatchProgress)]
    epochs = [
        e.blas_threads
        for m in messages
        if isinstance(m, EpochProgress)
        for e in m.events
    ]
    if setting == "auto":
        # Chosen after the first measurement (26 of the 86 steps), 1 or all.
        assert counts[0] is None and counts[-1] in (1, blas_threads.POOL.size)
        assert epochs[-1] == counts[-1]
    else:
        assert set(counts) == {setting} and set(epochs) == {setting}


def test_the_menu_fixes_the_count_for_runs_evaluation_and_the_status_bar(
    qtbot, window, app_settings, monkeypatch
):
    from gui import training_controller

    menu = window.commands.threads_menu
    texts = [action.text() for action in menu.actions()]
    assert texts[0] == "&Automatic" and "&1 thread" in texts
    assert menu.setting() == "auto"
    assert window.status_bar.threads_label.text() == "threads: automatic"
    next(a for a in menu.actions() if a.data() == 1).trigger()
    assert app_settings.blas_threads == 1
    assert background.blas_setting() == 1
    assert window.status_bar.threads_label.text() == "1 thread (set)"

    jobs = []
    original = training_controller.TrainingController.start

    def spy(controller, job, **options):
        jobs.append(job)
        return original(controller, job, **options)

    monkeypatch.setattr(training_controller.TrainingController, "start", spy)
    window.train_tab.training_panel.epochs_box.setValue(1)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=60000)
    assert [job.threads for job in jobs] == [1]
    assert window.status_bar.threads_label.text() == "1 thread (set)"
    assert window.training.history[-1]["blas_threads"] == 1


def test_a_run_with_the_automatic_choice_shows_the_count_chosen(
    qtbot, window, quick_first_probe
):
    window.train_tab.training_panel.epochs_box.setValue(1)
    window.train_tab.training_panel.augment_group.setChecked(False)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=60000)
    chosen = window.training.history[-1]["blas_threads"]
    assert chosen in (1, blas_threads.POOL.size)
    assert window.status_bar.threads_label.text() == threads_text("auto", chosen, True)


def test_a_run_over_before_the_first_measurement_does_not_stay_measuring(qtbot):
    bar = status_bar.TrainingStatusBar()
    qtbot.addWidget(bar)
    bar.show_run_starting(3, "auto")
    assert bar.threads_label.text() == "measuring threads…"
    bar.show_run_ended("completed")
    assert bar.threads_label.text() == "threads: automatic"


def test_the_setting_comes_back_after_a_restart(qtbot, app_settings, data_dir):
    from gui.main_window import MainWindow

    app_settings.blas_threads = 2
    main = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(main)
    assert main.commands.threads_menu.setting() == 2
    assert background.blas_setting() == 2
    assert main.status_bar.threads_label.text() == "2 threads (set)"


@pytest.mark.parametrize("setting", [1, 2])
def test_evaluation_runs_under_the_apps_setting(qtbot, applied, setting):
    background.set_blas_setting(setting)
    model = template_model()
    dataset = load_bundled("mnist-sample").subset(np.arange(300))
    reports = []
    done = []
    start_evaluation(
        model,
        dataset,
        on_succeeded=reports.append,
        on_failed=pytest.fail,
        on_finished=lambda: done.append(True),
    )
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    assert reports and reports[0].accuracy > 0.5
    assert (threading.main_thread().name, setting) not in applied
    assert [count for name, count in applied] == [setting]


def test_other_background_work_runs_under_the_setting_it_was_given(applied):
    background.set_blas_setting(2)
    wrapped = background.with_blas_limit(lambda x: x + 1)
    background.set_blas_setting(1)  # later changes are for later work
    results = []
    worker = threading.Thread(target=lambda: results.append(wrapped(1)), name="w")
    worker.start()
    worker.join()
    assert results == [2]
    assert applied == [("w", 2)]


def test_automatic_background_work_follows_trainings_latest_choice(
    applied, monkeypatch
):
    monkeypatch.setattr(blas_threads, "_latest", None)
    background.with_blas_limit(lambda: None)()
    monkeypatch.setattr(blas_threads, "_latest", 2)
    background.with_blas_limit(lambda: None)()
    assert [count for _, count in applied] == [1, 2]


def test_jobs_made_in_the_app_take_its_setting():
    from core.run import PersonalDrawings
    from gui.training_controller import continue_job, fine_tune_job, training_job

    dataset = load_bundled("mnist-sample")
    model = template_model()
    config = TrainingConfig(hidden_sizes=(16,), epochs=1)
    background.set_blas_setting(2)
    drawings = PersonalDrawings("unused", dataset.image_shape)
    jobs = [
        training_job(config, dataset, None),
        continue_job(model, dataset, config, None),
        fine_tune_job(model, dataset, drawings, config),
    ]
    assert [job.threads for job in jobs] == [2, 2, 2]
    assert training_job(config, dataset, None, threads=1).threads == 1
    background.set_blas_setting("auto")
    assert training_job(config, dataset, None).threads == "auto"
