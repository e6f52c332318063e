"""The session's training runs as plain data: per-batch and per-epoch series.

Owns ``RunRecord`` (growable preallocated arrays, so appending is amortised O(1)),
``plotted_history`` (a model's training phases laid end to end on the epoch axis) and
``describe_config`` (the short legend text naming a run's settings). No Qt, no widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.run import history_timeline

EPOCH_FIELDS = (
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
)


# How the plots and the model line name a phase kind (core.model_io.PHASE_KINDS).
PHASE_NAMES = {"train": "training", "fine_tune": "fine-tune", "continue": "continued"}


def phase_name(phases: list[dict[str, Any]], index: int) -> str:
    """Return how ``phases[index]`` is shown ("fine-tune"; "phase 3" if unknown)."""
    kind = phases[index].get("kind") if 0 <= index < len(phases) else None
    return PHASE_NAMES.get(kind, f"phase {index + 1}")


@dataclass(frozen=True)
class PhaseMark:
    """A line on the epoch axis (after ``epoch``) and its name.

    ``kind`` ``"phase"``: a training phase begins there; ``"change"``: settings
    changed during the run took effect there.
    """

    epoch: float
    name: str
    kind: str = "phase"


def change_name(values: dict[str, Any]) -> str:
    """Name a change of settings on its line: ``lr 0.01`` or ``lr 0.01, mom. 0.5``."""
    name = f"lr {float(values['learning_rate']):g}"
    if values.get("momentum") is not None:
        name += f", mom. {float(values['momentum']):g}"
    return name


@dataclass(frozen=True)
class PlottedHistory:
    """A model's per-epoch history laid out on one epoch axis (`plotted_history`).

    ``epochs[i]`` is where ``rows[i]`` is plotted; ``marks`` are where the later
    phases begin; ``end`` is the last epoch, after which a run that continues the
    model (a fine-tune) is plotted.
    """

    rows: list[dict[str, Any]]
    epochs: np.ndarray
    marks: tuple[PhaseMark, ...]
    end: float


def plotted_history(
    history: list[dict[str, Any]],
    phases: list[dict[str, Any]],
    then: str | None = None,
) -> PlottedHistory:
    """Lay a model's phases end to end: a 50-epoch run, then a fine-tune at 51..53.

    Parameters
    ----------
    history : list of dict
        The model's rows (``phase`` missing means 0), as its file stores them.
    phases : list of dict
        The model's phases (their ``kind`` names the marks).
    then : str or None
        The kind of a phase about to continue the model (a fine-tune starting): one
        more mark, at ``end``.
    """
    timeline = history_timeline(history)
    marks = [
        PhaseMark(start, phase_name(phases, index))
        for index, start in enumerate(timeline.starts)
        if index > 0
    ]
    for index, start in enumerate(timeline.starts):
        changes = phases[index].get("changes", []) if index < len(phases) else []
        marks += [
            PhaseMark(start + float(change["at_epoch"]), change_name(change), "change")
            for change in changes
        ]
    end = float(timeline.epochs.max()) if len(history) else 0.0
    if then is not None:
        marks.append(PhaseMark(end, phase_name([{"kind": then}], 0)))
    return PlottedHistory(list(history), timeline.epochs, tuple(marks), end)


class GrowableSeries:
    """Parallel float64 columns that grow by doubling (amortised O(1) appends)."""

    def __init__(self, columns: int, capacity: int = 1024) -> None:
        self._data = np.full((columns, capacity), np.nan)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, *columns: np.ndarray) -> None:
        """Append equally long 1-D arrays, one per column."""
        n = len(columns[0])
        if self._size + n > self._data.shape[1]:
            capacity = max(2 * self._data.shape[1], self._size + n)
            grown = np.full((self._data.shape[0], capacity), np.nan)
            grown[:, : self._size] = self._data[:, : self._size]
            self._data = grown
        for row, values in enumerate(columns):
            self._data[row, self._size : self._size + n] = values
        self._size += n

    def column(self, index: int) -> np.ndarray:
        """Return the filled part of one column (a view, valid until ``extend``)."""
        return self._data[index, : self._size]


@dataclass
class RunRecord:
    """One training run of the session (or the history of a model file)."""

    run_id: int
    label: str
    config: dict[str, Any] = field(default_factory=dict)
    # Columns: x (fractional epoch), raw loss, smoothed loss.
    batches: GrowableSeries = field(default_factory=lambda: GrowableSeries(3))
    # Columns: epoch, then EPOCH_FIELDS.
    epochs: GrowableSeries = field(
        default_factory=lambda: GrowableSeries(1 + len(EPOCH_FIELDS), 64)
    )
    visible: bool = True
    finished: bool = False
    outcome: str = ""
    # Epochs plotted before this run's own (a fine-tune continues its base model's
    # curve) and where its phases begin.
    epoch_offset: float = 0.0
    marks: tuple[PhaseMark, ...] = ()
    planned_epochs: int | None = None  # the run's length when it started, if known

    def add_batches(
        self, x: np.ndarray, loss: np.ndarray, smoothed: np.ndarray
    ) -> None:
        """Append per-batch points (x in fractional epochs)."""
        self.batches.extend(x, loss, smoothed)

    def add_epoch(self, epoch: float, values: dict[str, float | None]) -> None:
        """Append one epoch's metrics; missing ones (no validation set) become NaN."""
        row = [np.array([epoch], dtype=float)]
        for name in EPOCH_FIELDS:
            value = values.get(name)
            row.append(np.array([np.nan if value is None else float(value)]))
        self.epochs.extend(*row)

    def epoch_column(self, name: str) -> np.ndarray:
        """One metric per epoch ("epoch" or an EPOCH_FIELDS name)."""
        if name == "epoch":
            return self.epochs.column(0)
        return self.epochs.column(1 + EPOCH_FIELDS.index(name))

    def phase_at(self, epoch: float) -> tuple[str, float] | None:
        """Return the phase plotted at ``epoch`` and the epoch within it.

        None before the first mark: a run of one phase numbers its epochs itself.
        """
        started = [
            mark for mark in self.marks if mark.kind == "phase" and mark.epoch < epoch
        ]
        if not started:
            return None
        mark = max(started, key=lambda m: m.epoch)
        return mark.name, epoch - mark.epoch

    def last_epoch(self) -> float:
        """Return how far the run got, in epochs (0 when it has no point yet)."""
        last = 0.0
        if len(self.epochs):
            last = float(np.nanmax(self.epoch_column("epoch")))
        if len(self.batches):
            last = max(last, float(self.batches.column(0)[-1]))
        return last

    def history(self) -> list[dict[str, float]]:
        """Return the per-epoch rows as dicts (the model file's ``history``)."""
        rows = []
        for i in range(len(self.epochs)):
            row = {"epoch": int(self.epoch_column("epoch")[i])}
            for name in EPOCH_FIELDS:
                value = float(self.epoch_column(name)[i])
                row[name] = None if np.isnan(value) else value
            rows.append(row)
        return rows


def describe_config(
    config: dict[str, Any], layer_sizes: list[int] | None = None
) -> str:
    """Name a run's settings briefly, e.g. ``784-256-10 relu adam lr=0.001 bs=128``."""
    parts = []
    if layer_sizes:
        parts.append("-".join(str(n) for n in layer_sizes))
    elif config.get("hidden_sizes") is not None:
        parts.append("hidden " + "-".join(str(n) for n in config["hidden_sizes"]))
    for key in ("activation", "optimizer"):
        if config.get(key):
            parts.append(str(config[key]))
    if "learning_rate" in config:
        parts.append(f"lr={float(config['learning_rate']):g}")
    if "batch_size" in config:
        size = int(config["batch_size"])
        parts.append("full batch" if size == 0 else f"bs={size}")
    if float(config.get("l2", 0) or 0) > 0:
        parts.append(f"l2={float(config['l2']):g}")
    if float(config.get("dropout", 0) or 0) > 0:
        parts.append(f"dropout={float(config['dropout']):g}")
    augment = config.get("augment") or {}
    amounts = ("shift", "rotation", "scale", "shear", "elastic", "thickness", "noise")
    if isinstance(augment, dict) and any(
        float(augment.get(name, 0) or 0) > 0 for name in amounts
    ):
        parts.append("augmented")
    return " ".join(parts)
