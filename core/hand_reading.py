"""How a hand's drawings are read best: turned back, and narrower or wider.

Someone whose digits all lean round the same way (the page turned while writing)
is read badly, and so is a hand much narrower or wider than MNIST's digits: a
narrow hand loses its loops when the conversion brings its strokes to MNIST's
width, and a hand turned and slanted far comes out of the conversion upright but
1.5-1.8 times as wide. The turn and width under which the base model reads a
fine-tune's corrections best are the hand's: the fine-tune learns the drawings so
converted, and the model it makes reads every drawing so (`core.preprocess.
convert_drawing`'s ``turn`` and ``widen``, stored as the model's ``hand_turn`` and
``hand_width``). So read, the three worst read hands of the bench went from 56.5,
59.8 and 69.8% to 97.3, 95.8 and 100% by the model as it was, before any teaching;
300 training digits turned like the hand, the way before, taught the same hands to
94.5-98.8% (`bench.drawings_teach`, bench/RESULTS.md). Needs the canvases the
drawings were drawn on. Pure NumPy.

Corrections are the drawings the model misread, so on them alone any other reading
looks better: it fixed them and could break digits the model read right (one
hand's 6s went from 95% to 48%). The search also weighs the latest drawings the
model read right and the user did not correct (the Draw tab's, `MAX_READ_RIGHT`),
each group by its share of the drawings answered: a new reading must read the whole
hand better, so that a hand the model reads well keeps its reading (one read 98%
went to 96.5% with a new one, 99.0% without).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.preprocess import convert_drawings

# Turns (degrees, clockwise as seen) and widths tried. Widths of 1 to 3 are for
# narrow hands (the narrowest, slanted too, read best turned back and 2.5-3x as
# wide), below 1 for turned, slanted ones; of 36 hands of the bench's material, those
# drawn at least 0.8 of the usual width gained 0.02 nats at most from any width of 1
# to 2. Hands that chose 0.8 read 0.3 and 2.5 points worse after teaching, and one
# 1.2 points better: not offered.
TURNS = tuple(range(-45, 46, 5))
WIDTHS = (0.5, 0.6, 0.7, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
# Every other turn is read first, then at each width the two beside its best: a
# reading's score changes slowly with the turn at one width (not across widths: a
# hand may read well turned a little and much wider, and better turned more).
COARSE_TURNS = TURNS[::2]
TURN_STEP = TURNS[1] - TURNS[0]
# How much better (mean log-probability of the drawings' labels, in nats) another
# reading must read them than the base model's own.
MIN_GAIN = 0.3
MIN_DRAWINGS = 8
MAX_DRAWINGS = 30  # the latest: the search converts each about 120 times
# The latest drawings read right that weigh a reading: with them, the two hands of 36
# that teaching had left under 95% reached 96.8 and 97.2% (bench/RESULTS.md).
MAX_READ_RIGHT = 30


def reading_phrase(turn: float, width: float) -> str:
    """How a model reads drawings: "turned back 20°, 0.6x as wide"; "" as drawn."""
    parts = [f"turned back {abs(turn):g}°"] if turn else []
    if width != 1.0:
        parts.append(f"{width:g}x " + ("wider" if width > 1.0 else "as wide"))
    return ", ".join(parts)


def hand_reading_text(turn: float, width: float) -> str:
    """Tell the user how a fine-tune's model reads their drawings; "" as drawn."""
    reading = reading_phrase(turn, width)
    return f"Your model now reads your digits {reading}." if reading else ""


def reading_score(
    probabilities: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """How well a model reads a hand's drawings: mean log-probability of the labels.

    ``weights``, one per drawing, make it a weighted mean.
    """
    picked = probabilities[np.arange(len(labels)), labels]
    return float(np.average(np.log(picked + 1e-6), weights=weights))


def hand_reading(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    canvases: Sequence[np.ndarray],
    labels: np.ndarray,
    shape: tuple[int, int],
    current: tuple[float, float] = (0.0, 1.0),
    read_right: Sequence[tuple[np.ndarray, int]] = (),
    misread_share: float | None = None,
) -> tuple[float, float]:
    """Return the (turn, width) the drawings read best at, or ``current``.

    Parameters
    ----------
    predict_proba : callable
        The base model's probabilities for uint8 images ``(N, *shape)``.
    canvases : sequence of ndarray
        The canvases the corrected digit drawings were drawn on, uint8 bright ink,
        oldest first.
    labels : ndarray
        Their digits.
    shape : tuple of int
        The model's image shape.
    current : tuple of float
        The turn and width the base model reads drawings at: another reading must
        read the drawings `MIN_GAIN` better, from `MIN_DRAWINGS` corrections.
    read_right : sequence of (ndarray, int)
        Canvases of digits the base model read right, with their digits, oldest
        first: read with the corrections, so that a reading must not break them.
    misread_share : float, optional
        The share of the hand's drawings the model misread (corrections among all
        answered): the corrections weigh this much of the score, the drawings read
        right the rest, so that a hand the model reads well keeps its reading unless
        another reads it better overall. None: each drawing weighs the same.
    """
    canvases, labels = canvases[-MAX_DRAWINGS:], np.asarray(labels)[-MAX_DRAWINGS:]
    if len(canvases) < MIN_DRAWINGS:
        return current
    right = list(read_right)[-MAX_READ_RIGHT:]
    weights = None
    if right and misread_share is not None:
        weights = np.repeat(
            [misread_share / len(canvases), (1.0 - misread_share) / len(right)],
            [len(canvases), len(right)],
        )
    canvases = [*canvases, *(canvas for canvas, _ in right)]
    labels = np.concatenate([labels, np.array([d for _, d in right], labels.dtype)])
    scores: dict[tuple[float, float], float] = {}

    def read(readings):
        for turn, width in readings:
            if (turn, width) not in scores:
                images = convert_drawings(canvases, shape, width, turn)
                probabilities = predict_proba(images)
                scores[turn, width] = reading_score(probabilities, labels, weights)

    read([current, *((t, w) for t in COARSE_TURNS for w in WIDTHS)])
    for width in WIDTHS:
        near = max(COARSE_TURNS, key=lambda t: scores[t, width])
        beside = [t for t in (near - TURN_STEP, near + TURN_STEP) if t in TURNS]
        read((t, width) for t in beside)
    best = max(scores, key=scores.get)
    if scores[best] - scores[current] < MIN_GAIN:
        return current
    return float(best[0]), float(best[1])
