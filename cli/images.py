"""Image files to grey-scale NumPy arrays for `predict`, read with QtGui.QImageReader.

QImageReader needs no QApplication and no window. Only regular files of raster
formats are read, up to `MAX_PIXELS` (docs/safety.md): SVG would need Qt's font
database, which aborts the process without a QGuiApplication. Transparent pixels are
composited onto a background that contrasts with the ink, so strokes on a
transparent PNG survive.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from core.safe_files import open_regular

# 40 megapixels: a 7,300 x 5,500 photo; phone cameras take 12 to 24 by default.
MAX_PIXELS = 40_000_000
# The largest file an image of MAX_PIXELS can need (uncompressed, 8 bytes a pixel).
MAX_FILE_BYTES = 8 * MAX_PIXELS + (1 << 20)
RASTER_FORMATS = frozenset(
    "bmp cur gif icns ico jfif jpeg jpg pbm pgm png ppm tga tif tiff wbmp webp "
    "xbm xpm".split()
)
_BLOCK_PIXELS = 1 << 18
# ITU-R BT.601 luma, the weights Qt's own grey-scale conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


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
        When the file is missing, not a regular file, not a raster image Digit
        Studio can read, or larger than `MAX_PIXELS`.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QImageReader

    path = Path(path)
    data = QByteArray(_read_file(path))
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    kind = bytes(reader.format().data()).decode("ascii", "replace").lower()
    if not kind:
        raise ImageFileError(f"{path} is not an image Digit Studio can read.")
    if kind not in RASTER_FORMATS:
        raise ImageFileError(
            f"{path} is an {kind.upper()} image, which Digit Studio does not read: "
            "save it as PNG or JPEG first."
        )
    size = reader.size()
    if size.isValid() and size.width() * size.height() > MAX_PIXELS:
        raise ImageFileError(_too_large(path, size.width(), size.height()))
    # A backstop for formats that do not declare their size before decoding.
    QImageReader.setAllocationLimit(math.ceil(8 * MAX_PIXELS / (1 << 20)))
    image = reader.read()
    if image.isNull():
        raise ImageFileError(
            f"{path} is not an image Digit Studio can read ({reader.errorString()})."
        )
    if image.width() * image.height() > MAX_PIXELS:
        raise ImageFileError(_too_large(path, image.width(), image.height()))
    if not image.hasAlphaChannel():
        grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
        return _pixels(grey, 1)[..., 0].copy()
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    del image
    return _composite(_pixels(rgba, 4))


def _read_file(path: Path) -> bytes:
    """Return the file's bytes; never block on a FIFO or read an endless device."""
    try:
        with open_regular(path) as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ImageFileError(
                    f"{path} is {size / 1e6:,.0f} MB, too large for an image of "
                    f"at most {MAX_PIXELS / 1e6:.0f} megapixels."
                )
            return stream.read(size + 1)
    except FileNotFoundError as exc:
        raise ImageFileError(f"Image not found: {path}") from exc
    except OSError as exc:
        raise ImageFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _too_large(path: Path, width: int, height: int) -> str:
    return (
        f"{path} is {width:,} x {height:,} pixels ({width * height / 1e6:.1f} "
        f"megapixels); Digit Studio reads images up to {MAX_PIXELS / 1e6:.0f} "
        "megapixels: scale it down first (a digit needs far fewer)."
    )


def _composite(pixels: np.ndarray) -> np.ndarray:
    """Grey-scale of RGBA pixels over a background that contrasts with the ink.

    Works on blocks of rows, so the float temporaries stay small however large
    the image.
    """
    height, width = pixels.shape[:2]
    rows = max(1, _BLOCK_PIXELS // max(width, 1))
    blocks = [slice(top, top + rows) for top in range(0, height, rows)]
    ink_sum, ink_count, transparent = 0.0, 0, False
    for block in blocks:
        grey = pixels[block, :, :3].astype(np.float32) @ _LUMA
        opaque = pixels[block, :, 3] > 127
        ink_sum += float(grey[opaque].sum(dtype=np.float64))
        ink_count += int(opaque.sum())
        transparent = transparent or bool((pixels[block, :, 3] < 255).any())
    out = np.empty((height, width), np.uint8)
    ink_level = ink_sum / ink_count if ink_count else 0.0
    background = np.float32(255.0 if ink_level < 128.0 else 0.0)
    for block in blocks:
        grey = pixels[block, :, :3].astype(np.float32) @ _LUMA
        if transparent:
            alpha = pixels[block, :, 3].astype(np.float32) / np.float32(255.0)
            grey = alpha * grey + (np.float32(1.0) - alpha) * background
        out[block] = np.clip(np.rint(grey), 0, 255)
    return out


def _pixels(image, channels: int) -> np.ndarray:
    """Return a ``(H, W, channels)`` view of a QImage's rows (which may be padded).

    Valid only while ``image`` lives.
    """
    height, width = image.height(), image.width()
    stride = image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    rows = raw.reshape(height, stride)[:, : width * channels]
    return rows.reshape(height, width, channels)
