"""Starts the desktop app: QApplication, the exception hook, the main window.

``main.py`` calls ``run_app(argv)`` when no subcommand is given. Owns nothing else.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

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
_OPENBLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_OPENBLAS_GETTERS = tuple(name.replace("set_", "get_") for name in _OPENBLAS_SETTERS)


def blas_threads_for_gui() -> int:
    """BLAS threads that leave one core to the GUI thread (at least one)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _openblas_function(names: tuple[str, ...]):
    """Find the first of ``names`` exported by NumPy's bundled OpenBLAS."""
    import numpy

    root = Path(numpy.__file__).resolve().parent
    patterns = ("*openblas*.so*", "*openblas*.dylib", "*openblas*.dll")
    for folder in (root.parent / "numpy.libs", root / ".dylibs"):
        for pattern in patterns:
            for path in sorted(folder.glob(pattern)):
                try:
                    library = ctypes.CDLL(str(path))
                except OSError:
                    continue
                for name in names:
                    function = getattr(library, name, None)
                    if function is not None:
                        return function
    return None


def blas_threads() -> int | None:
    """Return OpenBLAS's current thread count (None when it cannot be found)."""
    getter = _openblas_function(_OPENBLAS_GETTERS)
    if getter is None:
        return None
    getter.restype = ctypes.c_int
    return int(getter())


def set_blas_threads(threads: int, force: bool = False) -> bool:
    """Set NumPy's OpenBLAS thread count at run time; False if not done.

    OpenBLAS threads spin while they wait for each other, so when one of them shares
    a core with another busy thread (the GUI thread, another program) a matrix
    product can take twenty times longer. A user's OPENBLAS_NUM_THREADS is respected
    unless ``force`` (used to restore a previous count).
    """
    if os.environ.get("OPENBLAS_NUM_THREADS") and not force:
        return False
    setter = _openblas_function(_OPENBLAS_SETTERS)
    if setter is None:
        return False
    setter.argtypes = [ctypes.c_int]
    setter.restype = None
    setter(int(threads))
    return True


def configure_interpreter() -> None:
    """Keep the GUI thread responsive while a training thread computes.

    The worker holds the GIL between its NumPy calls; the GUI thread, which drops it
    around every Qt call, would otherwise wait up to the default 5 ms each time. BLAS
    gets one core less than the machine has, so the GUI thread never shares a core
    with a spinning BLAS thread.
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    set_blas_threads(blas_threads_for_gui())


def install_exception_hook() -> None:
    """Route uncaught exceptions to the log and an error dialog."""
    sys.excepthook = _exception_hook


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
    window.show()
    files = [a for a in argv[1:] if a.lower().endswith(".npz")]
    if files:
        QTimer.singleShot(0, lambda: window.open_model(files[0]))
    return int(app.exec())
