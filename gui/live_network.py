"""The network, live, beside the canvas, and switching its neurons off and on.

Neurons are coloured by the current drawing; a clicked neuron shows what it looks for.

`LiveNetworkPanel` keeps the edits of the model it is shown (they never change that
model: predictions use an edited copy) and asks `gui.inside_workers` for everything
computed over a dataset. Per drawing it runs one forward pass of a single input (the
Draw tab's throttled update, well under a millisecond), nothing more.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.datasets import Dataset
from core.model_io import ModelFileError, SavedModel, save_model
from core.neuron_edits import NeuronEdit, edited_metadata, edited_network
from core.neurons import trace
from gui.inside_workers import (
    EditAccuracy,
    TaskSlot,
    edit_accuracy_job,
    exciting_job,
)
from gui.network_view import NetworkView
from gui.neuron_detail import NeuronDetail

EDIT_DELAY_MS = 150
MODEL_FILTER = "Digit Studio models (*.npz);;All files (*)"


def _signed_points(before: float, after: float) -> str:
    points = 100 * (after - before)
    return f"{'+' if points >= 0 else '−'}{abs(points):.2f} points"


@dataclasses.dataclass(frozen=True)
class ChosenImage:
    """A dataset image someone asked to put on the canvas."""

    image: np.ndarray
    max_value: int
    label: str
    description: str
    go_to_canvas: bool = False

    @classmethod
    def of(cls, data: Dataset, index: int, go_to_canvas: bool = False) -> ChosenImage:
        """Describe image ``index`` of ``data``."""
        label = data.class_names[int(data.labels[index])]
        return cls(
            data.image_at(index),
            data.max_value,
            label,
            f"image {index} of {data.name} (a {label})",
            go_to_canvas,
        )


class LiveNetworkPanel(QWidget):
    """Network view, neuron detail and the edit bar, for the current model.

    Signals
    -------
    edits_changed()
        Neurons were switched off, scaled or reset: predictions must use
        `edited_model` from now on.
    image_chosen(object)
        A `ChosenImage` to put on the canvas.
    """

    edits_changed = Signal()
    image_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: SavedModel | None = None
        self._edited: SavedModel | None = None
        self._training: Dataset | None = None
        self._validation: Dataset | None = None
        self._kind = "held-out"
        self._image: np.ndarray | None = None
        self._stale = False
        self._scales: dict[tuple[int, int], float] = {}
        self._selected: tuple[int, int] | None = None
        self._exciting: tuple[SavedModel, Dataset, list] | None = None
        self._exciting_progress = 0.0
        self._base_accuracy: tuple[SavedModel, Dataset, float] | None = None
        self._accuracy: EditAccuracy | None = None
        self._drawing_change = ""
        self._shown_for = 0
        self._save_folder = Path.home()

        title = QLabel("The network, live", self)
        font = QFont(self.font())
        font.setBold(True)
        title.setFont(font)
        hint = QLabel(
            "hover: value · click: what a unit looks for · right-click: switch off",
            self,
        )
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.view = NetworkView(self)
        self.edits_label = QLabel(self)
        self.edits_label.setWordWrap(True)
        self.edits_label.setTextFormat(Qt.TextFormat.RichText)
        self.reset_button = QPushButton("Reset edits", self)
        self.reset_button.setToolTip(
            "Switch every edited unit back to its trained output"
        )
        self.save_button = QPushButton("Save edited model…", self)
        self.save_button.setToolTip(
            "Save the network with these edits as a new model file (its metadata "
            "lists the edits)"
        )
        self.detail = NeuronDetail(self)
        self.detail.hide()

        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(hint)
        edit_row = QHBoxLayout()
        edit_row.addWidget(self.edits_label, 1)
        edit_row.addWidget(self.reset_button)
        edit_row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addLayout(edit_row)
        layout.addWidget(self.detail)

        self._exciting_task = TaskSlot("most-exciting", self)
        self._accuracy_task = TaskSlot("edit-accuracy", self)
        self._edit_timer = QTimer(self)
        self._edit_timer.setSingleShot(True)
        self._edit_timer.setInterval(EDIT_DELAY_MS)
        self._edit_timer.timeout.connect(self._measure_edits)
        self.view.neuron_clicked.connect(self.select)
        self.view.neuron_toggled.connect(self.toggle)
        self.detail.scale_changed.connect(self.set_scale)
        self.detail.image_activated.connect(self._on_exciting_image_activated)
        self.reset_button.clicked.connect(self.reset_edits)
        self.save_button.clicked.connect(self.on_save_clicked)
        self._describe_edits()

    # -- inputs ---------------------------------------------------------------------

    def set_model(self, model: SavedModel | None) -> None:
        """Show ``model``; a different model starts with no edits."""
        if model is self._model:
            return
        had_edits = bool(self._scales)
        self._model = model
        shape = None if model is None else tuple(model.image_shape)
        if self._image is not None and shape is not None and self._image.shape != shape:
            self._image = None  # another model's input: its own comes next
        self._scales = {}
        self._edited = None
        self._accuracy = None
        self._selected = None
        self._exciting_task.cancel()
        self._accuracy_task.cancel()
        self.detail.hide()
        self._describe_edits()
        if had_edits:
            self.edits_changed.emit()
        self._refresh()

    def set_data(
        self,
        training: Dataset | None,
        validation: Dataset | None,
        kind: str = "held-out",
    ) -> None:
        """Search ``training`` for exciting images; judge edits on ``validation``.

        ``kind`` names the validation images in the text ("test", "held-out"…).
        """
        self._kind = kind
        if training is self._training and validation is self._validation:
            self._describe_edits()
            return
        self._training = training
        self._validation = validation
        self._accuracy = None
        if self._selected is not None:
            self._show_detail()
        if self._scales:
            self._edit_timer.start()

    def show_input(self, image: np.ndarray | None) -> None:
        """Trace this input (the network's ``(H, W)`` image) when visible."""
        self._image = image
        self._refresh()

    # -- edits ----------------------------------------------------------------------

    def edits(self) -> tuple[NeuronEdit, ...]:
        """Return the edits in force, by layer and unit."""
        return tuple(
            NeuronEdit(layer, unit, scale)
            for (layer, unit), scale in sorted(self._scales.items())
        )

    def edited_model(self) -> SavedModel | None:
        """Return the model with the edits applied, or None without edits."""
        if self._model is None or not self._scales:
            return None
        if self._edited is None:
            network = edited_network(self._model.network, self.edits())
            self._edited = dataclasses.replace(self._model, network=network)
        return self._edited

    @Slot(int, int, float)
    def set_scale(self, layer: int, unit: int, scale: float) -> None:
        """Multiply a hidden unit's output by ``scale`` (1 removes the edit)."""
        if self._model is None:
            return
        key = (int(layer), int(unit))
        if scale == 1.0:
            self._scales.pop(key, None)
        else:
            self._scales[key] = float(scale)
        self._edited = None
        if self._selected == key:
            self.detail.set_scale(float(scale))
        self._describe_edits()
        self.edits_changed.emit()
        self._refresh()
        self._edit_timer.start()

    @Slot(int, int)
    def toggle(self, layer: int, unit: int) -> None:
        """Switch a hidden unit off, or back to its trained output."""
        off = self._scales.get((layer, unit)) == 0
        self.set_scale(layer, unit, 1.0 if off else 0.0)

    @Slot()
    def reset_edits(self) -> None:
        """Undo every edit."""
        if not self._scales:
            return
        self._scales = {}
        self._edited = None
        self._accuracy = None
        self._accuracy_task.cancel()
        if self._selected is not None:
            self.detail.set_scale(1.0)
        self._describe_edits()
        self.edits_changed.emit()
        self._refresh()

    def accuracy(self) -> EditAccuracy | None:
        """Return the last measured effect of the edits, or None."""
        return self._accuracy

    def measuring(self) -> bool:
        """Return True while the edits' accuracy is being measured."""
        return self._edit_timer.isActive() or self._accuracy_task.is_running()

    @Slot()
    def _measure_edits(self) -> None:
        model, data = self._model, self._validation
        if model is None or data is None or not self._scales or not self._fits(data):
            self._describe_edits()
            return
        cached = self._base_accuracy
        before = None
        if cached is not None and cached[0] is model and cached[1] is data:
            before = cached[2]
        self._accuracy_task.start(
            edit_accuracy_job(model, self.edits(), data, before),
            on_succeeded=self._on_accuracy_measured,
        )
        self._describe_edits()

    def _on_accuracy_measured(self, result: EditAccuracy) -> None:
        if self._model is not None and self._validation is not None:
            self._base_accuracy = (self._model, self._validation, result.before)
        if result.edits == self.edits():
            self._accuracy = result
        self._describe_edits()

    def _fits(self, data: Dataset) -> bool:
        return self._model is not None and tuple(data.image_shape) == tuple(
            self._model.image_shape
        )

    def _describe_edits(self) -> None:
        has_edits = bool(self._scales)
        self.reset_button.setEnabled(has_edits)
        self.save_button.setEnabled(has_edits and self._model is not None)
        if not has_edits:
            self.edits_label.setText(
                "No edits: right-click a hidden unit, or click it and use "
                "<i>Switch off</i>, to see what the network does without it."
            )
            return
        parts = [", ".join(edit.describe() for edit in self.edits()) + "."]
        if self._drawing_change:
            parts.append(self._drawing_change)
        data = self._validation
        result = self._accuracy
        if result is not None and result.edits == self.edits():
            parts.append(
                f"Accuracy on {result.images:,} {self._kind} images: "
                f"{100 * result.before:.2f}% → {100 * result.after:.2f}% "
                f"(<b>{_signed_points(result.before, result.after)}</b>)."
            )
        elif data is not None and self._fits(data):
            parts.append(
                f"Measuring the accuracy on {len(data):,} {self._kind} images…"
            )
        else:
            parts.append("(Load a dataset of this model's images to measure accuracy.)")
        self.edits_label.setText(" ".join(parts))

    # -- selection ------------------------------------------------------------------

    def selected(self) -> tuple[int, int] | None:
        """Return the (layer, unit) whose detail is shown, or None."""
        return self._selected

    @Slot(int, int)
    def select(self, layer: int, unit: int) -> None:
        """Show what a hidden unit looks for."""
        if self._model is None:
            return
        self._selected = (int(layer), int(unit))
        self._show_detail()
        self._refresh()

    def exciting_ready(self) -> bool:
        """Return True when the most exciting images of the current model are known."""
        return self._exciting_result() is not None

    def _exciting_result(self) -> list | None:
        cached = self._exciting
        if (
            cached is not None
            and cached[0] is self._model
            and cached[1] is self._training
        ):
            return cached[2]
        return None

    def _show_detail(self) -> None:
        model, selected = self._model, self._selected
        if model is None or selected is None:
            self.detail.hide()
            return
        layer, unit = selected
        network = model.network
        weights = network.weights[layer][:, unit]
        shape = tuple(model.image_shape) if layer == 0 else None
        self.detail.show_neuron(
            layer, unit, weights, shape, self._scales.get(selected, 1.0)
        )
        self.detail.show()
        self._show_exciting()

    def _show_exciting(self) -> None:
        selected, data, model = self._selected, self._training, self._model
        if selected is None or model is None:
            return
        if data is None or not self._fits(data):
            self.detail.set_images(
                None, 255, np.zeros(0), None, "Load a dataset of this model's images."
            )
            return
        result = self._exciting_result()
        if result is None:
            self.detail.set_images(
                None,
                data.max_value,
                np.zeros(0),
                None,
                f"Searching {len(data):,} images of {data.name}…",
            )
            if not self._exciting_task.is_running():
                self._exciting_task.start(
                    exciting_job(model, data),
                    on_succeeded=self._on_exciting_found,
                    on_failed=self._on_task_failed,
                )
            return
        layer, unit = selected
        indices, values = result[layer][0][unit], result[layer][1][unit]
        names = data.class_names
        tooltips = [
            f"image {i} of {data.name} (a {names[data.labels[i]]}): activation "
            f"{v:.4g}\nDouble-click to put it on the canvas"
            for i, v in zip(indices, values, strict=True)
        ]
        self.detail.set_images(
            data.images_at(indices), data.max_value, indices, tooltips
        )

    def _on_exciting_found(self, result: list) -> None:
        if self._model is not None and self._training is not None:
            self._exciting = (self._model, self._training, result)
        self._show_exciting()

    @Slot(str)
    def _on_task_failed(self, message: str) -> None:
        self.detail.set_images(
            None, 255, np.zeros(0), None, "Failed: " + message.split("\n\n")[0]
        )

    @Slot(int)
    def _on_exciting_image_activated(self, index: int) -> None:
        data = self._training
        if data is not None:
            self.image_chosen.emit(ChosenImage.of(data, index))

    # -- drawing --------------------------------------------------------------------

    def showEvent(self, event) -> None:  # noqa: D102
        super().showEvent(event)
        if self._stale:
            self._refresh()

    def resizeEvent(self, event) -> None:  # noqa: D102
        super().resizeEvent(event)
        # The view's height decides how many units fit in a column.
        if self.view.trace() is not None and self.view.max_shown() != self._shown_for:
            self._refresh()

    def _refresh(self) -> None:
        """Trace the current input now if the panel is visible, else when shown."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        model, image = self._model, self._image
        if model is None:
            self.view.set_message(
                "No model yet: train one or open a saved one to see its neurons."
            )
            return
        if image is None:
            self.view.set_message(
                "Draw a digit: its path through the network shows here."
            )
            self._drawing_change = ""
            self._describe_edits()
            return
        used = self.edited_model() or model
        keep: list[set[int]] = [set() for _ in used.network.layer_sizes[1:]]
        for layer, unit in self._scales:
            keep[layer].add(unit)
        if self._selected is not None:
            keep[self._selected[0]].add(self._selected[1])
        self._shown_for = self.view.max_shown()
        inputs = model.normalization.apply(model.prepare(image.reshape(1, -1)))[0]
        result = trace(used.network, inputs, self._shown_for, keep)
        self.view.set_trace(
            result,
            model.class_names,
            image,
            int(model.normalization.max_value),
            self._scales,
            self._selected,
        )
        if self._selected is not None:
            layer, unit = self._selected
            value = float(result.outputs[layer][unit])
            self.detail.set_value(f"activation {value:.4g} for this drawing")
        self._describe_drawing_change(inputs, result.predicted)

    def _describe_drawing_change(self, inputs: np.ndarray, predicted: int) -> None:
        model = self._model
        text = ""
        if model is not None and self._scales:
            before = model.network.predict_proba(inputs)
            was = int(np.argmax(before))
            names = model.class_names
            after = self.edited_model().network.predict_proba(inputs)
            text = (
                f"This drawing: {names[was]} ({100 * before[was]:.1f}%) → "
                f"{names[predicted]} ({100 * after[predicted]:.1f}%)"
                f"{'' if was == predicted else ' <b>changed</b>'}."
            )
        if text != self._drawing_change:
            self._drawing_change = text
            self._describe_edits()

    # -- saving ---------------------------------------------------------------------

    @Slot()
    def on_save_clicked(self) -> None:
        """Ask for a file name and save the edited network as a new model."""
        model = self._model
        if model is None or not self._scales:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save the edited model",
            str(self._save_folder / "edited-model.npz"),
            MODEL_FILTER,
        )
        if path:
            self.save_edited(
                Path(path if path.lower().endswith(".npz") else path + ".npz")
            )

    def save_edited(self, path: Path) -> bool:
        """Write the edited network and its metadata (with the edits) to ``path``."""
        model, edited = self._model, self.edited_model()
        if model is None or edited is None:
            return False
        evaluation = None
        result = self._accuracy
        if result is not None and result.edits == self.edits():
            data = self._validation
            evaluation = {
                "dataset": data.name if data is not None else "",
                "images": result.images,
                "accuracy_before": result.before,
                "accuracy_after": result.after,
            }
        metadata = edited_metadata(model.metadata, self.edits(), evaluation)
        try:
            save_model(path, edited.network, metadata)
        except (ModelFileError, OSError) as error:
            self.edits_label.setText(f"Could not save: {error}")
            return False
        self._save_folder = Path(path).parent
        self.edits_label.setText(
            f"Saved the edited network to {Path(path).name} (File ▸ Open to use it)."
        )
        return True

    @Slot()
    def shutdown(self) -> None:
        """Stop the background jobs and wait briefly for them."""
        self._edit_timer.stop()
        self._exciting_task.shutdown()
        self._accuracy_task.shutdown()
