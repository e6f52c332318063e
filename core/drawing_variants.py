"""A drawing as its hand might draw it again: a little turned, narrower or wider.

A fine-tune that learns a hand from 20 corrections learns those 20 drawings, and
the hand's next drawings differ from them by a few degrees of turn and a tenth of
width. Taught as variants of each correction (its canvas turned about the ink's
centre, converted at 0.9-1.1 times the model's width) rather than as copies of
it, the three hands 20 corrections taught worst read 91.7 / 94.8 / 95.8%, not
88.7 / 92.5 / 94.3% with copies of the same weight, at 0.1 points more of the MNIST
test set; random turns up to 12 degrees, or slants, did no better
(`bench.drawings_teach`, bench/RESULTS.md). Pure NumPy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from core.preprocess import MAX_WIDEN, MIN_WIDEN, convert_drawings

TURNS = (0.0, -8.0, -4.0, 4.0, 8.0)  # degrees, clockwise on the screen
WIDTHS = (1.0, 0.9, 1.1)  # times the width the model reads at
# The drawing as drawn first: a caller wanting fewer rows gets it before its variants.
VARIANTS = tuple(itertools.product(TURNS, WIDTHS))
# Ink larger than this is scaled down before it is turned: the conversion works on
# about this many pixels anyway, and a 2048 px canvas would take 0.5 GB.
_MAX_INK_SIDE = 320


def drawing_variants(
    canvas: np.ndarray, target: str | tuple[int, int], width: float = 1.0
) -> np.ndarray:
    """Return the drawing's `VARIANTS`, converted as the app converts drawings.

    Parameters
    ----------
    canvas : np.ndarray
        uint8 ``(H, W)``, bright ink on black, as a canvas keeps a drawing.
    target : str or tuple of int
        As for `core.preprocess.convert_drawings`.
    width : float
        How much wider the model reads drawings (its ``hand_width``); each variant
        is that times one of `WIDTHS`, within what a conversion accepts.

    Returns
    -------
    np.ndarray
        uint8 ``(len(VARIANTS), *image_shape)``, the unchanged drawing first; black
        where nothing is drawn.
    """
    turned = {turn: turned_canvas(canvas, turn) for turn in TURNS}
    rows = []
    for turn, factor in VARIANTS:
        widen = min(MAX_WIDEN, max(MIN_WIDEN, width * factor))
        rows.append(convert_drawings([turned[turn]], target, widen)[0])
    return np.stack(rows)


def turned_canvas(canvas: np.ndarray, degrees: float) -> np.ndarray:
    """Return the ink of ``canvas`` turned clockwise about the centre of its box.

    Bilinear, on a canvas just large enough for the ink at any turn, so that a large
    canvas costs no more than its ink; ink over `_MAX_INK_SIDE` pixels is scaled down
    first. Where on the canvas the ink lies does not matter to a conversion.
    """
    canvas = np.asarray(canvas)
    rows, columns = np.nonzero(canvas)
    if degrees == 0.0 or rows.size == 0:
        return canvas
    ink = canvas[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    ink = _at_most(ink.astype(np.float32), _MAX_INK_SIDE)
    side = math.ceil(math.hypot(*ink.shape)) + 4
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    u, v = xs - (side - 1) / 2.0, ys - (side - 1) / 2.0
    # Where each new pixel comes from, in the padded ink: the turn undone (y points
    # down, so a positive angle turns clockwise on the screen).
    padded = np.pad(ink, 1)  # samples just off the ink read black
    x = cos * u + sin * v + (padded.shape[1] - 1) / 2.0
    y = -sin * u + cos * v + (padded.shape[0] - 1) / 2.0
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    fx, fy = x - x0, y - y0
    out = np.zeros((side, side), np.float32)
    for dy, dx, weight in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        py, px = y0 + dy, x0 + dx
        inside = (py >= 0) & (px >= 0) & (py < padded.shape[0]) & (px < padded.shape[1])
        picked = padded[np.where(inside, py, 0), np.where(inside, px, 0)]
        out += np.where(inside, picked, 0.0) * weight
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def _at_most(ink: np.ndarray, longest: int) -> np.ndarray:
    """Block means of ``ink`` with no side over ``longest``; small ink as it is."""
    q = -(-max(ink.shape) // longest)
    if q == 1:
        return ink
    height, width = -(-ink.shape[0] // q) * q, -(-ink.shape[1] // q) * q
    ink = np.pad(ink, ((0, height - ink.shape[0]), (0, width - ink.shape[1])))
    return ink.reshape(height // q, q, width // q, q).mean(axis=(1, 3))
