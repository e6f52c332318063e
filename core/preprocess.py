"""Turn a drawing (a grey-scale canvas of any size) into what a network expects.

Owns `convert_drawing`, `canvas_to_image` and `canvas_to_input`, following the way
each dataset was made (MNIST: strokes as wide as MNIST's, 20x20 box, centre of mass
in 28x28; the 8x8 digits: the UCI 32x32 bitmap counted in 4x4 blocks), and
`stroke_width`. Pure NumPy; must not import Qt or read files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core import fast
from core.datasets import Normalization
from core.ink_turn import turned_ink
from core.slant import deskew
from core.stroke_depth import grow_into_paper, ridge_depths, stroke_depths, thin_share
from core.strokes import cut_levels, pen_widths

__all__ = [
    "MNIST_STROKE_WIDTH",
    "TARGETS",
    "Conversion",
    "PreprocessError",
    "at_dataset_size",
    "canvas_to_image",
    "canvas_to_input",
    "convert_drawing",
    "convert_drawings",
    "stroke_width",
    "target_for_shape",
]

TARGETS: dict[str, tuple[int, int]] = {"mnist": (28, 28), "digits-8x8": (8, 8)}

# Ink weaker than this (fraction of full ink, after removing the background level)
# is treated as paper: it hides scanner noise and JPEG ringing.
_INK_LEVEL = 0.1
# Less ink than this many fully inked pixels counts as "nothing drawn".
_MIN_INK_MASS = 2.0
# The most a drawing is squeezed and stretched sideways (`convert_drawing`'s
# ``widen``).
MIN_WIDEN = 0.5
MAX_WIDEN = 3.0
MAX_TURN = 90  # degrees either way (``turn``)
_MAX_TURNED_CROP = 112  # px: the conversion works on about 80
# MNIST: the longer side of the digit's box becomes 20 px and the centre of mass
# lands on pixel (14, 14) (pixel centres at 0..27), as measured on the dataset itself.
_MNIST_BOX = 20
_MNIST_CENTRE = 14.0
# MNIST's stroke width in its 28x28 frame: the median of `stroke_width` over the
# 60,000 official training images (quartiles 2.13 and 2.91 px).
MNIST_STROKE_WIDTH = 2.48
# The pen width the conversion aims for, in final pixels: drawn digits converted
# with it measure 2.5-2.7 px with `stroke_width` (their crossings and tight turns
# read a little wide), MNIST's median.
_TARGET_PEN = 2.4
# Widths are changed at this many working pixels per final pixel: fine enough for
# sub-pixel widths, small enough to stay well under a millisecond.
_WORK_SCALE = 4
# A pen wider than this many working pixels (a wide pen on a small drawing, or
# strokes run together into a blob) is worked in coarser ones, as one width: the
# blur and the depth test grow with the pen (3-8 ms a drawing at 40-125 of them),
# and on a blob the per-stroke cut reads its filled loops as strokes and cuts it
# to pieces. Bold type's stems stay under it.
_MAX_WORK_PEN = 24
# The stroke blur's kernel ends this many sigmas from its centre.
_BLUR_RADIUS = 4.0
# Crops longer than this are measured and reworked in blocks of pixels.
_MAX_WORK_CROP = 320
# The pen is measured where it is at least about this many pixels wide.
_MEASURE_PEN = 3.0
# Ink at or below this level (after the width change) is outside the digit's box.
_BOX_LEVEL = 0.02
# Strokes of different widths (type's hairlines and stems) are each brought to the
# target when the deepest is at least _DEEP layers deep in working pixels and at
# least _THIN_SHARE of the ink lies in strokes at most _THIN times the pen's width
# (`pen_widths`, which averages over them): 76% of digits set in serif type, 5% in
# sans-serif, 18% of MNIST's digits drawn crisp, 1% of drawn digits and none of the
# teach-it hands (bench.drawings, RESULTS). A pen's blobs (a small loop filled in)
# are wider than its pen, not narrower, and keep the one cut, as they read better.
# Thinner pens are left to the one cut too (depths of a pixel or two say little).
_DEEP = 4
_THIN = 0.6
_THIN_SHARE = 0.07
_MIN_EACH_PEN = 2.5
# A pen far wider than the wanted stroke on a small drawing has run its strokes
# together, and the blur that thins them fills the holes left between them and
# eats the short strokes (a 3's arms, a 6's loop). So such strokes are thinned to
# at most _MAX_THINNING times less (the model reads strokes up to about twice
# MNIST's: its thickness augmentation), and from _PEEL_FROM times the wanted width
# _PEEL_SHARE of the thinning peels layers off the ink (`core.stroke_depth`), which
# opens holes instead of filling them; the blur does the rest and rounds what the
# peel leaves polygonal. Bold type, 1.4-1.9 times, is left to the blur: peeled,
# a bold 4's thinner diagonal faded and it read as 1. bench.drawings: print-like
# digits 97.5 -> 98.5%, not sure 2.2 -> 1.8% (40 px pens 10.7 -> 8.9%), RESULTS.
_MAX_THINNING = 3.0
_PEEL_FROM = 2.0
_PEEL_SHARE = 0.5
_UCI_BITMAP = 32
_UCI_BLOCK = 4


class PreprocessError(ValueError):
    """The canvas or the requested target cannot be converted."""


def target_for_shape(image_shape: tuple[int, int]) -> str:
    """Return the `TARGETS` name whose output has ``image_shape``.

    Raises
    ------
    PreprocessError
        If no drawing conversion produces images of that shape.
    """
    shape = tuple(int(s) for s in image_shape)
    for name, target_shape in TARGETS.items():
        if target_shape == shape:
            return name
    raise PreprocessError(
        f"drawings can be converted to 28x28 (MNIST-style) or 8x8 images, "
        f"not {'x'.join(map(str, shape))}"
    )


@dataclass(frozen=True)
class Conversion:
    """A drawing converted for a network, and what was measured on the way.

    Attributes
    ----------
    image : np.ndarray
        uint8 ``(28, 28)`` (values 0..255) or ``(8, 8)`` (values 0..16), bright ink
        on 0.
    pen_width : float
        Estimated width of the drawn strokes, in canvas pixels.
    size : float
        The drawing's size: the longer side of the box around its strokes' centre
        lines, as a fraction of the canvas's longer side (0 for a dot).
    wide_pen : bool
        The pen is more than `_MAX_THINNING` times MNIST's stroke width for the
        drawing's size, where the thinning stops: its strokes stay wider than
        MNIST's (MNIST target only).
    drawing : bool
        Converted as a drawing: the canvas is larger than the target's images
        (`core.judgement.Judge.judge` holds drawings to a margin of their own).
    """

    image: np.ndarray
    pen_width: float
    size: float
    wide_pen: bool = False
    drawing: bool = True


def convert_drawing(
    canvas: np.ndarray,
    target: str | tuple[int, int],
    ink_is_bright: bool | None = None,
    normalize_stroke: bool = True,
    widen: float = 1.0,
    turn: float = 0.0,
) -> Conversion | None:
    """Convert a drawing into an image made the way the target dataset was made.

    For MNIST the strokes are first brought to MNIST's width, whatever pen drew
    them: the pen's width is estimated (`core.strokes.pen_widths`), then the ink is
    blurred and cut where a stroke is as wide as MNIST's, which thickens thin
    strokes and thins thick ones, at about four times the final resolution; type,
    whose hairlines are much thinner than its stems, is cut stroke by stroke, each
    at its own width (`core.stroke_depth`). Then
    the longer side of the ink's box becomes 20 px and its centre of mass lands
    exactly on the centre of the 28x28 image, as MNIST was made; last, the digit is
    stood upright (`core.slant.deskew`), which reads slanted hands better.

    Parameters
    ----------
    canvas : np.ndarray
        Grey-scale ``(H, W)`` of any size, or ``(H, W, 3|4)`` colour (converted to
        luminance, alpha composited on white). Integer arrays use their dtype's
        full range (0..255 for uint8); float arrays are read as 0..1, or as 0..255
        when their maximum is above 1.
    target : str or tuple of int
        ``"mnist"`` (28x28, values 0..255) or ``"digits-8x8"`` (8x8, values 0..16),
        or the image shape of the model, ``(28, 28)`` or ``(8, 8)``.
    ink_is_bright : bool or None
        True for light ink on a dark background (the datasets' own polarity), False
        for dark ink on paper, None to detect it from the canvas border.
    normalize_stroke : bool
        False keeps the drawn stroke width and slant (MNIST's own procedure,
        nothing more). The 8x8 target always keeps them (its bitmap counts make
        width matter less), and so does an image no larger than the target's
        frame, taken as made the dataset's way.
    widen : float
        Stretch the ink sideways by this factor first, `MIN_WIDEN` to
        `MAX_WIDEN` (below 1 squeezes it): a narrow or wide hand's own model reads
        its drawings so (`core.hand_reading`).
    turn : float
        The hand's turn in degrees, clockwise as seen, at most `MAX_TURN` either
        way: the ink is turned back by it first (`core.ink_turn`), as a turned
        hand's own model reads its drawings.

    Returns
    -------
    Conversion or None
        None when nothing (or almost nothing) is drawn.

    Raises
    ------
    PreprocessError
        For an unknown target, a canvas that is not an image array, or ``widen``
        or ``turn`` out of range.
    """
    name = _resolve_target(target)
    if not MIN_WIDEN <= widen <= MAX_WIDEN:  # NaN too
        raise PreprocessError(
            f"widen must be {MIN_WIDEN:g} to {MAX_WIDEN:g}, got {widen}"
        )
    if not -MAX_TURN <= turn <= MAX_TURN:
        raise PreprocessError(f"turn must be -{MAX_TURN} to {MAX_TURN}, got {turn}")
    array = np.asarray(canvas)
    crop = _ink_crop(array, ink_is_bright)
    if crop is None:
        return None
    mass, cy, cx = _mass_and_centre(crop)
    if mass < _MIN_INK_MASS:
        return None
    scale = 1  # canvas pixels a pixel of the crop spans
    if turn != 0.0:
        # Turned in blocks when large (as below): sampling every pixel of a 250 px
        # drawing took 4 ms, twice a prediction's whole budget.
        scale = math.ceil(max(crop.shape) / _MAX_TURNED_CROP)
        crop = turned_ink(_block_mean(crop, scale) if scale > 1 else crop, -turn)
        # Cropped to the ink again (sampling spreads it): the box is the digit's.
        visible = crop >= _INK_LEVEL * float(crop.max())
        rows = np.flatnonzero(visible.any(axis=1))
        columns = np.flatnonzero(visible.any(axis=0))
        crop = crop[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        mass, cy, cx = _mass_and_centre(crop)
    if widen != 1.0:
        crop = _widened(crop, widen)
        mass, cy, cx = _mass_and_centre(crop)
    # A big crop is measured and reworked in blocks of q x q pixels, stretched so
    # that a thin line is full ink again: the work stays the same for any canvas.
    q = math.ceil(max(crop.shape) / _MAX_WORK_CROP)
    small = _block_mean(crop, q) if q > 1 else crop
    # The pen is measured on blocks it is still a few pixels wide in: a digit's
    # strokes are rarely more than six times its size long, so ink / (6 size) is
    # at most the pen's width.
    m = max(1, int(mass / (6.0 * max(crop.shape)) / (_MEASURE_PEN * q)))
    measured = _block_mean(small, m) if m > 1 else small
    pen = float(pen_widths(measured[None])[0]) * q * m
    extent = max(crop.shape) - pen
    size = max(extent, 0.0) * scale / max(array.shape[0], array.shape[1])
    framed = at_dataset_size(array.shape, name)
    if name == "digits-8x8":
        image = _uci_image(crop)
    elif normalize_stroke and extent > pen and not framed:
        image = deskew(_mnist_image_normalized(small, pen / q, extent / q))
    else:
        image = _mnist_image(crop, cy, cx)
    wide_pen = name == "mnist" and pen > _MAX_THINNING * _wanted_width(extent)
    return Conversion(image, pen, size, wide_pen, drawing=not framed)


def at_dataset_size(shape: tuple[int, ...], target: str | tuple[int, int]) -> bool:
    """Return True for an image no larger than the target's frame (made its way).

    Such an image (an MNIST digit saved as a file) keeps its strokes in
    `convert_drawing`, and is judged as a dataset image, not as a drawing: its
    strokes are the dataset's already, and reworking them at that scale blurs their
    shape. The official test set read through `predict` with the rework: 96.7%
    right and 4.9% not sure, against 98.8% and 1.9% as stored; without it, the
    same as stored (bench/RESULTS.md).
    """
    return max(shape[:2]) <= max(TARGETS[_resolve_target(target)])


def canvas_to_image(
    canvas: np.ndarray,
    target: str | tuple[int, int],
    ink_is_bright: bool | None = None,
    normalize_stroke: bool = True,
) -> np.ndarray | None:
    """Convert a drawing into an image made the way the target dataset was made.

    The image of `convert_drawing`; see there for the parameters.

    Returns
    -------
    np.ndarray or None
        uint8 ``(28, 28)`` or ``(8, 8)`` with bright ink on 0, or None when nothing
        (or almost nothing) is drawn.

    Raises
    ------
    PreprocessError
        For an unknown target or a canvas that is not an image array.
    """
    conversion = convert_drawing(canvas, target, ink_is_bright, normalize_stroke)
    return None if conversion is None else conversion.image


def convert_drawings(
    canvases: Sequence[np.ndarray],
    target: str | tuple[int, int],
    widen: float = 1.0,
    turn: float = 0.0,
) -> np.ndarray:
    """Convert canvases (bright ink) as drawings, ``widen`` times wider, turned back.

    As `convert_drawing`; uint8 ``(N, H, W)``, black where (almost) nothing is drawn.
    """
    out = np.zeros((len(canvases), *TARGETS[_resolve_target(target)]), np.uint8)
    for index, canvas in enumerate(canvases):
        conversion = convert_drawing(canvas, target, True, widen=widen, turn=turn)
        if conversion is not None:
            out[index] = conversion.image
    return out


def stroke_width(image: np.ndarray) -> float:
    """Estimate the width of the strokes in an image: twice the ink over the outline.

    A stroke of width ``w`` and length ``L`` has about ``w * L`` ink and ``2 * L`` of
    outline. The outline is the total variation of the ink (the sum of its gradient's
    length over 2x2 cells, which is nearly the same in every direction), so soft,
    anti-aliased edges count as they should.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W)`` ink, bright on 0, in any number type (scaled by its maximum).

    Returns
    -------
    float
        The width in pixels (0 for an empty image). Round caps make it read a little
        low for short, thick strokes.
    """
    ink = np.asarray(image, np.float32)
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0.0:
        return 0.0
    ink = np.pad(ink / np.float32(peak), 1)
    # The outline as in `core.strokes.pen_widths`: |g| over 2x2 cells.
    u = ink[1:, 1:] - ink[:-1, :-1]
    v = ink[:-1, 1:] - ink[1:, :-1]
    outline = float(np.sqrt(u * u + v * v).sum()) * math.sqrt(0.5)
    return 2.0 * float(ink.sum()) / max(outline, 1e-6)


def canvas_to_input(
    canvas: np.ndarray,
    normalization: Normalization,
    target: str | tuple[int, int],
    ink_is_bright: bool | None = None,
) -> np.ndarray | None:
    """Convert a drawing into the network's input vector.

    Parameters
    ----------
    canvas, target, ink_is_bright
        As in `canvas_to_image`.
    normalization : Normalization
        The model's input normalisation (the one it was trained with).

    Returns
    -------
    np.ndarray or None
        float32 ``(H*W,)``, or None when nothing is drawn.
    """
    image = canvas_to_image(canvas, target, ink_is_bright)
    if image is None:
        return None
    return normalization.apply(image[None])[0]


def _resolve_target(target: str | tuple[int, int]) -> str:
    if isinstance(target, str):
        if target in TARGETS:
            return target
        raise PreprocessError(
            f"unknown drawing target {target!r}; choose one of: {', '.join(TARGETS)}"
        )
    try:
        shape = tuple(target)
    except TypeError:
        raise PreprocessError(
            f"target must be a name or an image shape, got {target!r}"
        ) from None
    return target_for_shape(shape)


def _widened(crop: np.ndarray, factor: float) -> np.ndarray:
    """Stretch the float32 ink ``crop`` sideways by ``factor`` (linear, 0 beyond)."""
    width = crop.shape[1]
    out_width = max(1, round(width * factor))
    source = (np.arange(out_width, dtype=np.float32) + 0.5) * (width / out_width)
    source -= 0.5
    left = np.floor(source)
    weight = source - left
    left = left.astype(np.intp) + 1  # into the crop padded by a column each side
    padded = np.pad(crop, ((0, 0), (1, 1)))
    # `take`, not ``padded[:, left]``: that comes back in column order, and the
    # compiled stroke kernels take rows only (a widened drawing fell back to NumPy,
    # up to 4.5 ms).
    out = np.take(padded, left, axis=1) * (1.0 - weight)
    out += np.take(padded, left + 1, axis=1) * weight
    return out


def _ink_crop(canvas: np.ndarray, ink_is_bright: bool | None) -> np.ndarray | None:
    """float32 ink in [0, 1] (0 = background) cropped to the visible ink, or None."""
    array = np.asarray(canvas)
    is_bool = array.dtype == np.bool_
    if is_bool:
        array = array.view(np.uint8)
    if array.dtype.kind not in "uif":
        raise PreprocessError(f"the canvas must hold numbers, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = _luminance(array)
    if array.ndim != 2:
        raise PreprocessError(
            "the canvas must be a grey-scale (H, W) or colour (H, W, 3|4) array, "
            f"got shape {array.shape}"
        )
    if array.size == 0:
        return None
    if array.dtype.kind == "f":
        array = np.nan_to_num(array.astype(np.float32), nan=0.0, copy=False)
        full = 255.0 if float(array.max()) > 1.0 else 1.0
        np.clip(array, 0.0, full, out=array)
    elif is_bool:
        full = 1.0
    elif array.dtype.kind == "u":
        full = float(np.iinfo(array.dtype).max)
    else:
        array = np.clip(array, 0, 255)
        full = 255.0
    # Work in the canvas's own units until the ink's box is known: a large canvas
    # is scanned once per axis and only the box is converted to float.
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    # The border's median, as np.median finds it (its length is even) in a third
    # of the time.
    half = border.size // 2
    middle = np.partition(border, (half - 1, half))[half - 1 : half + 1]
    paper = float(middle.mean()) / full
    if ink_is_bright is None:
        ink_is_bright = paper < 0.5
    ink_paper = paper if ink_is_bright else 1.0 - paper
    # A grey paper or a dim screen background is not ink: keep what stands out from
    # it, stretched back to the full range.
    level = min(ink_paper, 0.9) if ink_paper < 0.5 else 0.0
    gain = 1.0 / ((1.0 - level) * full)
    # ink = slope * value + intercept, clipped to [0, 1].
    if ink_is_bright:
        slope, intercept = gain, -level / (1.0 - level)
        row_best, col_best = array.max(axis=1), array.max(axis=0)
    else:
        slope, intercept = -gain, 1.0
        row_best, col_best = array.min(axis=1), array.min(axis=0)
    row_ink = row_best.astype(np.float64) * slope + intercept
    col_ink = col_best.astype(np.float64) * slope + intercept
    peak = float(row_ink.max())
    if peak < _INK_LEVEL:
        return None
    visible = max(_INK_LEVEL, 0.1 * peak)
    rows = np.flatnonzero(row_ink >= visible)
    cols = np.flatnonzero(col_ink >= visible)
    crop = array[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    crop *= np.float32(slope)
    crop += np.float32(intercept)
    np.clip(crop, 0.0, 1.0, out=crop)
    return crop


def _luminance(array: np.ndarray) -> np.ndarray:
    full = float(np.iinfo(array.dtype).max) if array.dtype.kind in "ui" else 1.0
    if array.dtype.kind == "f" and float(np.nanmax(array)) > 1.0:
        full = 255.0
    rgb = array[..., :3].astype(np.float32) * np.float32(1.0 / full)
    grey = np.einsum("...c,c->...", rgb, np.array([0.299, 0.587, 0.114], np.float32))
    if array.shape[2] == 4:
        alpha = array[..., 3].astype(np.float32) * np.float32(1.0 / full)
        # Transparent pixels show white paper.
        grey = grey * alpha + (1.0 - alpha)
    return grey


def _box_weights(
    size_in: int, size_out: int, scale: float, offset: float
) -> np.ndarray:
    """Exact area-averaging matrix (size_out, size_in) for one axis.

    Input pixel i covers [i, i + 1); output pixel j covers the input interval
    [(j - offset) * scale, (j + 1 - offset) * scale). Each weight is the overlap
    length divided by ``scale``, so a uniform input stays uniform.
    """
    weights = np.empty((size_out, size_in), np.float32)
    if fast.box_weights(offset, scale, weights):
        return weights
    j = np.arange(size_out, dtype=np.float64)
    start = (j - offset) * scale
    stop = start + scale
    edges = np.arange(size_in + 1, dtype=np.float64)
    overlap = np.minimum(stop[:, None], edges[None, 1:]) - np.maximum(
        start[:, None], edges[None, :-1]
    )
    np.maximum(overlap, 0.0, out=overlap)
    return (overlap / scale).astype(np.float32)


def _resample(
    crop: np.ndarray, shape: tuple[int, int], scale: float, offsets: tuple[float, float]
) -> np.ndarray:
    """Box-filter the crop into ``shape`` (output pixel = ``scale`` input pixels)."""
    rows = _box_weights(crop.shape[0], shape[0], scale, offsets[0])
    cols = _box_weights(crop.shape[1], shape[1], scale, offsets[1])
    # Shrink the larger dimension first: fewer operations for big canvases. One
    # drawing's products run on this thread (`core.fast.product_here`).
    if crop.shape[0] >= crop.shape[1]:
        return fast.product_here(fast.product_here(rows, crop), cols.T)
    return fast.product_here(rows, fast.product_here(crop, cols.T))


def _mass_and_centre(crop: np.ndarray) -> tuple[float, float, float]:
    """Total ink and its (row, column) centre of mass in pixel-index coordinates."""
    row_mass = crop.sum(axis=1).astype(np.float64)
    col_mass = crop.sum(axis=0).astype(np.float64)
    total = float(row_mass.sum())
    if total <= 0.0:
        return 0.0, 0.0, 0.0
    cy = float((row_mass * np.arange(crop.shape[0])).sum()) / total
    cx = float((col_mass * np.arange(crop.shape[1])).sum()) / total
    return total, cy, cx


def _mnist_image(
    crop: np.ndarray, cy: float, cx: float, exact: bool = False
) -> np.ndarray:
    h, w = crop.shape
    scale = max(h, w) / _MNIST_BOX
    # Input position p maps to output p / scale + offset (pixel centres at +0.5).
    # Like the original, the box starts on a whole pixel, which leaves the centre
    # of mass within half a pixel of (14, 14); this reproduces MNIST images.
    # ``exact`` puts it on (14, 14): a drawing then never jumps by a pixel.
    offset_y = _MNIST_CENTRE + 0.5 - (cy + 0.5) / scale
    offset_x = _MNIST_CENTRE + 0.5 - (cx + 0.5) / scale
    if not exact:
        offset_y, offset_x = math.floor(offset_y + 0.5), math.floor(offset_x + 0.5)
    image = _resample(crop, TARGETS["mnist"], scale, (offset_y, offset_x))
    return _to_uint8(image, 255)


def _block_mean(crop: np.ndarray, q: int) -> np.ndarray:
    """Mean of q x q blocks (zero-padded at the end), scaled to a peak of 1."""
    small = _block_sums(crop, q)
    small *= np.float32(1.0 / max(float(small.max()), 1e-12))
    return small


def _block_sums(crop: np.ndarray, q: int) -> np.ndarray:
    """float32 sums of q x q blocks of ``crop`` (zero-padded at the end).

    Each block's rows are summed left to right, then those sums top to bottom:
    an order the compiled kernel keeps too. Up to q = 7 it gives the bits of
    ``reshape(h, q, w, q).sum(axis=(1, 3))`` on a drawing's crop (a test checks),
    whose reduction over two short axes takes several times longer.
    """
    h, w = -(-crop.shape[0] // q), -(-crop.shape[1] // q)
    sums = np.empty((h, w), np.float32)
    if fast.block_sums(crop, q, sums):
        return sums
    padded = np.zeros((h * q, w * q), np.float32)
    padded[: crop.shape[0], : crop.shape[1]] = crop
    rows = padded[:, 0::q].copy()
    for b in range(1, q):
        rows += padded[:, b::q]
    sums[:] = rows[0::q]
    for a in range(1, q):
        sums += rows[a::q]
    return sums


def _mnist_image_normalized(crop: np.ndarray, pen: float, extent: float) -> np.ndarray:
    """MNIST image of ``crop`` with its strokes brought to MNIST's width."""
    goal = _wanted_width(extent)
    # Working pixels are blocks of q x q canvas pixels: about _WORK_SCALE of them
    # per final pixel.
    q = max(1, round((extent + goal) / (_WORK_SCALE * _MNIST_BOX)))
    coarse = math.ceil(pen / _MAX_WORK_PEN)
    q, each_stroke = max(q, coarse), coarse <= q
    f = 1.0 / q
    have, want = pen * f, goal * f  # working pixels
    if q == 1:
        ink = crop
    else:
        ink = _block_sums(crop, q)
        ink *= np.float32(f * f)
    peak = float(crop.max())
    # Layers of ink, for the per-stroke test and the peel: found once for both.
    depths = None
    if each_stroke and have >= _MIN_EACH_PEN:
        depths = stroke_depths(ink >= np.float32(0.5 * peak))
    ridge = None if depths is None else _ridges_if_uneven(*depths, have)
    if ridge is None:
        want = max(want, have / _MAX_THINNING)
        if have >= _PEEL_FROM * want:
            ink, have = _peeled(ink, depths, have, want, peak)
    widest = have if ridge is None else max(have, 2.0 * float(ridge.max()) - 1.0)
    narrowest = have if ridge is None else 1.0
    # Thickening cuts a blurred thin ridge near half its height. Thinning cuts the
    # blurred ink where the paper around it, blurred as much, has risen to
    # Phi(-1.5): the edge moves in by 1.5 sigma, the same in every direction.
    sigma = max(want / 2.4, (widest - want) / 3.0)
    pad = math.ceil(max(want - narrowest, 0.0) / 2.0 + 3.0 * sigma) + 2
    work = _blur(ink, pad, sigma)
    # The pixels themselves add a box blur of variance 1/12 (working pixels).
    blur = math.sqrt(sigma * sigma + (1.0 + f * f) / 12.0)
    if ridge is None:
        _cut(work, have, want, blur, peak)
    else:
        _cut_each(work, ridge, pad, have, want, blur, peak)
    rows_in = np.flatnonzero(work.max(axis=1) > _BOX_LEVEL)
    cols_in = np.flatnonzero(work.max(axis=0) > _BOX_LEVEL)
    if len(rows_in) == 0:
        return np.zeros(TARGETS["mnist"], np.uint8)
    work = work[rows_in[0] : rows_in[-1] + 1, cols_in[0] : cols_in[-1] + 1]
    _, cy, cx = _mass_and_centre(work)
    return _mnist_image(work, cy, cx, exact=True)


def _wanted_width(extent: float) -> float:
    """MNIST's stroke width for a drawing whose centre lines span ``extent`` px."""
    # In final pixels the box is 20 wide and holds the centre lines plus one stroke
    # width: goal = _TARGET_PEN * (extent + goal) / 20, in canvas pixels.
    return _TARGET_PEN * extent / (_MNIST_BOX - _TARGET_PEN)


def _ridges_if_uneven(depth: np.ndarray, deepest: int, have: float):
    """Each ink pixel's stroke depth (`ridge_depths`) when widths differ, else None.

    ``depth`` and ``deepest`` are `stroke_depths` of the ink at half its peak.
    """
    if deepest < _DEEP or thin_share(depth, _THIN * have) < _THIN_SHARE:
        return None
    return ridge_depths(depth, deepest)


def _peeled(ink: np.ndarray, depths, have: float, want: float, peak: float):
    """Peel `_PEEL_SHARE` of the way from width ``have`` to ``want`` off the ink.

    ``depths`` is `stroke_depths` of the ink at half its peak, or None to find it.
    Returns the peeled ink, as full ink (``peak``) or paper, and its width.
    """
    layers = int(_PEEL_SHARE * (have - want) / 2.0)
    if layers == 0:
        return ink, have
    depth, _ = depths or stroke_depths(ink >= np.float32(0.5 * peak))
    return (depth > layers).astype(np.float32) * np.float32(peak), have - 2.0 * layers


def _cut_each(work, ridge, pad, have, want, sigma, peak) -> None:
    """`_cut` with each stroke's own width (``ridge`` of the ink, framed by pad)."""
    # `_blur` hands back a transposed array: both are worked in its memory order
    # (the kernel takes C order; growing a frame commutes with transposing it).
    if not work.flags.c_contiguous and work.T.flags.c_contiguous:
        work, ridge = work.T, ridge.T
    framed = np.zeros(work.shape, np.uint8)
    framed[pad : pad + ridge.shape[0], pad : pad + ridge.shape[1]] = ridge
    # Out into the paper as far as a thickened edge moves; beyond, the drawing's
    # own width (index 0).
    grow_into_paper(framed, math.ceil(max(want - 1.0, 0.0) / 2.0) + 1)
    widths = 2.0 * np.arange(int(ridge.max()) + 1, dtype=np.float64) - 1.0
    widths[0] = have
    levels, slopes = cut_levels(widths, want, sigma)
    # Tables for every uint8 index (the rest never read): the kernel needs no
    # bounds check.
    level_of, slope_of = np.ones((2, 256), np.float32)
    level_of[: len(widths)] = levels * peak
    slope_of[: len(widths)] = slopes * peak
    if fast.cut_each(work, framed, level_of, slope_of):
        return
    work -= level_of[framed]
    work /= slope_of[framed]
    work += np.float32(0.5)
    np.clip(work, 0.0, 1.0, out=work)


def _blur(ink: np.ndarray, margin: int, sigma: float) -> np.ndarray:
    """Gaussian blur of ``ink`` framed by ``margin`` zeros on every side.

    A sampled Gaussian of unit area, cut `_BLUR_RADIUS` sigmas from its centre
    (what is left out weighs less than 1e-4 of it), added shifted along each axis:
    a few dozen passes over the array on this thread, and no BLAS, whose threads a
    busy machine makes wait far longer than the blur takes. Only where a shifted
    copy can hold ink is it added: the rest adds exact zeros.

    Returns
    -------
    np.ndarray
        float32 ``(H + 2 margin, W + 2 margin)`` (zero beyond the frame's edges).
    """
    radius = math.ceil(_BLUR_RADIUS * sigma)
    d = np.arange(radius + 1, dtype=np.float32)
    kernel = np.exp(np.float32(-0.5 / (sigma * sigma)) * d * d)
    kernel *= np.float32(1.0 / (sigma * math.sqrt(2.0 * math.pi)))
    h, w = ink.shape
    padded = np.zeros((h + 2 * (margin + radius), w), np.float32)
    padded[margin + radius : margin + radius + h] = ink
    down = np.empty((h + 2 * margin, w), np.float32)
    _symmetric_sum(padded, kernel, down, margin, margin + h)
    # The other axis as rows too: contiguous passes.
    across = np.zeros((w + 2 * (margin + radius), h + 2 * margin), np.float32)
    across[margin + radius : margin + radius + w] = down.T
    out = np.empty((w + 2 * margin, h + 2 * margin), np.float32)
    _symmetric_sum(across, kernel, out, margin, margin + w)
    return out.T


def _symmetric_sum(
    padded: np.ndarray, kernel: np.ndarray, out: np.ndarray, first: int, last: int
) -> None:
    """``out[i] = sum_k kernel[|k|] * padded[r + i + k]`` for ``|k| <= r`` (rows).

    Rows ``r + first`` to ``r + last - 1`` of ``padded`` hold its ink, the others 0.
    """
    if fast.blur_rows(padded, kernel, out, first, last):
        return
    radius, size = len(kernel) - 1, out.shape[0]
    pair = np.empty(out.shape, np.float32)
    np.multiply(padded[radius : radius + size], kernel[0], out=out)
    for k in range(1, radius + 1):
        low, high = max(first - k, 0), min(last + k, size)
        np.add(
            padded[radius - k + low : radius - k + high],
            padded[radius + k + low : radius + k + high],
            out=pair[low:high],
        )
        pair[low:high] *= kernel[k]
        out[low:high] += pair[low:high]


def _cut(work: np.ndarray, have: float, want: float, sigma: float, peak: float):
    """Turn blurred strokes ``have`` wide into strokes ``want`` wide, in place."""
    level, slope = cut_levels(have, want, sigma)
    work -= np.float32(peak * level)
    work *= np.float32(1.0 / (peak * slope))
    work += np.float32(0.5)
    np.clip(work, 0.0, 1.0, out=work)


def _uci_image(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape
    scale = max(h, w) / _UCI_BITMAP
    # Centre the box in the 32x32 bitmap, then switch pixels on at half ink.
    offset_y = (_UCI_BITMAP - h / scale) / 2.0
    offset_x = (_UCI_BITMAP - w / scale) / 2.0
    bitmap = _resample(crop, (_UCI_BITMAP, _UCI_BITMAP), scale, (offset_y, offset_x))
    peak = float(bitmap.max())
    on = bitmap >= 0.5 * peak
    n = _UCI_BITMAP // _UCI_BLOCK
    counts = on.reshape(n, _UCI_BLOCK, n, _UCI_BLOCK).sum(axis=(1, 3))
    return counts.astype(np.uint8)


def _to_uint8(image: np.ndarray, max_value: int) -> np.ndarray:
    """Stretch so the strongest ink is ``max_value`` (thin or faint strokes too)."""
    peak = float(image.max())
    if peak <= 0.0:
        return np.zeros(image.shape, np.uint8)
    scaled = image * np.float32(max_value / peak)
    return np.clip(np.rint(scaled), 0, max_value).astype(np.uint8)
