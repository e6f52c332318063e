"""A hand's width from its corrections: narrow hands read wider, wide ones narrower.

A hand that draws its digits narrow loses their loops when the conversion brings
its strokes to MNIST's width: a hand 0.59 of the usual width had its 2s and 7s read
as 1, and 20 corrections taught a fine-tune no more than 90% of it. Stretched
sideways before the conversion, the same drawings read 94% by the model as it was
(`bench.drawings_teach`, bench/RESULTS.md). A hand turned and slanted far comes
out of the conversion upright but 1.5-1.8 times as wide as MNIST's digits: squeezed
to 0.5-0.6 of its width, the worst read hands of the bench read 84-89%, not 56-70%,
by the model as it was, and 92-99% after teaching, not 85-97%. The width under which
the base model reads a fine-tune's drawings best is the hand's: the fine-tune learns
from the drawings so converted, and the model it makes reads every drawing at that
width (`core.preprocess.convert_drawing`'s ``widen``, stored as the model's
``hand_width``). Needs the canvases the drawings were drawn on. Pure NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.hand_turn import MAX_DRAWINGS, MIN_DRAWINGS, reading_score
from core.preprocess import convert_drawings

# Widths tried, and how much better (mean log-probability of the drawings' labels,
# in nats) one must read them than the base model's width. Of 36 hands of the bench's
# material, 20 drawings each, those drawn at least 0.8 of the usual width gained 0.02
# at most from any width of 1 to 2, narrower ones up to 1.0; the narrow hand's 20
# corrections (the drawings misread) gained 4.6. Below 1 for turned, slanted hands
# (above), and only clear squeezes: hands that chose 0.8 read 0.3 and 2.5 points worse
# after teaching, and one 1.2 points better.
WIDTHS = (0.5, 0.6, 0.7, 1.0, 1.25, 1.5, 1.75, 2.0)
MIN_GAIN = 0.3


def width_phrase(width: float) -> str:
    """How a model reads drawings, for messages: "2x wider", "0.6x as wide"."""
    return f"{width:g}x wider" if width > 1.0 else f"{width:g}x as wide"


def hand_width(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    canvases: Sequence[np.ndarray],
    labels: np.ndarray,
    shape: tuple[int, int],
    current: float = 1.0,
) -> float:
    """Return the width the drawings read best at, or ``current`` when none is clear.

    Parameters
    ----------
    predict_proba : callable
        The base model's probabilities for uint8 images ``(N, *shape)``.
    canvases : sequence of ndarray
        The canvases digit drawings were drawn on, uint8 bright ink, oldest first.
    labels : ndarray
        Their digits.
    shape : tuple of int
        The model's image shape.
    current : float
        The width the base model reads drawings at: another must read the drawings
        `MIN_GAIN` better.
    """
    canvases, labels = canvases[-MAX_DRAWINGS:], np.asarray(labels)[-MAX_DRAWINGS:]
    if len(canvases) < MIN_DRAWINGS:
        return current
    tried = sorted({current, *WIDTHS})
    scores = [
        reading_score(predict_proba(convert_drawings(canvases, shape, width)), labels)
        for width in tried
    ]
    best = int(np.argmax(scores))
    if scores[best] - scores[tried.index(current)] < MIN_GAIN:
        return current
    return float(tried[best])
