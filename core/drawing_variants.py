"""A drawing as its hand might draw it again: a little turned, narrower or wider.

A fine-tune that learns a hand from 20 corrections learns those 20 drawings, and
the hand's next drawings differ from them by a few degrees of turn and a tenth of
width. Taught as variants of each correction (turned 4 and 8 degrees either way
more than the model turns it back, converted at 0.9-1.1 times the model's width)
rather than as copies of
it, the three hands 20 corrections taught worst read 91.7 / 94.8 / 95.8%, not
88.7 / 92.5 / 94.3% with copies of the same weight, at 0.1 points more of the MNIST
test set; random turns up to 12 degrees, or slants, did no better
(`bench.drawings_teach`, bench/RESULTS.md). Pure NumPy.
"""

from __future__ import annotations

import itertools

import numpy as np

from core.preprocess import MAX_TURN, MAX_WIDEN, MIN_WIDEN, convert_drawings

TURNS = (0.0, -8.0, -4.0, 4.0, 8.0)  # degrees, clockwise on the screen
WIDTHS = (1.0, 0.9, 1.1)  # times the width the model reads at
# The drawing as drawn first: a caller wanting fewer rows gets it before its variants.
VARIANTS = tuple(itertools.product(TURNS, WIDTHS))


def drawing_variants(
    canvas: np.ndarray,
    target: str | tuple[int, int],
    turn: float = 0.0,
    width: float = 1.0,
) -> np.ndarray:
    """Return the drawing's `VARIANTS`, converted as the app converts drawings.

    Parameters
    ----------
    canvas : np.ndarray
        uint8 ``(H, W)``, bright ink on black, as a canvas keeps a drawing.
    target : str or tuple of int
        As for `core.preprocess.convert_drawings`.
    turn, width : float
        How the model reads drawings (its ``hand_turn`` and ``hand_width``): each
        variant is turned that much and one of `TURNS` more, and that times one of
        `WIDTHS` as wide, within what a conversion accepts.

    Returns
    -------
    np.ndarray
        uint8 ``(len(VARIANTS), *image_shape)``, the drawing as the model reads it
        first; black where nothing is drawn.
    """
    rows = []
    for more, factor in VARIANTS:
        turned = min(MAX_TURN, max(-MAX_TURN, turn + more))
        widen = min(MAX_WIDEN, max(MIN_WIDEN, width * factor))
        rows.append(convert_drawings([canvas], target, widen, turned)[0])
    return np.stack(rows)
