"""Image files to grey-scale NumPy arrays for `predict`, read with QtGui.QImage.

QImage needs no QApplication and no window. Transparent pixels are composited onto
a background that contrasts with the ink, so strokes on a transparent PNG survive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ImageFileError(Exception):
    """An image file is missing or cannot be decoded."""


def read_grey(path: str | Path) -> np.ndarray:
    """Read PNG, JPEG, BMP, ... as grey-scale.

    Parameters
    ----------
    path : str or Path
        The image file.

    Returns
    -------
    ndarray
        uint8 ``(H, W)``, 0 = black, 255 = white.

    Raises
    ------
    ImageFileError
        When the file is missing or not a readable image.
    """
    from PySide6.QtGui import QImage

    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"Image not found: {path}")
    image = QImage(str(path))
    if image.isNull():
        raise ImageFileError(f"{path} is not an image Digit Studio can read.")
    if not image.hasAlphaChannel():
        return _pixels(image.convertToFormat(QImage.Format.Format_Grayscale8), 1)[
            ..., 0
        ]
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    pixels = _pixels(rgba, 4)
    rgb = pixels[..., :3].astype(np.float32)
    # ITU-R BT.601 luma, the weights Qt's own grey-scale conversion uses.
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = pixels[..., 3].astype(np.float32) / 255.0
    if alpha.min() < 1.0:
        opaque = alpha > 0.5
        ink_level = float(grey[opaque].mean()) if opaque.any() else 0.0
        background = 255.0 if ink_level < 128.0 else 0.0
        grey = alpha * grey + (1.0 - alpha) * background
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def _pixels(image, channels: int) -> np.ndarray:
    """Copy a QImage's rows (which may be padded) into a ``(H, W, channels)`` array."""
    height, width = image.height(), image.width()
    stride = image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    rows = raw.reshape(height, stride)[:, : width * channels]
    return rows.reshape(height, width, channels).copy()
