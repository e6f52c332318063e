"""Turn a drawing (a grey-scale canvas of any size) into what a network expects.

Owns `canvas_to_image` and `canvas_to_input`, following the way each dataset was made
(MNIST: 20x20 box, centre of mass in 28x28; the 8x8 digits: the UCI 32x32 bitmap
counted in 4x4 blocks). Pure NumPy; must not import Qt or read files.
"""

from __future__ import annotations

import math

import numpy as np

from core.datasets import Normalization

__all__ = [
    "TARGETS",
    "PreprocessError",
    "canvas_to_image",
    "canvas_to_input",
    "target_for_shape",
]

TARGETS: dict[str, tuple[int, int]] = {"mnist": (28, 28), "digits-8x8": (8, 8)}

# Ink weaker than this (fraction of full ink, after removing the background level)
# is treated as paper: it hides scanner noise and JPEG ringing.
_INK_LEVEL = 0.1
# Less ink than this many fully inked pixels counts as "nothing drawn".
_MIN_INK_MASS = 2.0
# MNIST: the longer side of the digit's box becomes 20 px and the centre of mass
# lands on pixel (14, 14) (pixel centres at 0..27), as measured on the dataset itself.
_MNIST_BOX = 20
_MNIST_CENTRE = 14.0
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


def canvas_to_image(
    canvas: np.ndarray,
    target: str | tuple[int, int],
    ink_is_bright: bool | None = None,
) -> np.ndarray | None:
    """Convert a drawing into an image made the way the target dataset was made.

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
    name = _resolve_target(target)
    crop = _ink_crop(canvas, ink_is_bright)
    if crop is None:
        return None
    mass, cy, cx = _mass_and_centre(crop)
    if mass < _MIN_INK_MASS:
        return None
    if name == "mnist":
        return _mnist_image(crop, cy, cx)
    return _uci_image(crop)


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
    paper = float(np.median(border)) / full
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
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
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
    # Shrink the larger dimension first: fewer operations for big canvases.
    if crop.shape[0] >= crop.shape[1]:
        return (rows @ crop) @ cols.T
    return rows @ (crop @ cols.T)


def _mass_and_centre(crop: np.ndarray) -> tuple[float, float, float]:
    """Total ink and its (row, column) centre of mass in pixel-index coordinates."""
    row_mass = (crop @ np.ones(crop.shape[1], np.float32)).astype(np.float64)
    col_mass = (np.ones(crop.shape[0], np.float32) @ crop).astype(np.float64)
    total = float(row_mass.sum())
    if total <= 0.0:
        return 0.0, 0.0, 0.0
    cy = float(row_mass @ np.arange(crop.shape[0])) / total
    cx = float(col_mass @ np.arange(crop.shape[1])) / total
    return total, cy, cx


def _mnist_image(crop: np.ndarray, cy: float, cx: float) -> np.ndarray:
    h, w = crop.shape
    scale = max(h, w) / _MNIST_BOX
    # Input position p maps to output p / scale + offset (pixel centres at +0.5).
    # Like the original, the box starts on a whole pixel, which leaves the centre
    # of mass within half a pixel of (14, 14); this reproduces MNIST images.
    offset_y = math.floor(_MNIST_CENTRE + 1.0 - (cy + 0.5) / scale)
    offset_x = math.floor(_MNIST_CENTRE + 1.0 - (cx + 0.5) / scale)
    image = _resample(crop, TARGETS["mnist"], scale, (offset_y, offset_x))
    return _to_uint8(image, 255)


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
