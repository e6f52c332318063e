"""A drawing taught as its hand might draw it again, and the fine-tune that does so."""

import numpy as np
import pytest

from core.datasets import load_bundled
from core.drawing_variants import VARIANTS, drawing_variants
from core.personal_set import DrawnDataset
from core.preprocess import convert_drawing, convert_drawings
from core.run import FINE_TUNE_REPEAT, fine_tune_request, prepare_run
from core.slant import deskew
from core.strokes import render_strokes

SHAPE = (28, 28)
# A 7 with a crossbar, as a mouse reports it: (x, y) on the 280 px canvas.
SEVEN = [
    np.array([(80.0, 70.0), (200.0, 70.0), (130.0, 230.0)]),
    np.array([(115.0, 150.0), (185.0, 150.0)]),
]


def _draw(strokes, pen=10):
    return (render_strokes(strokes, pen, (280, 280)) * 255).astype(np.uint8)


def _turned_points(strokes, degrees):
    """The strokes turned clockwise on the screen (y points down) about (140, 140)."""
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return [(points - 140.0) @ turn.T + 140.0 for points in strokes]


@pytest.mark.parametrize("degrees", [-8, 8, 30])
def test_a_turned_variant_is_the_drawing_drawn_turned(degrees):
    """A variant turned ``degrees`` more reads as the hand turned the other way."""
    canvas = _draw(SEVEN)
    variants = drawing_variants(canvas, SHAPE, degrees, 1.0)
    drawn = convert_drawing(_draw(_turned_points(SEVEN, -degrees)), SHAPE, True)
    other_way = convert_drawing(_draw(_turned_points(SEVEN, degrees)), SHAPE, True)

    def apart(image, conversion):
        return np.abs(image.astype(float) - conversion.image.astype(float)).mean()

    assert apart(variants[0], drawn) < 0.4 * apart(variants[0], other_way)
    assert apart(variants[0], drawn) < 8  # of 255, on average


def test_variants_start_with_the_drawing_and_differ_in_turn_and_width():
    canvas = _draw(SEVEN)
    variants = drawing_variants(canvas, SHAPE, 0.0, 1.25)
    assert variants.shape == (len(VARIANTS), *SHAPE) and variants.dtype == np.uint8
    assert VARIANTS[0] == (0.0, 1.0)
    as_read = convert_drawing(canvas, SHAPE, True, widen=1.25).image
    np.testing.assert_array_equal(variants[0], as_read)
    assert len({variant.tobytes() for variant in variants}) == len(VARIANTS)

    def ink_width(image):  # the ink's spread across, in pixels
        columns = image.sum(axis=0).astype(float)
        x = np.arange(image.shape[1])
        mean = (columns * x).sum() / columns.sum()
        return np.sqrt((columns * (x - mean) ** 2).sum() / columns.sum())

    narrower = VARIANTS.index((0.0, 0.9))
    wider = VARIANTS.index((0.0, 1.1))
    assert ink_width(variants[narrower]) < ink_width(variants[0])
    assert ink_width(variants[0]) < ink_width(variants[wider])


def test_a_fine_tune_teaches_each_drawing_as_its_variants(drawing_model):
    canvases = [_draw(SEVEN, pen) for pen in (6, 10, 14)]
    canvases.append(_draw(_turned_points(SEVEN, 12)))
    labels = np.full(len(canvases), 7, np.uint8)
    drawings = DrawnDataset(
        "personal-mnist",
        convert_drawings(canvases, SHAPE),
        labels,
        canvases=tuple(canvases),
    )
    digits = load_bundled("mnist-sample")
    stages = []
    request = fine_tune_request(drawing_model, digits, drawings)
    prepared = prepare_run(request, stages.append)
    assert "making variants of your drawings" in stages
    count = len(canvases) * FINE_TUNE_REPEAT
    assert FINE_TUNE_REPEAT == len(VARIANTS)
    total = len(prepared.train_set)
    rows = prepared.train_set.images_at(np.arange(total - count, total))
    # Deskewed, as this model's training images are; each drawing's rows in turn.
    expected = [
        drawing_variants(c, SHAPE, prepared.hand_turn, prepared.hand_width)
        for c in canvases
    ]
    np.testing.assert_array_equal(rows, deskew(np.concatenate(expected)))
    assert (prepared.train_set.labels[total - count :] == 7).all()
