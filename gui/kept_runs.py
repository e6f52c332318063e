"""The session's trained models: every run's final weights, kept until the app closes.

Owns ``KeptRuns`` (plain data: each run's model, whether and where it is saved, and
a cap on the memory they take) and ``RunModels``, which keeps them as runs end or
files open and restores, saves or evaluates one chosen in the run list. The window
shows one model at a time (``gui.model_document``); these are the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox, QTabWidget, QWidget

from core.model_io import SavedModel
from gui.model_document import ModelDocument
from gui.plot_panel import PlotPanel
from gui.training_controller import TrainingController
from gui.training_worker import TrainingJob, TrainingOutcome
from gui.wording import count

# What the kept weights may take in all: about 90 runs of the largest preset
# (784-512-256-10, 2.1 MB of float32 weights), thousands of small ones.
KEEP_LIMIT_BYTES = 192 * 1024 * 1024


def model_bytes(model: SavedModel) -> int:
    """Return the memory a model's weights and biases take."""
    network = model.network
    return sum(a.nbytes for a in (*network.weights, *network.biases))


@dataclass
class KeptRun:
    """One run's model, and the file it is saved in (or was opened from)."""

    model: SavedModel
    path: Path | None = None
    saved: bool = False


class KeptRuns:
    """The models of the session's runs by run id, oldest first, within a memory cap.

    When a new model would pass ``limit_bytes``, the oldest are let go: first those
    saved in a file (they can be opened again), then unsaved ones; never the one
    the window shows. ``dropped`` lists every run whose model was let go.
    """

    def __init__(self, limit_bytes: int = KEEP_LIMIT_BYTES) -> None:
        self.limit_bytes = int(limit_bytes)
        self._runs: dict[int, KeptRun] = {}
        self.dropped: list[int] = []

    def __contains__(self, run_id: int) -> bool:
        return run_id in self._runs

    def get(self, run_id: int) -> KeptRun | None:
        """Return the kept run, or None."""
        return self._runs.get(run_id)

    def find(self, model: SavedModel | None) -> int | None:
        """Return the run id holding this very model object, or None."""
        return next((i for i, kept in self._runs.items() if kept.model is model), None)

    @property
    def total_bytes(self) -> int:
        """Memory taken by the kept weights."""
        return sum(model_bytes(kept.model) for kept in self._runs.values())

    def keep(
        self,
        run_id: int,
        model: SavedModel,
        path: Path | None = None,
        saved: bool = False,
        shown: SavedModel | None = None,
    ) -> list[int]:
        """Keep a run's model; return the runs let go to make room (oldest first).

        ``shown`` is the model the window shows: it is never let go.
        """
        self._runs[run_id] = KeptRun(model, path, saved)
        evicted: list[int] = []
        total = self.total_bytes
        for saved_first in (True, False):
            for other, kept in list(self._runs.items()):
                if total <= self.limit_bytes:
                    break
                if other == run_id or kept.model is shown or kept.saved != saved_first:
                    continue
                total -= model_bytes(kept.model)
                del self._runs[other]
                evicted.append(other)
        self.dropped += evicted
        return evicted

    def mark_saved(self, model: SavedModel, path: Path) -> int | None:
        """Note that ``model`` is now saved in ``path``; return its run id or None."""
        run_id = self.find(model)
        if run_id is not None:
            self._runs[run_id].path, self._runs[run_id].saved = path, True
        return run_id

    def drop(self, run_id: int) -> None:
        """Forget a run's model (its run was removed from the plots)."""
        self._runs.pop(run_id, None)

    def unsaved(self) -> list[int]:
        """Return the runs whose models were never saved, oldest first."""
        return [i for i, kept in self._runs.items() if not kept.saved]


class RunModels(QObject):
    """Keeps each run's model as it ends, and acts on the run list's requests.

    A run's model is kept when the run ends (its final weights, or a stopped run's
    last epoch); an opened file's model is kept as saved. From the run list a kept
    model can be made current (double-click), evaluated or saved; removing a run
    whose model was never saved asks first. The window shows one model at a time
    and never trains it: runs train copies.
    """

    def __init__(
        self,
        kept: KeptRuns,
        document: ModelDocument,
        training: TrainingController,
        plots: PlotPanel,
        tabs: QTabWidget,
        evaluate_tab: QWidget,
        save_as: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.kept = kept
        self._document = document
        self._plots = plots
        self._tabs = tabs
        self._evaluate_tab = evaluate_tab
        self._run_id: int | None = None  # the run training now
        self._run_path: Path | None = None  # a fine-tune's file
        self._latest: SavedModel | None = None  # the running run's newest model
        self._save_as = save_as  # File > Save As…
        training.snapshot_taken.connect(self.on_snapshot_taken)
        training.succeeded.connect(self.on_run_succeeded)
        training.finished.connect(self.on_run_finished)
        document.state_changed.connect(self.on_document_state_changed)
        plots.make_current_requested.connect(self.make_current)
        plots.evaluate_requested.connect(self.evaluate)
        plots.save_requested.connect(self.save)
        plots.run_removed.connect(self.on_run_removed)
        plots.confirm_removal = self.confirm_removal

    # ------------------------------------------------------------- keeping
    def begin(self, run_id: int, job: TrainingJob) -> None:
        """Keep the run starting now under ``run_id`` when it ends."""
        self._run_id, self._latest = run_id, None
        fine_tune = job.base is not None
        self._run_path = self._document.path if fine_tune else None
        self._plots.set_runs_busy(True)

    def keep_opened(self, run_id: int, model: SavedModel, path: Path | None) -> None:
        """Keep an opened file's model under the run showing its history."""
        self._keep(run_id, model, path, saved=path is not None)
        self._plots.set_model_run(run_id)

    @Slot(object)
    def on_snapshot_taken(self, model: SavedModel) -> None:
        """Remember the running run's newest model (kept if the run is stopped)."""
        self._latest = model
        self._plots.set_model_run(self._run_id)  # the window shows it from now on

    @Slot(object, object)
    def on_run_succeeded(self, model: SavedModel, _outcome: TrainingOutcome) -> None:
        """Remember the run's final model."""
        self._latest = model

    @Slot(str)
    def on_run_finished(self, _outcome: str) -> None:
        """Keep the run's last model, whatever ended it."""
        run_id, model = self._run_id, self._latest
        self._run_id, self._latest = None, None
        self._plots.set_runs_busy(False)
        if run_id is None or model is None or run_id not in self._plot_ids():
            return
        self._keep(run_id, model, self._run_path, saved=False)
        if self._document.model is model:
            self._plots.set_model_run(run_id)

    def _keep(
        self, run_id: int, model: SavedModel, path: Path | None, saved: bool
    ) -> None:
        evicted = self.kept.keep(run_id, model, path, saved, self._document.model)
        self._describe(run_id)
        for other in evicted:
            self._plots.set_run_note(other, "weights let go: memory cap", False)

    def _describe(self, run_id: int) -> None:
        kept = self.kept.get(run_id)
        if kept is None:
            return
        if kept.saved and kept.path is not None:
            note = f"saved: {kept.path.name}"
        else:
            note = "not saved"
        self._plots.set_run_note(run_id, note, True)

    def _plot_ids(self) -> set[int]:
        return {run.run_id for run in self._plots.runs}

    @Slot()
    def on_document_state_changed(self) -> None:
        """Mark the current model's run saved after a save; show which run is shown."""
        document = self._document
        run_id = self.kept.find(document.model)
        if run_id is not None and not document.unsaved and document.path is not None:
            self.kept.mark_saved(document.model, document.path)
            self._describe(run_id)
        if self._run_id is None:
            self._plots.set_model_run(run_id)

    @Slot(int)
    def on_run_removed(self, run_id: int) -> None:
        """Let a removed run's model go."""
        self.kept.drop(run_id)

    def confirm_removal(self, run_ids: list[int]) -> bool:
        """Ask once before runs whose models were never saved are removed."""
        unsaved = [i for i in run_ids if i in self.kept.unsaved()]
        if not unsaved:
            return True
        models = count(len(unsaved), "trained model")
        verb = "is" if len(unsaved) == 1 else "are"
        answer = QMessageBox.question(
            self._plots.window(),
            "Remove runs",
            f"The runs to remove hold {models} that {verb} not saved; they go with "
            "the runs. Remove anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------ actions
    @Slot(int)
    def make_current(self, run_id: int) -> bool:
        """Show a kept run's model: Draw, Evaluate and Save then use it."""
        kept = self.kept.get(run_id)
        if kept is None or self._run_id is not None:
            return False
        self._document.restore(kept.model, kept.path, unsaved=not kept.saved)
        self._plots.set_model_run(run_id)
        return True

    @Slot(int)
    def evaluate(self, run_id: int) -> None:
        """Make a kept run's model current and show it on the Evaluate tab."""
        if self.make_current(run_id):
            self._tabs.setCurrentWidget(self._evaluate_tab)

    @Slot(int)
    def save(self, run_id: int) -> None:
        """Make a kept run's model current and save it under a new name."""
        if self.make_current(run_id):
            self._save_as()
