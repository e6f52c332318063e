"""Know the data: images per class, class averages, pixel intensities, every image.

Browsing by class, and any image can be put on the canvas.

`DataView` asks `gui.inside_workers.summary_job` for the numbers (off the GUI thread,
once per dataset) and draws them; browsing only indexes the images.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.dataset_summary import DatasetSummary
from core.datasets import Dataset
from gui.image_grid import ImageGrid
from gui.inside_workers import TaskSlot, summary_job
from gui.live_network import ChosenImage
from gui.map_view import class_colour
from gui.widgets import offer_datasets

ALL_CLASSES = -1
MEAN_TILE = 46
BROWSE_TILE = 40


def _small_plot(parent: QWidget) -> pg.PlotWidget:
    plot = pg.PlotWidget(parent)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    return plot


class DataView(QWidget):
    """Counts, class averages, histogram and a browser of one dataset.

    Signals
    -------
    image_chosen(object)
        A `gui.live_network.ChosenImage` for the canvas.
    """

    image_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sets: dict[str, Dataset] = {}
        self._summaries: dict[int, tuple[Dataset, DatasetSummary]] = {}
        self._summary: DatasetSummary | None = None
        self._browsed = np.zeros(0, np.int64)
        self._stale = True

        self.data_combo = QComboBox(self)
        self.data_combo.setToolTip("Which images to look at")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)

        self.counts_plot = _small_plot(self)
        self.counts_plot.setLabel("left", "images")
        self.counts_plot.setToolTip("How many images each class has")
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.counts_plot.addItem(self._bars)
        self._count_labels: list[pg.TextItem] = []
        self.means = ImageGrid(self, tile=MEAN_TILE, gap=(4, 6))
        self.means.setToolTip(
            "The average image of each class (click one to browse that class)"
        )
        self.means.setSelectionMode(ImageGrid.SelectionMode.SingleSelection)
        self.means.setWrapping(False)
        self.means.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.histogram_plot = _small_plot(self)
        self.histogram_plot.setLabel("bottom", "pixel intensity")
        self.histogram_plot.setLabel("left", "pixels")
        self.histogram_plot.setToolTip(
            "How many pixels of the whole set have each value"
        )
        self._histogram = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            brush=(31, 119, 180, 120),
            pen=(31, 119, 180),
        )
        self.histogram_plot.addItem(self._histogram)
        self.log_check = QCheckBox("Log scale", self)
        self.log_check.setChecked(True)
        self.log_check.setToolTip(
            "Most pixels are background (0): a log scale shows the rest too"
        )
        self.histogram_label = QLabel(self)

        self.class_combo = QComboBox(self)
        self.class_combo.setToolTip("Show the images of one class")
        self.browse_label = QLabel(self)
        # No captions: the tiles sit close together.
        self.grid = ImageGrid(self, tile=BROWSE_TILE, gap=(2, 6))
        self.grid.setSelectionMode(ImageGrid.SelectionMode.SingleSelection)
        self.grid.setToolTip("Double-click an image to put it on the Draw tab's canvas")
        self.put_button = QPushButton("Put on the canvas", self)
        self.put_button.setToolTip(
            "Put the selected image on the Draw tab's canvas, to see the network's "
            "answer and draw over it"
        )
        self.put_button.setEnabled(False)

        counts_box = QGroupBox("Images per class and class averages", self)
        counts_layout = QVBoxLayout(counts_box)
        counts_layout.addWidget(self.counts_plot, 1)
        counts_layout.addWidget(self.means)
        histogram_box = QGroupBox("Pixel intensities", self)
        histogram_layout = QVBoxLayout(histogram_box)
        histogram_layout.addWidget(self.histogram_plot, 1)
        histogram_row = QHBoxLayout()
        histogram_row.addWidget(self.histogram_label, 1)
        histogram_row.addWidget(self.log_check)
        histogram_layout.addLayout(histogram_row)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(counts_box, 3)
        left_layout.addWidget(histogram_box, 2)
        browse_box = QGroupBox("Browse", self)
        browse_layout = QVBoxLayout(browse_box)
        browse_top = QHBoxLayout()
        browse_top.addWidget(self.class_combo)
        browse_top.addWidget(self.browse_label, 1)
        browse_top.addWidget(self.put_button)
        browse_layout.addLayout(browse_top)
        browse_layout.addWidget(self.grid, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(browse_box)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        top = QHBoxLayout()
        top.addWidget(QLabel("Images:", self))
        top.addWidget(self.data_combo)
        top.addWidget(self.status_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self._task = TaskSlot("data-summary", self)
        self.data_combo.currentIndexChanged.connect(self._on_data_changed)
        self.class_combo.currentIndexChanged.connect(self._on_class_changed)
        self.means.selection_changed.connect(self._on_mean_selected)
        self.grid.selection_changed.connect(self._on_grid_selection)
        self.grid.image_activated.connect(self.put_on_canvas)
        self.put_button.clicked.connect(self._on_put_clicked)
        self.log_check.toggled.connect(self._on_log_toggled)
        self._show_summary(None)

    def resizeEvent(self, event) -> None:  # noqa: D102
        super().resizeEvent(event)
        self._fit_means()

    def _fit_means(self) -> None:
        """Size the class averages so that all of them fit in one row."""
        count = max(self.means.count(), 10)
        room = self.means.viewport().width() - 4
        tile = int(max(24, min(MEAN_TILE, room / count - 8)))
        caption = self.means.fontMetrics().height() + 4
        if self.means.iconSize().width() != tile:
            self.means.set_tile_size(tile)
        self.means.setFixedHeight(tile + caption + 14)

    # -- inputs ---------------------------------------------------------------------

    def set_data(self, sets: dict[str, Dataset]) -> None:
        """Offer these named datasets (the first one is shown)."""
        self._sets = dict(sets)
        offer_datasets(self.data_combo, self._sets)
        self._on_data_changed()

    def dataset(self) -> Dataset | None:
        """Return the dataset shown, or None."""
        return self._sets.get(self.data_combo.currentData())

    def summary(self) -> DatasetSummary | None:
        """Return the numbers shown, or None."""
        return self._summary

    def browsed_indices(self) -> np.ndarray:
        """Return the dataset indices of the images in the browser, in order."""
        return self._browsed

    def shutdown(self) -> None:
        """Stop a running summary and wait briefly."""
        self._task.shutdown()

    # -- summary --------------------------------------------------------------------

    @Slot()
    def _on_data_changed(self) -> None:
        data = self.dataset()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", ALL_CLASSES)
        if data is not None:
            for k, name in enumerate(data.class_names):
                self.class_combo.addItem(f"Class {name}", k)
        self.class_combo.blockSignals(False)
        self._browse(ALL_CLASSES)
        self._stale = True
        if self.isVisible():
            self._summarize()

    def showEvent(self, event) -> None:  # noqa: D102
        super().showEvent(event)
        if self._stale:
            self._summarize()

    def _summarize(self) -> None:
        self._stale = False
        data = self.dataset()
        if data is None:
            self._task.cancel()
            self._show_summary(None)
            self.status_label.setText(
                "No dataset loaded yet: choose one on the Train tab."
            )
            return
        cached = self._summaries.get(id(data))
        if cached is not None and cached[0] is data:
            self._show_summary(cached[1])
            return
        self._show_summary(None)
        self.status_label.setText(f"Counting {len(data):,} images of {data.name}…")
        self._task.start(
            summary_job(data),
            on_succeeded=lambda summary, d=data: self._on_summarized(d, summary),
            on_failed=self._on_failed,
        )

    def _on_summarized(self, data: Dataset, summary: DatasetSummary) -> None:
        self._summaries[id(data)] = (data, summary)
        if data is self.dataset():
            self._show_summary(summary)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText("Failed: " + message.split("\n\n")[0])

    def _show_summary(self, summary: DatasetSummary | None) -> None:
        self._summary = summary
        for label in self._count_labels:
            self.counts_plot.removeItem(label)
        self._count_labels = []
        data = self.dataset()
        if summary is None or data is None:
            self._bars.setOpts(x=[], height=[])
            self._histogram.setData([0, 1], [0])
            self.means.clear()
            self.histogram_label.clear()
            return
        names = data.class_names
        x = np.arange(len(summary.counts))
        self._bars.setOpts(
            x=x,
            height=summary.counts,
            width=0.7,
            brushes=[pg.mkBrush(class_colour(k, 200)) for k in x],
            pens=[pg.mkPen(None)] * len(x),
        )
        for k, count in enumerate(summary.counts):
            label = pg.TextItem(f"{count:,}", anchor=(0.5, 1.0), color=(60, 60, 60))
            label.setPos(k, float(count))
            self.counts_plot.addItem(label)
            self._count_labels.append(label)
        self.counts_plot.getAxis("bottom").setTicks([list(enumerate(names))])
        self.counts_plot.setYRange(0, float(summary.counts.max()) * 1.15, padding=0)
        self.counts_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.means.set_images(
            summary.means,
            summary.max_value,
            captions=[str(name) for name in names],
            tooltips=[
                f"The average of the {count:,} images of class {name}"
                for name, count in zip(names, summary.counts, strict=True)
            ],
        )
        self._fit_means()
        self._draw_histogram()
        counts = summary.counts
        per_class = (
            f"{counts.min():,} images per class"
            if counts.min() == counts.max()
            else f"from {counts.min():,} to {counts.max():,} images per class"
        )
        self.status_label.setText(
            f"{data.name}: {summary.total:,} images of {data.image_shape[0]}x"
            f"{data.image_shape[1]} pixels, {len(names)} classes, {per_class}."
        )

    def _draw_histogram(self) -> None:
        summary = self._summary
        if summary is None:
            return
        counts = summary.histogram.astype(np.float64)
        edges = np.arange(counts.size + 1) - 0.5
        log = self.log_check.isChecked()
        # log10 of 0 is undefined: empty values sit on the axis instead.
        shown = np.log10(np.maximum(counts, 1.0)) if log else counts
        self._histogram.setData(edges, shown)
        self.histogram_plot.setLabel("left", "pixels (log10)" if log else "pixels")
        total = counts.sum()
        zero = counts[0] / total if total else 0.0
        full = counts[-1] / total if total else 0.0
        self.histogram_label.setText(
            f"{100 * zero:.1f}% of the pixels are 0 (background), "
            f"{100 * full:.1f}% are {summary.max_value} (full ink)."
        )

    @Slot(bool)
    def _on_log_toggled(self, _checked: bool) -> None:
        self._draw_histogram()

    # -- browsing -------------------------------------------------------------------

    @Slot()
    def _on_class_changed(self) -> None:
        label = self.class_combo.currentData()
        self._browse(ALL_CLASSES if label is None else int(label))

    @Slot()
    def _on_mean_selected(self) -> None:
        rows = self.means.selected_rows()
        if rows:
            self.class_combo.setCurrentIndex(self.class_combo.findData(rows[0]))

    def _browse(self, label: int) -> None:
        data = self.dataset()
        if data is None:
            self._browsed = np.zeros(0, np.int64)
            self.grid.clear()
            self.browse_label.clear()
            return
        if label == ALL_CLASSES:
            self._browsed = np.arange(len(data), dtype=np.int64)
            images = data.images_at(slice(None))  # a dataset's: no copy
            what = "all classes"
        else:
            self._browsed = np.flatnonzero(data.labels == label).astype(np.int64)
            images = data.images_at(self._browsed)
            what = f"class {data.class_names[label]}"
        names = data.class_names
        self.grid.set_images(
            images,
            data.max_value,
            tooltips=_LazyTooltips(data, self._browsed, names),
        )
        self.browse_label.setText(f"{len(self._browsed):,} images of {what}")
        self.put_button.setEnabled(False)

    @Slot()
    def _on_grid_selection(self) -> None:
        self.put_button.setEnabled(bool(self.grid.selected_rows()))

    @Slot()
    def _on_put_clicked(self) -> None:
        rows = self.grid.selected_rows()
        if rows:
            self.put_on_canvas(rows[0])

    @Slot(int)
    def put_on_canvas(self, row: int) -> None:
        """Send the browsed image at ``row`` to the canvas."""
        data = self.dataset()
        if data is None or not 0 <= row < len(self._browsed):
            return
        self.image_chosen.emit(
            ChosenImage.of(data, int(self._browsed[row]), go_to_canvas=True)
        )


class _LazyTooltips:
    """Tooltips made only for the tiles asked for (a set may have 60,000)."""

    def __init__(self, data: Dataset, indices: np.ndarray, names) -> None:
        self._data, self._indices, self._names = data, indices, names

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, row: int) -> str:
        index = int(self._indices[row])
        label = self._names[self._data.labels[index]]
        return f"image {index} (a {label}): double-click to put it on the canvas"
