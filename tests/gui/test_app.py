import threading

from PySide6.QtWidgets import QApplication

import gui.app
from gui.main_window import MainWindow


def test_the_app_loads_the_kernels_in_the_background_when_it_opens(qtbot, monkeypatch):
    warmed = threading.Event()
    threads: list[str] = []
    monkeypatch.setattr(
        gui.app.kernels,
        "warm_up",
        lambda: (threads.append(threading.current_thread().name), warmed.set()),
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
    assert threads == ["kernel-warm-up"]  # never the GUI thread
    assert windows and windows[0].isVisible()
    windows[0].document.new()
    windows[0].close()
