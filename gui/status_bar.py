"""The window's status bar: epoch, progress and time left, speed, rate, BLAS threads.

Owns ``TrainingStatusBar``; it only shows what ``gui.training_controller`` reports.
Its labels have fixed sizes: a new text then repaints one label, not the whole bar.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QProgressBar, QStatusBar

from core.blas_threads import AUTO, POOL
from gui.training_controller import RunStatus
from gui.widgets import fixed_label
from gui.wording import format_duration

STOPPING = "Stopping after the current mini-batch…"
# How the progress bar names the end of a run, by the training controller's outcome.
RUN_ENDINGS = {
    "completed": "done",
    "ended": "done",
    "early_stopped": "stopped early",
    "diverged": "diverged",
    "failed": "failed",
}
MEASURING_THREADS = "measuring threads…"
THREADS_TIP = (
    "BLAS threads for the matrix products (Training > BLAS threads). Automatic "
    "keeps timing one thread against all cores during training and uses the "
    "faster: one wins when other programs keep the cores busy, or for small "
    "networks."
)


def threads_text(setting: int | str, threads: int | None, running: bool) -> str:
    """Say how many BLAS threads a run uses, e.g. ``"1 thread (faster now)"``.

    Parameters
    ----------
    setting : int or str
        ``"auto"`` or the count fixed by hand.
    threads : int or None
        The count in use (`core.training.BatchEvent.blas_threads`); None while the
        first measurement runs, or between runs.
    running : bool
        False between runs: then the setting is shown.
    """
    if setting != AUTO:
        return f"{setting} thread{'' if setting == 1 else 's'} (set)"
    if not running:
        return "threads: automatic"
    if threads is None:
        return MEASURING_THREADS
    text = f"{threads} thread{'' if threads == 1 else 's'}"
    cores = POOL.size or threads
    return text + " (faster now)" if threads < cores else text


class TrainingStatusBar(QStatusBar):
    """A status bar with the running training's figures on its right."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch_label = fixed_label(
            "epoch –", "epoch 00000/00000", "Current epoch / epochs of the run"
        )
        # Beside the progress bar, whatever room the widest text would need.
        self.epoch_label.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setMinimumWidth(160)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setToolTip("Progress of the whole run and time left")
        self.speed_label = fixed_label(
            "– samples/s", "000,000,000 samples/s", "Training speed"
        )
        self.lr_label = fixed_label("lr –", "lr 0.000e-00", "Current learning rate")
        self.threads_label = fixed_label(
            threads_text(AUTO, None, False), MEASURING_THREADS, THREADS_TIP
        )
        self._running = False
        for widget in (
            self.epoch_label,
            self.progress_bar,
            self.speed_label,
            self.lr_label,
            self.threads_label,
        ):
            self.addPermanentWidget(widget)

    def show_threads_setting(self, setting: int | str) -> None:
        """Show the BLAS thread setting (between runs; a run shows its own)."""
        if not self._running:
            self._set_threads_text(threads_text(setting, None, False))

    def _set_threads_text(self, text: str) -> None:
        # Set only on change: a new text repaints the label.
        if self.threads_label.text() != text:
            self.threads_label.setText(text)

    def show_run_starting(self, epochs: int, threads: int | str = AUTO) -> None:
        """Reset the figures for a new run of ``epochs`` epochs and BLAS ``threads``."""
        self.epoch_label.setText(f"epoch 0/{epochs}")
        self._running = True
        self._set_threads_text(threads_text(threads, None, True))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting…")

    @Slot(str)
    def show_preparing(self, stage: str = "") -> None:
        """Say that the worker prepares the data, and what it does now if given."""
        self.progress_bar.setFormat(f"{stage or 'preparing data'}…")

    @Slot(object)
    def show_status(self, status: RunStatus) -> None:
        """Show the run's epoch, speed, learning rate, progress and time left."""
        self.epoch_label.setText(f"epoch {status.epoch}/{status.epochs}")
        if status.samples_per_second is not None:
            self.speed_label.setText(f"{status.samples_per_second:,.0f} samples/s")
        self.lr_label.setText(f"lr {status.learning_rate:.3g}")
        self._set_threads_text(
            threads_text(status.threads_setting, status.blas_threads, True)
        )
        # Format first: the new value then repaints the bar (synchronously) once with
        # both; the other order paints it twice. Whole percents for the same reason.
        if not status.paused:
            if status.seconds_left is not None:
                eta = format_duration(status.seconds_left)
                self.progress_bar.setFormat(f"%p% · ETA {eta}")
            else:
                self.progress_bar.setFormat("%p%")
        self.progress_bar.setValue(int(status.fraction * 100))

    def show_paused(self) -> None:
        """Say that the run waits for Resume."""
        self.progress_bar.setFormat("paused")

    def show_stopping(self) -> None:
        """Say that the run stops after its current mini-batch."""
        self.showMessage(STOPPING)

    def show_run_ended(self, outcome: str = "completed") -> None:
        """Say how the run ended (its figures stay); ``outcome`` as the run list's."""
        self._running = False
        if self.threads_label.text() == MEASURING_THREADS:
            # Over before a count was measured: it kept to one thread, as "auto" starts.
            self._set_threads_text(threads_text(AUTO, None, False))
        if self.currentMessage() == STOPPING:
            self.clearMessage()
        if outcome == "stopped":
            text = "stopped at %p%" if self.progress_bar.value() else "stopped"
        else:
            text = RUN_ENDINGS.get(outcome, outcome.replace("_", " "))
        self.progress_bar.setFormat(text)
