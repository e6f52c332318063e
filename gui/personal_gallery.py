"""The gallery of the user's corrected drawings, with delete and a fine-tune button.

Storage is `core.personal_set`; this widget lists, adds and deletes through it and shows
errors in a dialog. It never trains: it only emits `fine_tune_requested`. The set is
read in a background thread (0.75 ms a drawing: a stall with a few hundred of them).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.personal_set import (
    NEGATIVE_LABEL,
    PersonalDrawing,
    PersonalSet,
    PersonalSetError,
)
from gui.image_grid import ImageGrid
from gui.wording import count

_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="personal-set")


class PersonalGallery(QWidget):
    """Lists the personal drawings of the current target.

    Signals
    -------
    fine_tune_requested()
        The user asked to fine-tune the current model on these drawings.
    changed(int)
        Drawings were added or deleted; the new count.
    """

    fine_tune_requested = Signal()
    changed = Signal(int)
    # From the reading thread: the read's number, (drawings, skipped, error).
    _read = Signal(int, object)

    def __init__(
        self, personal_set: PersonalSet, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._set = personal_set
        self._target = "mnist"
        self._max_value = 255
        self._class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
        self._drawings: list[PersonalDrawing] = []
        self._skipped = 0
        self._can_fine_tune = False
        # Reads asked for, and the one whose result is shown; a read asked for later
        # (or a drawing added since) makes an earlier one's result stale.
        self._reads = self._shown_read = 0

        self.title = QLabel(self)
        self.grid = ImageGrid(self, tile=40)
        self.grid.set_placeholder(
            "Drawings you correct with “That's wrong…” are kept here."
        )
        self.grid.setToolTip(
            'Drawings you corrected with "That\'s wrong", with the label you gave.\n'
            "They are kept in your data folder; tick them in the Data panel to include "
            "them in the next training."
        )
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Delete the selected drawings from disk (Delete)")
        self.fine_tune_button = QPushButton("Fine-tune on these", self)
        self.fine_tune_button.setToolTip(
            "Train the current model for a few more epochs on your drawings mixed with "
            "the training data. How your hand is turned and how wide it draws is "
            "found from these and from the drawings read right that you cleared "
            "since the app started."
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.fine_tune_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.grid, 1)
        layout.addLayout(buttons)

        self.delete_button.clicked.connect(self.delete_selected)
        self.fine_tune_button.clicked.connect(self.fine_tune_requested)
        self.grid.selection_changed.connect(self._update_buttons)
        shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.grid)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self.delete_selected)
        self._read.connect(self._on_read)
        self.refresh()

    @property
    def target(self) -> str:
        """The conversion target whose drawings are shown."""
        return self._target

    def set_target(
        self, target: str, max_value: int, class_names: tuple[str, ...]
    ) -> None:
        """Show the drawings made for another input format."""
        self._target = target
        self._max_value = int(max_value)
        self._class_names = tuple(class_names)
        self._drawings = []  # another target's: gone until the read brings these
        self.refresh()

    def set_fine_tune_enabled(self, enabled: bool) -> None:
        """Fine-tuning needs a model; the main window says when one is there."""
        self._can_fine_tune = enabled
        self._update_buttons()

    def drawings(self) -> list[PersonalDrawing]:
        """Return the drawings shown, oldest first."""
        return list(self._drawings)

    def count(self) -> int:
        """Return the number of drawings shown."""
        return len(self._drawings)

    def add(
        self, image: np.ndarray, label: int, canvas: np.ndarray | None = None
    ) -> PersonalDrawing | None:
        """Store one drawing (and its canvas); on failure show why and return None."""
        try:
            drawing = self._set.add(image, label, self._target, self._max_value, canvas)
        except PersonalSetError as error:
            QMessageBox.warning(self, "Cannot keep the drawing", str(error))
            return None
        # Not read again from disk: 200 drawings took 150 ms, a stall at each one.
        self._drawings.append(drawing)
        self._show()
        if self.reading():
            self.refresh()  # the read under way may have missed it
        self.changed.emit(len(self._drawings))
        return drawing

    @Slot()
    def delete_selected(self) -> None:
        """Delete the selected drawings from disk."""
        rows = self.grid.selected_rows()
        if not rows:
            return
        answer = QMessageBox.question(
            self,
            "Delete drawings",
            f"Delete {count(len(rows), 'drawing')} from your personal set? This "
            "cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        deleted = set()
        try:
            for row in rows:
                self._set.delete(self._target, self._drawings[row].drawing_id)
                deleted.add(row)
        except PersonalSetError as error:
            QMessageBox.warning(self, "Cannot delete the drawing", str(error))
        self._drawings = [d for i, d in enumerate(self._drawings) if i not in deleted]
        self._show()
        if self.reading():
            self.refresh()  # the read under way may still list them
        self.changed.emit(len(self._drawings))

    @Slot()
    def refresh(self) -> None:
        """Read the drawings from disk again, in the background (see `reading`)."""
        self._reads += 1
        number, target = self._reads, self._target
        root = self._set.root.parent

        def read() -> None:
            reader = PersonalSet(root)  # its own record of skipped files
            try:
                result = (reader.list(target), len(reader.skipped), None)
            except PersonalSetError as error:
                result = ([], 0, str(error))
            try:
                self._read.emit(number, result)
            except RuntimeError:  # the gallery was closed meanwhile
                pass

        _READER.submit(read)

    def reading(self) -> bool:
        """Return True while the drawings shown wait for a read from disk."""
        return self._shown_read != self._reads

    @Slot(int, object)
    def _on_read(self, number: int, result: tuple) -> None:
        if number != self._reads:
            return  # stale: another read follows
        self._shown_read = number
        self._drawings, self._skipped, error = result
        if error is not None:
            QMessageBox.warning(self, "Cannot read your drawings", error)
        self._show()

    def _show(self) -> None:
        if self._drawings:
            images = np.stack(
                [_fit(d.image, self._drawings[-1].image.shape) for d in self._drawings]
            )
        else:
            images = np.zeros((0, 1, 1), dtype=np.uint8)
        captions = [self._name(d.label) for d in self._drawings]
        tooltips = [
            f"labelled {self._name(d.label)}, {d.created}\n{d.path}"
            for d in self._drawings
        ]
        self.grid.set_images(images, self._max_value, captions, tooltips)
        skipped = self._skipped
        note = f", {count(skipped, 'unreadable file')} skipped" if skipped else ""
        self.title.setText(f"My drawings ({len(self._drawings)}){note}")
        self._update_buttons()

    def _name(self, label: int) -> str:
        if label == NEGATIVE_LABEL:
            return "not a digit"
        return (
            self._class_names[label] if label < len(self._class_names) else str(label)
        )

    @Slot()
    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(bool(self.grid.selected_rows()))
        self.fine_tune_button.setEnabled(self._can_fine_tune and bool(self._drawings))


def _fit(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # Older drawings of another size are shown cropped or padded, never dropped.
    out = np.zeros(shape, dtype=np.uint8)
    height = min(shape[0], image.shape[0])
    width = min(shape[1], image.shape[1])
    out[:height, :width] = image[:height, :width]
    return out
