"""Downloads full MNIST off the GUI thread with throttled progress.

Owns ``download_job`` (the function a ``gui.background.TaskWorker`` runs) and the
``DownloadProgress`` message. Never touches widgets; the network code is core's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.download import (
    DEFAULT_MIRRORS,
    MNIST_FILES,
    MNIST_SIZES,
    DownloadCancelled,
    DownloadError,
    download_mnist,
)
from core.user_dirs import mnist_mirror
from gui.background import TaskCancelled

PROGRESS_INTERVAL_S = 0.1
EXPECTED_ERRORS = (DownloadError,)
TOTAL_BYTES = sum(MNIST_SIZES.values())


@dataclass(frozen=True)
class DownloadProgress:
    """Overall progress of the four MNIST files."""

    file_name: str
    bytes_done: int  # over all files
    bytes_total: int

    @property
    def fraction(self) -> float:
        """Share downloaded, 0..1."""
        return min(self.bytes_done / max(self.bytes_total, 1), 1.0)


def mirror_list(user_mirror: str) -> tuple[str, ...]:
    """Return the mirrors to try: the user's alone when set, else the built-in ones.

    A lab's own mirror replaces the public list (as ``--mirror`` does on the command
    line), so nothing is fetched from elsewhere; ``DIGIT_STUDIO_MNIST_MIRROR`` is the
    fallback when the setting is empty.
    """
    user_mirror = user_mirror.strip() or (mnist_mirror() or "")
    if not user_mirror:
        return DEFAULT_MIRRORS
    return (user_mirror if user_mirror.endswith("/") else user_mirror + "/",)


def download_job(
    data_dir: Path, mirrors: Sequence[str]
) -> Callable[[threading.Event, Callable[[Any], None]], Path]:
    """Return a task function downloading MNIST (progress at most ~10 per second)."""

    def run(cancel: threading.Event, report: Callable[[Any], None]) -> Path:
        finished_bytes: dict[str, int] = {}
        last = [0.0]

        def on_progress(file_name: str, done: int, total: int | None) -> None:
            finished_bytes[file_name] = done
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S or (total and done >= total):
                last[0] = now
                overall = sum(finished_bytes.get(f, 0) for f in MNIST_FILES)
                report(DownloadProgress(file_name, overall, TOTAL_BYTES))

        try:
            return download_mnist(
                data_dir, list(mirrors), progress=on_progress, cancel=cancel
            )
        except DownloadCancelled:
            raise TaskCancelled() from None

    return run
