"""Pen strokes as pixels: draw them, measure their pen, and change it.

Owns `render_strokes` (one image, the canvas's pen), `render_segments` (a batch of
images, one or more line segments each), `pen_widths` (the width of the pen that
drew each image) and `cut_levels` (where to cut blurred strokes to get another
pen width). Used by the drawing conversion, the augmentation and the made-up
training material; never imports Qt, never reads files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core import fast

__all__ = ["cut_levels", "pen_widths", "render_segments", "render_strokes"]

# A stroke is the ink at or above this share of the image's peak (for counting
# pieces and holes).
_STROKE_LEVEL = 0.5
_END_EFFECT = 0.01


def render_strokes(
    strokes: Sequence[np.ndarray],
    width: float,
    shape: tuple[int, int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Draw strokes the way the app's canvas pen does: round caps and joins.

    Coverage is ``clip(width / 2 + 0.5 - distance, 0, 1)``, where distance runs from
    the pixel's centre to the nearest point of the polyline: a one-pixel linear
    ramp at the edge, like anti-aliasing. Pixel ``(row, col)`` has its centre at
    ``(x, y) = (col + 0.5, row + 0.5)``, as in Qt.

    Parameters
    ----------
    strokes : sequence of np.ndarray
        Each ``(n, 2)`` points ``(x, y)`` in pixels, ``n >= 1`` (one point is a dot).
    width : float
        Pen width in pixels.
    shape : tuple of int
        ``(H, W)`` of the image.
    out : np.ndarray, optional
        float32 ``(H, W)`` to draw on (ink is combined with ``max``).

    Returns
    -------
    np.ndarray
        float32 ``(H, W)`` coverage in ``[0, 1]``.
    """
    H, W = int(shape[0]), int(shape[1])
    if out is None:
        out = np.zeros((H, W), np.float32)
    reach = width / 2.0 + 0.5
    for stroke in strokes:
        points = np.asarray(stroke, np.float64).reshape(-1, 2)
        if len(points) == 0:
            continue
        if len(points) == 1:
            points = np.vstack([points, points])
        starts, ends = points[:-1], points[1:]
        # Only the pixels near the stroke: its bounding box widened by the pen.
        x0 = max(int(np.floor(points[:, 0].min() - reach)), 0)
        x1 = min(int(np.ceil(points[:, 0].max() + reach)) + 1, W)
        y0 = max(int(np.floor(points[:, 1].min() - reach)), 0)
        y1 = min(int(np.ceil(points[:, 1].max() + reach)) + 1, H)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
        distance = _distance_to_segments(centres, starts, ends)
        coverage = np.clip(reach - distance, 0.0, 1.0).reshape(y1 - y0, x1 - x0)
        np.maximum(out[y0:y1, x0:x1], coverage, out=out[y0:y1, x0:x1])
    return out


def render_segments(
    starts: np.ndarray,
    ends: np.ndarray,
    widths: np.ndarray,
    shape: tuple[int, int],
) -> np.ndarray:
    """Draw line segments on a batch of images, all at once.

    Parameters
    ----------
    starts, ends : np.ndarray
        float ``(B, S, 2)`` segment end points ``(x, y)`` in pixels (centres at
        ``+0.5``); a segment whose start is NaN is not drawn.
    widths : np.ndarray
        float ``(B,)`` or ``(B, S)`` pen widths in pixels.
    shape : tuple of int
        ``(H, W)`` of each image.

    Returns
    -------
    np.ndarray
        float32 ``(B, H, W)`` coverage in ``[0, 1]``, the segments combined with max.
    """
    starts = np.asarray(starts, np.float32)
    ends = np.asarray(ends, np.float32)
    B, S = starts.shape[:2]
    H, W = int(shape[0]), int(shape[1])
    widths = np.broadcast_to(np.asarray(widths, np.float32).reshape(B, -1), (B, S))
    image, slot = np.nonzero(~np.isnan(starts[:, :, 0]))
    # Each segment over the pixels it reaches only, compiled (the same bits).
    compiled = np.zeros((B, H, W), np.float32)
    ends_xy = np.nan_to_num(
        np.concatenate([starts[image, slot], ends[image, slot]], axis=1).T
    )
    reach = widths[image, slot] / 2 + 0.5
    if fast.draw_segments(
        np.ascontiguousarray(ends_xy), np.ascontiguousarray(image), reach, compiled, 0.5
    ):
        return compiled
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32) + np.float32(0.5)
    out = np.zeros((B, H * W), np.float32)
    px, py = xs.ravel(), ys.ravel()
    for s in range(S):
        a, b = starts[:, s], ends[:, s]
        drawn = ~np.isnan(a[:, 0])
        if not drawn.any():
            continue
        a, b = np.nan_to_num(a), np.nan_to_num(b)
        d = b - a
        length2 = np.maximum((d * d).sum(axis=1), np.float32(1e-12))
        # Projection of every pixel centre on the segment, clamped to its ends.
        t = (px[None, :] - a[:, :1]) * d[:, :1] + (py[None, :] - a[:, 1:]) * d[:, 1:]
        t /= length2[:, None]
        np.clip(t, 0.0, 1.0, out=t)
        dx = px[None, :] - a[:, :1] - t * d[:, :1]
        dy = py[None, :] - a[:, 1:] - t * d[:, 1:]
        coverage = widths[:, s, None] / 2 + 0.5 - np.sqrt(dx * dx + dy * dy)
        np.clip(coverage, 0.0, 1.0, out=coverage)
        coverage *= drawn[:, None]
        np.maximum(out, coverage, out=out)
    return out.reshape(B, H, W)


def _distance_to_segments(
    points: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Distance from each of ``points`` (P, 2) to the nearest of the segments."""
    d = ends - starts  # (S, 2)
    length2 = np.maximum((d * d).sum(axis=1), 1e-12)
    best = np.full(len(points), np.inf)
    # Chunks of segments keep the (P, S) work arrays small.
    step = max(1, 200_000 // max(len(points), 1))
    for first in range(0, len(starts), step):
        a, v = starts[first : first + step], d[first : first + step]
        rel = points[:, None, :] - a[None, :, :]
        t = np.clip((rel * v[None]).sum(axis=2) / length2[first : first + step], 0, 1)
        gap = rel - t[..., None] * v[None]
        np.minimum(best, np.sqrt((gap * gap).sum(axis=2)).min(axis=1), out=best)
    return best


def pen_widths(images: np.ndarray) -> np.ndarray:
    """Width of the round pen that drew each image, in pixels.

    Ink drawn with a round pen of width w along centre lines of total length L has
    area A = w L + chi pi w^2 / 4 and outline P = 2 L + chi pi w, where chi is the
    ink's Euler number (pieces minus holes: each piece of stroke has two round
    ends, each loop none, each crossing takes about two ends' worth away).
    Eliminating L: chi pi w^2 / 4 - P w / 2 + A = 0, exact for a stroke, a ring and
    a dot. The outline is the ink's total variation (the length of its gradient
    over 2x2 cells, nearly the same in every direction), so soft edges count.

    Parameters
    ----------
    images : np.ndarray
        ``(B, H, W)`` ink, bright on 0, each scaled by its own peak.

    Returns
    -------
    np.ndarray
        float64 ``(B,)`` (0 for an empty image). Below about 2 px the soft edges
        make it read wide.
    """
    ink = np.asarray(images, np.float32)
    peak = ink.max(axis=(1, 2), keepdims=True)
    padded = np.zeros((ink.shape[0], ink.shape[1] + 2, ink.shape[2] + 2), np.float32)
    np.divide(ink, np.where(peak > 0, peak, 1), out=padded[:, 1:-1, 1:-1])
    area = padded.sum(axis=(1, 2), dtype=np.float64)
    # The gradient over each cell from its two diagonals u and v:
    # gx = (u + v) / 2, gy = (u - v) / 2, so |g|^2 = (u^2 + v^2) / 2.
    u = padded[:, 1:, 1:] - padded[:, :-1, :-1]
    v = padded[:, :-1, 1:] - padded[:, 1:, :-1]
    u *= u
    v *= v
    u += v
    np.sqrt(u, out=u)
    outline = u.sum(axis=(1, 2), dtype=np.float64) * math.sqrt(0.5)
    safe_outline = np.maximum(outline, 1e-12)
    plain = 2.0 * area / safe_outline
    # The ends change the width by about chi pi w / (4 L), with L about half the
    # outline: pieces and holes are counted only where that can exceed 1% (a pen
    # wide for its strokes' length).
    if not np.any(math.pi * plain / (2.0 * safe_outline) > _END_EFFECT):
        return np.where(outline > 0, plain, 0.0)
    chi = fast.euler_numbers(padded, _STROKE_LEVEL)
    if chi is None:
        chi = _euler_numbers(padded >= _STROKE_LEVEL)
    chi = np.clip(chi, -2, 3).astype(np.float64)
    disc = np.sqrt(np.maximum(outline * outline - 4.0 * chi * math.pi * area, 0.0))
    solved = (outline - disc) / (np.where(chi == 0, 1.0, chi) * math.pi)
    return np.where(outline > 0, np.where(chi == 0, plain, solved), 0.0)


def cut_levels(have, want, sigma):
    """Where to cut blurred strokes ``have`` wide so they come out ``want`` wide.

    Across a straight stroke of width a and full ink, a Gaussian blur of ``sigma``
    gives Phi((x + a/2) / sigma) - Phi((x - a/2) / sigma). Its value at
    x = want / 2 is the level to cut at; its slope there turns the cut into a
    one-pixel soft edge: ``clip((blurred - level) / slope + 0.5, 0, 1)``.

    Parameters
    ----------
    have, want, sigma : float or np.ndarray
        Widths and blur in pixels (broadcast together).

    Returns
    -------
    level, slope : np.ndarray
        float64, per full ink (multiply both by the ink's peak).
    """
    have, want, sigma = np.broadcast_arrays(
        np.asarray(have, np.float64),
        np.asarray(want, np.float64),
        np.asarray(sigma, np.float64),
    )
    high = (want + have) / (2.0 * sigma)
    low = (want - have) / (2.0 * sigma)
    level = 0.5 * (_erf(high / math.sqrt(2.0)) - _erf(low / math.sqrt(2.0)))
    slope = (np.exp(-0.5 * low * low) - np.exp(-0.5 * high * high)) / (
        sigma * math.sqrt(2.0 * math.pi)
    )
    return level, np.maximum(slope, 1e-6)


def _erf(x: np.ndarray) -> np.ndarray:
    """``math.erf`` of each value (np.vectorize's set-up costs more per call)."""
    return np.array([math.erf(v) for v in x.ravel().tolist()]).reshape(x.shape)


def _euler_numbers(ink: np.ndarray) -> np.ndarray:
    """Pieces minus holes of each zero-padded boolean image, 8-connected.

    Gray's bit quads: each 2x2 square adds +1 to 4 chi with one inked pixel, -1
    with three, -2 with two on a diagonal. Counted in uint8 and bool temporaries,
    an eighth the size of the int64 codes a histogram of the patterns would need.
    """
    ink = ink.view(np.uint8)
    a, b = ink[:, :-1, :-1], ink[:, :-1, 1:]
    c, d = ink[:, 1:, :-1], ink[:, 1:, 1:]
    inked = a + b
    inked += c
    inked += d
    axes = (1, 2)
    ones = np.count_nonzero(inked == 1, axis=axes)
    threes = np.count_nonzero(inked == 3, axis=axes)
    diagonals = np.count_nonzero((inked == 2) & (a == d), axis=axes)
    return (ones - threes - 2 * diagonals) // 4
