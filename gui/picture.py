"""An image file made into a picture for the drawing canvas (File > Open Image, drop).

Owns ``load_picture``: it reads the file the way `predict` does (`cli.images`) and
also makes the canvas's picture of it (dark ink on paper turned into bright ink on
black, fitted into the canvas's square). The Draw tab converts the file itself, as
`predict` does (`core.preprocess`), until strokes are drawn on the picture. Runs in a
worker thread: QImage only, no widgets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImageReader

from cli.images import ImageFileError, read_grey
from gui.image_grid import array_to_qimage

# Larger images are refused before they are decoded (a 40-megapixel photo takes
# 160 MB as RGBA while it is read).
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_FILTER = (
    "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"
)


class PictureError(Exception):
    """The file cannot become a picture on the canvas; the message says why."""


def is_image_file(path: str | Path) -> bool:
    """Tell whether ``path`` names a kind of image the canvas opens."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_picture(path: str | Path, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Read an image file; return it grey-scale and as a ``(side, side)`` picture.

    The file's pixels are ``read_grey``'s (uint8 ``(H, W)``, what `predict`
    converts); the picture is uint8 ``(side, side)``, bright ink on black.

    The ink's polarity is decided by the rule `core.preprocess` applies to files
    (paper is the median of the border: dark paper means bright ink); the paper
    level is kept, and the picture keeps its proportions, padded with paper.

    Raises
    ------
    PictureError
        When the file is missing, not an image, or larger than ``MAX_IMAGE_PIXELS``.
    """
    path = Path(path)
    size = QImageReader(str(path)).size()
    if size.isValid() and size.width() * size.height() > MAX_IMAGE_PIXELS:
        raise PictureError(
            f"{path.name} is {size.width():,} x {size.height():,} pixels; images of "
            f"up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels can be opened."
        )
    try:
        grey = original = read_grey(path)
    except ImageFileError as error:
        raise PictureError(str(error)) from error
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    paper = int(np.median(border))
    if paper >= 128:  # dark ink on light paper: the canvas's ink is bright
        grey, paper = 255 - grey, 255 - paper
    scaled = array_to_qimage(grey).scaled(
        side,
        side,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    rows = np.frombuffer(
        scaled.constBits(), np.uint8, count=scaled.sizeInBytes()
    ).reshape(scaled.height(), scaled.bytesPerLine())[:, : scaled.width()]
    picture = np.full((side, side), paper, np.uint8)
    top, left = (side - rows.shape[0]) // 2, (side - rows.shape[1]) // 2
    picture[top : top + rows.shape[0], left : left + rows.shape[1]] = rows
    return original, picture
