"""A picture on the drawing canvas, and what the network reads from the canvas.

A picture is pixels shown on the canvas: an image file (fitted into the canvas) or a
dataset image (magnified, each pixel a block). Until it is drawn over, the network
reads it exactly: the file converted from its own pixels as `predict` converts it,
the dataset image itself. A dataset image drawn over is read back block by block,
with the strokes in place (no re-centring); anything else on the canvas is converted
like a drawing (`core.preprocess`). Pure NumPy; no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.preprocess import convert_drawing

__all__ = [
    "CanvasPicture",
    "CanvasReading",
    "canvas_input",
    "canvas_to_placed",
    "placed_to_canvas",
]


@dataclass(frozen=True, eq=False)
class CanvasPicture:
    """Pixels put on the canvas and where they came from.

    Attributes
    ----------
    shown : np.ndarray
        uint8 ``(size, size)``: what the canvas shows, bright ink on black.
    pixels : np.ndarray
        uint8 ``(H, W)``: the source, an image file's grey pixels or a dataset image.
    grid : tuple of int or None
        ``(H, W)`` when ``shown`` is ``pixels`` magnified block by block (a dataset
        image, read back in place), None for an image file.
    """

    shown: np.ndarray
    pixels: np.ndarray
    grid: tuple[int, int] | None = None

    @classmethod
    def of_image(cls, image: np.ndarray, max_value: float, size: int) -> CanvasPicture:
        """Magnify a dataset image ``(H, W)`` in ``0..max_value`` for the canvas.

        Raises
        ------
        ValueError
            When ``size`` is not a multiple of ``H`` and of ``W``.
        """
        pixels = np.asarray(image)
        shown = placed_to_canvas(pixels, max_value, size)
        return cls(shown, pixels, (int(pixels.shape[0]), int(pixels.shape[1])))

    @classmethod
    def of_file(cls, pixels: np.ndarray, shown: np.ndarray) -> CanvasPicture:
        """Describe an image file: its grey ``pixels`` and the canvas's ``shown``."""
        return cls(np.asarray(shown, dtype=np.uint8), np.asarray(pixels))


@dataclass(frozen=True, eq=False)
class CanvasReading:
    """What the network reads from the canvas.

    Attributes
    ----------
    image : np.ndarray
        uint8 ``(H, W)``, the network's input before normalisation.
    size : float or None
        The drawing's size (`core.preprocess.Conversion.size`) when it was converted
        like a drawing; None for a dataset image read in place, which is as large
        as the dataset made it.
    canvas : np.ndarray or None
        The canvas ``image`` was converted from as a drawing (kept with a
        correction, `core.personal_set`); None for a picture read as it is.
    wide_pen, drawing : bool
        `core.preprocess.Conversion.wide_pen` and ``drawing`` of the conversion.
    """

    image: np.ndarray
    size: float | None
    canvas: np.ndarray | None = None
    wide_pen: bool = False
    drawing: bool = False


def canvas_input(
    canvas: np.ndarray,
    picture: CanvasPicture | None,
    drawn_over: bool,
    image_shape: tuple[int, int],
    max_value: float,
    widen: float = 1.0,
    turn: float = 0.0,
) -> CanvasReading | None:
    """Return what the network reads from the canvas.

    Parameters
    ----------
    canvas : np.ndarray
        uint8 ``(size, size)``, the canvas with everything on it, bright ink.
    picture : CanvasPicture or None
        The picture under the strokes, if any.
    drawn_over : bool
        Whether anything is drawn on the picture.
    image_shape : tuple of int
        The network's ``(H, W)`` input.
    max_value : float
        The network's brightest input value.
    widen : float
        The model's ``hand_width``: drawings and image files are read this much
        wider, or narrower below 1 (`core.preprocess.convert_drawing`).
    turn : float
        The model's ``hand_turn``: drawings and image files are turned back by it.

    Returns
    -------
    CanvasReading or None
        None when nothing is on the canvas.
    """
    shape = tuple(image_shape)
    if picture is not None and picture.grid == shape:
        return CanvasReading(canvas_to_placed(canvas, shape, max_value), None)
    drawn = None
    if picture is not None and picture.grid is None and not drawn_over:
        # The file's own pixels: the canvas holds a copy resampled to its size.
        conversion = convert_drawing(picture.pixels, shape, widen=widen, turn=turn)
    else:
        drawn = canvas
        conversion = convert_drawing(
            canvas, shape, ink_is_bright=True, widen=widen, turn=turn
        )
    if conversion is None:
        return None
    image, size = conversion.image, conversion.size
    return CanvasReading(image, size, drawn, conversion.wide_pen, conversion.drawing)


def placed_to_canvas(image: np.ndarray, max_value: float, size: int) -> np.ndarray:
    """Magnify ``image`` (``(H, W)`` in ``0..max_value``) to a uint8 canvas.

    Parameters
    ----------
    image : ndarray
        ``(H, W)``; ``size`` must be a multiple of ``H`` and of ``W``.
    max_value : float
        The image's brightest value; it becomes 255.
    size : int
        Side of the square canvas.

    Returns
    -------
    ndarray
        uint8 ``(size, size)``, each pixel a ``size/H`` x ``size/W`` block.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape
    if size % height or size % width:
        raise ValueError(f"a {size}-pixel canvas cannot hold {height}x{width} blocks")
    levels = np.clip(np.rint(image * (255.0 / max_value)), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(levels, size // height, axis=0), size // width, axis=1)


def canvas_to_placed(
    canvas: np.ndarray, shape: tuple[int, int], max_value: float
) -> np.ndarray:
    """Average a uint8 canvas down to an ``shape`` image in ``0..max_value``.

    The inverse of `placed_to_canvas` for a canvas nothing was drawn on: a block
    of one value averages back to it, so the round trip gives the image again.

    Returns
    -------
    ndarray
        uint8 ``shape``.
    """
    canvas = np.asarray(canvas, dtype=np.float64)
    height, width = shape
    size = canvas.shape[0]
    blocks = canvas.reshape(height, size // height, width, canvas.shape[1] // width)
    mean = blocks.mean(axis=(1, 3)) * (max_value / 255.0)
    return np.clip(np.rint(mean), 0, max_value).astype(np.uint8)
