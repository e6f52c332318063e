"""File > New, Open, Save, Save As, Open Recent and dropped files, with their dialogs.

Owns ``FileCommands``: it asks before unsaved training is lost (a model kept in the
run list is not lost until the app closes, so only Quit asks about those, once), asks
for file names and shows what went wrong; the model and its file are
``gui.model_document``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, QUrl, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from core.model_io import ModelFileError
from gui.kept_runs import KeptRuns
from gui.model_document import ModelDocument
from gui.picture import IMAGE_FILTER
from gui.training_controller import TrainingController
from gui.wording import count

MODEL_FILTER = "Digit Studio models (*.npz);;All files (*)"


@dataclass(frozen=True)
class CloseDecision:
    """The answer to "quit with unsaved models?": go ahead, saving there first."""

    save_to: Path | None = None


class FileCommands(QObject):
    """The window's file commands; none runs while a training runs."""

    def __init__(
        self,
        window: QMainWindow,
        document: ModelDocument,
        training: TrainingController,
        kept: KeptRuns,
    ) -> None:
        super().__init__(window)
        self._document = document
        self._training = training
        self._kept = kept
        self._settings = window.settings

    def _window(self) -> QMainWindow:
        # The Qt parent, not a Python attribute: a reference cycle would leave the
        # window to the garbage collector (see gui.window_actions).
        return self.parent()

    def _ask_to_save(self, doing: str) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self._window(),
            "Unsaved model",
            f"The trained model is not saved. Save it before you {doing}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def confirm_discard(self, doing: str) -> bool:
        """Ask before throwing away unsaved training; True means go ahead.

        A model kept in the run list is not thrown away: it can be made current
        again until the app closes, so nothing is asked.
        """
        model = self._document.model
        if not self._document.unsaved or model is None:
            return True
        if self._kept.find(model) is not None:
            return True
        answer = self._ask_to_save(doing.lower())
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def confirm_close(self) -> CloseDecision | None:
        """Ask once before quitting with unsaved models; None means stay.

        Counts the current model (unsaved, or training) and every run in the run
        list whose model was never saved. Save saves the current model, after the
        running training has stopped (the window does that); the others go.
        """
        document = self._document
        running = self._training.is_running
        current = document.model is not None and (document.unsaved or running)
        others = [
            run_id
            for run_id in self._kept.unsaved()
            if self._kept.get(run_id).model is not document.model
        ]
        if not current and not others:
            return CloseDecision()
        kept = count(len(others), "other trained model")
        lose = (
            f" {kept} in the run list {'is' if len(others) == 1 else 'are'} not saved "
            "either (right-click a run to save it)."
            if others
            else ""
        )
        if not current:
            buttons = QMessageBox.StandardButton.Discard
            text = (
                f"{count(len(others), 'trained model')} in the run list "
                f"{'is' if len(others) == 1 else 'are'} not saved (right-click a run "
                "to save it). Quit anyway?"
            )
        else:
            buttons = (
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            )
            stops = " (the training stops)" if running else ""
            text = (
                f"The current model is not saved.{lose} Save it before you quit{stops}?"
            )
        answer = QMessageBox.question(
            self._window(),
            "Unsaved models",
            text,
            buttons | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save
            if current
            else QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save and current:
            # The file name first: cancelling that dialog keeps everything going.
            path = document.path or self._ask_save_path()
            return None if path is None else CloseDecision(path)
        if answer == QMessageBox.StandardButton.Discard:
            return CloseDecision()
        return None

    @Slot()
    def new(self) -> bool:
        """Forget the current model (the plots keep the runs); True when done."""
        if self._training.is_running or not self.confirm_discard("Start over"):
            return False
        self._document.new()
        return True

    @Slot()
    def open(self) -> None:
        """Choose a model file and open it."""
        if self._training.is_running or not self.confirm_discard("Open another model"):
            return
        path, _ = QFileDialog.getOpenFileName(
            self._window(), "Open model", self._settings.last_folder, MODEL_FILTER
        )
        if path:
            self.open_path(path, confirmed=True)

    def ask_image_path(self) -> str | None:
        """Ask for an image file to put on the canvas (File > Open Image…)."""
        path, _ = QFileDialog.getOpenFileName(
            self._window(), "Open image", self._settings.last_folder, IMAGE_FILTER
        )
        return path or None

    def open_path(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a model file; errors go to a dialog and change nothing."""
        if self._training.is_running:
            return False
        if not confirmed and not self.confirm_discard("Open another model"):
            return False
        try:
            self._document.open(path)
        except (ModelFileError, OSError) as exc:
            QMessageBox.critical(self._window(), "Cannot open the model", str(exc))
            return False
        except MemoryError:
            QMessageBox.critical(
                self._window(),
                "Cannot open the model",
                f"There is not enough memory to open {path}.",
            )
            return False
        return True

    @Slot(str)
    def accept_drag(self, event: QDragEnterEvent) -> None:
        """Accept a drag that holds a model file (.npz)."""
        if any(_is_model_url(url) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def open_dropped(self, event: QDropEvent) -> None:
        """Open the first model file dropped, once the drop has returned."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if _is_model_url(u)]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(paths[0]))

    def open_recent(self, path: str) -> None:
        """Open a recent file, or drop it from the list when it is gone."""
        if not Path(path).exists():
            self._document.forget_recent(path)
            QMessageBox.warning(
                self._window(), "File not found", f"{path} no longer exists."
            )
            return
        self.open_path(path)

    @Slot()
    def save(self) -> bool:
        """Save to the current file (or ask for one)."""
        if self._document.path is None:
            return self.save_as()
        return self.save_to(self._document.path)

    @Slot()
    def save_as(self) -> bool:
        """Ask for a file name and save."""
        if self._document.model is None:
            return False
        path = self._ask_save_path()
        return path is not None and self.save_to(path)

    def _ask_save_path(self) -> Path | None:
        default = self._document.path or Path(self._settings.last_folder) / "model.npz"
        path, _ = QFileDialog.getSaveFileName(
            self._window(), "Save model", str(default), MODEL_FILTER
        )
        if not path:
            return None
        return Path(path if path.lower().endswith(".npz") else path + ".npz")

    def save_to(self, path: str | Path) -> bool:
        """Write the current model atomically; errors go to a dialog."""
        if self._document.model is None or self._training.is_running:
            return False
        try:
            self._document.save(path)
        except (ModelFileError, OSError) as exc:
            QMessageBox.critical(self._window(), "Cannot save the model", str(exc))
            return False
        self._window().statusBar().showMessage(f"Saved {path}", 5000)
        return True


def _is_model_url(url: QUrl) -> bool:
    return url.toLocalFile().lower().endswith(".npz")
