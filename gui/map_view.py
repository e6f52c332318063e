"""Where the digits live: a 2-D PCA map of up to 10,000 images, one dot per image.

`MapView` asks `gui.inside_workers.map_job` for the map (off the GUI thread) and only
hands its arrays to pyqtgraph: one scatter item for the dots (coloured by class) and
one for the rings of the misclassified images, fed a chunk per turn of the event loop
(pyqtgraph spends a few microseconds per point in Python). Both are cached as
pixmaps, so hover marks do not redraw them. Hover shows an image, a click puts it on
the canvas, and the current drawing is a star placed by the same projection.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from core.datasets import Dataset
from core.embedding import MAX_MAP_IMAGES, map_features
from core.model_io import SavedModel
from gui.inside_workers import MapPlot, TaskSlot, map_job
from gui.live_network import ChosenImage
from gui.prediction_panel import InputPreview
from gui.widgets import offer_datasets

CLASS_COLOURS = [
    QColor(31, 119, 180),
    QColor(255, 127, 14),
    QColor(44, 160, 44),
    QColor(214, 39, 40),
    QColor(148, 103, 189),
    QColor(140, 86, 75),
    QColor(227, 119, 194),
    QColor(127, 127, 127),
    QColor(188, 189, 34),
    QColor(23, 190, 207),
]
IMAGE_COUNTS = (1000, 2000, 5000, MAX_MAP_IMAGES)
HOVER_PIXELS = 8
# Dots handed to pyqtgraph per turn of the event loop.
FEED_CHUNK = 500


def class_colour(index: int, alpha: int = 255) -> QColor:
    """Return the colour of class ``index`` (ten hues, repeated)."""
    colour = QColor(CLASS_COLOURS[index % len(CLASS_COLOURS)])
    colour.setAlpha(alpha)
    return colour


class MapView(QWidget):
    """A PCA map of raw pixels or of one hidden layer's activations.

    Signals
    -------
    image_chosen(object)
        A `gui.live_network.ChosenImage` (a clicked point) for the canvas.
    """

    image_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: SavedModel | None = None
        self._sets: dict[str, Dataset] = {}
        self._plot: MapPlot | None = None
        self._plotted_for: tuple | None = None
        self._dataset: Dataset | None = None
        self._input: np.ndarray | None = None
        self._stale = True
        self._hovered: int | None = None
        self._feed: list[tuple[pg.ScatterPlotItem, dict]] = []
        self._feed_timer = QTimer(self)
        self._feed_timer.setSingleShot(True)
        self._feed_timer.setInterval(0)
        self._feed_timer.timeout.connect(self._on_feed_timer)
        self.max_update_ms = 0.0

        self.layer_combo = QComboBox(self)
        self.layer_combo.setToolTip(
            "What the map is made of: the raw pixels, or the activations of a hidden "
            "layer for each image"
        )
        self.data_combo = QComboBox(self)
        self.data_combo.setToolTip("Which images are mapped")
        for combo in (self.layer_combo, self.data_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.count_combo = QComboBox(self)
        for count in IMAGE_COUNTS:
            self.count_combo.addItem(f"up to {count:,} images", count)
        self.count_combo.setCurrentIndex(len(IMAGE_COUNTS) - 1)
        self.count_combo.setToolTip("A seeded random choice when there are more")
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(120)
        self.progress.hide()
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)

        self.plot_widget = pg.PlotWidget(self)
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.hideButtons()
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setAspectLocked(False)
        self._brushes = np.empty(0, dtype=object)
        self.dots_item = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        self.dots_item.setZValue(-1)
        self.ring_item = pg.ScatterPlotItem(
            size=9, pen=pg.mkPen(20, 20, 20, 200, width=1.2), brush=None, pxMode=True
        )
        for item in (self.dots_item, self.ring_item):
            # Cached, the thousands of dots are not drawn again when a marker moves.
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.hover_item = pg.ScatterPlotItem(
            size=14, pen=pg.mkPen(0, 0, 0, width=2), brush=None, pxMode=True
        )
        self.drawing_item = pg.ScatterPlotItem(
            size=22,
            symbol="star",
            pen=pg.mkPen(0, 0, 0, width=1.5),
            brush=pg.mkBrush(255, 220, 0),
            pxMode=True,
        )
        self.plot_item.addItem(self.dots_item)
        self.plot_item.addItem(self.ring_item)
        # Markers that move must not move the view (a new range redraws every dot).
        self.plot_item.addItem(self.hover_item, ignoreBounds=True)
        self.plot_item.addItem(self.drawing_item, ignoreBounds=True)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        self.preview = InputPreview(self)
        self.preview.setToolTip("The image under the mouse pointer")
        self.preview.setFixedSize(150, 150)
        self.hover_label = QLabel("Hover over a dot to see its image.", self)
        self.hover_label.setWordWrap(True)
        self.hover_label.setFixedWidth(170)
        self.legend_label = QLabel(self)
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setFixedWidth(170)
        self.legend_label.setWordWrap(True)
        side = QVBoxLayout()
        side.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        side.addWidget(self.hover_label)
        side.addSpacing(8)
        side.addWidget(self.legend_label)
        side.addStretch(1)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Map of:", self))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.data_combo)
        controls.addWidget(self.count_combo)
        controls.addWidget(self.progress)
        controls.addWidget(self.status_label, 1)
        body = QHBoxLayout()
        body.addWidget(self.plot_widget, 1)
        body.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(body, 1)

        self._task = TaskSlot("map", self)
        for combo in (self.layer_combo, self.data_combo, self.count_combo):
            combo.currentIndexChanged.connect(self._on_choice_changed)
        self._show_empty("No model yet: train one or open a saved one.")

    # -- inputs ---------------------------------------------------------------------

    def set_model(self, model: SavedModel | None) -> None:
        """Map with ``model`` from now on (when visible)."""
        self._model = model
        self.layer_combo.blockSignals(True)
        previous = self.layer_combo.currentData()
        self.layer_combo.clear()
        self.layer_combo.addItem("Raw pixels", -1)
        if model is not None:
            for layer, size in enumerate(model.network.layer_sizes[1:-1]):
                self.layer_combo.addItem(
                    f"Hidden layer {layer + 1} ({size} units)", layer
                )
        # The last hidden layer shows the most: the classes are nearly separated there.
        index = self.layer_combo.findData(previous)
        self.layer_combo.setCurrentIndex(
            index if index > 0 else self.layer_combo.count() - 1
        )
        self.layer_combo.blockSignals(False)
        self._request()

    def set_data(self, sets: dict[str, Dataset]) -> None:
        """Offer these named datasets (the first one is chosen)."""
        self._sets = dict(sets)
        offer_datasets(self.data_combo, self._sets)
        self._request()

    def show_input(self, image: np.ndarray | None) -> None:
        """Mark the current drawing (the network's ``(H, W)`` input) on the map."""
        self._input = image
        if self.isVisible():
            self._place_drawing()

    def map_plot(self) -> MapPlot | None:
        """Return the map shown, or None."""
        return self._plot

    def is_drawn(self) -> bool:
        """Return True when every dot of the map is handed to the plot."""
        return self._plot is not None and not self._feed

    def is_computing(self) -> bool:
        """Return True while a map is being made."""
        return self._task.is_running()

    def shutdown(self) -> None:
        """Stop a running map and wait briefly."""
        self._task.shutdown()

    # -- computing ------------------------------------------------------------------

    def _choice(self) -> tuple | None:
        model = self._model
        name = self.data_combo.currentData()
        if model is None or name not in self._sets:
            return None
        layer = self.layer_combo.currentData()
        return (
            model,
            self._sets[name],
            None if layer is None or layer < 0 else int(layer),
            int(self.count_combo.currentData()),
        )

    def _request(self) -> None:
        self._stale = True
        if self.isVisible():
            self.compute()

    @Slot()
    def _on_choice_changed(self) -> None:
        self._request()

    def showEvent(self, event) -> None:  # noqa: D102
        super().showEvent(event)
        if self._stale:
            self.compute()
        self._place_drawing()

    @Slot()
    def compute(self) -> None:
        """Make the map for the current choice, in the background."""
        self._stale = False
        choice = self._choice()
        if choice is None:
            self._task.cancel()
            self.progress.hide()
            self._show_empty(
                "No model yet: train one or open a saved one."
                if self._model is None
                else "No images: choose a dataset on the Train tab."
            )
            return
        model, data, layer, count = choice
        if tuple(data.image_shape) != tuple(model.image_shape):
            self._show_empty(
                f"The model reads {model.image_shape[0]}x{model.image_shape[1]} "
                f"images; {data.name} has {data.image_shape[0]}x"
                f"{data.image_shape[1]}."
            )
            return
        if choice == self._plotted_for:
            return
        self.progress.show()
        what = "raw pixels" if layer is None else f"hidden layer {layer + 1}"
        self.status_label.setText(
            f"Mapping {min(count, len(data)):,} images of {data.name} by {what}…"
        )
        self._task.start(
            map_job(model, data, layer, count),
            on_succeeded=lambda plot, key=choice: self._show_plot(plot, key),
            on_failed=self._on_failed,
            on_finished=self.progress.hide,
        )

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText("The map failed: " + message.split("\n\n")[0])

    # -- drawing --------------------------------------------------------------------

    def _show_empty(self, message: str) -> None:
        self._plot = None
        self._plotted_for = None
        self._feed = []
        for item in (
            self.dots_item,
            self.ring_item,
            self.hover_item,
            self.drawing_item,
        ):
            item.setData(x=[], y=[])
        self.status_label.setText(message)
        self.legend_label.clear()

    def _show_plot(self, plot: MapPlot, key: tuple) -> None:
        started = time.perf_counter()
        model, data, layer, _count = key
        self._plot, self._plotted_for, self._dataset = plot, key, data
        for item in (self.dots_item, self.ring_item, self.hover_item):
            item.setData(x=[], y=[])
        classes = len(data.class_names)
        if len(self._brushes) != classes:
            # The same brush objects every time keep pyqtgraph's symbol atlas small.
            self._brushes = np.empty(classes, dtype=object)
            self._brushes[:] = [
                pg.mkBrush(class_colour(k, 170)) for k in range(classes)
            ]
        self._feed = []
        for start in range(0, len(plot.x), FEED_CHUNK):
            part = slice(start, start + FEED_CHUNK)
            self._feed.append(
                (
                    self.dots_item,
                    {
                        "x": plot.x[part],
                        "y": plot.y[part],
                        "brush": self._brushes[plot.labels[part]],
                    },
                )
            )
        wrong = np.flatnonzero(plot.wrong)
        for start in range(0, len(wrong), FEED_CHUNK):
            rows = wrong[start : start + FEED_CHUNK]
            self._feed.append((self.ring_item, {"x": plot.x[rows], "y": plot.y[rows]}))
        # Hidden while fed: each chunk would otherwise redraw every dot so far.
        self.dots_item.hide()
        self.ring_item.hide()
        self._feed_timer.start()
        self._hovered = None
        explained = plot.digit_map.projection.explained
        for axis, side in enumerate(("bottom", "left")):
            share = 100 * explained[axis] if axis < explained.size else 0.0
            self.plot_item.setLabel(
                side, f"PC {axis + 1} ({share:.1f}% of the variance)"
            )
        self._frame(plot.digit_map.projection.coordinates)
        what = (
            "the raw pixels"
            if layer is None
            else f"hidden layer {layer + 1}'s activations"
        )
        wrong = int(plot.digit_map.misclassified.sum())
        self.status_label.setText(
            f"{len(plot.digit_map.indices):,} images of {data.name} placed by the "
            f"first two principal components of {what}; {wrong:,} misclassified "
            "(ringed). Click a dot to put its image on the canvas."
        )
        self.legend_label.setText(self._legend(data.class_names))
        self._place_drawing()
        self._note_time(started)

    def _frame(self, xy: np.ndarray) -> None:
        """Set the view to the points' bounds once, before the dots arrive."""
        low, high = xy.min(axis=0), xy.max(axis=0)
        if xy.shape[1] < 2:
            low, high = np.append(low, -1.0), np.append(high, 1.0)
        self.plot_item.setRange(
            xRange=(float(low[0]), float(high[0])),
            yRange=(float(low[1]), float(high[1])),
            padding=0.04,
        )

    def _note_time(self, started: float) -> None:
        self.max_update_ms = max(
            self.max_update_ms, 1000 * (time.perf_counter() - started)
        )

    @Slot()
    def _on_feed_timer(self) -> None:
        if not self._feed:
            return
        started = time.perf_counter()
        item, points = self._feed.pop(0)
        item.addPoints(**points)
        if self._feed:
            self._feed_timer.start()
        else:
            self.dots_item.show()
            self.ring_item.show()
        self._note_time(started)

    @staticmethod
    def _legend(names) -> str:
        rows = "".join(
            f"<span style='color:{class_colour(k).name()}'>&#9679;</span>&nbsp;{name} "
            for k, name in enumerate(names)
        )
        return (
            f"<b>True class</b><br>{rows}<br>&#9711; misclassified<br>"
            "<span style='color:#c8a000'>&#9733;</span> your drawing"
        )

    def _place_drawing(self) -> None:
        plot, model, image = self._plot, self._model, self._input
        if plot is None or model is None or image is None or self._plotted_for is None:
            self.drawing_item.setData(x=[], y=[])
            return
        if tuple(image.shape) != tuple(model.image_shape):
            self.drawing_item.setData(x=[], y=[])
            return
        layer = self._plotted_for[2]
        features = map_features(
            model.network,
            model.normalization,
            image[None],
            layer,
            model.normalization.max_value,
        )
        point = plot.digit_map.projection.project(features)[0]
        self.drawing_item.setData(x=[point[0]], y=[point[1] if point.size > 1 else 0.0])

    def drawing_position(self) -> np.ndarray | None:
        """Return the star's ``(x, y)``, or None when it is not shown."""
        x, y = self.drawing_item.getData()
        return None if x is None or len(x) == 0 else np.array([x[0], y[0]])

    # -- mouse ----------------------------------------------------------------------

    def point_at(self, scene_position: QPointF) -> int | None:
        """Return the row (in the map) of the dot nearest a scene position, or None."""
        plot = self._plot
        if plot is None or not self.plot_item.sceneBoundingRect().contains(
            scene_position
        ):
            return None
        view = self.plot_item.vb
        where = view.mapSceneToView(scene_position)
        size_x, size_y = view.viewPixelSize()
        xy = plot.digit_map.projection.coordinates
        dx = (xy[:, 0] - where.x()) / max(size_x, 1e-12)
        dy = ((xy[:, 1] if xy.shape[1] > 1 else 0.0) - where.y()) / max(size_y, 1e-12)
        distance = dx * dx + dy * dy
        row = int(np.argmin(distance))
        return row if distance[row] <= HOVER_PIXELS**2 else None

    def describe(self, row: int) -> str:
        """Describe one mapped image."""
        plot, data = self._plot, self._dataset
        assert plot is not None and data is not None
        digit_map = plot.digit_map
        names = data.class_names
        index = int(digit_map.indices[row])
        true, predicted = int(digit_map.labels[row]), int(digit_map.predictions[row])
        verdict = "right" if true == predicted else "<b>wrong</b>"
        return (
            f"Image {index} of {data.name}: a {names[true]}; predicted "
            f"{names[predicted]} ({100 * digit_map.confidences[row]:.1f}%), {verdict}."
        )

    @Slot(object)
    def _on_mouse_moved(self, position: QPointF) -> None:
        row = self.point_at(position)
        if row == self._hovered:
            return
        self._hovered = row
        plot, data = self._plot, self._dataset
        if row is None or plot is None or data is None:
            self.hover_item.setData(x=[], y=[])
            return
        xy = plot.digit_map.projection.coordinates[row]
        self.hover_item.setData(x=[xy[0]], y=[xy[1] if xy.size > 1 else 0.0])
        index = int(plot.digit_map.indices[row])
        self.preview.set_image(data.image_at(index), data.max_value)
        self.hover_label.setText(self.describe(row))

    @Slot(object)
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self.point_at(event.scenePos())
        if row is not None:
            self.choose(row)

    def choose(self, row: int) -> None:
        """Put the image of map row ``row`` on the canvas."""
        plot, data = self._plot, self._dataset
        if plot is None or data is None:
            return
        index = int(plot.digit_map.indices[row])
        chosen = ChosenImage.of(data, index)
        label = chosen.label
        self.image_chosen.emit(chosen)
        self.status_label.setText(
            f"Image {index} (a {label}) is on the Draw tab's canvas; the star marks it."
        )
