"""The window's document: the current model, its file, unsaved state, recent files.

Owns ``ModelDocument``. Its state changes only when an operation succeeded: a failed
open or save raises and leaves model, path and unsaved state as they were. Shows no
dialogs and imports no widgets; the window reacts to its signals.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.judgement import Judge
from core.model_io import SavedModel, load_model, save_model
from core.neuron_edits import edits_text
from core.training import ConfigError, TrainingConfig
from gui.run_history import phase_name
from gui.settings import AppSettings
from gui.wording import (
    ACTIVATION_LABELS,
    INIT_LABELS,
    OUTPUT_LABELS,
    count,
    format_duration,
)


def saved_config(model: SavedModel) -> TrainingConfig | None:
    """Return the training settings stored in ``model``, or None when unusable."""
    if not model.config:
        return None
    try:
        return TrainingConfig.from_dict(model.config)
    except (ConfigError, ValueError, TypeError, KeyError):
        return None  # written by another version


def layer_sizes(model: SavedModel) -> list[int]:
    """Return the network's layer sizes, input first."""
    return [model.network.input_size, *[w.shape[1] for w in model.network.weights]]


class ModelDocument(QObject):
    """The current model and where it is stored.

    Signals: ``opened(model)`` after a file was read (before ``model_changed``, so
    that the window can fill its controls first), ``model_changed(live)`` whenever
    the model is replaced (``live``: a snapshot of a run still training), and
    ``state_changed()`` when the file name or the unsaved state changed.
    """

    opened = Signal(object)  # SavedModel
    model_changed = Signal(bool)
    state_changed = Signal()

    def __init__(self, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._model: SavedModel | None = None
        self._path: Path | None = None
        self._unsaved = False

    @property
    def model(self) -> SavedModel | None:
        """The current model, or None."""
        return self._model

    @property
    def path(self) -> Path | None:
        """The file the current model was opened from or saved to, or None."""
        return self._path

    @property
    def unsaved(self) -> bool:
        """True when the current model has trained since it was last saved."""
        return self._unsaved

    @property
    def recent_files(self) -> list[str]:
        """Recently opened or saved model files, newest first."""
        return self._settings.recent_files

    def open(self, path: str | Path) -> SavedModel:
        """Read a model file and make it current.

        Raises ``ModelFileError`` or ``OSError`` and changes nothing when it fails.
        """
        path = Path(path)
        model = load_model(path)
        self._model, self._path, self._unsaved = model, path, False
        self._remember(path)
        self.opened.emit(model)
        self.model_changed.emit(False)
        self.state_changed.emit()
        return model

    def save(self, path: str | Path) -> None:
        """Write the current model atomically.

        Raises ``ModelFileError`` or ``OSError`` and changes nothing when it fails.
        """
        model = self._model
        if model is None:
            raise ValueError("there is no model to save")
        path = Path(path)
        save_model(path, model.network, model.metadata)
        self._path, self._unsaved = path, False
        self._remember(path)
        self.state_changed.emit()

    def new(self) -> None:
        """Forget the current model and its file."""
        self._model, self._path, self._unsaved = None, None, False
        self.model_changed.emit(False)
        self.state_changed.emit()

    def adopt_trained(self, model: SavedModel, *, live: bool, same_file: bool) -> None:
        """Make a trained model current; it is unsaved.

        ``live``: a snapshot of a run still training. ``same_file``: the model was
        trained further from the current one (fine-tuning), so Save keeps its file;
        otherwise it is a new network and Save asks for a name.
        """
        self._model, self._unsaved = model, True
        if not same_file:
            self._path = None
        self.model_changed.emit(live)
        self.state_changed.emit()

    def restore(self, model: SavedModel, path: Path | None, *, unsaved: bool) -> None:
        """Make a model of the session current again (a run chosen in the run list).

        ``path``: the file it is saved in or belongs to; ``unsaved``: it has trained
        since it was last saved there (or was never saved).
        """
        self._model, self._path, self._unsaved = model, path, unsaved
        self.model_changed.emit(False)
        self.state_changed.emit()

    def forget_recent(self, path: str) -> None:
        """Drop ``path`` from the recent files (it no longer exists)."""
        self._settings.remove_recent_file(path)

    def _remember(self, path: Path) -> None:
        self._settings.last_folder = str(path.parent)
        self._settings.add_recent_file(str(path))


def readable_time(iso: str) -> str:
    """Return an ISO 8601 time as "2026-12-04 23:00", local (unreadable: as is)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M}"


def model_summary(model: SavedModel | None, path: Path | None) -> str:
    """Return the one-line (rich text) description of the current model."""
    if model is None:
        return "No model yet: choose settings and press Start (F5)."
    parts = [
        f"<b>{escape(path.name) if path else 'Unsaved model'}</b>",
        "-".join(map(str, layer_sizes(model))),
        model.config.get("activation", ""),
        f"trained on {escape(model.dataset_name)}" if model.dataset_name else "",
    ]
    if model.history:
        parts.append(epochs_text(model))
    accuracy = model.metrics.get("validation_accuracy")
    if accuracy is not None:
        parts.append(f"validation accuracy {100 * accuracy:.2f}%")
    if model.created:
        # One unbreakable piece: a date split over two lines reads as two things.
        parts.append(
            "<span style='white-space:nowrap'>"
            f"created {escape(readable_time(model.created))}</span>"
        )
    return " · ".join(p for p in parts if p)


def network_description(model: SavedModel) -> str:
    """Describe the network in words: sizes, activation, output, init, parameters."""
    network = model.network
    return ", ".join(
        [
            "-".join(map(str, layer_sizes(model))),
            f"{ACTIVATION_LABELS.get(network.activation, network.activation)} hidden "
            "layers",
            f"{OUTPUT_LABELS.get(network.output, network.output)} output",
            f"{INIT_LABELS.get(network.init, network.init)} initialisation",
            count(network.parameter_count, "parameter"),
        ]
    )


def metric_text(name: str, value: Any) -> str:
    """Return one metric as a person reads it: 97.32%, 0.0965, 1:23, 4,500."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if "accuracy" in name:
        return f"{100 * value:.2f}%"
    if "loss" in name:
        return f"{value:.4f}"
    if "seconds" in name:
        return f"{value:.1f} s" if value < 60 else format_duration(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def model_details(model: SavedModel, path: Path | None) -> tuple[str, str]:
    """Return the metadata text and the detailed settings and per-epoch history."""
    created = readable_time(model.created) if model.created else "unknown"
    version = f" (Digit Studio {model.app_version})" if model.app_version else ""
    lines = [
        f"File: {path or 'not saved'}",
        f"Dataset: {model.dataset_name or 'unknown'}",
        f"Image: {model.image_shape[0]}x{model.image_shape[1]}, "
        f"classes: {', '.join(model.class_names)}",
        f"Created: {created}{version}",
        f"Network: {network_description(model)}",
        f"Training: {epochs_text(model) or 'no recorded epochs'}",
        *(f"Edited after training: {edits_text(record)}" for record in model.edits),
    ]
    if model.judgement is not None:
        lines.append(f"Not sure: {Judge.from_dict(model.judgement).summary()}")
    if model.metrics:
        lines.append("Results:")
        lines += [
            f"    {name.replace('_', ' ')}: {metric_text(name, value)}"
            for name, value in model.metrics.items()
            if value is not None  # no best epoch, no subset: nothing to say
        ]
    history = "\n".join(
        _row_name(model, row)
        + ": "
        + ", ".join(
            f"{k.replace('_', ' ')} {metric_text(k, v)}"
            for k, v in row.items()
            if isinstance(v, float) and k != "epoch"
        )
        for row in model.history
    )
    config = "\n".join(f"{k}: {v}" for k, v in model.config.items())
    return "\n".join(lines), f"Settings\n{config}\n\nHistory\n{history}"


def epochs_text(model: SavedModel) -> str:
    """Return the epochs of each phase, e.g. "50 epochs + 3 fine-tune epochs"."""
    per_phase = Counter(int(row.get("phase", 0)) for row in model.history)
    parts = []
    for index in sorted(per_phase):
        noun = "epoch" if index == 0 else f"{phase_name(model.phases, index)} epoch"
        parts.append(count(per_phase[index], noun))
    return " + ".join(parts)


def _row_name(model: SavedModel, row: dict) -> str:
    index = int(row.get("phase", 0))
    prefix = "" if index == 0 else f"{phase_name(model.phases, index)} "
    return f"{prefix}epoch {row.get('epoch')}"
