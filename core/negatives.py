"""Drawings that are not digits, made up for training and calibration.

Owns `make_negatives`: scribbles, polygons, hatching, scattered marks, coils, random
glyphs of a few strokes, letters and signs that no digit resembles (from this
module's own stroke outlines, in random hands), two real digits drawn over each
other, and pieces cut off real digits, each laid out the way
`core.preprocess.convert_drawing` lays out a drawing
(strokes as wide as MNIST's, the 20 px box, the centre of mass on the centre of
28x28). Made by other code than the test material of `bench.drawings_material`
(which draws Hershey letters, stars, hearts, smileys, arrows, tally marks...).
Pure NumPy; never imports Qt.
"""

from __future__ import annotations

import math

import numpy as np

from core.datasets import DatasetPart
from core.preprocess import MNIST_STROKE_WIDTH, canvas_to_image
from core.strokes import render_segments

__all__ = ["KINDS", "make_negatives"]

KINDS = (
    "scribble",
    "polygon",
    "hatching",
    "marks",
    "coil",
    "glyph",
    "letter",
    "sign",
    "overlap",
    "piece",
)
# The kinds made of the real digits given to `make_negatives`.
_FROM_DIGITS = ("overlap", "piece")
# A piece keeps this share of its digit's ink: less is a stray mark, more is
# mostly the digit still.
_PIECE_SHARE = (0.2, 0.5)
_ZOOM = 3  # `_converted` enlarges real digits this much
_SIZE = 28
_BOX = 20.0
_CENTRE = 14.0
# A made-up drawing at least this similar (cosine) to some real digit counts as a
# digit: 95% of the bundled sample's digits are this close to another digit.
_DIGIT_LIKE = 0.75
# Made-up drawings compared with the real digits at a time (`_likeness`).
_LIKENESS_BLOCK = 512


def make_negatives(
    count: int,
    seed: int = 0,
    digits: np.ndarray | DatasetPart | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> np.ndarray:
    """Return ``count`` non-digit images, as the drawing conversion makes them.

    Parameters
    ----------
    count : int
        Number of images.
    seed : int
        Seeds everything: the same seed gives the same images.
    digits : np.ndarray or DatasetPart, optional
        uint8 ``(N, 28, 28)`` real digits, or a dataset part holding them (read a
        few at a time, not copied whole). They make the "overlap" kind (two of
        them, a little apart, in one image) and the "piece" kind (a quarter to 60%
        of one's ink, cut off along a straight line), and the made-up drawings that
        look most like one of them (a quarter more are made than asked for) are
        left out: a stroke at random is sometimes a 1 or a 7, a piece of a 7 a 1.
        Without them those two kinds are left out and nothing is sorted out.
    kinds : tuple of str
        Which of `KINDS` to make, in equal shares.

    Returns
    -------
    np.ndarray
        uint8 ``(count, 28, 28)``, bright ink (255) on 0.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown negative kinds {unknown}; known: {KINDS}")
    if digits is None:
        asked = [k for k in kinds if k in _FROM_DIGITS]
        kinds = tuple(k for k in kinds if k not in _FROM_DIGITS)
        if not kinds:
            raise ValueError(f"the {' and '.join(asked)} kind needs real digits")
    if isinstance(digits, DatasetPart):
        digits = _PartDigits(digits)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(kinds), count)
    out = np.zeros((count, _SIZE, _SIZE), np.uint8)
    for i in np.flatnonzero(np.array([kinds[w] == "overlap" for w in which], bool)):
        out[i] = _overlap(digits, rng)
    slots = np.flatnonzero(np.array([kinds[w] != "overlap" for w in which], bool))
    if len(slots) == 0:
        return out
    # With real digits to compare with, a quarter more are made, and each slot
    # takes the first one of its kind that is not too like a digit.
    spare = 0 if digits is None else -(-len(slots) // 4)
    made = np.concatenate(
        [which[slots], which[slots[rng.integers(0, len(slots), spare)]]]
    )
    drawn = np.array([kinds[k] in _STROKES for k in made], bool)
    images = np.empty((len(made), _SIZE, _SIZE), np.uint8)
    strokes = [_STROKES[kinds[k]](rng) for k in made[drawn]]
    widths = MNIST_STROKE_WIDTH * rng.uniform(0.8, 1.2, len(strokes))
    images[drawn] = _render(strokes, widths)
    for i in np.flatnonzero(~drawn):
        images[i] = _piece(digits, rng)
    if digits is None:
        out[slots] = images
        return out
    likeness = _likeness(images, digits)
    for k in np.unique(which[slots]):
        wanted = slots[which[slots] == k]
        candidates = np.flatnonzero(made == k)
        # Acceptable ones first, as they came, then the least digit-like others.
        close = likeness[candidates] >= _DIGIT_LIKE
        order = np.lexsort(
            (np.where(close, likeness[candidates], np.arange(len(candidates))), close)
        )
        out[wanted] = images[candidates[order[: len(wanted)]]]
    return out


def _likeness(images: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Cosine similarity of each image to its nearest real digit."""
    reference = _unit_rows(digits[:: max(1, len(digits) // 3000)])
    likeness = np.empty(len(images), np.float32)
    # A block at a time: 15,000 images against 3,000 digits at once would be 172 MiB.
    for first in range(0, len(images), _LIKENESS_BLOCK):
        block = slice(first, first + _LIKENESS_BLOCK)
        likeness[block] = (_unit_rows(images[block]) @ reference.T).max(axis=1)
    return likeness


def _unit_rows(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), -1).astype(np.float32)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)
    return flat


class _PartDigits:
    """A dataset part's images, indexed like an array: read when asked, not copied."""

    def __init__(self, part: DatasetPart) -> None:
        self._part = part

    def __len__(self) -> int:
        return len(self._part)

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(index, slice):
            return self._part.images_at(np.arange(len(self._part))[index])
        positions = np.asarray(index)
        images = self._part.images_at(positions.reshape(-1))
        return images.reshape(*positions.shape, *self._part.image_shape)


# -- stroke makers: each returns a list of (n, 2) polylines in any units -----------


def _scribble(rng) -> list[np.ndarray]:
    # A wandering line that turns hard and often, so it never settles into a digit.
    steps = int(rng.integers(10, 22))
    heading = rng.uniform(0, 2 * math.pi)
    turns = rng.normal(0.0, 1.3, steps)
    lengths = rng.uniform(0.4, 1.0, steps)
    headings = heading + np.cumsum(turns)
    moves = np.stack([np.cos(headings), np.sin(headings)], 1) * lengths[:, None]
    return [np.vstack([[0.0, 0.0], np.cumsum(moves, axis=0)])]


def _polygon(rng) -> list[np.ndarray]:
    # Triangles and quadrilaterals: with more sides a polygon is a 0 in most hands.
    sides = int(rng.integers(3, 5))
    angles = np.sort(rng.uniform(0, 2 * math.pi, sides))
    if rng.random() < 0.5:  # a regular one, turned
        angles = rng.uniform(0, 2 * math.pi) + np.arange(sides) * 2 * math.pi / sides
    radii = rng.uniform(0.6, 1.0, sides)
    points = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], 1)
    points[:, 0] *= rng.uniform(0.6, 1.4)
    strokes = [np.vstack([points, points[:1]])]
    if rng.random() < 0.4 and sides > 3:  # a diagonal across it
        i, j = rng.choice(sides, 2, replace=False)
        strokes.append(points[[i, j]])
    return strokes


def _hatching(rng) -> list[np.ndarray]:
    lines = int(rng.integers(3, 7))
    tilt = rng.uniform(-0.5, 0.5)
    length = rng.uniform(0.6, 1.4)
    strokes = [
        np.array([[i / (lines - 1), 0.0], [i / (lines - 1) + tilt, length]])
        for i in range(lines)
    ]
    if rng.random() < 0.4:  # crossed: a grid
        strokes += [
            np.array(
                [
                    [0.0, i * length / (lines - 1)],
                    [1.0 + tilt, i * length / (lines - 1)],
                ]
            )
            for i in range(lines)
        ]
    return strokes


def _marks(rng) -> list[np.ndarray]:
    count = int(rng.integers(3, 8))
    strokes = []
    for centre in rng.uniform(0, 1, (count, 2)):
        if rng.random() < 0.5:
            strokes.append(centre[None, :])  # a dot
        else:
            strokes.append(np.array([centre, centre + rng.normal(0, 0.12, 2)]))
    return strokes


def _coil(rng) -> list[np.ndarray]:
    turns = rng.uniform(2.5, 6.0)
    t = np.linspace(0, 2 * math.pi * turns, int(30 * turns))
    if rng.random() < 0.5:  # a spiral
        radius = t / t[-1] * rng.uniform(0.6, 1.0) + 0.05
        return [np.stack([radius * np.cos(t), radius * np.sin(t)], 1)]
    stretch = rng.uniform(0.15, 0.4)  # loops along a line
    return [
        np.stack([t * stretch / (2 * math.pi) + 0.5 * np.cos(t), 0.5 * np.sin(t)], 1)
    ]


def _glyph(rng) -> list[np.ndarray]:
    # Two to four lines and arcs at random, touching or crossing: shaped like some
    # symbol, rarely like a digit.
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        start = rng.uniform(0, 1, 2)
        if rng.random() < 0.5:
            strokes.append(np.array([start, rng.uniform(0, 1, 2)]))
        else:
            begin = rng.uniform(0, 2 * math.pi)
            sweep = rng.uniform(1.5, 5.5) * rng.choice([-1, 1])
            a = np.linspace(begin, begin + sweep, 16)
            r = rng.uniform(0.15, 0.5)
            strokes.append(start + r * np.stack([np.cos(a), np.sin(a)], 1))
    return strokes


def _arc(cx, cy, rx, ry, start, stop, count=12):
    a = np.radians(np.linspace(start, stop, count))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _lines(*points) -> np.ndarray:
    return np.array(points, np.float64)


# Letters and signs no digit looks like (not O, I, l, S, Z, B, b, G, g, q, j, J: a 1
# with a foot...), as polylines in a box one unit tall, y down.
LETTERS: dict[str, list[np.ndarray]] = {
    "A": [_lines((0, 1), (0.35, 0), (0.7, 1)), _lines((0.15, 0.6), (0.55, 0.6))],
    "C": [_arc(0.35, 0.5, 0.35, 0.5, -40, -320)],
    "E": [_lines((0.6, 0), (0, 0), (0, 1), (0.6, 1)), _lines((0, 0.5), (0.45, 0.5))],
    "F": [_lines((0.6, 0), (0, 0), (0, 1)), _lines((0, 0.5), (0.45, 0.5))],
    "H": [
        _lines((0, 0), (0, 1)),
        _lines((0.6, 0), (0.6, 1)),
        _lines((0, 0.5), (0.6, 0.5)),
    ],
    "K": [
        _lines((0, 0), (0, 1)),
        _lines((0.6, 0), (0, 0.55)),
        _lines((0.2, 0.42), (0.6, 1)),
    ],
    "L": [_lines((0, 0), (0, 1), (0.55, 1))],
    "M": [_lines((0, 1), (0.05, 0), (0.4, 0.7), (0.75, 0), (0.8, 1))],
    "N": [_lines((0, 1), (0, 0), (0.65, 1), (0.65, 0))],
    "P": [
        np.vstack(
            [
                _lines((0, 1), (0, 0)),
                _arc(0.3, 0.25, 0.3, 0.25, -90, 90),
                _lines((0, 0.5)),
            ]
        )
    ],
    "R": [
        np.vstack(
            [
                _lines((0, 1), (0, 0)),
                _arc(0.3, 0.25, 0.3, 0.25, -90, 90),
                _lines((0, 0.5)),
            ]
        ),
        _lines((0.3, 0.5), (0.65, 1)),
    ],
    "T": [_lines((0, 0), (0.7, 0)), _lines((0.35, 0), (0.35, 1))],
    "U": [
        np.vstack(
            [_lines((0, 0)), _arc(0.32, 0.68, 0.32, 0.32, 180, 0), _lines((0.64, 0))]
        )
    ],
    "V": [_lines((0, 0), (0.35, 1), (0.7, 0))],
    "W": [_lines((0, 0), (0.2, 1), (0.4, 0.35), (0.6, 1), (0.8, 0))],
    "X": [_lines((0, 0), (0.65, 1)), _lines((0.65, 0), (0, 1))],
    "Y": [_lines((0, 0), (0.35, 0.5), (0.7, 0)), _lines((0.35, 0.5), (0.35, 1))],
    "e": [
        np.vstack(
            [_lines((0.05, 0.5), (0.65, 0.5)), _arc(0.35, 0.5, 0.32, 0.48, 0, -300)]
        )
    ],
    "h": [
        _lines((0, 0), (0, 1)),
        np.vstack([_arc(0.3, 0.65, 0.3, 0.28, 180, 360), _lines((0.6, 1))]),
    ],
    "k": [
        _lines((0, 0), (0, 1)),
        _lines((0.5, 0.4), (0, 0.72)),
        _lines((0.18, 0.62), (0.55, 1)),
    ],
    "m": [
        _lines((0, 1), (0, 0.05)),
        np.vstack([_arc(0.18, 0.3, 0.18, 0.28, 180, 360), _lines((0.36, 1))]),
        np.vstack([_arc(0.54, 0.3, 0.18, 0.28, 180, 360), _lines((0.72, 1))]),
    ],
    "n": [
        _lines((0, 0), (0, 1)),
        np.vstack([_arc(0.28, 0.3, 0.28, 0.3, 180, 360), _lines((0.56, 1))]),
    ],
    "r": [_lines((0, 0), (0, 1)), _arc(0.3, 0.35, 0.3, 0.3, 180, 290)],
    "t": [
        np.vstack([_lines((0.2, 0), (0.2, 0.8)), _arc(0.4, 0.8, 0.2, 0.2, 180, 90)]),
        _lines((0, 0.3), (0.45, 0.3)),
    ],
    "u": [
        np.vstack([_lines((0, 0)), _arc(0.28, 0.7, 0.28, 0.3, 180, 0)]),
        _lines((0.56, 0), (0.56, 1)),
    ],
    "w": [_lines((0, 0), (0.15, 1), (0.35, 0.3), (0.55, 1), (0.7, 0))],
    "y": [_lines((0, 0), (0.3, 0.55)), _lines((0.6, 0), (0.15, 1))],
    "d": [_arc(0.28, 0.7, 0.28, 0.3, 0, 360), _lines((0.56, 0), (0.56, 1))],
    "f": [
        np.vstack([_arc(0.45, 0.15, 0.2, 0.15, 0, -180), _lines((0.25, 1))]),
        _lines((0.05, 0.4), (0.5, 0.4)),
    ],
    "p": [_lines((0, 0.3), (0, 1)), _arc(0.28, 0.45, 0.28, 0.18, 0, 360)],
    "%": [
        _lines((0.7, 0), (0, 1)),
        _arc(0.12, 0.15, 0.12, 0.15, 0, 360),
        _arc(0.58, 0.85, 0.12, 0.15, 0, 360),
    ],
    "=": [_lines((0, 0.3), (0.8, 0.3)), _lines((0, 0.7), (0.8, 0.7))],
    "*": [
        _lines((0.4, 0), (0.4, 1)),
        _lines((0, 0.25), (0.8, 0.75)),
        _lines((0, 0.75), (0.8, 0.25)),
    ],
}


def _letter(rng) -> list[np.ndarray]:
    return _by_hand(LETTERS[list(LETTERS)[int(rng.integers(0, len(LETTERS)))]], rng)


def _by_hand(strokes: list[np.ndarray], rng) -> list[np.ndarray]:
    """Draw strokes (y down, a unit tall) slanted, stretched, turned and unsteady."""
    slant = rng.normal(0.1, 0.2)
    aspect = rng.uniform(0.7, 1.35)
    angle = np.radians(rng.normal(0.0, 6.0))
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    out = []
    for stroke in strokes:
        points = stroke + rng.normal(0.0, 0.025, stroke.shape)
        x = points[:, 0] * aspect + slant * (1.0 - points[:, 1])
        out.append(np.stack([x, points[:, 1]], 1) @ rotation.T)
    return out


def _star(points: int, inner: float, turn: float) -> np.ndarray:
    angles = turn + np.arange(2 * points + 1) * math.pi / points
    radii = np.where(np.arange(2 * points + 1) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.sin(angles), -radii * np.cos(angles)], 1)


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, 40)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([x, -y], 1) / 16


def _arrow(rng) -> list[np.ndarray]:
    head = rng.uniform(0.2, 0.4)
    spread = rng.uniform(0.15, 0.3)
    strokes = [
        _lines((0, 0.5), (1, 0.5)),
        _lines((1 - head, 0.5 - spread), (1, 0.5), (1 - head, 0.5 + spread)),
    ]
    if rng.random() < 0.3:  # a double-headed one
        strokes.append(_lines((head, 0.5 - spread), (0, 0.5), (head, 0.5 + spread)))
    angle = rng.choice([0.0, 0.5, 1.0, 1.5]) * math.pi + rng.normal(0, 0.2)
    rotation = np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    return [stroke @ rotation.T for stroke in strokes]


def _face(rng) -> list[np.ndarray]:
    ring = _arc(0, 0, 1, 1, 0, 360, 36)
    eyes = [np.array([[-0.35, -0.3]]), np.array([[0.35, -0.3]])]
    mood = int(rng.integers(0, 3))
    if mood == 0:  # a smile: the bottom of an ellipse (y grows downward)
        mouth = _arc(0, 0.05, 0.5, 0.4, 20, 160, 10)
    elif mood == 1:  # a frown: the top of one
        mouth = _arc(0, 0.75, 0.5, 0.35, 200, 340, 10)
    else:
        mouth = _lines((-0.4, 0.45), (0.4, 0.45))
    return [ring, *eyes, mouth]


def _sign(rng) -> list[np.ndarray]:
    return _by_hand(_sign_strokes(rng), rng)


def _sign_strokes(rng) -> list[np.ndarray]:
    # Signs and pictures people doodle: none is a digit in any hand.
    kind = int(rng.integers(0, 10))
    if kind == 0:  # plus, or a cross with arms of any length
        return [
            _lines((0.5, 0), (0.5, 1)),
            _lines((0, rng.uniform(0.3, 0.6)), (1, 0.5)),
        ]
    if kind == 1:
        return [
            _star(int(rng.integers(5, 7)), rng.uniform(0.35, 0.5), rng.normal(0, 0.2))
        ]
    if kind == 2:
        return [_heart()]
    if kind == 3:
        return _arrow(rng)
    if kind == 4:
        return _face(rng)
    if kind == 5:  # tally marks, the fifth across
        count = int(rng.integers(3, 6))
        strokes = [_lines((i * 0.25, 0), (i * 0.25, 1)) for i in range(min(count, 4))]
        if count == 5:
            strokes.append(_lines((-0.15, 0.8), (0.9, 0.2)))
        return strokes
    if kind == 6:  # hash
        return [
            _lines((0.35, 0), (0.25, 1)),
            _lines((0.75, 0), (0.65, 1)),
            _lines((0, 0.35), (1, 0.35)),
            _lines((0, 0.7), (1, 0.7)),
        ]
    if kind == 7:  # a zigzag bolt or a saw
        turns = int(rng.integers(4, 8))
        x = np.where(np.arange(turns + 1) % 2 == 0, 0.0, 1.0) * rng.uniform(0.3, 1.0)
        y = np.linspace(0, 1, turns + 1)
        points = np.stack([x, y], 1)
        return [points if rng.random() < 0.5 else points[:, ::-1]]
    if kind == 8:  # a house: a square and a roof
        return [
            _lines((0, 0.45), (0, 1), (0.8, 1), (0.8, 0.45), (0, 0.45)),
            _lines((-0.05, 0.45), (0.4, 0), (0.85, 0.45)),
        ]
    # A sun: a ring and rays.
    rays = int(rng.integers(6, 11))
    angles = np.arange(rays) * 2 * math.pi / rays
    strokes = [_arc(0, 0, 0.5, 0.5, 0, 360, 30)]
    for a in angles:
        strokes.append(
            _lines((0.65 * math.cos(a), 0.65 * math.sin(a)), (math.cos(a), math.sin(a)))
        )
    return strokes


_STROKES = {
    "letter": _letter,
    "sign": _sign,
    "scribble": _scribble,
    "polygon": _polygon,
    "hatching": _hatching,
    "marks": _marks,
    "coil": _coil,
    "glyph": _glyph,
}


def _render(strokes: list[list[np.ndarray]], widths: np.ndarray) -> np.ndarray:
    """Lay out each drawing in the 28x28 frame as the conversion does; render all."""
    out = np.empty((len(strokes), _SIZE, _SIZE), np.uint8)
    # Drawn in chunks of like segment counts: each chunk costs its longest. Each
    # chunk's drawings are laid out only when it is drawn.
    counts = [sum(max(len(stroke) - 1, 1) for stroke in drawing) for drawing in strokes]
    order = np.argsort(counts, kind="stable")
    rows = np.arange(_SIZE)
    for first in range(0, len(strokes), 256):
        chunk = order[first : first + 256]
        segments = [_laid_out(strokes[i], widths[i]) for i in chunk]
        most = max(len(s) for s in segments)
        starts = np.full((len(chunk), most, 2), np.nan, np.float32)
        ends = np.full((len(chunk), most, 2), np.nan, np.float32)
        for row, pieces in enumerate(segments):
            starts[row, : len(pieces)] = pieces[:, 0]
            ends[row, : len(pieces)] = pieces[:, 1]
        images = render_segments(starts, ends, widths[chunk], (_SIZE, _SIZE))
        # Overlapping strokes and round ends move the true centre of mass a little:
        # put it back on the nearest whole pixel.
        mass = np.maximum(images.sum(axis=(1, 2)), 1e-6)
        dy = np.rint(_CENTRE - images.sum(axis=2) @ rows / mass).astype(int)
        dx = np.rint(_CENTRE - images.sum(axis=1) @ rows / mass).astype(int)
        for i, image in enumerate(images):
            images[i] = _shifted(image, int(dy[i]), int(dx[i]))
        out[chunk] = np.rint(images * 255.0)
    return out


def _laid_out(drawing: list[np.ndarray], width: float) -> np.ndarray:
    """Return a drawing's segments ``(n, 2, 2)``, fitted to the 20 px box, centred."""
    points = np.vstack(drawing)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = max(float((high - low).max()), 1e-6)
    scale = (_BOX - width) / extent
    pieces = []
    for stroke in drawing:
        stroke = (stroke - low) * scale
        if len(stroke) == 1:
            stroke = np.vstack([stroke, stroke])
        pieces.append(np.stack([stroke[:-1], stroke[1:]], axis=1))
    pieces = np.concatenate(pieces)
    # Centre of mass of the ink, by length (a dot counts as one pen width).
    lengths = np.maximum(np.linalg.norm(pieces[:, 1] - pieces[:, 0], axis=1), width)
    centre = (pieces.mean(axis=1) * lengths[:, None]).sum(0) / lengths.sum()
    return pieces + (_CENTRE - centre)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move an image by whole pixels; what leaves the frame is lost, not wrapped."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _piece(digits: np.ndarray, rng) -> np.ndarray:
    """Part of a real digit: its ink on one side of a line near its centre."""
    rows, cols = np.mgrid[0:_SIZE, 0:_SIZE]
    for _ in range(8):  # a few tries for a cut that keeps a fitting share
        digit = digits[rng.integers(0, len(digits))].astype(np.float32)
        mass = max(float(digit.sum()), 1e-6)
        cy = float((digit.sum(axis=1) @ np.arange(_SIZE)) / mass)
        cx = float((digit.sum(axis=0) @ np.arange(_SIZE)) / mass)
        angle = rng.uniform(0.0, 2.0 * math.pi)
        side = (cols - cx) * math.cos(angle) + (rows - cy) * math.sin(angle)
        piece = np.where(side > rng.uniform(-3.0, 3.0), digit, 0.0)
        if _PIECE_SHARE[0] <= piece.sum() / mass <= _PIECE_SHARE[1]:
            break
    return _converted(piece)


def _converted(ink: np.ndarray) -> np.ndarray:
    """Convert MNIST-made ink as the app converts a drawing, crisp as a pen's.

    Enlarged and cut at half ink first, so that the conversion redraws the strokes
    at full size as it does a drawing's, rather than blowing up a few soft pixels.
    """
    size = ink.shape[0]
    grid = (np.arange(_ZOOM * size) + 0.5) / _ZOOM - 0.5
    low = np.clip(np.floor(grid).astype(int), 0, size - 1)
    high = np.clip(low + 1, 0, size - 1)
    t = np.clip(grid - np.floor(grid), 0.0, 1.0).astype(np.float32)
    ink = np.asarray(ink, np.float32)
    wide = ink[:, low] * (1 - t) + ink[:, high] * t
    big = wide[low] * (1 - t)[:, None] + wide[high] * t[:, None]
    pen = np.where(big >= 128.0, 255, 0).astype(np.uint8)
    image = canvas_to_image(pen, "mnist", ink_is_bright=True)
    return np.zeros((_SIZE, _SIZE), np.uint8) if image is None else image


def _overlap(digits: np.ndarray, rng) -> np.ndarray:
    first, second = digits[rng.integers(0, len(digits), 2)]
    canvas = np.zeros((56, 56), np.uint8)
    canvas[14:42, 14:42] = first
    dy, dx = rng.integers(-9, 10, 2)
    np.maximum(
        canvas[14 + dy : 42 + dy, 14 + dx : 42 + dx],
        second,
        out=canvas[14 + dy : 42 + dy, 14 + dx : 42 + dx],
    )
    return _converted(canvas)
