"""Starts the desktop app: QApplication, the exception hook, the main window.

``main.py`` calls ``run_app(argv)`` when no subcommand is given. Also owns what
Ctrl+C in the starting terminal does (`InterruptHandler`) and the start-up clean-up
of leftovers in the data folder.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from core import fast, user_dirs
from core.allocator import keep_small_arrays
from core.atomic_file import remove_stale_leftovers_under
from gui.settings import APPLICATION, ORGANIZATION

log = logging.getLogger("digit_studio")
_showing_error = False


def _exception_hook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Log an uncaught exception in the GUI thread and show it instead of dying."""
    global _showing_error
    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    text = "".join(traceback.format_exception(kind, value, tb))
    log.error("Uncaught exception:\n%s", text)
    sys.stderr.write(text)
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
GC_INTERVAL_MS = 100
FULL_GC_INTERVAL_S = 60.0


def configure_interpreter() -> None:
    """Keep the GUI thread responsive while a training thread computes.

    The worker holds the GIL between its NumPy calls; the GUI thread, which drops it
    around every Qt call, would otherwise wait up to the default 5 ms each time.
    BLAS threads are chosen as on the command line (Training > BLAS threads,
    `core.blas_threads`), and the C allocator is set as there too
    (`core.allocator`).
    """
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    keep_small_arrays()


@contextlib.contextmanager
def garbage_collected_in_gui_thread() -> Iterator[QTimer]:
    """Collect reference cycles only in the GUI thread, on a timer.

    Python's collector runs in whichever thread allocates when its thresholds are
    reached: in a worker (training, evaluation, calibration) it would destroy the Qt
    objects of the cycles it frees there, which Qt does not allow (a crash later, in
    the GUI thread). Inside, automatic collection is off; a timer in the GUI thread
    collects the young generations at Python's thresholds and everything at most
    once a minute (a full collection takes tens of milliseconds, a visible stall:
    pyqtgraph's ``GarbageCollector`` makes one every 70,000 allocations).
    """
    young_threshold, middle_threshold, _ = gc.get_threshold()
    last_full = time.monotonic()

    def collect() -> None:
        nonlocal last_full
        young, middle, _ = gc.get_count()
        if time.monotonic() - last_full > FULL_GC_INTERVAL_S:
            gc.collect()
            last_full = time.monotonic()
        elif middle > middle_threshold:
            gc.collect(1)
        elif young > young_threshold:
            gc.collect(0)

    timer = QTimer()
    timer.timeout.connect(collect)
    timer.start(GC_INTERVAL_MS)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield timer
    finally:
        timer.stop()
        if was_enabled:
            gc.enable()


def install_exception_hook() -> None:
    """Route uncaught exceptions to the log and an error dialog."""
    sys.excepthook = _exception_hook


EXIT_INTERRUPTED = 130


class InterruptHandler(QObject):
    """Ctrl+C (SIGINT) closes the window the normal way; a second one quits at once.

    The first asks about unsaved work as closing the window does, and stops a
    training run cleanly. A second Ctrl+C while that close is still under way (the
    question is open, or the run is still stopping) ends the process at once
    without asking: the files Digit Studio writes are replaced atomically, so
    nothing is left half-written.

    Python runs a signal handler only between bytecodes, and an idle Qt event loop
    runs none: the C-level handler's write to a wake-up socket wakes the loop.
    """

    def __init__(
        self,
        window: QWidget | None = None,
        force_quit: Callable[[int], None] = os._exit,
    ) -> None:
        super().__init__()
        self.window = window
        self._force_quit = force_quit
        self._closing = False
        self._wake_read, self._wake_write = socket.socketpair()
        for end in (self._wake_read, self._wake_write):
            end.setblocking(False)
        self._notifier = QSocketNotifier(
            self._wake_read.fileno(), QSocketNotifier.Type.Read, self
        )
        self._notifier.activated.connect(self.on_wake_up)
        self._previous_fd: int | None = None
        self._previous_handler = None

    def install(self) -> None:
        """Take over SIGINT (only from the main thread)."""
        self._previous_fd = signal.set_wakeup_fd(
            self._wake_write.fileno(), warn_on_full_buffer=False
        )
        self._previous_handler = signal.signal(signal.SIGINT, self._on_signal)

    def uninstall(self) -> None:
        """Give SIGINT back to whoever had it before `install`."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            signal.set_wakeup_fd(self._previous_fd)
            self._previous_handler = None
        self._notifier.setEnabled(False)
        self._wake_read.close()
        self._wake_write.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the GUI thread between bytecodes: defer the work to the loop.
        QTimer.singleShot(0, self.interrupt)

    @Slot()
    def on_wake_up(self) -> None:
        """Drain the wake-up socket (the Python handler itself runs on its own)."""
        with contextlib.suppress(OSError):
            while self._wake_read.recv(512):
                pass

    @Slot()
    def interrupt(self) -> None:
        """Close the window; if a close is already under way, quit at once."""
        if self.window is None:
            self._force_quit(EXIT_INTERRUPTED)
            return
        if self._closing:
            sys.stderr.write("Interrupted again: quitting without saving.\n")
            sys.stderr.flush()
            self._force_quit(EXIT_INTERRUPTED)
            return
        self._closing = True
        closed = self.window.close()
        # Still visible: the user answered Cancel, so the next Ctrl+C asks again.
        # Hidden but not closed: a training step is ending, the app quits after.
        if not closed and self.window.isVisible():
            self._closing = False


@contextlib.contextmanager
def interrupts_close() -> Iterator[InterruptHandler]:
    """Let Ctrl+C close the handler's window while the block runs.

    Set ``handler.window`` once the window exists; until then Ctrl+C quits.
    """
    handler = InterruptHandler()
    handler.install()
    try:
        yield handler
    finally:
        handler.uninstall()


def quit_when_closed(app: QApplication, window) -> None:
    """Quit when the window's close went through, and only then.

    A close may finish after the window was hidden (a training step outlasting the
    wait): closing a hidden window is not "the last window closed" to Qt, so the
    process would stay, invisible, without this.
    """
    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(app.quit)


def warm_up_kernels() -> None:
    """Load the compiled kernels, then keep their objects out of collections.

    Run in a background thread at start: loaded in the first training run, they
    would stall the window (core/fast.py). Kernels not yet compiled (the first start
    after an install) are compiled in a child process first: compiled here, they
    stalled the window up to 52 ms at a time (``bench.gui_stall --first-start``).
    Loading makes some 20,000 long-lived objects; left collectable, they made a
    young collection in the first run take 20 ms and every full collection longer.
    """
    fast.compile_elsewhere()
    fast.warm_up()
    gc.freeze()


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
    with interrupts_close() as interrupts, garbage_collected_in_gui_thread():
        from gui.main_window import MainWindow

        window = MainWindow()
        interrupts.window = window
        quit_when_closed(app, window)
        window.show()
        # What exists now lives as long as the app: full collections skip it.
        gc.freeze()
        threading.Thread(
            target=warm_up_kernels, name="kernel-warm-up", daemon=True
        ).start()
        # What writes killed half-way (kill -9, a power cut) left in the data folder.
        threading.Thread(
            target=remove_stale_leftovers_under,
            args=(user_dirs.data_dir(),),
            name="leftover-clean-up",
            daemon=True,
        ).start()
        files = [a for a in argv[1:] if a.lower().endswith(".npz")]
        if files:
            QTimer.singleShot(0, lambda: window.files.open_path(files[0]))
        QTimer.singleShot(0, lambda: log.info("Digit Studio is running"))
        try:
            return int(app.exec())
        finally:
            gc.unfreeze()
