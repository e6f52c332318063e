"""The Draw tab: draw a digit, see the live prediction, correct it, explain it.

Wires the canvas, prediction panel, input preview and personal gallery to the current
model snapshot. Conversion is `core.preprocess`, honesty is `core.confidence`; the only
work done here is one forward pass (well under 5 ms) per throttled update.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import user_dirs
from core.canvas_image import canvas_to_placed, placed_to_canvas
from core.confidence import ConfidenceError, ConfidenceGate, Judgement
from core.datasets import DatasetError, load_bundled
from core.model_io import SavedModel
from core.personal_set import PersonalSet
from core.preprocess import PreprocessError, canvas_to_image, target_for_shape
from core.robustness import add_noise
from gui.drawing_canvas import MAX_PEN_WIDTH, MIN_PEN_WIDTH, DrawingCanvas
from gui.live_network import ChosenImage, LiveNetworkPanel
from gui.personal_gallery import PersonalGallery
from gui.prediction_panel import InputPreview, PredictionPanel, attribution_overlay

PREDICTION_INTERVAL_MS = 30
# Real digits drawn from the bundled sets calibrate the "not sure" thresholds: 4,000
# fit the class subspaces and set the novelty limits, 1,000 of them set the top-
# probability threshold of each model (one forward pass, about 15 ms).
_CALIBRATION_IMAGES = 4000
_MODEL_CALIBRATION_IMAGES = 1000
_DIGITS = tuple(str(digit) for digit in range(10))
# The digit subspaces depend only on the input format, so they are fitted once per
# format and process, in a background thread (pure NumPy: reading the bundled set and
# fitting take 0.1-0.3 s), however many tabs or models come and go.
_FITTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digit-subspaces")
_SUBSPACES: dict[str, Future] = {}
# Each model snapshot's threshold is calibrated off the GUI thread too: snapshots
# arrive every epoch while training keeps both cores busy.
_CALIBRATOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-calibration")
GATE_POLL_MS = 20


def _fit_subspaces(target: str) -> ConfidenceGate:
    name = "digits-8x8" if target == "digits-8x8" else "mnist-sample"
    reference = load_bundled(name)
    rng = np.random.default_rng(0)
    count = min(_CALIBRATION_IMAGES, len(reference))
    chosen = rng.choice(len(reference), size=count, replace=False)
    return ConfidenceGate.fit(
        reference.images[chosen], reference.labels[chosen], reference.max_value
    )


def subspace_future(target: str) -> Future:
    """Return the (possibly still running) fit of the digit subspaces for a target."""
    if target not in _SUBSPACES:
        _SUBSPACES[target] = _FITTER.submit(_fit_subspaces, target)
    return _SUBSPACES[target]


def target_for(model: SavedModel) -> str:
    """Return the `core.preprocess` target that makes inputs for ``model``."""
    return target_for_shape(tuple(model.image_shape))


class DrawTab(QWidget):
    """Draw a digit and watch the current model classify it.

    Signals
    -------
    fine_tune_requested()
        The user asked to fine-tune the current model on the personal drawings mixed
        with training data; the main window runs it.
    personal_set_changed(int)
        Drawings were added to or deleted from the personal set; the new count.
    input_changed(object)
        The network's input changed: a uint8 ``(H, W)`` image, or None.
    """

    fine_tune_requested = Signal()
    personal_set_changed = Signal(int)
    input_changed = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, data_dir: str | Path | None = None
    ) -> None:
        super().__init__(parent)
        self._data_dir = (
            Path(data_dir) if data_dir is not None else user_dirs.data_dir()
        )
        self._model: SavedModel | None = None
        self._target = "mnist"
        self._gate: ConfidenceGate | None = None
        self._gate_stale = False
        self._gate_future: Future | None = None
        self._gate_key: tuple | None = None
        self._gate_poll = QTimer(self)
        self._gate_poll.setInterval(GATE_POLL_MS)
        self._gate_poll.timeout.connect(self._on_gate_poll_timeout)
        self._image: np.ndarray | None = None
        self._probabilities: np.ndarray | None = None
        self._judgement: Judgement | None = None
        self.last_inference_ms: float | None = None

        self.canvas = DrawingCanvas(self)
        self.pen_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.pen_slider.setRange(int(MIN_PEN_WIDTH), int(MAX_PEN_WIDTH))
        self.pen_slider.setValue(int(self.canvas.pen_width()))
        self.pen_slider.setToolTip("Pen width for the next strokes, in canvas pixels")
        self.pen_label = QLabel(self)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z)")
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("Clear the canvas (Esc or Delete)")

        self.prediction = PredictionPanel(self)
        self.preview = InputPreview(self)
        self.why_check = QCheckBox("Why?", self)
        self.why_check.setToolTip(
            "Colour the input by how each drawn pixel moved the network toward its "
            "answer: red pushed toward it, blue pushed away (input gradient x ink)."
        )
        self.why_legend = QLabel(self)
        self.why_legend.setWordWrap(True)
        self.why_legend.setVisible(False)
        self.wrong_button = QPushButton("That's wrong…", self)
        self.wrong_button.setToolTip(
            "Give the right digit: the drawing is kept in your personal set for the "
            "next training or a fine-tune."
        )
        self.wrong_menu = QMenu(self)
        self.wrong_menu.triggered.connect(self._on_wrong_menu_triggered)
        self.wrong_button.setMenu(self.wrong_menu)
        self.timing_label = QLabel(self)
        self.timing_label.setToolTip("Time of the last forward pass for this drawing")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.gallery = PersonalGallery(PersonalSet(self._data_dir), self)
        self._build_inside_controls()

        self._build_layout()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREDICTION_INTERVAL_MS)

        self._timer.timeout.connect(self.update_prediction)
        self.canvas.changed.connect(self._on_canvas_changed)
        self.pen_slider.valueChanged.connect(self._on_pen_width_changed)
        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button.clicked.connect(self.canvas.clear)
        self.why_check.toggled.connect(self._on_why_toggled)
        self.gallery.fine_tune_requested.connect(self.fine_tune_requested)
        self.gallery.changed.connect(self.personal_set_changed)
        for keys, slot in (
            (QKeySequence(QKeySequence.StandardKey.Undo), self.canvas.undo),
            (QKeySequence(Qt.Key.Key_Escape), self.canvas.clear),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._on_pen_width_changed(self.pen_slider.value())
        self._rebuild_wrong_menu(tuple(str(i) for i in range(10)))
        self.set_model(None)

    def _build_layout(self) -> None:
        pen_row = QHBoxLayout()
        pen_row.addWidget(self.pen_label)
        pen_row.addWidget(self.pen_slider, 1)
        pen_row.addWidget(self.undo_button)
        pen_row.addWidget(self.clear_button)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(pen_row)

        preview_box = QGroupBox("What the network sees", self)
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addWidget(self.preview, 1)
        under_preview = QHBoxLayout()
        under_preview.addWidget(self.why_check)
        under_preview.addStretch(1)
        under_preview.addWidget(self.timing_label)
        preview_layout.addLayout(under_preview)
        preview_layout.addWidget(self.why_legend)
        middle = QVBoxLayout()
        middle.addWidget(self.prediction, 3)
        middle.addWidget(preview_box, 2)
        middle.addWidget(self.wrong_button)
        middle.addWidget(self.status_label)

        left.addLayout(self._noise_row())
        gallery_box = QWidget(self)
        gallery_layout = QVBoxLayout(gallery_box)
        gallery_layout.addWidget(self.gallery)
        self.side_tabs.addTab(self.network_panel, "Network")
        self.side_tabs.addTab(gallery_box, "Personal set")
        self.side_tabs.setTabToolTip(0, "The network's neurons, live, as you draw")
        self.side_tabs.setTabToolTip(1, "Your corrected drawings")

        layout = QHBoxLayout(self)
        layout.addLayout(left, 5)
        layout.addLayout(middle, 3)
        layout.addWidget(self.side_tabs, 2)
        self.side_tabs.currentChanged.connect(self._on_side_tab_changed)
        self._on_side_tab_changed(self.side_tabs.currentIndex())

    # -- model ----------------------------------------------------------------------

    def model(self) -> SavedModel | None:
        """Return the model predictions are made with."""
        return self._model

    def set_model(self, model: SavedModel | None) -> None:
        """Use a new model snapshot (or none) from now on and re-predict."""
        self._model = model
        target = None
        if model is not None:
            try:
                target = target_for(model)
            except PreprocessError as error:
                message = f"This model cannot read drawings: {error}."
                self._model = None
        else:
            message = (
                "Train one on the Train tab, or open a saved one with File ▸ Open."
            )
        if self._model is None or target is None:
            self._model = None
            self._gate = None
            self.wrong_button.setEnabled(False)
            self.why_check.setEnabled(False)
            self.gallery.set_fine_tune_enabled(False)
            self.prediction.show_message(
                "No model yet" if model is None else "Drawing is off", message
            )
            self.preview.set_image(None)
            self.preview.set_overlay(None)
            self.timing_label.clear()
            self._image = self._probabilities = self._judgement = None
            self.network_panel.set_model(None)
            self.input_changed.emit(None)
            return
        self.prediction.set_class_names(model.class_names)
        self._rebuild_wrong_menu(tuple(model.class_names))
        if target != self.gallery.target or self._target != target:
            self._target = target
            self.gallery.set_target(
                target, int(model.normalization.max_value), tuple(model.class_names)
            )
        self.gallery.set_fine_tune_enabled(True)
        self.why_check.setEnabled(True)
        self.network_panel.set_model(model)
        subspace_future(target)
        if self._gate is not None and self._gate_key != (target, model.class_names):
            self._gate = None  # the old thresholds only stand in for a like model
        self._gate_key = (target, model.class_names)
        # Calibrated on first use: snapshots arrive during training whether or not
        # anyone draws.
        self._gate_stale = True
        self.update_prediction()

    @staticmethod
    def _calibrated_gate(model: SavedModel) -> tuple[ConfidenceGate | None, str]:
        """Return the model's gate and a message when the check is off (any thread)."""
        try:
            subspace = subspace_future(target_for(model)).result()
        except (DatasetError, ConfidenceError, OSError) as error:
            return None, f"Confidence check off: {error}"
        if subspace.means.shape[1] != int(np.prod(model.image_shape)):
            return None, ""
        if tuple(model.class_names) != _DIGITS:
            # Not a digit model (an imported set of other classes): the digit
            # subspaces and digit images say nothing about it; keep only the floor
            # on the top probability.
            return replace(subspace, max_error=np.inf, max_relative_error=np.inf), ""
        try:
            gate = subspace.for_model(
                model.predict_proba, max_images=_MODEL_CALIBRATION_IMAGES
            )
        except (ConfidenceError, ValueError) as error:
            return None, f"Confidence check off: {error}"
        return gate, ""

    def gate(self) -> ConfidenceGate | None:
        """Return the "not sure" thresholds in force.

        While the current model's are calibrated in the background, the previous
        like model's stand in (or none, for a moment, after the first model).
        """
        if self._gate_stale and self._model is not None:
            self._gate_stale = False
            self._gate_future = _CALIBRATOR.submit(self._calibrated_gate, self._model)
            self._gate_poll.start()
        return self._gate

    def gate_pending(self) -> bool:
        """Return True while the current model's thresholds are being calibrated."""
        return self._gate_future is not None

    @Slot()
    def _on_gate_poll_timeout(self) -> None:
        future = self._gate_future
        if future is None or not future.done():
            return
        self._gate_poll.stop()
        self._gate_future = None
        if self._gate_stale:
            return  # a newer model arrived meanwhile; its calibration starts on use
        self._gate, message = future.result()
        if message:
            self.status_label.setText(message)
        if self._image is not None:
            self.update_prediction()

    # -- prediction -----------------------------------------------------------------

    def prediction_pending(self) -> bool:
        """Return True while a canvas change waits for its throttled prediction."""
        return self._timer.isActive()

    def current_image(self) -> np.ndarray | None:
        """Return the converted input last shown, or None."""
        return self._image

    def current_probabilities(self) -> np.ndarray | None:
        """Return the probabilities last shown, or None."""
        return self._probabilities

    def current_judgement(self) -> Judgement | None:
        """Return the verdict last shown, or None."""
        return self._judgement

    @Slot()
    def _on_canvas_changed(self) -> None:
        # Coalesce bursts of mouse moves into one prediction per interval.
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def update_prediction(self) -> None:
        """Convert the canvas and predict now (normally called by the 30 ms timer)."""
        self._timer.stop()
        self._image = None
        self._probabilities = None
        self._judgement = None
        model = self._model
        self.wrong_button.setEnabled(False)
        if model is None:
            return
        image = self._network_input(model)
        self.network_panel.show_input(image)
        self.input_changed.emit(image)
        if image is None:
            self.prediction.show_message("Draw a digit", "Nothing is drawn yet.")
            self.preview.set_image(None)
            self.preview.set_overlay(None)
            self.timing_label.clear()
            return
        model = self.network_panel.edited_model() or model
        start = time.perf_counter()
        probabilities = np.asarray(model.predict_proba(image), dtype=np.float32)
        self.last_inference_ms = 1000.0 * (time.perf_counter() - start)
        predicted = int(np.argmax(probabilities))
        gate = self.gate()
        if gate is not None:
            judgement = gate.judge(image, probabilities)
        else:
            judgement = Judgement(
                predicted, float(probabilities[predicted]), 0.0, True, ""
            )
        self._image = image
        self._probabilities = probabilities
        self._judgement = judgement
        name = model.class_names[predicted]
        self.prediction.show_prediction(
            probabilities, name, judgement.sure, judgement.reason
        )
        self.preview.set_image(image, int(model.normalization.max_value))
        self.timing_label.setText(f"{self.last_inference_ms:.2f} ms")
        self.wrong_button.setEnabled(True)
        self._update_overlay()

    def attribution(self) -> np.ndarray | None:
        """Signed ``(H, W)`` contribution of each drawn pixel to the predicted class.

        Input gradient of the class's log-probability with respect to the raw pixels,
        times the ink: red in the overlay where the drawing pushed toward the answer.
        """
        model, image = self._model, self._image
        if model is None or image is None or self._judgement is None:
            return None
        model = self.network_panel.edited_model() or model
        normalization = model.normalization
        flat = image.reshape(1, -1)
        gradient = model.network.input_gradient(
            normalization.apply(flat)[0], self._judgement.predicted
        )
        # The normalisation is affine, so its per-pixel slope is f(1) - f(0).
        slope = (
            normalization.apply(np.ones_like(flat))[0]
            - normalization.apply(np.zeros_like(flat))[0]
        )
        return (gradient * slope * flat[0].astype(np.float32)).reshape(image.shape)

    @Slot(bool)
    def _on_why_toggled(self, checked: bool) -> None:
        self._update_overlay()

    def _update_overlay(self) -> None:
        attribution = self.attribution() if self.why_check.isChecked() else None
        self.preview.set_overlay(
            None if attribution is None else attribution_overlay(attribution)
        )
        self.why_legend.setVisible(attribution is not None)
        if attribution is not None and self._model is not None:
            name = self._model.class_names[self._judgement.predicted]
            self.why_legend.setText(
                f"<span style='color:#d03020'>Red</span>: ink that pushed toward "
                f"{name}. <span style='color:#2870e0'>Blue</span>: ink that pushed "
                "away."
            )

    # -- corrections ----------------------------------------------------------------

    def _rebuild_wrong_menu(self, class_names: tuple[str, ...]) -> None:
        self.wrong_menu.clear()
        for index, name in enumerate(class_names):
            action = QAction(f"It's a {name}", self.wrong_menu)
            action.setData(index)
            self.wrong_menu.addAction(action)

    @Slot(QAction)
    def _on_wrong_menu_triggered(self, action: QAction) -> None:
        self.mark_wrong(int(action.data()))

    @Slot(int)
    def mark_wrong(self, label: int) -> None:
        """Keep the current input in the personal set with the right ``label``."""
        if self._image is None or self._model is None:
            return
        drawing = self.gallery.add(self._image, label)
        if drawing is not None:
            name = self._model.class_names[label]
            self.status_label.setText(
                f"Kept as a {name} in your personal set ({self.gallery.count()} "
                "drawings). Tick it in the Data panel for the next training, or "
                "fine-tune now."
            )

    @Slot(int)
    def _on_pen_width_changed(self, width: int) -> None:
        self.canvas.set_pen_width(width)
        self.pen_label.setText(f"Pen {width} px")

    # -- the network, test images and noise ------------------------------------------

    def _build_inside_controls(self) -> None:
        self.side_tabs = QTabWidget(self)
        self.network_panel = LiveNetworkPanel(self)
        self.network_panel.edits_changed.connect(self.update_prediction)
        self.network_panel.image_chosen.connect(self.put_image)
        self.noise_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.noise_slider.setRange(0, 100)
        self.noise_slider.setToolTip(
            "Add Gaussian noise to what the network sees (standard deviation in % of "
            "white), to see how the answer holds up"
        )
        self.noise_label = QLabel("Noise 0%", self)
        self.noise_slider.valueChanged.connect(self._on_noise_changed)

    def _noise_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.noise_label)
        row.addWidget(self.noise_slider, 1)
        return row

    @Slot(int)
    def _on_side_tab_changed(self, index: int) -> None:
        # The network needs the room; the personal set is a narrow column.
        layout = self.layout()
        wide = self.side_tabs.widget(index) is self.network_panel
        layout.setStretch(0, 4 if wide else 5)
        layout.setStretch(2, 6 if wide else 2)

    @Slot(int)
    def _on_noise_changed(self, value: int) -> None:
        self.noise_label.setText(f"Noise {value}%")
        self._on_canvas_changed()

    def _network_input(self, model: SavedModel) -> np.ndarray | None:
        """Return the canvas as the network's image (a placed image exactly), noisy."""
        canvas = self.canvas.to_array()
        placed = self.canvas.placed_shape()
        max_value = model.normalization.max_value
        if placed is not None and placed == tuple(model.image_shape):
            image = canvas_to_placed(canvas, placed, max_value)
        else:
            image = canvas_to_image(canvas, self._target, ink_is_bright=True)
        noise = self.noise_slider.value() / 100.0
        if image is not None and noise > 0:
            image = add_noise(image, noise, max_value)
        return image

    @Slot(object)
    def put_image(self, chosen: ChosenImage) -> None:
        """Put a dataset image on the canvas, to predict and draw over."""
        image = np.asarray(chosen.image)
        try:
            canvas = placed_to_canvas(image, chosen.max_value, self.canvas.canvas_size)
        except ValueError as error:
            self.status_label.setText(f"Cannot put that image on the canvas: {error}.")
            return
        self.canvas.set_image(canvas, image.shape)
        self.status_label.setText(
            f"On the canvas: {chosen.description}. Draw over it, or Clear."
        )
        self.update_prediction()

    def shutdown(self) -> None:
        """Stop the network panel's background work."""
        self.network_panel.shutdown()
