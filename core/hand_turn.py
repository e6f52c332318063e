"""A hand's turn, learnt from its corrections, and training digits turned that way.

Someone whose digits all lean round the same way (the page turned while writing) is
read badly, and 20 corrections teach a fine-tune only the digits they show: a hand
turned 47 degrees kept 21 of 40 nines read as 0 when one of its corrections was a
nine. The turn under which the model reads the corrections best is the hand's; a
few hundred training digits turned that way teach the fine-tune every digit so
drawn (`bench.drawings_teach`, two `recommended` models: that hand 92.5% -> 95-96%,
the MNIST test set -0.16 and -0.17 points; 1,000 copies cost it 0.4, 150 taught the
hand less; bench/RESULTS.md). Slant needs none of this: the conversion deskews.
Pure NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from core.preprocess import convert_drawings

# Turns tried, in degrees (clockwise as seen: image rows run down); a hand turned
# less than MIN_TURN is read about as well as an upright one.
TURNS = np.arange(-60, 61, 5)
MIN_TURN = 10
# The turn must read the drawings this much better (mean log-probability of their
# labels, in nats) than no turn: upright digits gain 0.07-0.22 from some turn, the
# bench's turned hands 1.7-7.8.
MIN_GAIN = 0.5
# Fewer corrections than this say too little about a hand; the search reads the
# latest MAX_DRAWINGS (`core.hand_width` too).
MIN_DRAWINGS = 8
MAX_DRAWINGS = 60  # for the search's time: 1.4 s for 20
TURNED_COPIES = 300
# Each 28x28 image is drawn this many times larger on its canvas before it is turned
# and converted again, as a drawing would be.
_SCALE = 6
_CANVAS = 28 * _SCALE
_BLOCK = 32


def turned(images: np.ndarray, degrees: float) -> np.ndarray:
    """Return MNIST-style ``images`` turned by ``degrees``, converted as drawings.

    Each uint8 ``(28, 28)`` image (light ink on black) is drawn `_SCALE` times
    larger, turned about the image's centre with bilinear sampling, and converted
    by `core.preprocess.convert_drawing`, which fits, centres and deskews it as it
    does a drawing. An image with (almost) no ink comes back black.
    """
    out = np.zeros((len(images), 28, 28), np.uint8)
    sample = _sampler(degrees)
    for start in range(0, len(images), _BLOCK):
        block = slice(start, start + _BLOCK)
        out[block] = convert_drawings(sample(images[block]), "mnist")
    return out


def hand_turn(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
) -> int:
    """Return the turn in `TURNS` that the drawings were made with, 0 if none.

    The drawings (uint8 ``(N, 28, 28)``, converted as the app converts drawings,
    labelled with digits) are turned back by each candidate and read by
    ``predict_proba``; the candidate under which the mean log-probability of their
    labels is highest is the hand's turn. 0 when it is under `MIN_TURN`, reads them
    less than `MIN_GAIN` better than no turn, or there are fewer than
    `MIN_DRAWINGS` drawings.
    """
    images, labels = images[-MAX_DRAWINGS:], np.asarray(labels)[-MAX_DRAWINGS:]
    if len(images) < MIN_DRAWINGS:
        return 0
    scores = [
        reading_score(predict_proba(turned(images, -float(turn))), labels)
        for turn in TURNS
    ]
    best = int(np.argmax(scores))
    gain = scores[best] - scores[int(np.flatnonzero(TURNS == 0)[0])]
    turn = int(TURNS[best])
    return turn if abs(turn) >= MIN_TURN and gain >= MIN_GAIN else 0


def reading_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """How well a model reads a hand's drawings: mean log-probability of the labels."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(np.mean(np.log(picked + 1e-6)))


def _sampler(degrees: float) -> Callable[[np.ndarray], np.ndarray]:
    """Return a function drawing a block of 28x28 images turned on large canvases."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    centre = _CANVAS / 2.0
    ys, xs = np.mgrid[0:_CANVAS, 0:_CANVAS].astype(np.float32)
    u, v = (xs + 0.5 - centre) / _SCALE, (ys + 0.5 - centre) / _SCALE
    # Where each canvas pixel comes from (the turn undone), in padded image pixels.
    x = cos * u + sin * v + 14.0 + 0.5
    y = -sin * u + cos * v + 14.0 + 0.5
    x0 = np.floor(x).astype(np.intp)
    y0 = np.floor(y).astype(np.intp)
    fx, fy = x - x0, y - y0
    inside = (x0 >= 0) & (y0 >= 0) & (x0 <= 28) & (y0 <= 28)
    x0, y0 = np.where(inside, x0, 0), np.where(inside, y0, 0)
    corners = [
        (y0, x0, (1 - fy) * (1 - fx) * inside),
        (y0, x0 + 1, (1 - fy) * fx * inside),
        (y0 + 1, x0, fy * (1 - fx) * inside),
        (y0 + 1, x0 + 1, fy * fx * inside),
    ]

    def sample(images: np.ndarray) -> np.ndarray:
        padded = np.pad(images.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
        canvas = np.zeros((len(images), _CANVAS, _CANVAS), np.float32)
        for rows, columns, weight in corners:
            canvas += padded[:, rows, columns] * weight
        return np.rint(np.clip(canvas, 0, 255)).astype(np.uint8)

    return sample
