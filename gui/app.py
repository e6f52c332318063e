"""Starts the desktop app: QApplication, the exception hook, the main window.

``main.py`` calls ``run_app(argv)`` when no subcommand is given. Owns nothing else.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core import kernels
from gui.settings import APPLICATION, ORGANIZATION

log = logging.getLogger("digit_studio")
_showing_error = False


def _exception_hook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Log an uncaught exception in the GUI thread and show it instead of dying."""
    global _showing_error
    text = "".join(traceback.format_exception(kind, value, tb))
    log.error("Uncaught exception:\n%s", text)
    sys.stderr.write(text)
    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    app = QApplication.instance()
    if app is None or _showing_error:
        return
    _showing_error = True
    try:
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Digit Studio: unexpected error",
            f"Something went wrong: {value}\n\nThe app carries on; the details are "
            "below and in the log.",
        )
        box.setDetailedText(text)
        box.exec()
    finally:
        _showing_error = False


SWITCH_INTERVAL_S = 0.001


def configure_interpreter() -> None:
    """Keep the GUI thread responsive while a training thread computes.

    The worker holds the GIL between its NumPy calls; the GUI thread, which drops it
    around every Qt call, would otherwise wait up to the default 5 ms each time.
    BLAS keeps every core, as on the command line, so training in the window is as
    fast as headless (on a machine busy with other programs, OPENBLAS_NUM_THREADS=1
    avoids OpenBLAS threads spinning on a shared core).
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def install_exception_hook() -> None:
    """Route uncaught exceptions to the log and an error dialog."""
    sys.excepthook = _exception_hook


def quit_when_closed(app: QApplication, window) -> None:
    """Quit when the window's close went through, and only then.

    A close may finish after the window was hidden (a training step outlasting the
    wait): closing a hidden window is not "the last window closed" to Qt, so the
    process would stay, invisible, without this.
    """
    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(app.quit)


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run the event loop; returns the exit code.

    ``argv`` may name a model file (``.npz``) to open at start.
    """
    argv = list(sys.argv if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    app = QApplication.instance() or QApplication(argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    install_exception_hook()
    configure_interpreter()

    from gui.main_window import MainWindow

    window = MainWindow()
    quit_when_closed(app, window)
    window.show()
    # Load the compiled kernels while the user looks around, not in the first
    # training run (where loading them would stall the window; core/kernels.py).
    threading.Thread(target=kernels.warm_up, name="kernel-warm-up", daemon=True).start()
    files = [a for a in argv[1:] if a.lower().endswith(".npz")]
    if files:
        QTimer.singleShot(0, lambda: window.files.open_path(files[0]))
    return int(app.exec())
