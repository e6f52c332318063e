"""core.canvas_image: a dataset image on the canvas and back, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from core.canvas_image import canvas_to_placed, placed_to_canvas
from core.datasets import load_bundled


@pytest.mark.parametrize("name", ["mnist-sample", "digits-8x8"])
def test_round_trip_is_exact(name):
    data = load_bundled(name)
    for image in data.images[:50]:
        canvas = placed_to_canvas(image, data.max_value, 280)
        assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
        np.testing.assert_array_equal(
            canvas_to_placed(canvas, data.image_shape, data.max_value), image
        )


def test_ink_drawn_over_a_block_raises_that_pixel():
    image = np.zeros((28, 28), np.uint8)
    canvas = placed_to_canvas(image, 255, 280)
    canvas[100:110, 50:60] = 255  # block (10, 5)
    canvas[100:105, 60:70] = 255  # half of block (10, 6)
    back = canvas_to_placed(canvas, (28, 28), 255)
    assert back[10, 5] == 255 and back[10, 6] == 128 and back.sum() == 255 + 128


def test_a_canvas_that_does_not_divide_is_refused():
    with pytest.raises(ValueError):
        placed_to_canvas(np.zeros((28, 28)), 255, 300)
