"""How wide each stroke of a binary drawing is, pixel by pixel.

Owns `stroke_depths` (layers of ink down to each pixel), `thin_share` (how much of
the ink lies in strokes up to a given width), `ridge_depths` (for every ink
pixel, the depth of its stroke's ridge: the stroke's width) and `grow_into_paper`.
Printed type draws hairlines beside stems three to five times as wide, so one width
for the whole drawing (`core.strokes.pen_widths`) fits neither. Depth comes from
peeling the ink layer by layer (octagonal distance: square and cross erosions in
turn), and each pixel takes the depth of the ridge above it, spread downhill from
the ridges to the edges, so that a stroke's edge pixels get its own width and never
a neighbour's; a bump of a pixel or two on a stroke's outline takes that stroke's.
NumPy passes, or the same work compiled (`core.fast`); never imports Qt.
"""

from __future__ import annotations

import numpy as np

from core import fast

__all__ = ["MAX_SIDE", "grow_into_paper", "ridge_depths", "stroke_depths", "thin_share"]

# Depths are uint8: no layer deeper than 255, so no ink wider than this.
MAX_SIDE = 2 * 255


def stroke_depths(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Return how many layers of ink lie between each ink pixel and the paper.

    Parameters
    ----------
    ink : np.ndarray
        bool ``(H, W)``, True on the strokes (paper beyond the edges), at most
        `MAX_SIDE` pixels on its shorter side.

    Returns
    -------
    depth : np.ndarray
        uint8 ``(H, W)``: 1 on a stroke's edge, 0 off the ink.
    deepest : int
        The largest depth (0 without ink).

    Raises
    ------
    ValueError
        For ink whose depth could pass 255 (a conversion works on about 100 px).
    """
    if ink.ndim != 2 or min(ink.shape) > MAX_SIDE:
        raise ValueError(
            f"ink must be 2-D and at most {MAX_SIDE} px across, got {ink.shape}"
        )
    depth = ink.astype(np.uint8)
    if not ink.any():
        return depth, 0
    layers = fast.erode_layers(depth)
    if layers is None:
        layers = _erode_layers(ink, depth)
    return depth, layers + 1


def _erode_layers(ink: np.ndarray, depth: np.ndarray) -> int:
    """Add each layer left after 1, 2... erosions to depth; return how many left ink."""
    layer, inner = 0, ink
    while True:
        inner = _eroded(inner, square=layer % 2 == 0)
        if not inner.any():
            return layer
        depth += inner
        layer += 1


def thin_share(depth: np.ndarray, narrower_than: float) -> float:
    """Return the share of the ink in strokes at most ``narrower_than`` px wide.

    Each ridge pixel (as deep as its 3x3 square's deepest) stands for a cross
    section of ``2 d - 1`` pixels; one pass, where `ridge_depths` takes one a layer.
    """
    ridge = depth[(depth > 0) & (depth >= _max_around(depth))].astype(np.float32)
    section = 2.0 * ridge - 1.0
    total = float(section.sum())
    return float(section[section <= narrower_than].sum()) / total if total else 0.0


def ridge_depths(depth: np.ndarray, deepest: int) -> np.ndarray:
    """Return, for every ink pixel, the depth of the ridge of its stroke.

    A stroke ``d`` layers deep at its ridge is ``2 d - 1`` pixels wide (odd widths
    exact, even ones read one less).

    Parameters
    ----------
    depth, deepest : np.ndarray, int
        As `stroke_depths` gives them.

    Returns
    -------
    np.ndarray
        uint8 ``(H, W)``, 0 off the ink.
    """
    ridge = depth.copy()
    if not fast.spread_ridges(depth, ridge, deepest):
        _spread_ridges(depth, ridge, deepest)
    _absorb_bumps(ridge)
    return ridge


# 8-neighbours as offsets into an array framed by one pixel.
_NEIGHBOURS = [(dy, dx) for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)]


def _absorb_bumps(ridge: np.ndarray, rounds: int = 2) -> None:
    """Give bumps on a stroke's outline that stroke's ridge, in place.

    A ridge pixel with fewer than two neighbours of its own ridge and a deeper one
    beside it is a pixel or two sticking out of a wider stroke (a jagged edge, a
    pointed end), not a stroke of its own: cut as one, it would grow into a speck
    or a spur. A hairline, however thin, has two such neighbours along its length.
    """
    if fast.absorb_bumps(ridge, rounds):
        return
    h, w = ridge.shape
    framed = np.zeros((h + 2, w + 2), np.uint8)
    for _ in range(rounds):
        framed[1:-1, 1:-1] = ridge
        same = np.zeros((h, w), np.uint8)
        deeper = np.zeros((h, w), np.uint8)
        for dy, dx in _NEIGHBOURS:
            near = framed[dy : dy + h, dx : dx + w]
            same += near == ridge
            np.maximum(deeper, near, out=deeper)
        bumps = (ridge > 0) & (same < 2) & (deeper > ridge)
        if not bumps.any():
            return
        ridge[bumps] = deeper[bumps]


def _spread_ridges(depth: np.ndarray, ridge: np.ndarray, deepest: int) -> None:
    """From the deepest layer down, give each pixel its deeper neighbours' ridge."""
    for level in range(deepest, 1, -1):
        # Only the box of the pixels this deep or one less takes part.
        rows = np.flatnonzero((depth >= level - 1).any(axis=1))
        cols = np.flatnonzero((depth >= level - 1).any(axis=0))
        box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        here, heights = depth[box], ridge[box]
        above = _max_around(np.where(here == level, heights, 0).astype(np.uint8))
        np.maximum(heights, above, out=heights, where=here == level - 1)


def grow_into_paper(ridge: np.ndarray, steps: int) -> None:
    """Give paper pixels within ``steps`` of a stroke its ridge depth, in place."""
    if fast.grow_into_paper(ridge, steps):
        return
    for _ in range(steps):
        np.copyto(ridge, _max_around(ridge), where=ridge == 0)


def _eroded(ink: np.ndarray, square: bool) -> np.ndarray:
    """Ink whose 3x3 square (or 4-neighbour cross) is all ink; paper beyond edges."""
    rows = ink.copy()
    rows[1:] &= ink[:-1]
    rows[:-1] &= ink[1:]
    rows[0] = rows[-1] = False
    if square:
        out = rows.copy()
        out[:, 1:] &= rows[:, :-1]
        out[:, :-1] &= rows[:, 1:]
    else:
        out = rows
        out[:, 1:] &= ink[:, :-1]
        out[:, :-1] &= ink[:, 1:]
    out[:, 0] = out[:, -1] = False
    return out


def _max_around(values: np.ndarray) -> np.ndarray:
    """Return the maximum over each pixel's 3x3 square (0 beyond the edges)."""
    rows = values.copy()
    np.maximum(rows[1:], values[:-1], out=rows[1:])
    np.maximum(rows[:-1], values[1:], out=rows[:-1])
    out = rows.copy()
    np.maximum(out[:, 1:], rows[:, :-1], out=out[:, 1:])
    np.maximum(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out
