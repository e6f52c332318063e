"""The Evaluate tab: accuracy, confusion matrix, mistakes, first-layer weights.

Evaluation runs in `gui.evaluation_worker` off the GUI thread; this tab only starts it
(one at a time, the latest request wins) and shows the report it returns, named after
where its images come from (a test split, a run's validation part, held-out images).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from core.datasets import Dataset, DatasetPart
from core.model_io import SavedModel
from gui.background import TaskWorker
from gui.confusion_view import ConfusionMatrixView
from gui.evaluation_worker import (
    EvaluationReport,
    start_evaluation,
    tile_mosaic,
)
from gui.image_grid import ImageGrid
from gui.step_through_view import Example
from gui.wording import count

_WRONG = QColor(190, 30, 30)
WEIGHT_TILE_COUNTS = (16, 64, 256, 1024)
# Image tiles of the galleries: larger on a large screen (tab wider than LARGE_WIDTH).
SMALL_TILE, LARGE_TILE, LARGE_WIDTH = 48, 80, 1500


@dataclass(frozen=True)
class ImagesKind:
    """How the Evaluate tab names a figure, by where its images come from."""

    title: str  # "Test", "Validation", "Held-out"
    image: str  # what one image is: "test image"
    explanation: str  # the accuracy's tooltip


IMAGE_KINDS = {
    "test": ImagesKind(
        "Test",
        "test image",
        "Share of the dataset's test images classified correctly: a separate split "
        "that no training on this dataset uses.",
    ),
    "validation": ImagesKind(
        "Validation",
        "validation image",
        "Share of the validation images classified correctly: the part of the "
        "training data the latest run held out (it chose the best epoch with them "
        "when early stopping was on). The dataset has no test split.",
    ),
    "held-out": ImagesKind(
        "Held-out",
        "held-out image",
        "Share of a seeded 10% of the training images classified correctly. The "
        "dataset has no test split; a model trained with other validation settings "
        "than the defaults may have trained on some of these images.",
    ),
}


def _two_lines(name: str) -> str:
    """Break a name of several words (not within a word) into about two lines."""
    lines = textwrap.wrap(
        name, len(name) // 2 + 1, break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(lines) or name


class ClassScoresTable(QTableWidget):
    """Precision and recall per class, one column per class, as wide as its box."""

    ROWS = ("precision %", "recall %")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(len(self.ROWS), 0, parent)
        self.setVerticalHeaderLabels(list(self.ROWS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Columns share the width; with many classes they shrink to their figures.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("100") + 8)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit_height()

    def _fit_height(self) -> None:
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(
            self.horizontalHeader().sizeHint().height() + rows + 2 * self.frameWidth()
        )

    def set_scores(
        self, names: tuple[str, ...], precision: np.ndarray, recall: np.ndarray
    ) -> None:
        """Show one column per class, values in whole percent (– when undefined)."""
        self.setColumnCount(len(names))
        # "not a digit" on two lines, nearer the width of a column of figures.
        self.setHorizontalHeaderLabels([_two_lines(name) for name in names])
        for row, values in enumerate((precision, recall)):
            for column, value in enumerate(values):
                text = f"{100 * value:.0f}" if np.isfinite(value) else "–"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(row, column, item)
        self._fit_height()

    def text(self, row: int, column: int) -> str:
        """Return the text of one cell ("" when empty)."""
        item = self.item(row, column)
        return "" if item is None else item.text()

    def clear_scores(self) -> None:
        """Show no class."""
        self.setColumnCount(0)


class WeightsView(QWidget):
    """The first hidden layer's weights as a mosaic of tiles, red +, blue -."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._tiles: np.ndarray | None = None
        self._units = np.zeros(0, dtype=np.int64)
        self._grid = (0, 0, 0)
        self._tile = (1, 1)
        self._count = 64
        self.setMouseTracking(True)
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_tiles(self, tiles: np.ndarray | None, units: np.ndarray) -> None:
        """Show RGB tiles ``(U, H, W, 3)``; ``units`` names the unit of each tile."""
        self._tiles = tiles
        self._units = np.asarray(units)
        self._rebuild()

    def set_count(self, count: int) -> None:
        """Show at most ``count`` tiles, the first ones."""
        self._count = int(count)
        self._rebuild()

    def shown(self) -> int:
        """Return how many tiles are drawn."""
        return self._grid[2] if self._image is not None else 0

    def has_mosaic(self) -> bool:
        """Return True when weights are shown."""
        return self._image is not None

    def _rebuild(self) -> None:
        if self._tiles is None or len(self._tiles) == 0:
            self._image = None
            self._grid = (0, 0, 0)
        else:
            mosaic, self._grid = tile_mosaic(self._tiles, self._count)
            self._tile = self._tiles.shape[1:3]
            height, width, _ = mosaic.shape
            self._image = QImage(
                np.ascontiguousarray(mosaic).data,
                width,
                height,
                width * 3,
                QImage.Format.Format_RGB888,
            ).copy()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: D102
        return QSize(460, 460)

    def _target(self) -> QRectF:
        assert self._image is not None
        scale = min(
            self.width() / self._image.width(), self.height() / self._image.height()
        )
        # Whole-number zoom keeps every weight pixel and every gap the same size.
        if scale >= 1.0:
            scale = float(int(scale))
        width, height = self._image.width() * scale, self._image.height() * scale
        return QRectF(
            (self.width() - width) // 2, (self.height() - height) // 2, width, height
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        painter = QPainter(self)
        if self._image is None:
            painter.setPen(self.palette().windowText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "No hidden layer to show"
            )
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(self._target(), self._image)
        painter.end()

    def unit_at(self, position: QPointF) -> int | None:
        """Return the hidden unit whose tile is under a widget position, or None."""
        if self._image is None:
            return None
        target = self._target()
        if not target.contains(position):
            return None
        scale = target.width() / self._image.width()
        x = (position.x() - target.left()) / scale
        y = (position.y() - target.top()) / scale
        column = int(x // (self._tile[1] + 1))
        row = int(y // (self._tile[0] + 1))
        index = row * self._grid[1] + column
        return int(self._units[index]) if index < self._grid[2] else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: D102
        unit = self.unit_at(event.position())
        if unit is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"Hidden unit {unit}: red pixels excite it, blue ones inhibit it",
                self,
            )
        super().mouseMoveEvent(event)


class EvaluateTab(QWidget):
    """Evaluate the current model on the test images and look inside it.

    Signals
    -------
    evaluated(object)
        A new `EvaluationReport` is shown.
    example_chosen(object)
        An image was double-clicked (a cell's or a mistake): a
        `gui.step_through_view.Example` with its label, to follow through the network.
    """

    evaluated = Signal(object)
    example_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: SavedModel | None = None
        self._dataset: Dataset | DatasetPart | None = None
        self._kind = IMAGE_KINDS["test"]
        self._report: EvaluationReport | None = None
        self._thread: QThread | None = None
        self._worker: TaskWorker | None = None
        self._stale = False

        self.evaluate_button = QPushButton("Evaluate", self)
        self.evaluate_button.setToolTip(
            "Run the current model on every image below again (in the background)"
        )
        self.accuracy_label = QLabel(self)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.accuracy_label.setFont(font)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.accuracy_label)
        top.addWidget(self.status_label, 1)

        self.confusion = ConfusionMatrixView(self)
        self.confusion.setToolTip("")
        self.class_table = ClassScoresTable(self)
        self.class_table.setToolTip(
            "Precision: of the images predicted as this class, the share that are.\n"
            "Recall: of the images of this class, the share found."
        )
        confusion_box = QGroupBox("Confusion matrix (click a cell to see its images)")
        confusion_layout = QVBoxLayout(confusion_box)
        confusion_layout.addWidget(self.confusion, 1)
        confusion_layout.addWidget(self.class_table)

        self.cell_label = QLabel("Click a cell of the confusion matrix.", self)
        self.cell_grid = ImageGrid(self, tile=48)
        self.cell_grid.setToolTip(
            "The images of the chosen cell; double-click one to follow it through "
            "the network"
        )
        cell_page = QWidget(self)
        cell_layout = QVBoxLayout(cell_page)
        cell_layout.addWidget(self.cell_label)
        cell_layout.addWidget(self.cell_grid, 1)
        self.mistakes_label = QLabel(self)
        self.mistakes_grid = ImageGrid(self, tile=48)
        self.mistakes_grid.setToolTip(
            "Every misclassified image: true label → prediction (confidence), "
            "most confident mistakes first; double-click one to follow it through "
            "the network"
        )
        self._cell_indices = np.zeros(0, dtype=np.int64)
        self.cell_grid.image_activated.connect(self._on_cell_image_activated)
        self.mistakes_grid.image_activated.connect(self._on_mistake_activated)
        mistakes_page = QWidget(self)
        mistakes_layout = QVBoxLayout(mistakes_page)
        mistakes_layout.addWidget(self.mistakes_label)
        mistakes_layout.addWidget(self.mistakes_grid, 1)
        self.weights_label = QLabel(self)
        self.weights_label.setWordWrap(True)
        self.weights_view = WeightsView(self)
        self.weights_count = QComboBox(self)
        for tiles in WEIGHT_TILE_COUNTS:
            self.weights_count.addItem(f"{tiles} units", tiles)
        self.weights_count.setCurrentIndex(1)
        self.weights_count.setToolTip(
            "How many units to draw, strongest first (largest outgoing weights)"
        )
        weights_page = QWidget(self)
        weights_layout = QVBoxLayout(weights_page)
        weights_top = QHBoxLayout()
        weights_top.addWidget(self.weights_label, 1)
        weights_top.addWidget(self.weights_count)
        weights_layout.addLayout(weights_top)
        weights_layout.addWidget(self.weights_view, 1)
        self.pages = QTabWidget(self)
        self.pages.addTab(mistakes_page, "Misclassified")
        self.pages.addTab(cell_page, "Cell images")
        self.pages.addTab(weights_page, "First-layer weights")

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(confusion_box)
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(0)
        self._request_timer.timeout.connect(self._on_request_timer)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.weights_count.currentIndexChanged.connect(self._on_weights_count_changed)
        self.confusion.cell_clicked.connect(self.show_cell)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._show_report(None)

    # -- inputs ---------------------------------------------------------------------

    def set_model(self, model: SavedModel | None) -> None:
        """Use a new model snapshot; re-evaluates now if visible, else when shown."""
        self._model = model
        self._request()

    def set_dataset(
        self, dataset: Dataset | DatasetPart | None, kind: str = "test"
    ) -> None:
        """Evaluate on these images from now on.

        ``kind`` says where they come from, a key of ``IMAGE_KINDS``: "test",
        "validation" or "held-out"; the figure is named after it.
        """
        self._dataset = dataset
        self._kind = IMAGE_KINDS[kind]
        self._request()

    def images_kind(self) -> ImagesKind:
        """Return how the images evaluated on are named."""
        return self._kind

    def report(self) -> EvaluationReport | None:
        """Return the report shown, or None."""
        return self._report

    def is_running(self) -> bool:
        """Return True while an evaluation runs in the background."""
        return self._thread is not None

    def _request(self) -> None:
        self._stale = True
        if self._model is None or self._dataset is None:
            self._show_report(None)
            return
        self.status_label.setText("Out of date: evaluating when this tab is shown.")
        # Deferred one turn of the event loop, so a new dataset and a new model handed
        # over together start one evaluation, not two.
        self._request_timer.start()

    @Slot()
    def _on_request_timer(self) -> None:
        if self._stale and self.isVisible():
            self.evaluate()

    def resizeEvent(self, event) -> None:  # noqa: D102, N802
        super().resizeEvent(event)
        tile = LARGE_TILE if self.width() >= LARGE_WIDTH else SMALL_TILE
        for grid in (self.cell_grid, self.mistakes_grid):
            if grid.iconSize().width() != tile:
                grid.set_tile_size(tile)

    def showEvent(self, event) -> None:  # noqa: D102
        super().showEvent(event)
        if self._stale and self._model is not None and self._dataset is not None:
            self.evaluate()

    # -- running --------------------------------------------------------------------

    @Slot()
    def evaluate(self) -> None:
        """Evaluate the current model on the current dataset in the background."""
        if self._model is None or self._dataset is None:
            self._show_report(None)
            return
        self._stale = False
        if self._thread is not None:
            # The running evaluation is for an older model: run again when it ends.
            self._stale = True
            return
        self.status_label.setText(
            f"Evaluating on {count(len(self._dataset), self._kind.image)} of "
            f"{self._dataset.name}…"
        )
        self.evaluate_button.setEnabled(False)
        self._thread, self._worker = start_evaluation(
            self._model,
            self._dataset,
            on_succeeded=self._on_worker_succeeded,
            on_failed=self._on_worker_failed,
            on_finished=self._on_thread_finished,
        )

    @Slot(object)
    def _on_worker_succeeded(self, report: EvaluationReport) -> None:
        if self._model is None or self._dataset is None:
            return  # New (or no data) meanwhile: the old model's report is stale
        # Shown even when a newer model is waiting: it is replaced in a moment.
        self._show_report(report)
        self.evaluated.emit(report)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self.status_label.setText("Evaluation failed: " + message.split("\n\n", 1)[0])
        self.status_label.setToolTip(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread = None
        self._worker = None
        self.evaluate_button.setEnabled(True)
        if self._stale and self.isVisible():
            self.evaluate()

    @Slot()
    def shutdown(self) -> None:
        """Drop a running evaluation and wait up to 2 s for its thread to end."""
        if self._worker is not None:
            self._worker.cancel()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(2000)

    # -- showing --------------------------------------------------------------------

    def _show_report(self, report: EvaluationReport | None) -> None:
        self._report = report
        self.cell_grid.clear()
        self.cell_label.setText("Click a cell of the confusion matrix.")
        kind = self._kind
        self.accuracy_label.setToolTip(kind.explanation)
        if report is None:
            self.accuracy_label.setText(f"{kind.title} accuracy: –")
            self.status_label.setText(
                "No model yet: train one or open a saved model."
                if self._model is None
                else "No test images chosen."
            )
            self.confusion.clear()
            self.mistakes_grid.clear()
            self.mistakes_label.clear()
            self.class_table.clear_scores()
            self.weights_view.set_tiles(None, np.zeros(0, dtype=np.int64))
            self.weights_label.clear()
            return
        dataset = report.dataset
        names = report.class_names
        total = len(dataset)
        correct = round(report.accuracy * total)
        self.accuracy_label.setText(
            f"{kind.title} accuracy: {100 * report.accuracy:.2f}%"
        )
        away = ""
        if len(names) > len(dataset.class_names):
            # The best digit counts; how often "not a digit" came first apart.
            away = (
                f" (best guess) · {round(report.turned_away * total):,} "
                f"({100 * report.turned_away:.2f}%) with {names[-1]} first, in the "
                "last column"
            )
        if report.not_sure is not None:
            # What the Draw tab would turn away: "not a digit" may come first by
            # up to the model's margin and the best digit is still answered.
            away += (
                f" · {round(report.not_sure * total):,} "
                f"({100 * report.not_sure:.2f}%) not sure, as the Draw tab judges"
            )
        self.status_label.setText(
            f"{correct:,} of {count(total, kind.image)} of {dataset.name} correct"
            f"{away} · loss {report.loss:.4f} · {report.seconds * 1000:.0f} ms"
        )
        self.status_label.setToolTip("")
        self.confusion.set_matrix(report.confusion, names)
        self.class_table.set_scores(names, report.precision, report.recall)
        wrong = report.misclassified
        self.mistakes_label.setText(
            f"{count(len(wrong), 'misclassified image')}, most confident mistakes first"
        )
        self.mistakes_grid.set_images(
            dataset.images[wrong],
            dataset.max_value,
            captions=[
                f"{names[dataset.labels[i]]}→{names[report.predictions[i]]} "
                f"{100 * report.confidences[i]:.0f}%"
                for i in wrong
            ],
            tooltips=[
                f"image {i}: true {names[dataset.labels[i]]}, predicted "
                f"{names[report.predictions[i]]} with "
                f"{100 * report.confidences[i]:.1f}%"
                for i in wrong
            ],
            colours=[_WRONG] * len(wrong),
        )
        self.weights_view.set_count(int(self.weights_count.currentData()))
        self.weights_view.set_tiles(report.weight_tiles, report.weight_units)
        self._describe_weights()

    def _describe_weights(self) -> None:
        report = self._report
        if report is None:
            return
        if report.weight_tiles is None:
            self.weights_label.setText("This model's weights are not images.")
            return
        height, width = report.dataset.image_shape
        shown = self.weights_view.shown()
        if report.hidden_units == 0:
            self.weights_label.setText(
                f"No hidden layer: the weights of the {report.output_units} output "
                f"units, one {height}x{width} template per class in class order: red = "
                "positive, blue = negative, each scaled to its own largest weight."
            )
            return
        which = (
            f"all {shown}"
            if shown == report.hidden_units
            else f"the {shown} strongest of {report.hidden_units}"
        )
        self.weights_label.setText(
            f"Incoming weights of {which} units of the first hidden layer, one "
            f"{height}x{width} tile each, strongest first: red = positive, blue = "
            "negative, each tile scaled to its own largest weight."
        )

    @Slot(int)
    def _on_weights_count_changed(self, _index: int) -> None:
        self.weights_view.set_count(int(self.weights_count.currentData()))
        self._describe_weights()

    @Slot(int)
    def _on_cell_image_activated(self, row: int) -> None:
        self._choose_example(int(self._cell_indices[row]))

    @Slot(int)
    def _on_mistake_activated(self, row: int) -> None:
        if self._report is not None:
            self._choose_example(int(self._report.misclassified[row]))

    def _choose_example(self, index: int) -> None:
        report = self._report
        if report is None:
            return
        dataset = report.dataset
        label = int(dataset.labels[index])
        description = (
            f"{self._kind.image.capitalize()} {index:,} of {dataset.name}, labelled "
            f"{dataset.class_names[label]}"
        )
        self.example_chosen.emit(Example(dataset.images[index], label, description))

    @Slot(int, int)
    def show_cell(self, true: int, predicted: int) -> None:
        """Show the images of one (true, predicted) cell."""
        report = self._report
        if report is None:
            return
        names = report.class_names
        indices = report.cell_indices(true, predicted)
        what = (
            f"{names[true]} classified correctly"
            if true == predicted
            else f"{names[true]} classified as {names[predicted]}"
        )
        self.cell_label.setText(f"{what}: {count(len(indices), 'image')}")
        self._cell_indices = indices
        self.cell_grid.set_images(
            report.dataset.images[indices],
            report.dataset.max_value,
            captions=[f"{100 * report.confidences[i]:.0f}%" for i in indices],
            tooltips=[
                f"image {i}: predicted {names[predicted]} with "
                f"{100 * report.confidences[i]:.1f}%"
                for i in indices
            ],
        )
        self.pages.setCurrentIndex(1)
