"""Pen strokes as pixels: anti-aliased, round-capped polylines in NumPy.

Owns `render_strokes` (one image, the canvas's pen) and `render_segments` (a batch of
images, one or more line segments each). Used to make training material and test
drawings without Qt; never imports Qt, never reads files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["render_segments", "render_strokes"]


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
