"""Drawings converted as stored: the conversion's speed work must not change them.

The stored images were made by the conversion as it was before it was made
faster; any change beyond float rounding (1 grey level) shows here. A deliberate
change of the conversion stores them again:
``python -m tests.core.test_conversion_reference``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.preprocess import convert_drawing
from core.strokes import render_strokes

STORED = Path(__file__).resolve().parents[1] / "data" / "conversion_reference.npz"


def reference_drawings():
    """``(name, canvas, ink_is_bright, normalize_stroke)`` of the stored images."""
    t = np.linspace(0.0, 2.0 * np.pi, 60)
    arc = t[:25] - np.pi
    shapes = {
        "ring": [np.stack([140 + 55 * np.cos(t), 140 + 90 * np.sin(t)], 1)],
        "seven": [np.array([[70, 50], [210, 50], [120, 240]])],
        "four": [np.array([[170, 240], [170, 40], [60, 170], [220, 170]])],
        "leaning-one": [np.array([[170, 40], [110, 240]])],
        "two": [
            np.stack([140 + 60 * np.cos(arc), 100 + 50 * np.sin(arc)], 1),
            np.array([[200, 100], [70, 240], [220, 240]]),
        ],
    }
    drawings = []
    for name, strokes in shapes.items():
        for pen in (3, 8, 20, 40):
            ink = render_strokes(strokes, pen, (280, 280))
            drawings.append((f"{name}-{pen}", _grey(ink), True, True))
    # A big canvas (worked in blocks), dark ink on paper, polarity detected.
    big = render_strokes([3 * s for s in shapes["two"]], 30, (900, 840))
    drawings.append(("two-big-on-paper", _grey(1.0 - big), None, True))
    ring = render_strokes(shapes["ring"], 12, (280, 280))
    drawings.append(("ring-width-kept", _grey(ring), True, False))
    return drawings


def _grey(ink):
    return np.rint(255.0 * ink).astype(np.uint8)


def _convert_all():
    images, pens, sizes = [], [], []
    for _, canvas, ink_is_bright, normalize in reference_drawings():
        conversion = convert_drawing(canvas, "mnist", ink_is_bright, normalize)
        images.append(conversion.image)
        pens.append(conversion.pen_width)
        sizes.append(conversion.size)
    return np.stack(images), np.array(pens), np.array(sizes)


@pytest.fixture(scope="module")
def converted():
    return _convert_all()


def test_drawings_convert_to_the_stored_images(converted):
    images, _, _ = converted
    with np.load(STORED, allow_pickle=False) as stored:
        expected = stored["images"]
    names = [name for name, *_ in reference_drawings()]
    difference = np.abs(images.astype(np.int16) - expected.astype(np.int16))
    worst = difference.reshape(len(names), -1).max(axis=1)
    assert worst.max() <= 1, dict(zip(names, worst.tolist(), strict=True))


def test_pen_widths_and_sizes_are_the_stored_ones(converted):
    _, pens, sizes = converted
    with np.load(STORED, allow_pickle=False) as stored:
        np.testing.assert_allclose(pens, stored["pen_widths"], rtol=1e-5)
        np.testing.assert_allclose(sizes, stored["sizes"], rtol=1e-5)


if __name__ == "__main__":
    images, pens, sizes = _convert_all()
    np.savez_compressed(STORED, images=images, pen_widths=pens, sizes=sizes)
    print(f"stored {len(images)} conversions in {STORED}")
