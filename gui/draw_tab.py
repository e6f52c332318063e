"""The Draw tab: draw a digit, see the live prediction, correct it, explain it.

Wires the canvas, prediction panel, input preview and personal gallery to the current
model snapshot. Conversion is `core.preprocess`, the verdict is `core.judgement` with
the model's thresholds from `core.calibration` (set in background threads here); the
only work done on the GUI thread is the conversion and one forward pass (about 2 ms)
per throttled update.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import user_dirs
from core.calibration import digit_subspaces, model_judge
from core.canvas_image import CanvasPicture, CanvasReading, canvas_input
from core.hand_reading import MAX_READ_RIGHT, hand_reading_text, reading_phrase
from core.judgement import Judge, Verdict, digit_class_names, not_a_digit_output
from core.model_io import SavedModel
from core.personal_set import NEGATIVE_LABEL, PersonalSet
from core.preprocess import PreprocessError, at_dataset_size, target_for_shape
from core.robustness import add_noise
from core.run import makes_negatives
from gui.background import start_task, with_blas_limit
from gui.drawing_canvas import MAX_PEN_WIDTH, MIN_PEN_WIDTH, DrawingCanvas
from gui.live_network import ChosenImage, LiveNetworkPanel
from gui.personal_gallery import PersonalGallery
from gui.picture import PictureError, is_image_file, load_picture
from gui.prediction_panel import InputPreview, PredictionPanel, attribution_overlay
from gui.wording import count, with_article

PREDICTION_INTERVAL_MS = 30
# The digit subspaces (`core.calibration`) depend only on the input format: they are
# fitted once per format and process, in a background thread, however many tabs or
# models come and go.
_FITTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digit-subspaces")
_SUBSPACES: dict[str, Future] = {}
# Each model snapshot's thresholds are read or set off the GUI thread too: snapshots
# arrive every epoch while training keeps both cores busy.
_CALIBRATOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge-calibration")
JUDGE_POLL_MS = 20


def subspace_future(target: str) -> Future:
    """Return the (possibly still running) fit of the digit subspaces for a target."""
    if target not in _SUBSPACES:
        _SUBSPACES[target] = _FITTER.submit(with_blas_limit(digit_subspaces), target)
    return _SUBSPACES[target]


PREVIEW_TITLE = "What the network sees"


def preview_title(hand_turn: float, hand_width: float) -> tuple[str, str]:
    """Title and tooltip of the input preview: a hand's model reads as it found."""
    reading = reading_phrase(hand_turn, hand_width)
    if not reading:
        return PREVIEW_TITLE, ""
    tip = (
        hand_reading_text(hand_turn, hand_width)
        + " A fine-tune found them read best so."
    )
    return f"{PREVIEW_TITLE}, {reading}", tip


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
    numbers_requested()
        The user asked to follow the input through the network, with the numbers.
    """

    fine_tune_requested = Signal()
    personal_set_changed = Signal(int)
    input_changed = Signal(object)
    numbers_requested = Signal()

    def __init__(
        self, parent: QWidget | None = None, data_dir: str | Path | None = None
    ) -> None:
        super().__init__(parent)
        self._data_dir = (
            Path(data_dir) if data_dir is not None else user_dirs.data_dir()
        )
        self._model: SavedModel | None = None
        self._target = "mnist"
        self._judge: Judge | None = None
        self._judge_stale = False
        self._judge_future: Future | None = None
        self._judge_key: tuple | None = None
        self._judge_poll = QTimer(self)
        self._judge_poll.setInterval(JUDGE_POLL_MS)
        self._judge_poll.timeout.connect(self._on_judge_poll_timeout)
        self._image: np.ndarray | None = None
        # The canvas ``_image`` was converted from as a drawing, kept with a
        # correction (core.hand_reading reads it again); None for a picture.
        self._drawn: np.ndarray | None = None
        self._probabilities: np.ndarray | None = None
        self._verdict: Verdict | None = None
        self._correction_note = False  # the status line says where a drawing went
        self._corrected = False  # this drawing went to the personal set
        # Drawings answered as a digit and cleared uncorrected, with their digits:
        # a fine-tune weighs how its reading reads them (core.hand_reading). In
        # memory only: the user never asked to keep them.
        self._read_right: deque[tuple[np.ndarray, int]] = deque(maxlen=MAX_READ_RIGHT)
        # Drawn digits answered and then cleared or corrected, and those corrected.
        self._answered = self._misread = 0
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
        # Its room is kept while hidden: the preview never jumps when it appears.
        policy = self.why_legend.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.why_legend.setSizePolicy(policy)
        self.why_legend.setText("Red: toward 0 · blue: away")  # sizes its room
        self.why_legend.setVisible(False)
        self.wrong_button = QPushButton("That's wrong…", self)
        self.wrong_button.setToolTip(
            "Give the right digit, or say it is not a digit: the drawing is kept in "
            "your personal set for the next training or a fine-tune."
        )
        self.wrong_menu = QMenu(self)
        self.wrong_menu.triggered.connect(self._on_wrong_menu_triggered)
        self.wrong_button.setMenu(self.wrong_menu)
        self.numbers_button = QPushButton("Show the numbers…", self)
        self.numbers_button.setToolTip(
            "Follow this input through the network: the forward pass, the cost, "
            "backpropagation and one step of gradient descent, with the numbers"
        )
        self.numbers_button.clicked.connect(self.numbers_requested)
        self.timing_label = QLabel(self)
        self.timing_label.setToolTip("Time of the last forward pass for this drawing")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.gallery = PersonalGallery(PersonalSet(self._data_dir), self)
        self._build_inside_controls()

        self._build_layout()
        self.setAcceptDrops(True)  # an image file dropped here goes on the canvas
        self._opening = ""  # the image file chosen last
        self._reading = 0  # image files being read
        self._picture: CanvasPicture | None = None  # under the strokes, if any
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREDICTION_INTERVAL_MS)

        self._timer.timeout.connect(self.update_prediction)
        self.canvas.changed.connect(self._on_canvas_changed)
        self.pen_slider.valueChanged.connect(self._on_pen_width_changed)
        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button.clicked.connect(self.clear_canvas)
        self.why_check.toggled.connect(self._on_why_toggled)
        self.gallery.fine_tune_requested.connect(self.fine_tune_requested)
        self.gallery.changed.connect(self.personal_set_changed)
        for keys, slot in (
            (QKeySequence(QKeySequence.StandardKey.Undo), self.canvas.undo),
            (QKeySequence(Qt.Key.Key_Escape), self.clear_canvas),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._on_pen_width_changed(self.pen_slider.value())
        self._rebuild_wrong_menu(tuple(str(i) for i in range(10)))
        self.set_model(None)

    def _build_layout(self) -> None:
        # Three columns that fit from 1024x640 up: the canvas, with the pen and noise
        # sliders as wide as the column and Undo and Clear under them; the verdict,
        # its bars (they stretch) and what the network sees; the network, live, or
        # the personal set.
        sliders = QGridLayout()
        sliders.addWidget(self.pen_label, 0, 0)
        sliders.addWidget(self.pen_slider, 0, 1)
        sliders.addWidget(self.noise_label, 1, 0)
        sliders.addWidget(self.noise_slider, 1, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.clear_button)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(sliders)
        left.addLayout(buttons)

        self.preview_box = preview_box = QGroupBox(PREVIEW_TITLE, self)
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addWidget(self.preview, 1)
        under_preview = QHBoxLayout()
        under_preview.addWidget(self.why_check)
        under_preview.addStretch(1)
        under_preview.addWidget(self.timing_label)
        preview_layout.addLayout(under_preview)
        preview_layout.addWidget(self.why_legend)
        # Its own row: beside Why? it would widen this column into the canvas's.
        preview_layout.addWidget(self.numbers_button)
        middle = QVBoxLayout()
        middle.addWidget(self.prediction, 3)
        middle.addWidget(preview_box, 2)
        middle.addWidget(self.wrong_button)
        middle.addWidget(self.status_label)

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
            self._judge = None
            self.wrong_button.setEnabled(False)
            self.why_check.setEnabled(False)
            self.gallery.set_fine_tune_enabled(False)
            self.prediction.show_message(
                "No model yet" if model is None else "Drawing is off", message
            )
            self.preview.set_image(None)
            self.preview.set_overlay(None)
            self.why_legend.setVisible(False)
            self.timing_label.clear()
            self._clear_correction_note()
            self._image = self._probabilities = self._verdict = None
            self.network_panel.set_model(None)
            self.numbers_button.setEnabled(False)
            self.input_changed.emit(None)
            return
        self.numbers_button.setEnabled(True)
        self.prediction.set_class_names(model.class_names)
        self._rebuild_wrong_menu(
            tuple(model.class_names),
            makes_negatives(model.image_shape, digit_class_names(model.class_names)),
        )
        if target != self.gallery.target or self._target != target:
            self._target = target
            self._read_right.clear()
            self._answered = self._misread = 0
            self.gallery.set_target(
                target, int(model.normalization.max_value), tuple(model.class_names)
            )
        self.gallery.set_fine_tune_enabled(True)
        self.why_check.setEnabled(True)
        title, tip = preview_title(model.hand_turn, model.hand_width)
        self.preview_box.setTitle(title)
        self.preview_box.setToolTip(tip)
        self.network_panel.set_model(model)
        subspace_future(target)
        if self._judge is not None and self._judge_key != (target, model.class_names):
            self._judge = None  # the old thresholds only stand in for a like model
        self._judge_key = (target, model.class_names)
        # Read or set on first use: snapshots arrive during training whether or not
        # anyone draws.
        self._judge_stale = True
        self.update_prediction()

    def judge(self) -> Judge | None:
        """Return the judgement in force (`core.calibration.model_judge`).

        While the current model's is made ready in the background, the previous
        like model's stands in (or none, for a moment, after the first model).
        """
        if self._judge_stale and self._model is not None:
            self._judge_stale = False
            self._judge_future = _CALIBRATOR.submit(
                with_blas_limit(model_judge), self._model
            )
            self._judge_poll.start()
        return self._judge

    def judge_pending(self) -> bool:
        """Return True while the current model's judgement is being made ready."""
        return self._judge_future is not None

    @Slot()
    def _on_judge_poll_timeout(self) -> None:
        future = self._judge_future
        if future is None or not future.done():
            return
        self._judge_poll.stop()
        self._judge_future = None
        if self._judge_stale:
            return  # a newer model arrived meanwhile; its judgement starts on use
        self._judge, message = future.result()
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

    def current_verdict(self) -> Verdict | None:
        """Return the verdict last shown, or None."""
        return self._verdict

    def read_right(self) -> tuple[tuple[np.ndarray, int], ...]:
        """Return the latest drawings read right: ``(canvas, digit)``, oldest first.

        Those answered as a digit and cleared without a correction, by this model
        or an earlier one of the same input format, since the app started.
        """
        return tuple(self._read_right)

    def misread_share(self) -> float | None:
        """Return the share of drawn digits the user corrected; None before any.

        Of those answered since the app started (`read_right`'s drawings, and
        corrections of drawings to a digit).
        """
        return self._misread / self._answered if self._answered else None

    @Slot()
    def clear_canvas(self) -> None:
        """Clear the canvas; remember the drawing if it was read right (`read_right`).

        Read right: answered as a digit by the model itself (no noise, no edited
        neurons), and not corrected.
        """
        verdict, canvas = self._verdict, self._drawn
        if (
            canvas is not None
            and verdict is not None
            and verdict.verdict == "digit"
            and not self._corrected
            and not self.prediction_pending()
            # The answer of the model itself, to the drawing itself.
            and self.noise_slider.value() == 0
            and self.network_panel.edited_model() is None
        ):
            self._read_right.append((canvas, int(verdict.digit)))
            self._answered += 1
        self.canvas.clear()

    @Slot()
    def _on_canvas_changed(self) -> None:
        self._clear_correction_note()  # it spoke of the drawing before this change
        self._corrected = False
        if self.canvas.is_blank():
            self._picture = None
        # Coalesce bursts of mouse moves into one prediction per interval.
        if not self._timer.isActive():
            self._timer.start()

    def _clear_correction_note(self) -> None:
        if self._correction_note:
            self._correction_note = False
            self.status_label.clear()

    @Slot()
    def update_prediction(self) -> None:
        """Convert the canvas and predict now (normally called by the 30 ms timer)."""
        self._timer.stop()
        self._image = self._drawn = None
        self._probabilities = None
        self._verdict = None
        model = self._model
        self.wrong_button.setEnabled(False)
        if model is None:
            return
        reading = self._network_input(model)
        image = None if reading is None else reading.image
        self.network_panel.show_input(image)
        self.input_changed.emit(image)
        if reading is None:
            self.prediction.show_message("Draw a digit", "Nothing is drawn yet.")
            self.preview.set_image(None)
            self.preview.set_overlay(None)
            self.why_legend.setVisible(False)  # it explained a drawing now gone
            self.timing_label.clear()
            return
        model = self.network_panel.edited_model() or model
        start = time.perf_counter()
        probabilities = np.asarray(model.predict_proba(image), dtype=np.float32)
        self.last_inference_ms = 1000.0 * (time.perf_counter() - start)
        judge = self.judge()
        if judge is None:
            # No thresholds yet: answer with the best digit, as a plain argmax would.
            names = tuple(model.class_names)
            other = not_a_digit_output(names)
            judge = Judge(len(names) - (other is not None), other, -1.0, 0.0)
        verdict = judge.judge(
            probabilities, image, reading.size, reading.wide_pen, reading.drawing
        )
        self._image, self._drawn = image, reading.canvas
        self._probabilities = probabilities
        self._verdict = verdict
        self.prediction.show_prediction(
            probabilities,
            model.class_names[verdict.digit],
            verdict.verdict == "digit",
            verdict.reason,
            verdict.confidence,
            verdict.not_a_digit,
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
        if model is None or image is None or self._verdict is None:
            return None
        model = self.network_panel.edited_model() or model
        normalization = model.normalization
        flat = image.reshape(1, -1)
        gradient = model.network.input_gradient(
            normalization.apply(model.prepare(flat))[0], self._verdict.digit
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
            name = self._model.class_names[self._verdict.digit]
            self.why_legend.setText(
                f"<span style='color:#d03020'>Red</span>: toward {name} · "
                "<span style='color:#2870e0'>blue</span>: away"
            )
            self.why_legend.setToolTip(
                f"Red: ink that pushed the network toward {name}. Blue: ink that "
                "pushed it away."
            )

    # -- corrections ----------------------------------------------------------------

    def _rebuild_wrong_menu(
        self, class_names: tuple[str, ...], negatives: bool = False
    ) -> None:
        self.wrong_menu.clear()
        self.wrong_menu.setToolTipsVisible(True)
        for index, name in enumerate(digit_class_names(class_names)):
            action = QAction(f"It's {with_article(name)}", self.wrong_menu)
            action.setData(index)
            self.wrong_menu.addAction(action)
        self.wrong_menu.addSeparator()
        self.not_a_digit_action = self.wrong_menu.addAction("Not a digit")
        self.not_a_digit_action.setData(NEGATIVE_LABEL)
        # Made-up non-digits teach the output beside the user's: 28x28 digits only.
        self.not_a_digit_action.setEnabled(negatives)
        self.not_a_digit_action.setToolTip(
            "Keep it as a drawing the model should turn away; a fine-tune teaches "
            "it (a model without a 'not a digit' output gets one)."
            if negatives
            else "Only models that read 28x28 digits can learn what is not a digit."
        )

    @Slot(QAction)
    def _on_wrong_menu_triggered(self, action: QAction) -> None:
        self.mark_wrong(int(action.data()))

    @Slot(int)
    def mark_wrong(self, label: int) -> None:
        """Keep the current input in the personal set with the right ``label``.

        ``label`` is a digit class index, or `core.personal_set.NEGATIVE_LABEL` for
        a drawing that is not a digit.
        """
        if self._image is None or self._model is None:
            return
        drawing = self.gallery.add(self._image, label, self._drawn)
        if drawing is None:
            return
        if self._drawn is not None and not drawing.is_negative and not self._corrected:
            self._answered += 1
            self._misread += 1
        self._corrected = True
        drawings = count(self.gallery.count(), "drawing")
        if drawing.is_negative:
            self.status_label.setText(
                f"Kept as not a digit in your personal set ({drawings}). Fine-tune "
                "now to teach the model to turn such drawings away."
            )
        else:
            name = self._model.class_names[label]
            self.status_label.setText(
                f"Kept as {with_article(name)} in your personal set ({drawings}). "
                "Tick it in the Data panel for the next training, or fine-tune now."
            )
        self._correction_note = True

    # -- image files ----------------------------------------------------------------

    def open_image(self, path: str | Path) -> None:
        """Put an image file on the canvas, read in the background (errors: a dialog).

        It is read and converted as `predict` reads and converts it: like a
        drawing, or as a dataset image when no larger than the model's images.
        """
        path = str(path)
        side = self.canvas.canvas_size
        self._opening = path
        self._reading += 1
        self.status_label.setText(f"Opening {Path(path).name}…")
        start_task(
            lambda _cancel, _report: (path, load_picture(path, side)),
            on_succeeded=self._on_picture_loaded,
            on_failed=self._on_picture_failed,
            on_finished=self._on_picture_finished,
            expected_errors=(PictureError, OSError),
            name="open-image",
        )

    def is_opening_image(self) -> bool:
        """Return True while an image file is being read."""
        return self._reading > 0

    @Slot(object)
    def _on_picture_loaded(
        self, result: tuple[str, tuple[np.ndarray, np.ndarray]]
    ) -> None:
        path, (pixels, picture) = result
        if path != self._opening:
            return  # another file was chosen meanwhile
        read = "converted like a drawing"
        if self._model is not None and at_dataset_size(
            pixels.shape, self._model.image_shape
        ):
            read = "read as a dataset image, as small as the model's own"
        self._show_picture(
            CanvasPicture.of_file(pixels, picture),
            f"{Path(path).name} is on the canvas, {read}. Draw on it, or Clear.",
        )

    def _show_picture(self, picture: CanvasPicture, text: str) -> None:
        # Whatever was on the canvas goes; strokes drawn next go on the picture.
        self._opening = ""  # a file still being read no longer replaces it
        self._picture = picture
        self.canvas.set_picture(picture.shown)
        self.status_label.setText(text)

    def picture(self) -> CanvasPicture | None:
        """Return the picture on the canvas (an image file or a dataset image)."""
        return self._picture

    @Slot(str)
    def _on_picture_failed(self, message: str) -> None:
        self.status_label.clear()
        QMessageBox.warning(self, "Cannot open the image", message)

    @Slot()
    def _on_picture_finished(self) -> None:
        self._reading -= 1

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: D102, N802
        if any(is_image_file(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: D102, N802
        for url in event.mimeData().urls():
            if is_image_file(url.toLocalFile()):
                event.acceptProposedAction()
                self.open_image(url.toLocalFile())
                return

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
        # Its widest text sets the column: the sliders never shift as it changes.
        widest = self.noise_label.fontMetrics().horizontalAdvance("Noise 100%")
        self.noise_label.setMinimumWidth(widest)
        self.noise_slider.valueChanged.connect(self._on_noise_changed)

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

    def _network_input(self, model: SavedModel) -> CanvasReading | None:
        """Return what the network reads from the canvas (core.canvas_image), noisy."""
        max_value = model.normalization.max_value
        reading = canvas_input(
            self.canvas.to_array(),
            self._picture,
            not self.canvas.only_picture(),
            tuple(model.image_shape),
            max_value,
            model.hand_width,
            model.hand_turn,
        )
        noise = self.noise_slider.value() / 100.0
        if reading is not None and noise > 0:
            noisy = add_noise(reading.image, noise, max_value)
            reading = dataclasses.replace(reading, image=noisy)
        return reading

    @Slot(object)
    def put_image(self, chosen: ChosenImage) -> None:
        """Put a dataset image on the canvas, to predict and draw over."""
        try:
            picture = CanvasPicture.of_image(
                chosen.image, chosen.max_value, self.canvas.canvas_size
            )
        except ValueError as error:
            self.status_label.setText(f"Cannot put that image on the canvas: {error}.")
            return
        self._show_picture(
            picture, f"On the canvas: {chosen.description}. Draw over it, or Clear."
        )
        self.update_prediction()

    def shutdown(self) -> None:
        """Stop the network panel's background work."""
        self.network_panel.shutdown()
