"""Background threads for the GUI: the one QThread wiring, and one-shot jobs.

Owns ``worker_thread`` (how every worker, training included, is wired to its thread),
``TaskWorker`` and ``start_task`` (load a dataset, import IDX files, evaluate) with the
signal contract: ``started``, exactly one of ``succeeded(result)`` /
``failed(message)`` / ``cancelled()``, then always ``finished``; and the app's BLAS
thread setting for background work (``set_blas_setting``, ``with_blas_limit``).
Never touches widgets.
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from core.blas_threads import AUTO, Setting, limited, parse_setting

# The app's BLAS thread setting (the user's, from gui.settings): training jobs carry
# it; background work that multiplies matrices runs under it (`with_blas_limit`).
_blas_setting: Setting = AUTO


def set_blas_setting(setting: int | str) -> None:
    """Use ``setting`` ("auto" or a count) for background work from now on."""
    global _blas_setting
    _blas_setting = parse_setting(setting)


def blas_setting() -> Setting:
    """Return the app's BLAS thread setting ("auto" unless set)."""
    return _blas_setting


def with_blas_limit(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``function`` to run under `core.blas_threads.limited`, in any thread.

    The setting is the app's when this is called (in the GUI thread); with "auto"
    the work takes training's latest measured choice, or one thread.
    """
    setting = _blas_setting

    @functools.wraps(function)
    def limited_call(*args: Any, **kwargs: Any) -> Any:
        with limited(setting):
            return function(*args, **kwargs)

    return limited_call


class TaskCancelled(Exception):
    """Raised inside a task function to end it as cancelled."""


class TaskWorker(QObject):
    """Runs ``function(cancel_event, report)`` once in its thread.

    ``report(value)`` emits ``progress(value)``; an exception other than
    ``TaskCancelled`` becomes ``failed`` with the exception's message (``describe``
    decides how it reads; by default ``str(exc)``, with the traceback for bugs).
    """

    started = Signal()
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(
        self,
        function: Callable[[threading.Event, Callable[[Any], None]], Any],
        expected_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__()
        self._function = function
        self._expected = expected_errors
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Ask the task to stop (it checks the event between steps)."""
        self.cancel_event.set()

    @Slot()
    def run(self) -> None:
        """Run the function and report its outcome; never raises."""
        try:
            self.started.emit()
            result = self._function(self.cancel_event, self.progress.emit)
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        except TaskCancelled:
            self.cancelled.emit()
        except self._expected as exc:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - every failure must reach the window
            self.failed.emit(f"{exc}\n\n{traceback.format_exc()}")
        finally:
            self.finished.emit()


class _ThreadKeeper(QObject):
    """Holds parentless threads and their workers until the thread has ended.

    Workers are not deleted with deleteLater in their own thread: the destructor of a
    Python-made QObject takes the GIL while Qt holds its connection lock, and the GUI
    thread, holding the GIL, may be waiting for that lock to connect a signal (a
    deadlock seen in the tests). The keeper, in the GUI thread, lets go of both once
    the thread has finished, and Python deletes them here.
    """

    def __init__(self) -> None:
        super().__init__()
        self._held: list[tuple[QThread, QObject]] = []

    def keep(self, thread: QThread, worker: QObject) -> None:
        self._held.append((thread, worker))
        thread.finished.connect(self.release)

    @Slot()
    def release(self) -> None:
        finished = self.sender()
        if isinstance(finished, QThread):
            finished.wait()  # it emits finished just before it ends
        self._held = [pair for pair in self._held if not pair[0].isFinished()]

    def count(self, name: str | None = None) -> int:
        return sum(1 for t, _ in self._held if name in (None, t.objectName()))


_KEEPER: _ThreadKeeper | None = None


def keep_until_finished(thread: QThread, worker: QObject) -> None:
    """Keep ``thread`` and ``worker`` alive until the thread ends (GUI thread only)."""
    global _KEEPER
    if _KEEPER is None:
        _KEEPER = _ThreadKeeper()
    _KEEPER.keep(thread, worker)


def held_threads(name: str | None = None) -> int:
    """Return how many threads (of that object name) are not released yet."""
    return 0 if _KEEPER is None else _KEEPER.count(name)


def worker_thread(worker: QObject, name: str) -> QThread:
    """Move ``worker`` to a new QThread wired per the contract, not started yet.

    ``worker`` has a ``run`` slot and a ``finished`` signal. Callers connect their
    GUI-thread ``@Slot``s to the worker's signals, then call ``thread.start()``.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: the thread quits even while the GUI thread is blocked waiting for it.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    keep_until_finished(thread, worker)
    return thread


def start_task(
    function: Callable[[threading.Event, Callable[[Any], None]], Any],
    *,
    on_succeeded: Callable[[Any], None],
    on_failed: Callable[[str], None],
    on_finished: Callable[[], None],
    on_progress: Callable[[Any], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    expected_errors: tuple[type[BaseException], ...] = (),
    name: str = "task",
    uses_blas: bool = False,
) -> tuple[QThread, TaskWorker]:
    """Start ``function`` in a new QThread; callbacks must be GUI-thread ``@Slot``s.

    With ``uses_blas`` (matrix products: evaluation...) it runs `with_blas_limit`.
    """
    if uses_blas:
        function = with_blas_limit(function)
    worker = TaskWorker(function, expected_errors)
    thread = worker_thread(worker, name)
    worker.succeeded.connect(on_succeeded)
    worker.failed.connect(on_failed)
    worker.finished.connect(on_finished)
    if on_progress is not None:
        worker.progress.connect(on_progress)
    if on_cancelled is not None:
        worker.cancelled.connect(on_cancelled)
    thread.start()
    return thread, worker
