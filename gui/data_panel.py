"""The data panel: dataset choice, MNIST download, IDX import, example images.

Also the "Include my drawings" switch for the next training.

Loading, downloading and importing run in background threads (gui.background); the
panel only shows results. Imports Qt, core.dataset_store / download / personal_set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core import dataset_store
from core.datasets import BUNDLED, Dataset, DatasetError, DatasetPart, split_parts
from core.personal_set import PersonalSet
from core.preprocess import target_for_shape
from gui.background import start_task
from gui.download_worker import (
    EXPECTED_ERRORS,
    DownloadProgress,
    download_job,
    mirror_list,
)

EXAMPLES_PER_CLASS = 4
MAX_EXAMPLE_CLASSES = 20
EXAMPLE_TILE_PX = 26
MNIST_LABEL = "Full MNIST (60,000 + 10,000 test) — not downloaded"
# What the dataset list calls the bundled sets.
_BUNDLED_TITLES = {
    "mnist-sample": "MNIST sample",
    "digits-8x8": "8x8 digits",
    "pen-digits": "Pen digits, written on a tablet",
}
OFFLINE_HINT = (
    "The download failed. Check the internet connection (or a proxy), or set a mirror "
    "below; a folder holding the four MNIST files works as file:///path/to/folder/."
)


def personal_target(image_shape: tuple[int, int]) -> str:
    """Return the personal-set target name for images of this shape.

    Raises `core.preprocess.PreprocessError` for a shape drawings cannot make (an
    imported 16x16 set, say): such a dataset has no personal drawings.
    """
    return target_for_shape(image_shape)


def example_mosaic(dataset: Dataset, per_class: int, seed: int = 0) -> np.ndarray:
    """Build a grid image: one column per class, ``per_class`` random examples each.

    Returns uint8 ``(per_class * (H + 1) + 1, classes * (W + 1) + 1)`` in 0..255 with
    1-pixel grey gaps; a class with fewer images leaves its cells grey.
    """
    rng = np.random.default_rng(seed)
    h, w = dataset.image_shape
    classes = min(dataset.num_classes, MAX_EXAMPLE_CLASSES)
    mosaic = np.full((per_class * (h + 1) + 1, classes * (w + 1) + 1), 96, np.uint8)
    scale = 255.0 / dataset.max_value
    for label in range(classes):
        members = np.flatnonzero(dataset.labels == label)
        take = rng.choice(members, min(per_class, len(members)), replace=False)
        for row, index in enumerate(np.sort(take)):
            top, left = 1 + row * (h + 1), 1 + label * (w + 1)
            image = dataset.images[index]
            if dataset.max_value != 255:
                image = np.rint(image * scale).astype(np.uint8)
            mosaic[top : top + h, left : left + w] = image
    return mosaic


class DataPanel(QGroupBox):
    """Pick and load a dataset; emits ``dataset_loaded(dataset)`` when it is ready.

    ``dataset`` is the training data; ``test_set`` the separate test split when the
    dataset has one (full MNIST, some imported sets), else None.
    """

    dataset_loaded = Signal(object)
    loading_changed = Signal(bool)
    include_personal_changed = Signal(bool)
    mirror_changed = Signal(str)

    def __init__(
        self, data_dir: Path, mirror: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__("Data", parent)
        self.data_dir = Path(data_dir)
        self.dataset: Dataset | None = None
        self.test_set: Dataset | None = None
        # Held-out images for evaluating when there is no test split (the default
        # 10 % validation split, the same images a default training validates on):
        # rows of the training images, copied only when evaluated.
        self.holdout: DatasetPart | None = None
        self._loading_name = ""
        self._generation = 0
        # The background threads started here (gui.background keeps them alive).
        self._tasks: list[tuple[QThread, Any]] = []
        self._download_worker: Any = None
        self._load_worker: Any = None
        self._locked = False
        self._importing = False
        self._removing = False
        self._personal_count = 0

        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("The images to train on")
        self.dataset_combo.setMinimumContentsLength(18)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setToolTip("Size and origin of the chosen dataset")

        self.download_button = QPushButton("Download MNIST")
        self.download_button.setToolTip(
            "Download the full MNIST (about 11 MB) into the data folder"
        )
        self.cancel_download_button = QPushButton("Cancel")
        self.cancel_download_button.setToolTip("Stop the download (it resumes later)")
        self.cancel_download_button.setVisible(False)
        self.download_progress = QProgressBar()
        self.download_progress.setToolTip("Download progress")
        self.download_progress.setVisible(False)
        self.download_message = QLabel()
        self.download_message.setWordWrap(True)
        self.download_message.setVisible(False)
        self.download_message.setToolTip("What happened to the last download")
        self.mirror_edit = QLineEdit(mirror)
        self.mirror_edit.setPlaceholderText("built-in mirrors")
        self.mirror_edit.setToolTip(
            "A base URL holding the four MNIST files, used instead of the "
            "built-in mirrors (http://, https:// or file:///folder/)"
        )
        self.import_button = QPushButton("Import IDX…")
        self.import_button.setToolTip(
            "Import an images file and its labels file (IDX, optionally .gz) as a "
            "new dataset"
        )
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip(
            "Delete the chosen downloaded or imported dataset from the data folder "
            "(the bundled ones stay)"
        )
        self.personal_check = QCheckBox("Include my drawings (0)")
        self.personal_check.setToolTip(
            "Add the drawings you corrected on the Draw tab to the next training"
        )
        self.examples = QLabel()
        self.examples.setToolTip(
            "Random examples from the chosen dataset: one column per class"
        )
        self.examples.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.examples.setMinimumHeight(EXAMPLES_PER_CLASS * EXAMPLE_TILE_PX)
        self.example_count = 0

        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button)
        download_row.addWidget(self.download_progress, 1)
        download_row.addWidget(self.cancel_download_button)
        form = QFormLayout()
        form.addRow("Dataset:", self.dataset_combo)
        form.addRow("Mirror:", self.mirror_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.info_label)
        layout.addLayout(download_row)
        layout.addWidget(self.download_message)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.personal_check, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.examples)

        self.dataset_combo.currentIndexChanged.connect(self.on_dataset_combo_changed)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_download_button.clicked.connect(self.cancel_download)
        self.import_button.clicked.connect(self.on_import_clicked)
        self.remove_button.clicked.connect(self.on_remove_clicked)
        self.mirror_edit.editingFinished.connect(self.on_mirror_edited)
        self.personal_check.toggled.connect(self.include_personal_changed)

    # ---------------------------------------------------------------- list
    def refresh(self, select: str | None = None, reload: bool = True) -> None:
        """Re-read the datasets and select ``select`` (or keep the current one).

        ``reload`` False only renames the entries, keeping the loaded dataset.
        """
        current = select or self.current_name() or "mnist-sample"
        infos = dataset_store.list_datasets(self.data_dir)
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        names = []
        for info in infos:
            self.dataset_combo.addItem(self._describe(info), info.name)
            self.dataset_combo.setItemData(
                self.dataset_combo.count() - 1,
                info.source,
                3,  # Qt.ToolTipRole
            )
            names.append(info.name)
        if dataset_store.MNIST not in names:  # offered after the bundled sets
            bundled = sum(info.kind == "bundled" for info in infos)
            self.dataset_combo.insertItem(bundled, MNIST_LABEL, dataset_store.MNIST)
        index = self.dataset_combo.findData(current)
        self.dataset_combo.setCurrentIndex(max(index, 0))
        self.dataset_combo.blockSignals(False)
        self._update_download_row()
        self._update_remove_button()
        if reload:
            self.on_dataset_combo_changed()

    @staticmethod
    def _describe(info: dataset_store.DatasetInfo) -> str:
        h, w = info.image_shape
        if info.kind == "bundled":
            title = _BUNDLED_TITLES.get(info.name, info.name)
            return f"{title} ({info.train_count:,} images, bundled)"
        if info.name == dataset_store.MNIST:
            return f"Full MNIST ({info.train_count:,} + {info.test_count or 0:,} test)"
        test = f" + {info.test_count:,} test" if info.test_count else ""
        return f"{info.name} ({info.train_count:,}{test}, {h}x{w}, imported)"

    def current_name(self) -> str:
        """Name of the selected dataset ("" when none)."""
        data = self.dataset_combo.currentData()
        return str(data) if data is not None else ""

    def select(self, name: str) -> bool:
        """Select (and load) a dataset by name; False when it is not available."""
        index = self.dataset_combo.findData(name)
        if index < 0:
            return False
        if index == self.dataset_combo.currentIndex():
            if self.dataset is None or self.dataset.name != name:
                self.on_dataset_combo_changed()
        else:
            self.dataset_combo.setCurrentIndex(index)
        return True

    def is_loading(self) -> bool:
        """Return True while a dataset is being loaded (or removed)."""
        return bool(self._loading_name) or self._removing

    def is_available(self, name: str) -> bool:
        """Return True when ``name`` can be loaded now (MNIST downloaded...)."""
        return name in {i.name for i in dataset_store.list_datasets(self.data_dir)}

    # ------------------------------------------------------------- loading
    @Slot()
    def on_dataset_combo_changed(self) -> None:
        """Load the selected dataset in the background."""
        name = self.current_name()
        self._update_download_row()
        self._update_remove_button()
        # Any new selection outdates a load still in flight.
        self._generation += 1
        if not name:
            return
        if not self.is_available(name):
            self.dataset = None
            self.test_set = None
            self.holdout = None
            self.info_label.setText(
                "Full MNIST is not downloaded yet: press Download MNIST."
            )
            self.clear_examples()
            self._set_loading("")
            self.dataset_loaded.emit(None)
            return
        generation = self._generation
        data_dir = self.data_dir
        self.info_label.setText(f"Loading {name}…")
        self._set_loading(name)

        def load(_cancel: threading.Event, _report: Callable[[Any], None]):
            info = dataset_store.get_info(name, data_dir)
            train = dataset_store.load_dataset(name, data_dir)
            test = None
            if "test" in info.splits:
                test = dataset_store.load_dataset(name, data_dir, split="test")
            examples = example_mosaic(train, EXAMPLES_PER_CLASS)
            holdout = None if test is not None else split_parts(train, 0.1, 0)[1]
            return generation, info, train, test, holdout, examples

        pair = start_task(
            load,
            on_succeeded=self.on_load_succeeded,
            on_failed=self.on_load_failed,
            on_finished=self.on_task_finished,
            expected_errors=(DatasetError, OSError),
            name="load-dataset",
        )
        self._load_worker = pair[1]
        self._track(pair)

    @Slot(object)
    def on_load_succeeded(self, result: tuple) -> None:
        """Show the loaded dataset and tell listeners."""
        generation, info, train, test, holdout, examples = result
        if generation != self._generation:
            return
        self.dataset, self.test_set, self.holdout = train, test, holdout
        h, w = train.image_shape
        counts = np.bincount(train.labels, minlength=train.num_classes)
        test_text = f", {len(test):,} test images" if test is not None else ""
        low, high = int(counts.min()), int(counts.max())
        per_class = f"{low:,}" if low == high else f"{low:,}–{high:,}"
        self.info_label.setText(
            f"{len(train):,} training images{test_text}, {h}x{w} pixels, "
            f"{train.num_classes} classes ({per_class} per class). "
            f"{info.source[:1].upper()}{info.source[1:]}."
        )
        self.show_examples(examples, train)
        self.update_personal_count()
        self._set_loading("")
        self.dataset_loaded.emit(train)

    def show_examples(self, mosaic: np.ndarray, dataset: Dataset) -> None:
        """Show the example mosaic, each image about EXAMPLE_TILE_PX pixels high."""
        mosaic = np.ascontiguousarray(mosaic)
        height, width = mosaic.shape
        image = QImage(
            mosaic.data, width, height, width, QImage.Format.Format_Grayscale8
        ).copy()
        h, w = dataset.image_shape
        factor = max(1, round(EXAMPLE_TILE_PX / h))
        self.examples.setPixmap(
            QPixmap.fromImage(image).scaled(
                width * factor,
                height * factor,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )
        classes = min(dataset.num_classes, MAX_EXAMPLE_CLASSES)
        self.example_count = int(
            sum(
                min(EXAMPLES_PER_CLASS, int(c))
                for c in dataset.class_counts()[:classes]
            )
        )
        self.examples.setToolTip(
            f"{self.example_count} random examples: one column per class, "
            f"{', '.join(dataset.class_names[:classes])}"
        )

    def clear_examples(self) -> None:
        """Show no examples."""
        self.examples.clear()
        self.example_count = 0

    @Slot(str)
    def on_load_failed(self, message: str) -> None:
        """Explain why the dataset cannot be used (only the latest load counts)."""
        if self.sender() is not self._load_worker:
            return
        self.dataset = None
        self.test_set = None
        self.holdout = None
        self.info_label.setText(f"Cannot load the dataset: {message}")
        self.clear_examples()
        self._set_loading("")
        self.dataset_loaded.emit(None)

    def _set_loading(self, name: str) -> None:
        self._loading_name = name
        self.loading_changed.emit(bool(name))

    # ------------------------------------------------------------ personal
    def update_personal_count(self, count: int | None = None) -> None:
        """Re-count the personal drawings for the current image size."""
        if count is None:
            shape = self.dataset.image_shape if self.dataset is not None else (28, 28)
            try:
                count = PersonalSet(self.data_dir).count(personal_target(shape))
            except Exception:  # noqa: BLE001 - a bad folder only hides the count
                count = 0
        self._personal_count = int(count)
        self.personal_check.setText(f"Include my drawings ({count})")
        self.personal_check.setEnabled(count > 0)
        if count == 0:
            self.personal_check.setChecked(False)

    def include_personal(self) -> bool:
        """Return True when the next training should add the personal drawings."""
        return self.personal_check.isChecked() and self._personal_count > 0

    # ------------------------------------------------------------ download
    def mirror(self) -> str:
        """Return the user's mirror URL ("" for the built-in list)."""
        return self.mirror_edit.text().strip()

    @Slot()
    def on_mirror_edited(self) -> None:
        """Persist the mirror."""
        self.mirror_changed.emit(self.mirror())

    def _update_download_row(self) -> None:
        downloading = self._download_worker is not None
        have_mnist = self.is_available(dataset_store.MNIST)
        self.download_button.setVisible(not have_mnist or downloading)
        self.download_button.setEnabled(not downloading)
        self.cancel_download_button.setVisible(downloading)
        self.download_progress.setVisible(downloading)

    @Slot()
    def start_download(self) -> None:
        """Download full MNIST in the background."""
        if self._download_worker is not None:
            return
        self.download_message.setVisible(False)
        self.download_progress.setRange(0, 1000)
        self.download_progress.setValue(0)
        thread, worker = start_task(
            download_job(self.data_dir, mirror_list(self.mirror())),
            on_succeeded=self.on_download_succeeded,
            on_failed=self.on_download_failed,
            on_finished=self.on_download_finished,
            on_progress=self.on_download_progress,
            on_cancelled=self.on_download_cancelled,
            expected_errors=EXPECTED_ERRORS,
            name="download",
        )
        self._download_worker = worker
        self._track((thread, worker))
        self._update_download_row()

    @Slot()
    def cancel_download(self) -> None:
        """Stop the download between chunks (partial files resume next time)."""
        if self._download_worker is not None and shiboken6.isValid(
            self._download_worker
        ):
            self._download_worker.cancel()

    @Slot(object)
    def on_download_progress(self, progress: DownloadProgress) -> None:
        """Move the progress bar."""
        self.download_progress.setValue(int(progress.fraction * 1000))
        self.download_progress.setFormat(
            f"{progress.bytes_done / 1e6:.1f} / {progress.bytes_total / 1e6:.1f} MB"
        )

    @Slot(object)
    def on_download_succeeded(self, _path: object) -> None:
        """Select the freshly downloaded MNIST (unless a run uses the current data)."""
        self._show_download_message("Full MNIST downloaded and verified.", error=False)
        self._download_worker = None
        if self._locked:
            self.refresh(reload=False)  # the run keeps its data; MNIST is listed
        else:
            self.refresh(select=dataset_store.MNIST)

    @Slot(str)
    def on_download_failed(self, message: str) -> None:
        """Show the offline message with the engine's details."""
        self._show_download_message(f"{OFFLINE_HINT}\n\nDetails: {message}", error=True)

    @Slot()
    def on_download_cancelled(self) -> None:
        """Say the download stopped."""
        self._show_download_message(
            "Download cancelled; it resumes where it stopped.", error=False
        )

    @Slot()
    def on_download_finished(self) -> None:
        """Reset the download controls."""
        self._download_worker = None
        self._update_download_row()
        self.on_task_finished()

    def _show_download_message(self, text: str, error: bool) -> None:
        self.download_message.setText(text)
        self.download_message.setStyleSheet("color: #b00020;" if error else "")
        self.download_message.setVisible(True)

    # -------------------------------------------------------------- import
    @Slot()
    def on_import_clicked(self) -> None:
        """Ask for the IDX files and a name, then import them in the background."""
        images, _ = QFileDialog.getOpenFileName(
            self,
            "Import IDX: choose the training images file",
            str(Path.home()),
            "IDX files (*idx3* *ubyte* *.gz *.idx);;All files (*)",
        )
        if not images:
            return
        found: dict[str, Path] = {}
        try:
            found = dataset_store.find_idx_files(Path(images).parent)
        except DatasetError:
            found = {}
        labels = found.get("train_labels")
        if found.get("train_images") != Path(images) or labels is None:
            found = {}
            labels_name, _ = QFileDialog.getOpenFileName(
                self,
                "Import IDX: choose the matching labels file",
                str(Path(images).parent),
                "IDX files (*idx1* *ubyte* *.gz *.idx);;All files (*)",
            )
            if not labels_name:
                return
            labels = Path(labels_name)
        default = re.sub(r"[^a-z0-9._-]+", "-", Path(images).parent.name.lower()).strip(
            "-."
        )
        name, ok = QInputDialog.getText(
            self, "Import IDX", "Name of the new dataset:", text=default or "imported"
        )
        if not ok or not name.strip():
            return
        self.import_files(
            name.strip(),
            Path(images),
            Path(labels),
            found.get("test_images"),
            found.get("test_labels"),
        )

    def import_files(
        self,
        name: str,
        images: Path,
        labels: Path,
        test_images: Path | None = None,
        test_labels: Path | None = None,
    ) -> None:
        """Import IDX files as dataset ``name`` in the background, then select it."""
        data_dir = self.data_dir
        self.info_label.setText(f"Importing {images.name}…")
        self._importing = True
        self.import_button.setEnabled(False)

        def run(_cancel: threading.Event, _report: Callable[[Any], None]):
            info = dataset_store.import_idx(
                data_dir, name, images, labels, test_images, test_labels
            )
            return info.name

        self._track(
            start_task(
                run,
                on_succeeded=self.on_import_succeeded,
                on_failed=self.on_import_failed,
                on_finished=self.on_import_finished,
                expected_errors=(DatasetError, OSError),
                name="import",
            )
        )

    @Slot(object)
    def on_import_succeeded(self, name: str) -> None:
        """Select the imported dataset (unless a run uses the current data)."""
        if self._locked:
            self.refresh(reload=False)
        else:
            self.refresh(select=name)

    @Slot(str)
    def on_import_failed(self, message: str) -> None:
        """Say why the files were not imported."""
        self.info_label.setText(f"Import failed: {message}")

    @Slot()
    def on_import_finished(self) -> None:
        """Re-enable importing."""
        self._importing = False
        self.import_button.setEnabled(not self._locked)
        self.on_task_finished()

    # -------------------------------------------------------------- remove
    def _update_remove_button(self) -> None:
        name = self.current_name()
        self.remove_button.setEnabled(
            bool(name)
            and name not in BUNDLED
            and not (self._locked or self._removing)
            and self.is_available(name)
        )

    @Slot()
    def on_remove_clicked(self) -> None:
        """Ask, then delete the chosen stored dataset."""
        name = self.current_name()
        label = self.dataset_combo.currentText()
        answer = QMessageBox.question(
            self,
            "Remove dataset",
            f"Delete {label} from the data folder?\n\nIts files are removed; models "
            "trained on it are kept. A downloaded MNIST can be downloaded again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_dataset(name)

    def remove_dataset(self, name: str) -> None:
        """Delete the stored dataset ``name`` in the background, then reselect."""
        data_dir = self.data_dir
        self._removing = True
        self._update_remove_button()
        self.loading_changed.emit(True)  # no training starts on it meanwhile
        self.info_label.setText(f"Removing {name}…")

        def run(_cancel: threading.Event, _report: Callable[[Any], None]):
            dataset_store.delete_dataset(data_dir, name)
            return name

        self._track(
            start_task(
                run,
                on_succeeded=self.on_remove_succeeded,
                on_failed=self.on_remove_failed,
                on_finished=self.on_remove_finished,
                expected_errors=(DatasetError, OSError),
                name="remove",
            )
        )

    @Slot(object)
    def on_remove_succeeded(self, name: str) -> None:
        """List the datasets again; the sample replaces a removed current one."""
        self._removing = False
        if self.current_name() == name:
            self.refresh(select="mnist-sample")
        else:
            self.refresh(reload=False)

    @Slot(str)
    def on_remove_failed(self, message: str) -> None:
        """Say why the dataset was not removed."""
        self.info_label.setText(f"Could not remove the dataset: {message}")

    @Slot()
    def on_remove_finished(self) -> None:
        """Allow removing again."""
        self._removing = False
        self._update_remove_button()
        self.loading_changed.emit(self.is_loading())
        self.on_task_finished()

    # ------------------------------------------------------------- threads
    def _track(self, pair: tuple[QThread, Any]) -> None:
        self._prune()
        self._tasks.append(pair)

    def _prune(self) -> None:
        self._tasks = [pair for pair in self._tasks if not pair[0].isFinished()]

    @Slot()
    def on_task_finished(self) -> None:
        """Forget tasks whose thread has ended."""
        self._prune()

    def set_locked(self, locked: bool) -> None:
        """Lock the dataset choice while training runs."""
        self._locked = locked
        self.dataset_combo.setEnabled(not locked)
        self.download_button.setEnabled(not locked)
        self.import_button.setEnabled(not locked and not self._importing)
        self._update_remove_button()
        self.personal_check.setEnabled(not locked and self._personal_count > 0)

    def shutdown(self, timeout_ms: int = 2000) -> None:
        """Cancel the download and wait for background threads (window closing)."""
        self.cancel_download()
        for thread, _worker in list(self._tasks):
            thread.quit()
            thread.wait(timeout_ms)
