"""Font-rendered test material for `bench.drawings`: digits and letters set in type.

The issue's outside material includes font-rendered text, and `predict` reads image
files, which may be screenshots of printed digits. This renders every digit (twice)
and every letter (once) of each TrueType/OpenType font found on this machine, in
filled outlines, not pen strokes: at a random font size (110 to 260 px on the 280 px
canvas: digits about 80 to 190 px tall), place and tilt, white on black as the
canvas gives it. Serif fonts
have thin hairlines beside thick stems, which a pen never draws.

Test material only: nothing here trains or calibrates a model (the issue forbids
font-rendered training and calibration material). Needs Qt's GUI module (offscreen).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.drawings_material import CANVAS

FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts")
# Fonts of symbols, dingbats or mathematics: no Latin digits to read.
_NOT_TEXT = ("symbol", "dingbat", "d050000l", "math")
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Letters written like digits in many hands and fonts (O and 0, l and 1, S and 5,
# Z and 2, b and 6, q and 9...): reported apart, as no judgement can tell them.
DIGIT_LIKE = frozenset("OoQDIilJjSsZzbBGgq")
_SIZES = (110, 260)  # font size in pixels
_TILT = 4.0  # degrees, standard deviation
_SHIFT = 30  # pixels


@dataclass(frozen=True)
class Typed:
    """One character set in one font: what it is and where it came from."""

    char: str
    font: str  # the font file's name

    @property
    def label(self) -> int | None:
        """The digit, or None for a letter."""
        return int(self.char) if self.char in DIGITS else None


def font_files(folders=FONT_FOLDERS) -> list[Path]:
    """TrueType and OpenType files under the usual font folders, sorted by name."""
    found = set()
    for folder in folders:
        root = Path(folder).expanduser()
        if root.is_dir():
            for suffix in ("*.ttf", "*.otf"):
                found.update(root.rglob(suffix))
    text = [p for p in found if not any(w in p.name.lower() for w in _NOT_TEXT)]
    return sorted(text, key=lambda path: path.name)


def render_fonts(seed: int, files: list[Path] | None = None):
    """Return (typed, canvases uint8 (N, 280, 280)); both empty without fonts."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPainter, QTransform
    from PySide6.QtWidgets import QApplication

    # Fonts need an application; a widget one, as the canvas of the teach-it
    # figure (`drawings_material.Renderer`) may come next.
    _app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(seed)
    typed: list[Typed] = []
    canvases: list[np.ndarray] = []
    image = QImage(CANVAS, CANVAS, QImage.Format.Format_Grayscale8)
    for path in font_files() if files is None else files:
        families = QFontDatabase.applicationFontFamilies(
            QFontDatabase.addApplicationFont(str(path))
        )
        if not families:
            continue
        name = path.name.lower()
        font = QFont(families[0])
        font.setBold("bold" in name or "demi" in name)
        font.setItalic("ita" in name or "oblique" in name)  # Italic, Ita
        for char in DIGITS * 2 + LETTERS:
            font.setPixelSize(int(rng.integers(*_SIZES)))
            image.fill(0)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            painter.setFont(font)
            painter.setPen(QColor(255, 255, 255))
            dx, dy = rng.integers(-_SHIFT, _SHIFT + 1, size=2)
            place = QTransform()
            place.translate(CANVAS / 2 + dx, CANVAS / 2 + dy)
            place.rotate(float(rng.normal(0.0, _TILT)))
            painter.setTransform(place)
            half = CANVAS / 2
            painter.drawText(
                QRectF(-half, -half, CANVAS, CANVAS), Qt.AlignmentFlag.AlignCenter, char
            )
            painter.end()
            rows = np.frombuffer(image.constBits(), np.uint8).reshape(
                CANVAS, image.bytesPerLine()
            )
            canvases.append(rows[:, :CANVAS].copy())
            typed.append(Typed(char, path.name))
    if not canvases:
        return [], np.zeros((0, CANVAS, CANVAS), np.uint8)
    return typed, np.stack(canvases)
