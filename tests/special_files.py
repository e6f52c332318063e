"""FIFOs, character devices and a deadline guard, for tests that must not hang.

A regression that opens a FIFO blocks until a writer appears: `call_within` runs the
call in a thread and fails the test after a few seconds instead, then opens the FIFO
for writing so the stuck thread can finish.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

DEADLINE_S = 5.0


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_char_device(path: Path) -> Path:
    """A character device at ``path`` (a copy of /dev/null), or /dev/null itself.

    Creating device nodes needs privileges; without them, /dev/null is returned
    (code that wrongly replaced it could not then, lacking the same privileges).
    """
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        return Path(os.devnull)
    return path


def make_unreplaceable(path: Path, kind: str) -> Path:
    """Put at ``path`` what a save must not replace; return it (a device may move).

    ``kind`` is "fifo", "device", "folder", "link" (to ``real.npz`` beside it,
    holding b"kept") or "dangling link" (to ``nowhere`` beside it).
    """
    if kind == "fifo":
        return make_fifo(path)
    if kind == "device":
        return make_char_device(path)
    if kind == "folder":
        path.mkdir()
    elif kind == "link":
        (path.parent / "real.npz").write_bytes(b"kept")
        path.symlink_to(path.parent / "real.npz")
    else:
        path.symlink_to(path.parent / "nowhere")
    return path


def _release(fifo: Path) -> None:
    """Let a reader blocked on ``fifo`` go: open it for writing, then close it."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def call_within(function, *args, seconds: float = DEADLINE_S, fifo=None, **kwargs):
    """Return ``function(*args, **kwargs)`` or raise its error; fail if it blocks."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            _release(Path(fifo))
        pytest.fail(
            f"{getattr(function, '__name__', function)} still blocked after {seconds} s"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class released_after:  # noqa: N801 - used as a context manager, like a function
    """Open ``fifo`` for writing after ``seconds``, and again and again, while a
    reader may still be blocked on it.

    For calls that must run in this thread (Qt widgets): a regression then fails on
    ``fired`` instead of hanging. Use ``with released_after(fifo) as guard: ...``.
    """

    def __init__(self, fifo, seconds: float = DEADLINE_S):
        self.fifo = Path(fifo)
        self.seconds = seconds
        self.fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        if self._done.wait(self.seconds):
            return
        self.fired = True
        while not self._done.wait(0.2):
            _release(self.fifo)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()
