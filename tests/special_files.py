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
