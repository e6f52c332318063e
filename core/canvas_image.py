"""A dataset image on the drawing canvas, and back: plain block scaling.

An image put on the canvas is shown magnified (each pixel a block), and what the
network reads back is the block average: the image itself, exactly, plus whatever is
drawn over it, in place (no re-centring, unlike `core.preprocess` for free drawings).
Pure NumPy; no Qt.
"""

from __future__ import annotations

import numpy as np

__all__ = ["canvas_to_placed", "placed_to_canvas"]


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
