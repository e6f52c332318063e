"""Digits the way people draw them, made from MNIST's own digits, a batch at a time.

Owns `restroke` (redraw every stroke with a pen of a chosen width) and
`add_style_strokes` (give 1s a flag, a long European flag or a foot, 7s a crossbar,
6s a hook at the top and 9s a curled tail or handwriting's long hook to the left:
the styles MNIST has few of, print's among them), both on 28x28 images in the
layout of `core.preprocess` and vectorised over the batch; the strokes' pen runs
compiled through `core.fast` when it can (the same bits). Used by `core.augment`;
NumPy, never imports Qt.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from core import fast
from core.strokes import cut_levels, pen_widths

__all__ = [
    "HALF_TURNS",
    "STYLED_DIGITS",
    "add_style_strokes",
    "half_turns",
    "restroke",
    "styled_mask",
]

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
_CURL_STEPS = np.linspace(0.0, 1.0, _CURL_SEGMENTS + 1)
# The styled 9s whose stems end in handwriting's hook, a long tail to the
# left: how far it reaches (of the digit's height), how far it drops before it
# runs left (of its reach), how far it turns (of a half turn: a quarter runs
# level), and how much smaller a hooked 9's bowl gets (as `_BOWL_GROWTH`).
_HOOK_SHARE = 0.5
_HOOK_ACROSS = (0.3, 0.6)
_HOOK_RISE = (0.25, 0.55)
_HOOK_SWEEP = (0.45, 0.6)
_HOOK_BOWL = (0.0, 0.15)
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
    chosen = rng.random(len(styled)) < _HALF_TURN_SHARE
    chosen &= styled_mask(labels[styled], tuple(HALF_TURNS))
    chosen = styled[chosen]
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

    And 9s a tail that curls to the left, as print has them, or half of them
    handwriting's hook: a long tail running level to the left, the bowl smaller.
    The new strokes start where the digit's own ink is (the top and the foot of a
    1's stem, a 7's stem from its middle down, the top of a 6, the bottom of a 9),
    follow its slant, are as wide as its strokes, and the digit is moved back so
    its centre of mass stays in place. Other labels pass through unchanged.

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
    out = np.array(images, np.float32)
    labels = np.asarray(labels).reshape(-1)
    picked = np.flatnonzero(styled_mask(labels))
    if len(picked) == 0:
        return out
    digits = labels[picked]
    ink = out[picked]
    ink *= np.float32(1.0 / max_value)
    k, H, W = ink.shape
    centre_before = _centres(ink)
    # Every choice and size, uniform in [0, 1) per image until scaled below, and
    # the 7s' tilt: two draws for the batch (small NumPy calls cost more than their
    # arithmetic here).
    (
        grow,
        wider,
        long_flag,
        long_flag_size,
        short_flag_size,
        long_flag_angle,
        short_flag_angle,
        foot,
        foot_size,
        bar_height,
        bar_size,
        curl_size,
        curl_rise,
        curl_sweep,
        hook,
    ) = rng.random((15, k))
    tilt = rng.standard_normal(k)
    ones, sixes, nines = digits == 1, digits == 6, digits == 9
    # Handwriting's hook: the stem of a 9 (its bowl small) ends in a long tail to
    # the left, a J; the other 9s get print's curled tail and big bowl.
    hooked = nines & (hook < _HOOK_SHARE)
    curls = sixes | (nines & ~hooked)
    # 6s and 9s get print's big round bowl: the rows where the bowl meets the stem
    # move toward the stem's end (the bowl grows, the stem shortens), and the
    # digit widens; a hooked 9's bowl shrinks.
    bowls = curls | hooked
    if bowls.any():
        grow = np.where(
            hooked, -_between(grow, _HOOK_BOWL), _between(grow, _BOWL_GROWTH)
        )
        where = np.where(sixes, _BOWL_TOP, 1.0 - _BOWL_TOP)
        to = np.where(sixes, where - grow, where + grow)
        wider = np.where(hooked, 1.0, _between(wider, _BOWL_WIDENING))
        ink[bowls] = _bowled(ink[bowls], where[bowls], to[bowls], wider[bowls])
    pen = np.clip(pen_widths(ink), 1.2, 4.0)
    top, bottom, filled = _stems(ink)
    height = np.maximum(bottom - top, 4.0)
    # 7: a crossbar across the stem, a little tilted, at its middle or lower (as
    # handwriting has it, often long).
    middle = top + _between(bar_height, (0.45, 0.75)) * height
    bar = height * _between(bar_size, (0.15, 0.38))
    tilt *= 0.08 * bar
    # 6: from the top, an arch up, over to the right and down, as print has it; 9:
    # the same turned upside down, a tail curled to the left and up. Half an
    # ellipse (or a little more or less) leaving the digit's end as far from it as
    # it rises, so that its top is the digit's top (a 9's tail its bottom). A
    # hooked 9's is wider than it drops and turns only until it runs level.
    across = height * np.where(
        hooked, _between(curl_size, _HOOK_ACROSS), _between(curl_size, (0.12, 0.25))
    )
    rise = across * np.where(
        hooked, _between(curl_rise, _HOOK_RISE), _between(curl_rise, (0.5, 1.0))
    )
    leave = np.where(sixes, top + rise, bottom - rise)
    x_top, x_bottom, x_middle, x_leave = _x_at(
        filled, np.stack([top + 1.0, bottom - 1.0, middle, leave])
    )
    lean = (x_bottom - x_top) / height  # x per row along the stem
    sweep = np.where(
        hooked,
        math.pi * _between(curl_sweep, _HOOK_SWEEP),
        math.pi + _between(curl_sweep, (-0.3, 0.6)),
    )
    t = _CURL_STEPS[None, :] * sweep[:, None]
    # From the leftmost point over the top: x = r (1 - cos t), y = -r' sin t; the
    # curve leans with the digit (x moves by the lean per row it drops).
    side = np.where(sixes, 1.0, -1.0)[:, None]
    curl_y = -side * rise[:, None] * np.sin(t)
    curl_x = side * across[:, None] * (1.0 - np.cos(t)) + lean[:, None] * curl_y
    curl_x += x_leave[:, None]
    curl_y += leave[:, None]
    # Segments as (x0, y0, x1, y1) rows, _CURL_SEGMENTS per image; NaN: none.
    segments = np.stack([curl_x[:, :-1], curl_y[:, :-1], curl_x[:, 1:], curl_y[:, 1:]])
    straight = ~bowls  # the others get no curve: a flag, a foot or a crossbar
    segments[:, straight] = np.nan
    # 1: a flag down and to the left from the top (short, or a long European
    # one), and half the time a foot across the bottom; a 7 its crossbar.
    long_flag = long_flag < 0.4
    flag = height * np.where(
        long_flag,
        _between(long_flag_size, (0.4, 0.6)),
        _between(short_flag_size, (0.15, 0.32)),
    )
    angle = np.radians(
        np.where(
            long_flag,
            _between(long_flag_angle, (35, 60)),
            _between(short_flag_angle, (20, 50)),
        )
    )
    drop = flag * np.sin(angle)
    first = np.where(
        ones,
        [x_top, top, x_top - flag * np.cos(angle) + lean * drop, top + drop],
        [x_middle - bar, middle - tilt, x_middle + bar, middle + tilt],
    )
    segments[:, straight, 0] = first[:, straight]
    feet = ones & (foot < 0.5)
    half = height * _between(foot_size, (0.15, 0.28))
    foot_segment = [x_bottom - half, bottom, x_bottom + half, bottom]
    segments[:, feet, 1] = np.asarray(foot_segment)[:, feet]
    _draw_segments(ink, segments, pen)
    out[picked] = _shifted(ink, np.rint(centre_before - _centres(ink)))
    out[picked] *= np.float32(max_value)
    return out


def styled_mask(
    labels: np.ndarray, digits: tuple[int, ...] = STYLED_DIGITS
) -> np.ndarray:
    """Return which labels get style strokes: ``np.isin(labels, digits)``, faster."""
    labels = np.asarray(labels)
    mask = labels == digits[0]
    for digit in digits[1:]:
        mask |= labels == digit
    return mask


def _between(u: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Uniform draws in [0, 1) scaled to [low, high)."""
    low, high = bounds
    return low + (high - low) * u


def _bowled(
    ink: np.ndarray, where: np.ndarray, to: np.ndarray, wider: np.ndarray
) -> np.ndarray:
    """Move each image's row at ``where`` (of its height) to ``to``; widen it.

    The rows stretch piecewise linearly between the top and the bottom row of the
    ink, which stay put; then the width stretches by ``wider`` (>= 1) about the
    centre of mass. Both are linear interpolations, applied as matrix products.
    """
    k, H, W = ink.shape
    rows = _arange(H)
    has = ink.max(axis=2) > 0
    top = np.where(has, rows, H).min(axis=1)[:, None]
    bottom = np.where(has, rows, -1).max(axis=1)[:, None]
    span = np.maximum(bottom - top, 1.0)
    u = (rows - top) / span
    a, b = where[:, None], to[:, None]
    source = np.where(u < b, u * a / b, a + (u - b) * (1.0 - a) / (1.0 - b))
    source = np.where((u >= 0) & (u <= 1), top + source * span, rows)
    moved = _interpolation(np.clip(source, 0, H - 1, out=source)) @ ink
    columns = moved.sum(axis=1)
    cx = (columns @ _arange(W) / np.maximum(columns.sum(axis=1), 1e-6))[:, None]
    # Between the column itself and the centre: inside the image.
    source = cx + (_arange(W) - cx) / wider[:, None]
    return moved @ _interpolation(source).transpose(0, 2, 1)


def _interpolation(source: np.ndarray) -> np.ndarray:
    """Matrices (k, n, n): output i of each reads ``source`` (k, n) in [0, n - 1].

    Linearly between the two nearest whole positions.
    """
    k, n = source.shape
    low = source.astype(np.intp)  # the floor, source >= 0
    t = (source - low).astype(np.float32)
    # One spare column takes the weight 0 beyond the last position.
    matrices = np.zeros((k, n, n + 1), np.float32)
    at = low + np.arange(0, k * n * (n + 1), n + 1).reshape(k, n)
    flat = matrices.reshape(-1)
    flat[at] = 1 - t
    flat[at + 1] = t
    return matrices[:, :, :n]


def _stems(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top and bottom rows of the strong ink, and its x on every row (k, H)."""
    k, H, W = ink.shape
    weight = np.where(ink >= _INK, ink, np.float32(0.0))
    row_mass = weight.sum(axis=2)
    known = row_mass > 0
    rows = np.arange(H)
    top = np.where(known, rows, H).min(axis=1).astype(np.float64)
    bottom = np.where(known, rows, -1).max(axis=1).astype(np.float64)
    row_x = (weight @ np.arange(W, dtype=np.float32)) / np.maximum(row_mass, 1e-6)
    return top, bottom, _fill_rows(row_x, known)


def _x_at(filled: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each image's x at rows ``y`` (m, k), between whole rows linearly."""
    k, H = filled.shape
    y = np.clip(y, 0, H - 1)
    low = y.astype(np.intp)  # y >= 0: the floor
    t = y - low
    low += np.arange(0, k * H, H)
    high = low + (t > 0)  # t > 0 only below the last row
    flat = filled.ravel()
    return flat[low] * (1 - t) + flat[high] * t


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


def _centres(ink: np.ndarray) -> np.ndarray:
    """Centres of mass (2, k): row and column."""
    k, H, W = ink.shape
    mass = np.maximum(ink.sum(axis=(1, 2)), 1e-6)
    return np.stack([ink.sum(axis=2) @ _arange(H), ink.sum(axis=1) @ _arange(W)]) / mass


def _shifted(ink: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Shift each image by whole pixels ``shift`` (2, k): rows, columns (as np.roll)."""
    k, H, W = ink.shape
    # Output pixel (r, c) reads (r - dy, c - dx).
    dy, dx = shift.astype(np.intp)
    source_rows = (np.arange(H) - dy[:, None]) % H
    source_cols = (np.arange(W) - dx[:, None]) % W
    source_rows *= W
    source_rows += np.arange(0, k * H * W, H * W)[:, None]
    flat = source_rows[:, :, None] + source_cols[:, None, :]
    return ink.ravel()[flat]


def _draw_segments(ink: np.ndarray, segments: np.ndarray, pens: np.ndarray) -> None:
    """Draw each image's segments (4, k, S) on ``ink`` (k, H, W), with its pen (k,).

    Coordinates are pixel columns and rows (a pixel's centre is whole); a NaN
    segment is not drawn. The pen of `core.strokes.render_segments`; its ink is
    combined with the image's by max. Compiled when it can be (the same bits).
    """
    k, H, W = ink.shape
    image, slot = np.nonzero(~np.isnan(segments[0]))
    image = np.ascontiguousarray(image)  # nonzero gives strided views
    ends = segments[:, image, slot].astype(np.float32, order="C")
    reach = (pens[image] / 2 + 0.5).astype(np.float32)
    if fast.draw_segments(ends, image, reach, ink):
        return
    x0, y0, x1, y1 = ends[..., None]
    dx, dy = x1 - x0, y1 - y0
    length2 = np.maximum(dx * dx + dy * dy, np.float32(1e-12))
    columns, rows = _pixel_centres(H, W)
    rx, ry = columns - x0, rows - y0
    # Projection of every pixel centre on the segment, clamped to its ends.
    t = rx * dx
    t += ry * dy
    t /= length2
    np.clip(t, 0.0, 1.0, out=t)
    rx -= t * dx
    ry -= t * dy
    rx *= rx
    ry *= ry
    rx += ry
    np.sqrt(rx, out=rx)
    coverage = reach[:, None] - rx
    np.clip(coverage, 0.0, 1.0, out=coverage)
    layers = np.zeros((k, segments.shape[2], H * W), np.float32)
    layers[image, slot] = coverage
    np.maximum(ink, layers.max(axis=1).reshape(k, H, W), out=ink)


@functools.cache
def _arange(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


@functools.cache
def _pixel_centres(H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.mgrid[0:H, 0:W].astype(np.float32)
    return columns.ravel(), rows.ravel()


def _gaussians(size: int, sigma: np.ndarray) -> np.ndarray:
    """Blur matrices (B, size, size), one Gaussian of unit sum per image."""
    d = np.arange(size, dtype=np.float32)
    diff = (d[:, None] - d[None, :]) ** 2
    s = sigma.astype(np.float32)[:, None, None]
    kernel = np.exp(-0.5 * diff[None] / (s * s))
    kernel /= s * np.float32(math.sqrt(2.0 * math.pi))
    return kernel
