"""The user's own labelled drawings ("That's wrong" corrections), one file per drawing.

Each drawing is written at once and atomically, so a crash loses nothing already added.
Layout: ``<data_dir>/personal/<target>/<id>.npz``. Pure NumPy: never imports Qt.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.atomic_file import atomic_write
from core.datasets import MAX_CLASSES, Dataset
from core.safe_files import open_regular

__all__ = [
    "NEGATIVE_LABEL",
    "DrawnDataset",
    "PersonalDrawing",
    "PersonalSet",
    "PersonalSetError",
    "load_personal_dataset",
]

# Used with fullmatch: "$" alone would also accept a trailing newline.
_TARGET_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{8}")
_FORMAT = "digit-studio-personal-drawing"
_FORMAT_VERSION = 1
# The label of a drawing the user said is not a digit ("That's wrong" > "Not a
# digit"); it trains a model's `core.judgement.NOT_A_DIGIT` output.
NEGATIVE_LABEL = MAX_CLASSES - 1
# The largest canvas kept with a drawing, and any member's largest unpacked size (a
# file claiming more is refused before it is unpacked).
MAX_CANVAS_SIDE = 2048
_MAX_MEMBER_BYTES = MAX_CANVAS_SIDE**2 + 1024


class PersonalSetError(Exception):
    """A drawing cannot be stored, read or deleted; the message says why."""


@dataclass(frozen=True)
class PersonalDrawing:
    """One stored drawing.

    Attributes
    ----------
    drawing_id : str
        File stem, sortable by creation time.
    image : np.ndarray
        uint8 ``(H, W)`` in the dataset's pixel range ``0..max_value``.
    label : int
        The class the user says it is, or `NEGATIVE_LABEL`: not a digit.
    target : str
        The conversion target it was made for (``"mnist"``, ``"digits-8x8"`` ...).
    max_value : int
        Brightest pixel value of the target's datasets (255 or 16).
    created : str
        ISO 8601 UTC time of the correction.
    path : Path
        The file holding it.
    canvas : np.ndarray or None
        uint8 ``(H, W)``, bright ink: the canvas it was drawn on, when it was
        converted as a drawing (`core.hand_reading` reads it again); None for a
        picture, or a drawing stored before the canvases were.
    """

    drawing_id: str
    image: np.ndarray
    label: int
    target: str
    max_value: int
    created: str
    path: Path
    canvas: np.ndarray | None = None

    @property
    def is_negative(self) -> bool:
        """True for a drawing the user said is not a digit."""
        return self.label == NEGATIVE_LABEL


@dataclass(frozen=True, eq=False)
class DrawnDataset(Dataset):
    """Drawings as a dataset, with the canvases they were drawn on.

    ``canvases`` holds one entry per image, in order: a `PersonalDrawing.canvas`,
    or None; empty when none is known. ``read_right`` holds ``(canvas, digit)``
    pairs of drawings the model read right that the user did not correct (the Draw
    tab's latest, never stored): they help find how the hand reads best
    (`core.hand_reading`) and are never trained on; ``misread_share`` is the share
    of the drawings answered then that the user corrected (None: not known). A
    subset is a plain `Dataset`.
    """

    canvases: tuple[np.ndarray | None, ...] = ()
    read_right: tuple[tuple[np.ndarray, int], ...] = ()
    misread_share: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.canvases and len(self.canvases) != len(self):
            raise PersonalSetError(
                f"{len(self.canvases)} canvases for {len(self)} drawings"
            )


class PersonalSet:
    """The personal drawings stored under one data folder.

    Parameters
    ----------
    data_dir : str or Path
        The user's data folder (``core.user_dirs.data_dir()`` in the app); created on
        first write.
    """

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.root = Path(data_dir) / "personal"
        self.skipped: list[tuple[Path, str]] = []

    def folder(self, target: str) -> Path:
        """Return the folder holding the drawings for ``target`` (may not exist)."""
        return self.root / _checked_target(target)

    def add(
        self,
        image_uint8: np.ndarray,
        label: int,
        target: str,
        max_value: int = 255,
        canvas: np.ndarray | None = None,
    ) -> PersonalDrawing:
        """Store one drawing at once, atomically, and return it.

        Parameters
        ----------
        image_uint8 : np.ndarray
            uint8 ``(H, W)``, the converted image the network saw.
        label : int
            The correct class index, ``0 <= label < MAX_CLASSES - 1``, or
            `NEGATIVE_LABEL` (``MAX_CLASSES - 1``, 255) for a drawing that is not a
            digit.
        target : str
            Conversion target name; drawings of different targets are kept apart.
        max_value : int
            Brightest pixel value of the target (255 for MNIST, 16 for 8x8 digits).
        canvas : np.ndarray, optional
            uint8 ``(H, W)``, bright ink, at most `MAX_CANVAS_SIDE` a side: the
            canvas ``image`` was converted from as a drawing.
        """
        image = np.asarray(image_uint8)
        if image.ndim != 2 or image.dtype != np.uint8 or 0 in image.shape:
            raise PersonalSetError(
                f"a drawing must be a non-empty 2-D uint8 image, got {image.dtype} "
                f"and shape {image.shape}"
            )
        if isinstance(label, bool) or not isinstance(label, int | np.integer):
            raise PersonalSetError(f"the label must be an integer, got {label!r}")
        if not 0 <= int(label) < MAX_CLASSES:
            raise PersonalSetError(
                f"the label must be in 0..{MAX_CLASSES - 1}, got {label}"
            )
        if not 1 <= int(max_value) <= 255:
            raise PersonalSetError(f"max_value must be in 1..255, got {max_value}")
        if int(image.max()) > int(max_value):
            raise PersonalSetError(
                f"the image has pixels up to {int(image.max())}, above max_value "
                f"{max_value}"
            )
        kept = {}
        if canvas is not None:
            kept["canvas"] = canvas = np.ascontiguousarray(canvas)
            _check_canvas(canvas, "the canvas")
        folder = self.folder(target)
        now = datetime.now(timezone.utc)
        # Microseconds keep the file names (and so the listing) in creation order.
        drawing_id = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        created = now.isoformat(timespec="seconds")
        path = folder / f"{drawing_id}.npz"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(
                path,
                image=np.ascontiguousarray(image),
                label=np.array(int(label), dtype=np.uint8),
                max_value=np.array(int(max_value), dtype=np.uint8),
                created=np.array(created),
                format=np.array(_FORMAT),
                format_version=np.array(_FORMAT_VERSION, dtype=np.int32),
                **kept,
            )
        except OSError as error:
            raise PersonalSetError(
                f"cannot save the drawing in {folder}: {error}"
            ) from error
        return PersonalDrawing(
            drawing_id,
            image.copy(),
            int(label),
            target,
            int(max_value),
            created,
            path,
            None if canvas is None else canvas.copy(),
        )

    def list(self, target: str, canvases: bool = False) -> list[PersonalDrawing]:
        """Return the readable drawings for ``target``, oldest first.

        Files that cannot be read are left in place and recorded in ``self.skipped``
        as ``(path, reason)`` pairs instead of failing the whole list. Their
        canvases are read only when ``canvases`` asks (a third of the time).
        """
        folder = self.folder(target)
        self.skipped = []
        if not folder.is_dir():
            return []
        drawings = []
        for path in sorted(folder.glob("*.npz")):
            if not _ID_PATTERN.fullmatch(path.stem):
                continue
            try:
                drawings.append(_read(path, target, canvases))
            except PersonalSetError as error:
                self.skipped.append((path, str(error)))
        return drawings

    def count(self, target: str) -> int:
        """Return how many drawings are stored for ``target`` (without reading them)."""
        folder = self.folder(target)
        if not folder.is_dir():
            return 0
        return sum(1 for p in folder.glob("*.npz") if _ID_PATTERN.fullmatch(p.stem))

    def delete(self, target: str, drawing_id: str) -> None:
        """Remove one drawing; a drawing already gone is not an error."""
        if not _ID_PATTERN.fullmatch(drawing_id):
            raise PersonalSetError(f"not a drawing id: {drawing_id!r}")
        path = self.folder(target) / f"{drawing_id}.npz"
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise PersonalSetError(f"cannot delete {path}: {error}") from error


def load_personal_dataset(data_dir: str | os.PathLike, target: str):
    """Return the personal drawings for ``target`` as a ``core.datasets.Dataset``.

    Parameters
    ----------
    data_dir : str or Path
        The user's data folder.
    target : str
        Conversion target name (``"mnist"`` for 28x28, the 8x8 digits' name otherwise).

    Returns
    -------
    DrawnDataset or None
        Images uint8 ``(N, H, W)``, labels uint8 ``(N,)``, the digit class names (ten,
        or as many as the largest label needs), then ``"not a digit"`` when some
        drawings are negatives (labelled with its index), and their canvases; None
        when there is no readable drawing of that target. Drawings whose shape
        differs from the most recent one's are left out.
    """
    from core.judgement import NOT_A_DIGIT

    drawings = PersonalSet(data_dir).list(target, canvases=True)
    if not drawings:
        return None
    shape = drawings[-1].image.shape
    max_value = drawings[-1].max_value
    kept = [d for d in drawings if d.image.shape == shape and d.max_value == max_value]
    images = np.stack([d.image for d in kept]).astype(np.uint8, copy=False)
    labels = np.array([d.label for d in kept], dtype=np.uint8)
    negative = labels == NEGATIVE_LABEL
    num_classes = max(10, int(labels[~negative].max(initial=0)) + 1)
    class_names = tuple(str(i) for i in range(num_classes))
    if negative.any():
        labels[negative] = num_classes
        class_names += (NOT_A_DIGIT,)
    return DrawnDataset(
        name=f"personal-{target}",
        images=images,
        labels=labels,
        class_names=class_names,
        max_value=max_value,
        canvases=tuple(d.canvas for d in kept),
    )


def _checked_target(target: str) -> str:
    if not isinstance(target, str) or not _TARGET_PATTERN.fullmatch(target):
        raise PersonalSetError(
            f"a target name is lower-case letters, digits, '-' or '_', got {target!r}"
        )
    return target


def _write_atomic(path: Path, **arrays: np.ndarray) -> None:
    # np.savez appends ".npz" to bare paths, so write through an open file object.
    # Compressed: a canvas is mostly black (78 KB of 280x280 in about 3 KB).
    with atomic_write(path) as handle:
        np.savez_compressed(handle, **arrays)


def _read(path: Path, target: str, with_canvas: bool) -> PersonalDrawing:
    try:
        # Our own handle: np.load leaves its file open when the zip is damaged; and
        # never a FIFO or a device, which would block or never end.
        with open_regular(path) as handle, np.load(handle, allow_pickle=False) as data:
            if str(data["format"]) != _FORMAT:
                raise PersonalSetError(f"{path.name} is not a personal drawing file")
            version = int(data["format_version"])
            if version > _FORMAT_VERSION:
                raise PersonalSetError(
                    f"{path.name} has format version {version}, newer than this app"
                )
            for member in data.zip.infolist():  # before any data is unpacked
                if member.file_size > _MAX_MEMBER_BYTES:
                    raise PersonalSetError(
                        f"{path.name} holds {member.filename} of "
                        f"{member.file_size:,} bytes, too large for a drawing"
                    )
            image = np.array(data["image"])
            stored_label = np.array(data["label"])
            max_value = int(data["max_value"])
            created = str(data["created"])
            canvas = None
            if with_canvas and "canvas" in data.files:
                canvas = np.array(data["canvas"])
    except PersonalSetError:
        raise
    except OSError as error:
        raise PersonalSetError(
            f"cannot read {path.name}: {error.strerror or error}"
        ) from error
    except Exception as error:  # noqa: BLE001 - a damaged zip raises many kinds
        raise PersonalSetError(f"cannot read {path.name}: {error}") from error
    if stored_label.shape != () or stored_label.dtype.kind not in "ui":
        raise PersonalSetError(
            f"{path.name} holds a {stored_label.dtype} label of shape "
            f"{stored_label.shape}, not one integer"
        )
    label = int(stored_label)
    if image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        raise PersonalSetError(
            f"{path.name} holds a {image.dtype} image of shape {image.shape}"
        )
    if not (0 <= label < MAX_CLASSES and 1 <= max_value <= 255) or (
        image.max() > max_value
    ):
        raise PersonalSetError(
            f"{path.name} has label {label}, pixel range 0..{max_value} and pixels "
            f"up to {int(image.max())}, which do not fit together"
        )
    if canvas is not None:
        _check_canvas(canvas, f"{path.name}'s canvas")
    return PersonalDrawing(
        path.stem, image, label, target, max_value, created, path, canvas
    )


def _check_canvas(canvas: np.ndarray, what: str) -> None:
    side = max(canvas.shape, default=0)
    if canvas.ndim != 2 or canvas.dtype != np.uint8 or not 0 < side <= MAX_CANVAS_SIDE:
        raise PersonalSetError(
            f"{what} must be a 2-D uint8 image at most {MAX_CANVAS_SIDE} pixels a "
            f"side, got {canvas.dtype} and shape {canvas.shape}"
        )
