"""Digits the way people draw them, made from MNIST's own digits, a batch at a time.

Owns `restroke` (redraw every stroke with a pen of a chosen width) and
`add_style_strokes` (give 1s a flag, a long European flag or a foot, 7s a crossbar,
6s a hook at the top and 9s a curled tail: the styles MNIST has few of, print's
among them), both on 28x28 images in the layout of `core.preprocess` and vectorised
over the batch. Used by `core.augment`; pure NumPy, never imports Qt.
"""

from __future__ import annotations

import math

import numpy as np

from core.strokes import cut_levels, pen_widths, render_segments

__all__ = ["HALF_TURNS", "STYLED_DIGITS", "add_style_strokes", "half_turns", "restroke"]

# The digits that get style strokes.
STYLED_DIGITS = (1, 6, 7, 9)
# A digit turned upside down is another: a 9 turned is a 6 with a straight stem
# and a big round bowl, a 6 turned a 9 with a curled tail (as print has them).
HALF_TURNS = {6: 9, 9: 6}
_HALF_TURN_SHARE = 0.5  # of the styled 6s and 9s
# Where a 6's bowl begins, as a share of its height from the top (a 9's bowl ends
# as far from the bottom), and how much higher (lower) print puts it.
_BOWL_TOP = 0.55
_BOWL_GROWTH = (0.05, 0.2)
_BOWL_WIDENING = (1.0, 1.4)
# A 6's arch or a 9's curled tail: half an ellipse in this many segments.
_CURL_SEGMENTS = 6
# Thinner than this a blur is not a Gaussian on a pixel grid.
_MIN_SIGMA = 0.6
_INK = 0.5  # share of full ink that counts as a stroke when finding a stem


def restroke(
    images: np.ndarray, widths: np.ndarray, max_value: float = 255.0
) -> np.ndarray:
    """Redraw each image's strokes with a pen ``widths[i]`` pixels wide.

    The strokes are blurred and cut where a stroke of the wanted width would end
    (the method of `core.preprocess`), which thickens thin strokes and thins thick
    ones without breaking them: a drawing made with a steady pen of another width.

    Parameters
    ----------
    images : np.ndarray
        ``(B, H, W)`` bright ink on 0, in ``0..max_value``.
    widths : np.ndarray
        ``(B,)`` wanted pen widths in pixels.

    Returns
    -------
    np.ndarray
        float32 ``(B, H, W)`` in ``0..max_value``.
    """
    ink = np.asarray(images, np.float32) * np.float32(1.0 / max_value)
    B, H, W = ink.shape
    want = np.asarray(widths, np.float64).reshape(B)
    have = np.maximum(pen_widths(ink), 0.5)
    sigma = np.maximum(np.maximum(want / 2.4, (have - want) / 3.0), _MIN_SIGMA)
    rows = _gaussians(H, sigma)
    cols = rows if H == W else _gaussians(W, sigma)
    blurred = rows @ ink @ cols.transpose(0, 2, 1)
    # The pixels add a box blur of variance 1/12.
    level, slope = cut_levels(have, want, np.sqrt(sigma * sigma + 1.0 / 12.0))
    peak = np.maximum(ink.max(axis=(1, 2)), 1e-6)
    blurred -= (peak * level).astype(np.float32)[:, None, None]
    blurred *= (1.0 / (peak * np.maximum(slope, 1e-6))).astype(np.float32)[
        :, None, None
    ]
    blurred += np.float32(0.5)
    np.clip(blurred, 0.0, 1.0, out=blurred)
    blurred *= np.float32(max_value)
    return blurred


def half_turns(
    labels: np.ndarray, styled: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Choose styled 6s and 9s to be replaced by a 9 or a 6 of the batch, turned.

    Parameters
    ----------
    labels : np.ndarray
        int ``(B,)`` digits of the batch.
    styled : np.ndarray
        intp ``(k,)`` the images chosen for styles.
    rng : np.random.Generator
        Chooses half of the styled 6s and 9s, and a partner for each.

    Returns
    -------
    turned, partners : np.ndarray
        intp ``(m,)`` each: image ``turned[i]`` becomes image ``partners[i]`` turned
        upside down (``image[::-1, ::-1]``), a digit of the same label; none when
        the batch has no partner of the other label.
    """
    labels = np.asarray(labels).reshape(-1)
    styled = np.asarray(styled, np.intp)
    chosen = styled[
        np.isin(labels[styled], tuple(HALF_TURNS))
        & (rng.random(len(styled)) < _HALF_TURN_SHARE)
    ]
    turned, partners = [np.empty(0, np.intp)], [np.empty(0, np.intp)]
    for digit, other in HALF_TURNS.items():
        mine = chosen[labels[chosen] == digit]
        pool = np.flatnonzero(labels == other)
        if len(mine) and len(pool):
            turned.append(mine)
            partners.append(pool[rng.integers(0, len(pool), len(mine))])
    return np.concatenate(turned), np.concatenate(partners)


def add_style_strokes(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    max_value: float = 255.0,
) -> np.ndarray:
    """Give 1s a flag (short or long) and maybe a foot, 7s a crossbar, 6s a hook.

    And 9s a tail that curls to the left, as print has them. The new strokes start
    where the digit's own ink is (the top and the foot of a 1's stem, the middle of
    a 7's stem, the top of a 6, the bottom of a 9), follow its slant, are as wide
    as its strokes, and the digit is moved back so its centre of mass stays in
    place. Other labels pass through unchanged.

    Parameters
    ----------
    images : np.ndarray
        ``(B, H, W)`` bright ink on 0, centred as MNIST is.
    labels : np.ndarray
        int ``(B,)`` digits.
    rng : np.random.Generator
        Chooses the styles and their sizes.

    Returns
    -------
    np.ndarray
        float32 ``(B, H, W)`` in ``0..max_value``.
    """
    out = np.asarray(images, np.float32).copy()
    labels = np.asarray(labels).reshape(-1)
    picked = np.flatnonzero(np.isin(labels, STYLED_DIGITS))
    if len(picked) == 0:
        return out
    ink = out[picked] * np.float32(1.0 / max_value)
    k, H, W = ink.shape
    # 6s and 9s get print's big round bowl: the rows where the bowl meets the stem
    # move toward the stem's end (the bowl grows, the stem shortens), and the
    # digit widens.
    bowls = np.isin(labels[picked], (6, 9))
    if bowls.any():
        grow = rng.uniform(*_BOWL_GROWTH, k)
        wider = rng.uniform(*_BOWL_WIDENING, k)
        where = np.where(labels[picked] == 6, _BOWL_TOP, 1.0 - _BOWL_TOP)
        to = np.where(labels[picked] == 6, where - grow, where + grow)
        moved = _moved_junction(ink[bowls], where[bowls], to[bowls])
        ink[bowls] = _widened(moved, wider[bowls])
    top, bottom, x_top, x_bottom, x_at = _stems(ink)
    height = np.maximum(bottom - top, 4.0)
    lean = (x_bottom - x_top) / height  # x per row along the stem
    pen = np.clip(pen_widths(ink), 1.2, 4.0)
    starts = np.full((k, _CURL_SEGMENTS, 2), np.nan, np.float32)
    ends = np.full((k, _CURL_SEGMENTS, 2), np.nan, np.float32)
    ones = labels[picked] == 1
    # 1: a flag down and to the left from the top (short, or a long European one),
    # and half the time a foot across the bottom.
    long_flag = rng.random(k) < 0.4
    flag = height * np.where(
        long_flag, rng.uniform(0.4, 0.6, k), rng.uniform(0.15, 0.32, k)
    )
    angle = np.radians(
        np.where(long_flag, rng.uniform(35, 60, k), rng.uniform(20, 50, k))
    )
    drop = flag * np.sin(angle)
    tip = np.stack(
        [x_top + 0.5 - flag * np.cos(angle) + lean * drop, top + 0.5 + drop], 1
    )
    base = np.stack([x_top + 0.5, top + 0.5], 1)
    foot = rng.random(k) < 0.5
    half = height * rng.uniform(0.15, 0.28, k)
    centre = np.stack([x_bottom + 0.5, bottom + 0.5], 1)
    # 7: a crossbar through the middle of the stem, a little tilted.
    middle = top + rng.uniform(0.45, 0.6, k) * height
    x_mid = x_at(middle)
    bar = height * rng.uniform(0.15, 0.28, k)
    tilt = rng.normal(0.0, 0.08, k) * bar
    mid = np.stack([x_mid + 0.5, middle + 0.5], 1)
    across = np.stack([bar, tilt], 1)
    starts[:, 0] = np.where(ones[:, None], base, mid - across)
    ends[:, 0] = np.where(ones[:, None], tip, mid + across)
    feet = ones & foot
    sideways = np.stack([half, np.zeros(k)], 1)[feet]
    starts[feet, 1] = centre[feet] - sideways
    ends[feet, 1] = centre[feet] + sideways
    # 6: from the top, an arch up, over to the right and down, as print has it; 9:
    # the same turned upside down, a tail curled to the left and up. Half an
    # ellipse (or a little more or less) leaving the digit's end.
    curls = np.isin(labels[picked], (6, 9))
    if curls.any():
        across = height * rng.uniform(0.12, 0.25, k)
        rise = across * rng.uniform(0.5, 1.0, k)
        sweep = math.pi + rng.uniform(-0.3, 0.6, k)
        t = np.linspace(0.0, 1.0, _CURL_SEGMENTS + 1)[None, :] * sweep[:, None]
        # From the leftmost point over the top: x = r (1 - cos t), y = -r' sin t.
        along = np.stack(
            [across[:, None] * (1.0 - np.cos(t)), -rise[:, None] * np.sin(t)], -1
        )
        sixes = labels[picked] == 6
        along[~sixes] *= -1.0
        # The curve leans with the digit: x moves by the lean per row it drops.
        along[..., 0] += lean[:, None] * along[..., 1]
        # It leaves the stem as far from the end as it rises, so that its top is
        # the digit's top (a 9's tail its bottom).
        y = np.where(sixes, top + rise, bottom - rise)
        origin = np.stack([x_at(y) + 0.5, y + 0.5], 1)
        points = origin[:, None, :] + along
        starts[curls] = points[curls, :-1]
        ends[curls] = points[curls, 1:]
    strokes = render_segments(starts, ends, pen, (H, W))
    np.maximum(ink, strokes, out=ink)
    out[picked] = _recentred(ink, out[picked] * np.float32(1.0 / max_value)) * max_value
    return out


def _moved_junction(ink: np.ndarray, where: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Stretch the rows of each image: its row at ``where`` (of its height) to ``to``.

    Piecewise linear between the top and the bottom row of the ink, which stay put.
    """
    k, H, W = ink.shape
    rows = np.arange(H, dtype=np.float64)
    has = ink.max(axis=2) > 0
    top = np.where(has, rows, H).min(axis=1)
    bottom = np.where(has, rows, -1).max(axis=1)
    span = np.maximum(bottom - top, 1.0)[:, None]
    u = (rows[None, :] - top[:, None]) / span
    a, b = where[:, None], to[:, None]
    source = np.where(u < b, u * a / b, a + (u - b) * (1.0 - a) / (1.0 - b))
    source = np.where((u >= 0) & (u <= 1), top[:, None] + source * span, rows)
    low = np.clip(np.floor(source), 0, H - 1).astype(np.intp)
    high = np.minimum(low + 1, H - 1)
    t = np.clip(source - low, 0.0, 1.0).astype(np.float32)[..., None]
    index = np.arange(k)[:, None]
    return ink[index, low] * (1 - t) + ink[index, high] * t


def _widened(ink: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Stretch each image's width by ``factor`` about its centre of mass."""
    k, H, W = ink.shape
    cols = np.arange(W, dtype=np.float64)
    mass = np.maximum(ink.sum(axis=(1, 2)), 1e-6)
    cx = ink.sum(axis=1) @ cols / mass
    source = cx[:, None] + (cols[None, :] - cx[:, None]) / factor[:, None]
    low = np.floor(source).astype(np.intp)
    t = (source - low).astype(np.float32)[:, None, :]
    inside = ((low >= 0) & (low < W)).astype(np.float32)[:, None, :]
    after = ((low + 1 >= 0) & (low + 1 < W)).astype(np.float32)[:, None, :]
    index = np.arange(k)[:, None, None]
    rows = np.arange(H)[None, :, None]
    left = ink[index, rows, np.clip(low, 0, W - 1)[:, None, :]] * inside
    right = ink[index, rows, np.clip(low + 1, 0, W - 1)[:, None, :]] * after
    return left * (1 - t) + right * t


def _stems(ink: np.ndarray):
    """Top and bottom rows of the ink, its x there, and x along the rows."""
    k, H, W = ink.shape
    strong = ink >= _INK
    has = strong.any(axis=2)
    rows = np.arange(H)
    top = np.where(has, rows, H).min(axis=1).astype(np.float64)
    bottom = np.where(has, rows, -1).max(axis=1).astype(np.float64)
    weight = np.where(strong, ink, 0.0)
    row_mass = weight.sum(axis=2)
    row_x = (weight @ np.arange(W, dtype=np.float32)) / np.maximum(row_mass, 1e-6)
    filled = _fill_rows(row_x, row_mass > 0)
    index = np.arange(k)

    def x_at(y: np.ndarray) -> np.ndarray:
        y = np.clip(y, 0, H - 1)
        low = np.floor(y).astype(np.intp)
        high = np.minimum(low + 1, H - 1)
        t = y - low
        return filled[index, low] * (1 - t) + filled[index, high] * t

    return top, bottom, x_at(top + 1.0), x_at(bottom - 1.0), x_at


def _fill_rows(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rows without ink take values between the nearest rows with some (per image)."""
    k, H = values.shape
    rows = np.broadcast_to(np.arange(H), (k, H))
    before = np.maximum.accumulate(np.where(known, rows, -1), axis=1)
    after = np.minimum.accumulate(np.where(known, rows, H)[:, ::-1], axis=1)[:, ::-1]
    # Beyond the first or last row with ink, the nearest one counts on both sides.
    low = np.where(before < 0, after, before)
    high = np.where(after >= H, low, after)
    low = np.where(low >= H, high, low)
    empty = ~known.any(axis=1)
    low, high = np.clip(low, 0, H - 1), np.clip(high, 0, H - 1)
    picked = np.arange(k)[:, None]
    a, b = values[picked, low], values[picked, high]
    span = np.maximum(high - low, 1)
    out = a + (b - a) * np.clip((rows - low) / span, 0.0, 1.0)
    out[empty] = (H - 1) / 2.0
    return out


def _recentred(ink: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Shift each image by whole pixels so its centre of mass is where it was."""
    k, H, W = ink.shape
    rows, cols = np.arange(H), np.arange(W)

    def centre(x):
        mass = np.maximum(x.sum(axis=(1, 2)), 1e-6)
        return x.sum(axis=2) @ rows / mass, x.sum(axis=1) @ cols / mass

    y0, x0 = centre(before)
    y1, x1 = centre(ink)
    dy = np.rint(y0 - y1).astype(np.intp)
    dx = np.rint(x0 - x1).astype(np.intp)
    # np.roll of each image: output pixel (r, c) reads (r - dy, c - dx).
    source_rows = (rows[None, :] - dy[:, None]) % H
    source_cols = (cols[None, :] - dx[:, None]) % W
    return ink[
        np.arange(k)[:, None, None], source_rows[:, :, None], source_cols[:, None, :]
    ]


def _gaussians(size: int, sigma: np.ndarray) -> np.ndarray:
    """Blur matrices (B, size, size), one Gaussian of unit sum per image."""
    d = np.arange(size, dtype=np.float32)
    diff = (d[:, None] - d[None, :]) ** 2
    s = sigma.astype(np.float32)[:, None, None]
    kernel = np.exp(-0.5 * diff[None] / (s * s))
    kernel /= s * np.float32(math.sqrt(2.0 * math.pi))
    return kernel
