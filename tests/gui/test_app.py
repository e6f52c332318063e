import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

import gui.app
from gui.app import EXIT_INTERRUPTED, InterruptHandler
from gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_loads_the_kernels_in_the_background_when_it_opens(qtbot, monkeypatch):
    warmed = threading.Event()
    threads: list[tuple[str, str]] = []
    monkeypatch.setattr(
        gui.app.fast,
        "compile_elsewhere",
        lambda: threads.append(("compile", threading.current_thread().name)),
    )
    monkeypatch.setattr(
        gui.app.fast,
        "warm_up",
        lambda: (
            threads.append(("load", threading.current_thread().name)),
            warmed.set(),
        ),
    )
    windows: list[MainWindow] = []
    real_show = MainWindow.show

    def show(window):
        windows.append(window)
        real_show(window)

    monkeypatch.setattr(MainWindow, "show", show)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    monkeypatch.setattr(gui.app, "install_exception_hook", lambda: None)
    assert gui.app.run_app(["main.py"]) == 0
    assert warmed.wait(5)
    # Never on the GUI thread; what is not in numba's cache is compiled first (in
    # a child process), then loaded.
    assert threads == [("compile", "kernel-warm-up"), ("load", "kernel-warm-up")]
    assert windows and windows[0].isVisible()
    windows[0].document.new()
    windows[0].close()


def test_the_app_removes_stale_leftovers_from_the_data_folder(qtbot, monkeypatch):
    data = Path(os.environ["DIGIT_STUDIO_DATA_DIR"])
    folder = data / "personal" / "mnist"
    folder.mkdir(parents=True)
    stale = folder / ".20260101T000000000000-0123abcd.npz.0123456789ab.tmp"
    stale.write_bytes(b"half a drawing")
    os.utime(stale, (time.time() - 86_400,) * 2)
    staging = data / "datasets" / ".import-emnist-0a1b2c3d"
    staging.mkdir(parents=True)
    os.utime(staging, (time.time() - 86_400,) * 2)
    windows: list[MainWindow] = []
    monkeypatch.setattr(gui.app.fast, "compile_elsewhere", lambda: False)
    monkeypatch.setattr(MainWindow, "show", lambda window: windows.append(window))
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    monkeypatch.setattr(gui.app, "install_exception_hook", lambda: None)
    assert gui.app.run_app(["main.py"]) == 0
    qtbot.waitUntil(lambda: not stale.exists() and not staging.exists(), timeout=5000)
    windows[0].unsaved = False
    windows[0].close()


# --- Ctrl+C in the terminal that started the app ----------------------------------


class _Window(QWidget):
    """Answers the close question from a script; ``during`` runs while it is asked."""

    def __init__(self, answers, during=None):
        super().__init__()
        self.answers = list(answers)
        self.asked = 0
        self.during = during

    def closeEvent(self, event):  # noqa: N802 (Qt)
        self.asked += 1
        if self.during is not None:
            self.during()
        if self.answers.pop(0) == "cancel":
            event.ignore()
        else:
            event.accept()


def test_ctrl_c_closes_the_window_the_normal_way_and_cancel_keeps_it(qtbot):
    quits = []
    window = _Window(["cancel", "close"])
    qtbot.addWidget(window)
    window.show()
    handler = InterruptHandler(window, force_quit=quits.append)
    handler.interrupt()
    assert window.isVisible() and window.asked == 1
    handler.interrupt()  # asks again, since the user cancelled the first time
    assert not window.isVisible() and window.asked == 2
    assert quits == []
    handler.uninstall()


def test_a_second_ctrl_c_during_the_question_quits_without_asking(qtbot):
    quits = []
    handler = InterruptHandler(force_quit=quits.append)
    window = _Window(["cancel"], during=handler.interrupt)
    handler.window = window
    qtbot.addWidget(window)
    window.show()
    handler.interrupt()
    assert quits == [EXIT_INTERRUPTED] and window.asked == 1
    handler.uninstall()
    window.during, window.answers = None, ["close"]


def _start_app(tmp_path, code=""):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        DIGIT_STUDIO_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        HOME=str(tmp_path),
    )
    script = code + "import sys, main; sys.exit(main.main([]))"
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read():
        with process.stderr:
            for line in process.stderr:
                lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def _wait_for(lines, text, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        time.sleep(0.05)
    return False


def _stop(process):
    if process.poll() is None:
        process.kill()
    process.wait(10)


def test_ctrl_c_in_the_terminal_quits_cleanly_once(tmp_path):
    process, lines = _start_app(tmp_path)
    try:
        assert _wait_for(lines, "Digit Studio is running"), "".join(lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    finally:
        _stop(process)
    time.sleep(0.2)
    text = "".join(lines)
    assert "Traceback" not in text and "KeyboardInterrupt" not in text


ASK_ABOUT_UNSAVED_WORK = """
import logging
from gui import file_commands
ask = file_commands.FileCommands.confirm_close
def confirm(self):
    self._document._model, self._document._unsaved = object(), True
    logging.getLogger("digit_studio").info("asking about unsaved work")
    return ask(self)
file_commands.FileCommands.confirm_close = confirm
"""


def test_ctrl_c_asks_about_unsaved_work_and_a_second_one_quits(tmp_path):
    process, lines = _start_app(tmp_path, ASK_ABOUT_UNSAVED_WORK)
    try:
        assert _wait_for(lines, "Digit Studio is running"), "".join(lines)
        process.send_signal(signal.SIGINT)
        assert _wait_for(lines, "asking about unsaved work", 15), "".join(lines)
        time.sleep(0.3)
        assert process.poll() is None  # the question waits for an answer
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == EXIT_INTERRUPTED
    finally:
        _stop(process)
    time.sleep(0.2)
    text = "".join(lines)
    assert "Interrupted again: quitting without saving." in text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text


def test_cycles_are_collected_in_the_gui_thread_only(qtbot):
    import gc
    import weakref

    class Node:
        pass

    made_in_worker: list = []

    def make_cycles() -> None:
        for _ in range(5000):  # far past gen 0's threshold
            node = Node()
            node.self = node
        last = Node()
        last.self = last
        made_in_worker.append(weakref.ref(last))

    assert not gc.isenabled()  # inside the app's (and these tests') collector
    worker = threading.Thread(target=make_cycles)
    worker.start()
    worker.join()
    assert made_in_worker[0]() is not None  # nothing collected in the worker
    qtbot.waitUntil(lambda: made_in_worker[0]() is None, timeout=5000)


def test_what_the_kernels_make_as_they_load_is_kept_out_of_collections(monkeypatch):
    import gc

    made: list = []

    class Dispatcher:
        pass

    monkeypatch.setattr(gui.app.fast, "compile_elsewhere", lambda: False)
    monkeypatch.setattr(gui.app.fast, "warm_up", lambda: made.append(Dispatcher()))
    frozen = gc.get_freeze_count()
    try:
        gui.app.warm_up_kernels()
        # Frozen: no collection scans it again (they all live as long as the app).
        assert gc.get_freeze_count() > frozen
        assert not any(o is made[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()
