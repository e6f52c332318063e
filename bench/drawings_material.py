"""Test material for `bench.drawings`: digits and non-digits drawn as pen strokes.

Every drawing is a list of strokes in canvas pixels plus a pen width, drawn by a
"hand": a consistent way of writing (templates it prefers, slant, width, size, place,
wobble, speed of the mouse, stroke order). Handwriting-like digits come from several
templates per digit, including the styles MNIST has few of (a 1 with a flag and a
foot, the European 1, the crossed 7, open and closed 4s, a 9 with a straight stem);
print-like digits and the letters are Hershey vector lettering (`drawings_hershey`).
Non-digits: letters, scribbles, simple shapes, tiny marks, pieces and overlaps of
digits. `render` draws them with the app's own canvas (Qt: same pen, smoothing,
anti-aliasing and round caps).

This is test material only: nothing here trains or calibrates a model, and the
training material (`core.drawing_styles`, `core.negatives`) is made by other code.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from bench import drawings_hershey

CANVAS = 280
PEN_WIDTHS = (3, 5, 8, 12, 18, 25, 32, 40)
DEFAULT_SEED = 2026_14

Point = tuple[float, float]
# A stroke template: points in a box one unit tall (y down); CORNER between two
# points makes a sharp turn, elsewhere the stroke is a smooth curve.
CORNER = None


def _arc(cx, cy, rx, ry, start, stop, step=15.0) -> list[Point]:
    """Points of an ellipse arc; angles in degrees, 0 = right, 90 = down."""
    count = max(3, int(abs(stop - start) / step) + 1)
    angles = np.radians(np.linspace(start, stop, count))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


C = CORNER
# Handwriting-like digit templates: name -> strokes.
TEMPLATES: dict[int, dict[str, list[list]]] = {
    0: {
        "oval": [_arc(0.3, 0.5, 0.28, 0.5, -90, -455)],
        "round-gap": [_arc(0.32, 0.5, 0.32, 0.48, -60, -395)],
        "narrow-clockwise": [_arc(0.22, 0.5, 0.2, 0.5, -95, 272)],
    },
    1: {
        "stick": [[(0.1, 0.0), (0.1, 1.0)]],
        "flag": [[(0.0, 0.2), (0.18, 0.0), C, (0.18, 1.0)]],
        "flag-foot": [
            [(0.02, 0.2), (0.2, 0.0), C, (0.2, 1.0)],
            [(0.0, 1.0), (0.4, 1.0)],
        ],
        "european": [[(0.0, 0.45), (0.32, 0.0), C, (0.32, 1.0)]],
        "european-foot": [
            [(0.0, 0.4), (0.3, 0.0), C, (0.3, 1.0)],
            [(0.08, 1.0), (0.52, 1.0)],
        ],
    },
    2: {
        "classic": [
            [(0.03, 0.22), (0.2, 0.04), (0.42, 0.0), (0.6, 0.12), (0.6, 0.32)]
            + [(0.4, 0.58), (0.0, 1.0), C, (0.65, 1.0)]
        ],
        "loop": [
            [(0.03, 0.22), (0.2, 0.03), (0.45, 0.02), (0.6, 0.2), (0.5, 0.45)]
            + [(0.22, 0.75), (0.08, 0.93), (0.18, 1.0), (0.28, 0.9), (0.3, 0.97)]
            + [(0.68, 0.98)]
        ],
        "angular": [
            [(0.0, 0.08), (0.35, 0.0), (0.58, 0.1), (0.55, 0.3), C, (0.0, 1.0), C]
            + [(0.65, 1.0)]
        ],
    },
    3: {
        "round": [
            [(0.02, 0.12), (0.3, 0.0), (0.55, 0.08), (0.57, 0.28), (0.28, 0.46)]
            + [(0.6, 0.6), (0.62, 0.85), (0.35, 1.0), (0.0, 0.88)]
        ],
        "flat-top": [
            [(0.0, 0.0), (0.6, 0.0), C, (0.25, 0.4), C, (0.55, 0.5), (0.62, 0.78)]
            + [(0.35, 1.0), (0.0, 0.9)]
        ],
        "pointed": [
            [(0.03, 0.1), (0.32, 0.0), (0.56, 0.12), (0.5, 0.32), (0.25, 0.46), C]
            + [(0.56, 0.58), (0.6, 0.85), (0.32, 1.0), (0.02, 0.9)]
        ],
    },
    4: {
        "open": [[(0.12, 0.0), (0.0, 0.64), C, (0.7, 0.64)], [(0.5, 0.02), (0.5, 1.0)]],
        "closed": [[(0.5, 0.0), (0.0, 0.68), C, (0.7, 0.68)], [(0.5, 0.0), (0.5, 1.0)]],
        "closed-one-stroke": [
            [(0.52, 1.0), (0.52, 0.0), C, (0.0, 0.68), C, (0.72, 0.68)]
        ],
        "open-low-stem": [
            [(0.1, 0.0), (0.02, 0.6), C, (0.7, 0.58)],
            [(0.55, 0.25), (0.5, 1.0)],
        ],
    },
    5: {
        "two-strokes": [
            [(0.08, 0.0), (0.04, 0.45), C, (0.3, 0.38), (0.55, 0.5), (0.6, 0.75)]
            + [(0.4, 0.98), (0.12, 1.0), (0.0, 0.9)],
            [(0.08, 0.0), (0.58, 0.0)],
        ],
        "one-stroke": [
            [(0.6, 0.0), (0.1, 0.0), C, (0.05, 0.45), C, (0.3, 0.38), (0.55, 0.5)]
            + [(0.6, 0.75), (0.4, 0.98), (0.1, 1.0), (0.0, 0.88)]
        ],
        "round-belly": [
            [(0.12, 0.0), (0.08, 0.35), C, (0.35, 0.3), (0.62, 0.5), (0.62, 0.8)]
            + [(0.38, 1.0), (0.05, 0.92)],
            [(0.12, 0.0), (0.6, 0.02)],
        ],
    },
    6: {
        "classic": [
            [(0.52, 0.04), (0.32, 0.0), (0.1, 0.2), (0.0, 0.55), (0.08, 0.88)]
            + [(0.3, 1.0), (0.52, 0.9), (0.58, 0.7), (0.42, 0.52), (0.2, 0.52)]
            + [(0.04, 0.66)]
        ],
        "straight-stem": [
            [(0.5, 0.0), C, (0.05, 0.62), (0.1, 0.9), (0.3, 1.0), (0.52, 0.9)]
            + [(0.56, 0.7), (0.4, 0.53), (0.18, 0.55), (0.06, 0.66)]
        ],
        "small-loop": [
            [(0.55, 0.0), (0.3, 0.15), (0.12, 0.45), (0.05, 0.78), (0.2, 0.98)]
            + [(0.42, 0.95), (0.48, 0.8), (0.35, 0.66), (0.15, 0.72)]
        ],
    },
    7: {
        "plain": [[(0.0, 0.0), (0.62, 0.0), C, (0.2, 1.0)]],
        "crossed": [
            [(0.0, 0.0), (0.62, 0.0), C, (0.2, 1.0)],
            [(0.2, 0.5), (0.62, 0.5)],
        ],
        "hook": [[(0.02, 0.16), (0.0, 0.0), C, (0.62, 0.0), C, (0.25, 1.0)]],
        "curved": [[(0.0, 0.02), (0.6, 0.0), C, (0.42, 0.4), (0.32, 0.7), (0.3, 1.0)]],
    },
    8: {
        "one-stroke": [
            [(0.55, 0.12), (0.3, 0.0), (0.06, 0.12), (0.1, 0.35), (0.3, 0.48)]
            + [(0.55, 0.62), (0.6, 0.85), (0.35, 1.0), (0.05, 0.88), (0.05, 0.68)]
            + [(0.3, 0.48), (0.5, 0.32), (0.55, 0.12)]
        ],
        "two-loops": [
            _arc(0.3, 0.24, 0.22, 0.24, -90, 272),
            _arc(0.3, 0.73, 0.28, 0.27, -90, 272),
        ],
        "mirrored": [
            [(0.05, 0.12), (0.3, 0.0), (0.54, 0.12), (0.5, 0.35), (0.3, 0.48)]
            + [(0.05, 0.62), (0.0, 0.85), (0.25, 1.0), (0.55, 0.88), (0.55, 0.68)]
            + [(0.3, 0.48), (0.1, 0.32), (0.05, 0.12)]
        ],
    },
    9: {
        "straight-stem": [_arc(0.3, 0.27, 0.28, 0.27, 0, -360) + [(0.58, 1.0)]],
        "curved-stem": [
            _arc(0.3, 0.27, 0.28, 0.27, 0, -360)
            + [(0.57, 0.7), (0.45, 0.95), (0.2, 1.0)]
        ],
        "two-strokes": [
            _arc(0.3, 0.27, 0.28, 0.27, 10, -355),
            [(0.6, 0.05), (0.6, 1.0)],
        ],
    },
}
# Templates MNIST has few of: they are reported separately.
RARE_IN_MNIST = {
    (1, "flag-foot"),
    (1, "european"),
    (1, "european-foot"),
    (4, "closed"),
    (4, "closed-one-stroke"),
    (7, "crossed"),
    (7, "hook"),
    (9, "straight-stem"),
    (9, "two-strokes"),
}


@dataclass(frozen=True)
class Drawing:
    """One drawing: strokes in canvas pixels, a pen, and what it is.

    ``kind`` is "digit" or a non-digit kind ("letter", "scribble", "shape", "tiny",
    "piece", "overlap"); ``style`` is "handwriting" or "print" for digits, a finer
    name otherwise; ``label`` is the digit (None for non-digits).
    """

    strokes: list[np.ndarray]
    pen: float
    kind: str
    style: str
    label: int | None
    hand: str
    name: str


@dataclass
class Hand:
    """A consistent way of drawing."""

    name: str
    pen: float
    slant: float  # x shift per unit of height, toward the top
    rotation: float  # degrees
    aspect: float  # width factor
    size: float  # height as a fraction of the canvas
    centre: tuple[float, float]  # preferred centre, fraction of the canvas
    wobble: float  # amplitude of slow wandering, fraction of the height
    jitter: float  # per-drawing noise of control points, fraction of the height
    step: float  # pixels between the points the mouse reports
    reverse: float  # chance of drawing a stroke backwards
    choices: dict[int, str] = field(default_factory=dict)


def make_hand(
    rng: np.random.Generator, name: str, pen: float, print_like: bool
) -> Hand:
    """Draw a random hand; print-like hands are steadier and more upright."""
    if print_like:
        slant = float(rng.normal(0.0, 0.08))
        wobble, jitter = rng.uniform(0.0, 0.008), rng.uniform(0.0, 0.012)
    else:
        slant = float(np.clip(rng.normal(0.12, 0.16), -0.3, 0.55))
        wobble, jitter = rng.uniform(0.0, 0.02), rng.uniform(0.005, 0.035)
    choices = {digit: str(rng.choice(sorted(TEMPLATES[digit]))) for digit in TEMPLATES}
    return Hand(
        name=name,
        pen=float(pen),
        slant=slant,
        rotation=float(rng.normal(0.0, 4.0)),
        aspect=float(rng.uniform(0.75, 1.35)),
        size=float(rng.uniform(0.3, 0.85)),
        centre=(float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.35, 0.65))),
        wobble=float(wobble),
        jitter=float(jitter),
        step=float(rng.uniform(2.0, 7.0)),
        reverse=float(rng.uniform(0.0, 0.4)),
        choices=choices,
    )


# -- geometry -------------------------------------------------------------------


def _spline(points: np.ndarray, per_unit: float = 60.0) -> np.ndarray:
    """A smooth curve through points (centripetal Catmull-Rom), dense enough."""
    if len(points) < 3:
        return _densify(points, 1.0 / per_unit)
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    out = [points[:1]]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        t0 = 0.0
        t1 = t0 + max(np.linalg.norm(p1 - p0) ** 0.5, 1e-6)
        t2 = t1 + max(np.linalg.norm(p2 - p1) ** 0.5, 1e-6)
        t3 = t2 + max(np.linalg.norm(p3 - p2) ** 0.5, 1e-6)
        count = max(2, int(np.linalg.norm(p2 - p1) * per_unit))
        t = np.linspace(t1, t2, count + 1)[1:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        out.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.vstack(out)


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` along a polyline (its corners kept)."""
    points = np.asarray(points, np.float64)
    if len(points) < 2:
        return points
    out = [points[:1]]
    for start, end in zip(points[:-1], points[1:], strict=True):
        count = max(1, int(math.ceil(np.linalg.norm(end - start) / step)))
        t = (np.arange(1, count + 1) / count)[:, None]
        out.append(start + (end - start) * t)
    return np.vstack(out)


def _template_strokes(template: list[list], rng, jitter: float) -> list[np.ndarray]:
    """Smooth each template stroke (sharp at CORNER), its shape gently disturbed.

    The disturbance is a smooth random field over the template's box, so points
    that meet (closed loops, shared corners) still meet.
    """
    frequency = rng.uniform(0.5, 1.5, (2, 2, 2))
    phase = rng.uniform(0.0, 2.0 * math.pi, (2, 2, 2))
    amplitude = rng.normal(0.0, jitter, (2, 2))

    def disturb(points: np.ndarray) -> np.ndarray:
        out = points.copy()
        for axis in range(2):
            for k in range(2):
                wave = np.sin(
                    math.pi * frequency[axis, k, 0] * points[:, 0] + phase[axis, k, 0]
                )
                wave *= np.sin(
                    math.pi * frequency[axis, k, 1] * points[:, 1] + phase[axis, k, 1]
                )
                out[:, axis] += amplitude[axis, k] * 2.0 * wave
        return out

    strokes = []
    for stroke in template:
        pieces: list[list[Point]] = [[]]
        for point in stroke:
            if point is CORNER:
                pieces.append([pieces[-1][-1]])
            else:
                pieces[-1].append(point)
        curve = []
        for piece in pieces:
            segment = _spline(disturb(np.array(piece, np.float64)))
            curve.append(segment if not curve else segment[1:])
        strokes.append(np.vstack(curve))
    return strokes


def _place(
    strokes: list[np.ndarray], hand: Hand, rng, slant=None, aspect=None
) -> list[np.ndarray]:
    """Unit-height strokes to canvas pixels in this hand's way, with its wobble."""
    everything = np.vstack(strokes)
    low, high = everything.min(axis=0), everything.max(axis=0)
    height = max(high[1] - low[1], 1e-6)
    centre_unit = (low + high) / 2.0
    slant = hand.slant + rng.normal(0.0, 0.04) if slant is None else slant
    aspect = hand.aspect * rng.uniform(0.92, 1.08) if aspect is None else aspect
    angle = math.radians(hand.rotation + rng.normal(0.0, 2.0))
    size = hand.size * rng.uniform(0.88, 1.12) * CANVAS
    cos, sin = math.cos(angle), math.sin(angle)
    placed = []
    for stroke in strokes:
        unit = (stroke - centre_unit) / height
        x = unit[:, 0] * aspect - slant * unit[:, 1]
        y = unit[:, 1]
        placed.append(np.stack([x * cos - y * sin, x * sin + y * cos], axis=1) * size)
    everything = np.vstack(placed)
    half = (everything.max(axis=0) - everything.min(axis=0)) / 2.0
    middle = (everything.max(axis=0) + everything.min(axis=0)) / 2.0
    margin = hand.pen / 2.0 + 2.0
    centre = np.array(hand.centre) * CANVAS + rng.normal(0.0, 0.04 * CANVAS, 2)
    low_c = half + margin
    high_c = CANVAS - half - margin
    centre = np.where(low_c < high_c, np.clip(centre, low_c, high_c), CANVAS / 2.0)
    out = []
    phase = rng.uniform(0.0, 2.0 * math.pi, 4)
    for stroke in placed:
        points = stroke - middle + centre
        if hand.wobble > 0:
            # Slow wandering: a few sines of the position along the whole drawing.
            s = np.cumsum(np.r_[0.0, np.linalg.norm(np.diff(points, axis=0), axis=1)])
            s = s / max(size, 1.0)
            amplitude = hand.wobble * size
            points = points + amplitude * np.stack(
                [
                    np.sin(2.5 * s + phase[0]) + 0.4 * np.sin(6.0 * s + phase[1]),
                    np.sin(2.2 * s + phase[2]) + 0.4 * np.sin(5.5 * s + phase[3]),
                ],
                axis=1,
            )
        if rng.random() < hand.reverse:
            points = points[::-1]
        out.append(_densify(points, hand.step * rng.uniform(0.8, 1.25)))
    return out


# -- digits ---------------------------------------------------------------------


def handwritten_digit(digit: int, hand: Hand, rng) -> Drawing:
    """One digit in the hand's favourite template (sometimes another one)."""
    names = sorted(TEMPLATES[digit])
    name = hand.choices[digit] if rng.random() < 0.8 else str(rng.choice(names))
    strokes = _template_strokes(TEMPLATES[digit][name], rng, hand.jitter)
    if len(strokes) > 1 and rng.random() < hand.reverse:
        strokes = strokes[::-1]  # stroke order
    return Drawing(
        _place(strokes, hand, rng),
        hand.pen,
        "digit",
        "handwriting",
        digit,
        hand.name,
        f"{digit}-{name}",
    )


def _hershey_strokes(font: str, char: str) -> list[np.ndarray]:
    glyph = drawings_hershey.load()[font][char]
    height = drawings_hershey.BASE_LINE - drawings_hershey.CAP_LINE
    return [
        (np.array(stroke, np.float64) - (0.0, drawings_hershey.CAP_LINE)) / height
        for stroke in glyph
        if stroke
    ]


def _print_pen(font: str, hand: Hand) -> float:
    """A pen wide enough to merge a font's doubled lines into one bold stroke."""
    gap = drawings_hershey.DOUBLE_LINE_GAP[font]
    unit = hand.size * CANVAS / (drawings_hershey.BASE_LINE - drawings_hershey.CAP_LINE)
    return max(hand.pen, 1.6 * gap * unit)


def printed_digit(digit: int, hand: Hand, font: str, rng) -> Drawing:
    """A digit in Hershey lettering, drawn by a steady hand."""
    strokes = _hershey_strokes(font, str(digit))
    strokes = [s + rng.normal(0.0, hand.jitter * 0.3, s.shape) for s in strokes]
    pen = _print_pen(font, hand)
    hand_for_pen = Hand(**{**hand.__dict__, "pen": pen})
    return Drawing(
        _place(strokes, hand_for_pen, rng, aspect=hand.aspect * 0.9 + 0.1),
        pen,
        "digit",
        "print",
        digit,
        hand.name,
        f"{digit}-{font}",
    )


# -- non-digits -----------------------------------------------------------------


def letter(char: str, hand: Hand, font: str, rng) -> Drawing:
    """A letter in Hershey lettering (capitals and small letters)."""
    strokes = _hershey_strokes(font, char)
    pen = _print_pen(font, hand)
    hand_for_pen = Hand(**{**hand.__dict__, "pen": pen})
    return Drawing(
        _place(strokes, hand_for_pen, rng),
        pen,
        "letter",
        font,
        None,
        hand.name,
        f"{char}-{font}",
    )


def _star(points=5) -> list[list[Point]]:
    angles = -90 + np.arange(points + 1) * (360.0 * 2 / points)
    return [[(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in angles]]


SHAPES: dict[str, list[list]] = {
    "star": _star(),
    "heart": [
        _arc(-0.45, -0.3, 0.45, 0.42, 180, 360)[:-1]
        + _arc(0.45, -0.3, 0.45, 0.42, 180, 360)
        + [C, (0.0, 0.9), C, (-0.9, -0.3)]
    ],
    "smiley": [
        _arc(0.0, 0.0, 1.0, 1.0, -90, 275),
        [(-0.35, -0.3)],
        [(0.35, -0.3)],
        _arc(0.0, 0.0, 0.55, 0.55, 20, 160),
    ],
    "square": [[(0, 0), C, (1, 0), C, (1, 1), C, (0, 1), C, (0, 0)]],
    "triangle": [[(0.5, 0), C, (1, 0.9), C, (0, 0.9), C, (0.5, 0)]],
    "arrow": [[(0, 0.5), (1.2, 0.5)], [(0.85, 0.2), C, (1.2, 0.5), C, (0.85, 0.8)]],
    "arrow-up": [[(0.5, 1.2), (0.5, 0)], [(0.2, 0.35), C, (0.5, 0), C, (0.8, 0.35)]],
    "tally": [[(x, 0.0), (x, 1.0)] for x in (0.0, 0.2, 0.4, 0.6)]
    + [[(-0.15, 0.75), (0.8, 0.25)]],
    "plus": [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "cross": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "check": [[(0, 0.55), C, (0.35, 0.9), C, (1, 0)]],
    "house": [
        [(0, 0.4), C, (0, 1), C, (1, 1), C, (1, 0.4), C, (0, 0.4)],
        [(0, 0.4), C, (0.5, 0), C, (1, 0.4)],
    ],
    "sun": [_arc(0, 0, 0.45, 0.45, 0, 362)]
    + [
        [
            (0.65 * math.cos(math.radians(a)), 0.65 * math.sin(math.radians(a))),
            (1.0 * math.cos(math.radians(a)), 1.0 * math.sin(math.radians(a))),
        ]
        for a in range(0, 360, 45)
    ],
    "diamond": [[(0.5, 0), C, (1, 0.6), C, (0.5, 1.2), C, (0, 0.6), C, (0.5, 0)]],
    "wave": [[(x / 8, 0.5 + 0.4 * math.sin(x * math.pi / 2)) for x in range(0, 17)]],
    "lightning": [[(0.6, 0), C, (0.2, 0.55), C, (0.6, 0.5), C, (0.25, 1.1)]],
    "hash": [
        [(0.35, 0), (0.3, 1)],
        [(0.7, 0), (0.65, 1)],
        [(0, 0.33), (1, 0.33)],
        [(0, 0.66), (1, 0.66)],
    ],
    "spiral": [
        [
            (
                0.1 * t * math.cos(t * 1.1),
                0.1 * t * math.sin(t * 1.1),
            )
            for t in np.linspace(0.3, 10.0, 60)
        ]
    ],
    "infinity": [
        [
            (math.sin(t), 0.45 * math.sin(2 * t))
            for t in np.linspace(0, 2 * math.pi + 0.1, 40)
        ]
    ],
    "cloud": [
        _arc(-0.6, 0.1, 0.35, 0.35, 90, 270)[:-1]
        + _arc(-0.15, -0.2, 0.4, 0.4, 190, 350)[:-1]
        + _arc(0.4, -0.05, 0.35, 0.35, 230, 400)[:-1]
        + [(-0.6, 0.45)]
    ],
    "flower": [_arc(0, 0, 0.2, 0.2, 0, 362)]
    + [
        _arc(
            0.5 * math.cos(math.radians(a)),
            0.5 * math.sin(math.radians(a)),
            0.28,
            0.28,
            0,
            362,
        )
        for a in range(0, 360, 72)
    ],
}


def shape(name: str, hand: Hand, rng) -> Drawing:
    """A simple shape drawn by a hand."""
    strokes = _template_strokes(SHAPES[name], rng, hand.jitter * 0.6)
    return Drawing(
        _place(strokes, hand, rng, slant=0.0, aspect=rng.uniform(0.85, 1.15)),
        hand.pen,
        "shape",
        name,
        None,
        hand.name,
        name,
    )


def scribble(kind: str, hand: Hand, rng) -> Drawing:
    """A random scribble: a wandering line, zig-zag, hatching, coil or scratch."""
    if kind == "wander":
        count = int(rng.integers(5, 12))
        strokes = [_spline(rng.uniform(0, 1, (count, 2)), per_unit=80.0)]
    elif kind == "zigzag":
        teeth = int(rng.integers(3, 8))
        xs = np.linspace(0, 1, 2 * teeth)
        ys = np.where(np.arange(2 * teeth) % 2 == 0, 0.0, rng.uniform(0.5, 1.0))
        points = np.stack([xs, ys], axis=1)
        strokes = [points if rng.random() < 0.5 else points[:, ::-1]]
    elif kind == "hatching":
        lines = int(rng.integers(3, 8))
        tilt = rng.uniform(-0.4, 0.4)
        strokes = [
            np.array([[i / lines, 0.0], [i / lines + tilt, 1.0]]) for i in range(lines)
        ]
        if rng.random() < 0.5:
            strokes += [
                np.array([[0.0, i / lines], [1.0, i / lines + tilt]])
                for i in range(lines)
            ]
    elif kind == "coil":
        t = np.linspace(0, 2 * math.pi * rng.integers(3, 7), 200)
        strokes = [np.stack([t / t[-1] * 2.0 + 0.3 * np.cos(t), 0.5 * np.sin(t)], 1)]
    else:  # scratch: dense back-and-forth
        count = int(rng.integers(8, 20))
        centre = rng.uniform(0.3, 0.7, 2)
        strokes = [centre + rng.normal(0, 0.25, (count, 2))]
    return Drawing(
        _place(strokes, hand, rng, slant=0.0, aspect=rng.uniform(0.6, 1.6)),
        hand.pen,
        "scribble",
        kind,
        None,
        hand.name,
        kind,
    )


def tiny_mark(hand: Hand, rng) -> Drawing:
    """A dot, a tick or a tiny scribble anywhere on the canvas."""
    kind = str(rng.choice(["dot", "tick", "squiggle"]))
    centre = rng.uniform(30, CANVAS - 30, 2)
    if kind == "dot":
        strokes = [centre[None, :]]
    elif kind == "tick":
        strokes = [np.array([centre, centre + rng.uniform(-12, 12, 2)])]
    else:
        strokes = [centre + rng.normal(0, 5, (int(rng.integers(4, 9)), 2))]
    pen = min(hand.pen, 18.0)
    return Drawing(strokes, pen, "tiny", kind, None, hand.name, kind)


def piece_of_digit(digit: int, hand: Hand, rng) -> Drawing:
    """A contiguous 25-55% of a digit's path: where a digit was abandoned."""
    name = hand.choices[digit]
    strokes = _template_strokes(TEMPLATES[digit][name], rng, hand.jitter)
    path = np.vstack(strokes)
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    share = rng.uniform(0.25, 0.55)
    start = rng.uniform(0.0, 1.0 - share) * lengths[-1]
    keep = (lengths >= start) & (lengths <= start + share * lengths[-1])
    piece = [path[keep]] if keep.sum() >= 2 else [path[:2]]
    return Drawing(
        _place(piece, hand, rng),
        hand.pen,
        "piece",
        f"piece of {digit}",
        None,
        hand.name,
        f"piece-{digit}-{name}",
    )


def overlap(first: int, second: int, hand: Hand, rng) -> Drawing:
    """Two digits drawn over each other, a little apart."""
    a = _template_strokes(TEMPLATES[first][hand.choices[first]], rng, hand.jitter)
    b = _template_strokes(TEMPLATES[second][hand.choices[second]], rng, hand.jitter)
    offset = rng.uniform(-0.35, 0.35, 2)
    strokes = a + [s + offset for s in b]
    return Drawing(
        _place(strokes, hand, rng),
        hand.pen,
        "overlap",
        "two digits",
        None,
        hand.name,
        f"overlap-{first}-{second}",
    )


# -- the test sets ----------------------------------------------------------------


def digit_drawings(
    seed: int = DEFAULT_SEED, hands: int = 48, repeats: int = 3
) -> Iterator[Drawing]:
    """Handwriting-like (``hands`` hands) and print-like (half as many) digits.

    Every hand draws every digit ``repeats`` times; pens cycle through
    `PEN_WIDTHS`, so each width has the same number of hands.
    """
    rng = np.random.default_rng([seed, 1])
    for h in range(hands):
        hand = make_hand(rng, f"hand-{h:02d}", PEN_WIDTHS[h % len(PEN_WIDTHS)], False)
        for _ in range(repeats):
            for digit in range(10):
                yield handwritten_digit(digit, hand, rng)
    fonts = drawings_hershey.DIGIT_FONTS
    for h in range(hands // 2):
        pen = PEN_WIDTHS[h % len(PEN_WIDTHS)]
        hand = make_hand(rng, f"print-{h:02d}", pen, True)
        for r in range(repeats):
            font = fonts[(h + r) % len(fonts)]
            if drawings_hershey.DOUBLE_LINE_GAP[font] and pen < 8:
                font = "futural"  # a thin pen shows doubled lines as outlines
            for digit in range(10):
                yield printed_digit(digit, hand, font, rng)


def non_digit_drawings(seed: int = DEFAULT_SEED, hands: int = 24) -> Iterator[Drawing]:
    """Letters, scribbles, shapes, tiny marks, pieces and overlaps of digits."""
    rng = np.random.default_rng([seed, 2])
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for h in range(hands):
        pen = PEN_WIDTHS[h % len(PEN_WIDTHS)]
        hand = make_hand(rng, f"other-{h:02d}", pen, h % 2 == 0)
        font = drawings_hershey.LETTER_FONTS[h % len(drawings_hershey.LETTER_FONTS)]
        glyphs = drawings_hershey.load()[font]
        for char in rng.choice(list(letters), size=16, replace=False):
            if char in glyphs:
                yield letter(str(char), hand, font, rng)
        for name in rng.choice(sorted(SHAPES), size=8, replace=False):
            yield shape(str(name), hand, rng)
        for kind in ("wander", "zigzag", "hatching", "coil", "scratch"):
            yield scribble(kind, hand, rng)
        for _ in range(3):
            yield tiny_mark(hand, rng)
        for _ in range(4):
            yield piece_of_digit(int(rng.integers(0, 10)), hand, rng)
        for _ in range(3):
            first, second = rng.choice(10, size=2, replace=False)
            yield overlap(int(first), int(second), hand, rng)


class Renderer:
    """Draws `Drawing` objects with the app's own canvas (offscreen by default)."""

    def __init__(self) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from gui.drawing_canvas import DrawingCanvas

        self._app = QApplication.instance() or QApplication([])
        self._canvas = DrawingCanvas(size=CANVAS)

    def __call__(self, drawing: Drawing) -> np.ndarray:
        """Return the uint8 (280, 280) canvas with the drawing on it."""
        canvas = self._canvas
        canvas.clear()
        for stroke in drawing.strokes:
            canvas.add_stroke([tuple(p) for p in stroke], width=drawing.pen)
        return canvas.to_array()
