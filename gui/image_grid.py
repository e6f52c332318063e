"""A scrollable grid of small digit images with captions (galleries, examples, cells).

Pixmaps are made lazily, only for the tiles Qt asks to show, so tens of thousands of
images are fine. Widgets only: takes uint8 arrays, computes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QWidget

_Index = QModelIndex | QPersistentModelIndex


def array_to_qimage(image: np.ndarray, max_value: int = 255) -> QImage:
    """Return a grey-scale QImage (its own copy) of a 2-D array in ``0..max_value``."""
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"a 2-D image is needed, got shape {array.shape}")
    if array.dtype != np.uint8 or max_value != 255:
        scaled = array.astype(np.float32) * (255.0 / max(float(max_value), 1e-9))
        array = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    array = np.ascontiguousarray(array)
    height, width = array.shape
    return QImage(
        array.data, width, height, width, QImage.Format.Format_Grayscale8
    ).copy()


class _ImageListModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.images = np.zeros((0, 1, 1), dtype=np.uint8)
        self.max_value = 255
        self.captions: Sequence[str] | None = None
        self.tooltips: Sequence[str] | None = None
        self.colours: Sequence[QColor | None] | None = None
        self.tile = 56
        self.item_size = QSize()  # every tile's, as wide as the widest caption
        self._cache: dict[int, QPixmap] = {}

    def reset(self, images, max_value, captions, tooltips, colours) -> None:
        self.beginResetModel()
        self.images = images
        self.max_value = max_value
        self.captions = captions
        self.tooltips = tooltips
        self.colours = colours
        self._cache.clear()
        self.endResetModel()

    def set_tile(self, tile: int) -> None:
        self.beginResetModel()
        self.tile = tile
        self._cache.clear()
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.images)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self.images):
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmap(row)
        if role == Qt.ItemDataRole.DisplayRole and self.captions is not None:
            return self.captions[row]
        if role == Qt.ItemDataRole.ToolTipRole and self.tooltips is not None:
            return self.tooltips[row]
        if role == Qt.ItemDataRole.ForegroundRole and self.colours is not None:
            return self.colours[row]
        if role == Qt.ItemDataRole.SizeHintRole and self.item_size.isValid():
            return self.item_size
        return None

    def _pixmap(self, row: int) -> QPixmap:
        pixmap = self._cache.get(row)
        if pixmap is None:
            if len(self._cache) > 4000:
                self._cache.clear()
            image = array_to_qimage(self.images[row], self.max_value)
            pixmap = QPixmap.fromImage(
                image.scaled(
                    self.tile,
                    self.tile,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.FastTransformation,
                )
            )
            self._cache[row] = pixmap
        return pixmap


class ImageGrid(QListView):
    """Small images in a wrapping grid, each with an optional caption.

    Signals
    -------
    image_activated(int)
        A tile was double-clicked or activated with Enter; the row in the images given.
    selection_changed()
        The selected tiles changed.
    """

    image_activated = Signal(int)
    selection_changed = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        tile: int = 56,
        gap: tuple[int, int] = (8, 6),
    ) -> None:
        super().__init__(parent)
        self._placeholder = ""
        self._gap = QSize(*gap)  # the room each tile's cell adds around its item
        self._model = _ImageListModel(self)
        self.setModel(self._model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(2)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.activated.connect(self._on_activated)
        self.selectionModel().selectionChanged.connect(self.selection_changed)
        self.set_tile_size(tile)

    def set_placeholder(self, text: str) -> None:
        """Show ``text`` in the empty grid."""
        self._placeholder = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102
        super().paintEvent(event)
        if self._placeholder and self._model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.viewport().rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            painter.end()

    def set_tile_size(self, tile: int) -> None:
        """Show each image as a ``tile`` x ``tile`` square."""
        self._model.set_tile(int(tile))
        self.setIconSize(QSize(tile, tile))
        self._fit_grid()

    def _fit_grid(self) -> None:
        # Each cell as wide as the widest caption: Qt elides a longer one ("9→0 1…").
        tile = self._model.tile
        metrics = self.fontMetrics()
        captions = self._model.captions
        caption_height = metrics.height() + 4 if captions is not None else 0
        widest = max(
            (metrics.horizontalAdvance(c) for c in set(captions or ())), default=0
        )
        # The view sizes every tile like its first one (uniform sizes): all get the
        # widest caption's room, with the delegate's text margins.
        margin = 2 * (
            self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
        )
        self._model.item_size = QSize(
            max(tile, widest + margin) + 4, tile + caption_height
        )
        self.setGridSize(self._model.item_size + self._gap)

    def set_images(
        self,
        images: np.ndarray,
        max_value: int = 255,
        captions: Sequence[str] | None = None,
        tooltips: Sequence[str] | None = None,
        colours: Sequence[QColor | None] | None = None,
    ) -> None:
        """Show ``images`` (uint8 ``(N, H, W)`` in ``0..max_value``) in order."""
        images = np.asarray(images)
        if images.ndim != 3:
            raise ValueError(f"images must be (N, H, W), got shape {images.shape}")
        for name, values in (
            ("captions", captions),
            ("tooltips", tooltips),
            ("colours", colours),
        ):
            if values is not None and len(values) != len(images):
                raise ValueError(f"{len(values)} {name} for {len(images)} images")
        self._model.reset(images, int(max_value), captions, tooltips, colours)
        self._fit_grid()
        self.scrollToTop()

    def clear(self) -> None:
        """Show nothing."""
        self.set_images(np.zeros((0, 1, 1), dtype=np.uint8))

    def count(self) -> int:
        """Return the number of images shown."""
        return self._model.rowCount()

    def caption(self, row: int) -> str | None:
        """Return the caption of one tile."""
        return None if self._model.captions is None else self._model.captions[row]

    def image(self, row: int) -> np.ndarray:
        """Return the array shown in one tile."""
        return self._model.images[row]

    def selected_rows(self) -> list[int]:
        """Rows of the selected tiles, ascending."""
        return sorted(index.row() for index in self.selectionModel().selectedIndexes())

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.image_activated.emit(index.row())
