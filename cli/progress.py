"""Terminal progress display for long CLI jobs: a bar with ETA on a terminal.

On a terminal one line is redrawn with a carriage return; elsewhere (pipes, logs) only
whole lines are written. Must not import Qt.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

BAR_WIDTH = 28
REDRAW_SECONDS = 0.1


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_bytes(count: float) -> str:
    """``1536`` -> ``"1.5 KB"``."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


class ProgressLine:
    """A redrawn status line with a bar and an ETA (on a terminal only).

    Parameters
    ----------
    stream : text stream
        Where to draw (normally stderr or stdout).
    interactive : bool
        True on a terminal: redraw in place. False: `update` draws nothing and
        `line` simply writes lines.
    """

    def __init__(self, stream: TextIO, interactive: bool):
        self.stream = stream
        self.interactive = interactive
        self._started = time.perf_counter()
        self._last_draw = 0.0
        self._drawn_width = 0

    def restart_clock(self) -> None:
        """Measure the ETA from now on."""
        self._started = time.perf_counter()

    def update(self, fraction: float, text: str = "", force: bool = False) -> None:
        """Redraw the bar at ``fraction`` (0..1) with ``text``, at most 10 times/s."""
        if not self.interactive:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < REDRAW_SECONDS:
            return
        self._last_draw = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * BAR_WIDTH))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        elapsed = now - self._started
        eta = "--:--"
        if fraction > 0.0:
            eta = format_duration(elapsed * (1.0 - fraction) / fraction)
        line = f"[{bar}] {fraction * 100:5.1f}%  ETA {eta}  {text}".rstrip()
        self._draw(line)

    def line(self, text: str) -> None:
        """Write a permanent line (clearing the bar first on a terminal)."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar, if one is drawn."""
        if self.interactive and self._drawn_width:
            self.stream.write("\r" + " " * self._drawn_width + "\r")
            self.stream.flush()
            self._drawn_width = 0

    def _draw(self, line: str) -> None:
        # A line wider than the terminal wraps, and "\r" then cannot redraw it.
        width = shutil.get_terminal_size((80, 24)).columns - 1
        line = line[:width]
        padding = " " * max(0, self._drawn_width - len(line))
        self.stream.write("\r" + line + padding)
        self.stream.flush()
        self._drawn_width = len(line)
