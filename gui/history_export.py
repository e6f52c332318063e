"""Exporting a run's history as CSV from the run list's context menu.

Owns ``HistoryExport``: it finds the run's model (kept in the run list, or the
snapshot of the run going on), asks for a file name and writes
``core.history_csv`` in a background task. Computes and writes nothing on the GUI
thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.history_csv import write_history_csv
from core.model_io import SavedModel
from gui.background import start_task
from gui.kept_runs import KeptRuns
from gui.model_document import ModelDocument
from gui.plot_panel import PlotPanel
from gui.settings import AppSettings


class HistoryExport(QObject):
    """Writes a run's history (every phase, every figure) to a CSV file.

    Parameters
    ----------
    plots : PlotPanel
        Its run list asks for exports (``export_history_requested``).
    kept : KeptRuns
        The runs' models.
    document : ModelDocument
        Holds the running run's latest snapshot.
    settings : AppSettings
        The last folder used.
    """

    def __init__(
        self,
        plots: PlotPanel,
        kept: KeptRuns,
        document: ModelDocument,
        settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._plots = plots
        self._kept = kept
        self._document = document
        self._settings = settings
        self.busy = False
        plots.export_history_requested.connect(self.export)

    def model_of(self, run_id: int) -> SavedModel | None:
        """Return the model holding a run's history (None: not kept, or no epoch)."""
        kept = self._kept.get(run_id)
        if kept is not None:
            return kept.model
        current = self._plots.current_run
        if current is not None and current.run_id == run_id and not current.finished:
            return self._document.model  # the running run's snapshot, if an epoch ended
        return None

    def suggested_path(self, run_id: int) -> Path:
        """Return where the dialog proposes to write (next to the model's file)."""
        kept = self._kept.get(run_id)
        if kept is not None and kept.path is not None:
            return kept.path.with_name(f"{kept.path.stem}-history.csv")
        return Path(self._settings.last_folder) / f"run-{run_id}-history.csv"

    @Slot(int)
    def export(self, run_id: int) -> None:
        """Ask for a file name and write the run's history there."""
        window = self._plots.window()
        model = self.model_of(run_id)
        if model is None or not model.history:
            QMessageBox.information(
                window,
                "Export history",
                f"Run {run_id} has no finished epoch to export yet.",
            )
            return
        path, _ = QFileDialog.getSaveFileName(
            window,
            f"Export the history of run {run_id}",
            str(self.suggested_path(run_id)),
            "CSV file (*.csv)",
        )
        if not path:
            return
        if not Path(path).suffix:
            path += ".csv"
        self._settings.last_folder = str(Path(path).parent)
        self.busy = True
        start_task(
            _write_task(Path(path), model),
            on_succeeded=self.on_written,
            on_failed=self.on_failed,
            on_finished=self.on_finished,
            expected_errors=(OSError,),
            name="history-export",
        )

    @Slot(object)
    def on_written(self, path: Path) -> None:
        """Say where the history went."""
        window = self._plots.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(f"History written to {path}.", 6000)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """Say why the file could not be written; nothing half-written is left."""
        QMessageBox.warning(
            self._plots.window(),
            "Export history",
            f"The history could not be written: {message}",
        )

    @Slot()
    def on_finished(self) -> None:
        """Note that the export has ended, written or not."""
        self.busy = False


def _write_task(
    path: Path, model: SavedModel
) -> Callable[[threading.Event, Callable[[Any], None]], Path]:
    history, phases = list(model.history), list(model.phases)

    def task(_cancel: threading.Event, _report: Callable[[Any], None]) -> Path:
        write_history_csv(path, history, phases)
        return path

    return task
