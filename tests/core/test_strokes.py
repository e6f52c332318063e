import numpy as np
import pytest

from core.strokes import _euler_numbers, render_segments, render_strokes


@pytest.mark.parametrize("width", [1.0, 3.0, 8.5, 20.0])
def test_a_long_horizontal_stroke_has_as_much_ink_per_column_as_its_width(width):
    image = render_strokes([np.array([[20.0, 50.3], [180.0, 50.3]])], width, (100, 200))
    middle = image[:, 60:140].sum(axis=0)
    np.testing.assert_allclose(middle, width, atol=0.02)
    assert image.max() == pytest.approx(1.0) or width < 1.5


def test_round_caps_reach_half_the_pen_beyond_the_ends():
    image = render_strokes([np.array([[50.0, 50.0], [150.0, 50.0]])], 20.0, (100, 200))
    columns = np.flatnonzero(image.max(axis=0) > 0.5)
    assert columns[0] == 40 and columns[-1] == 159


def test_one_point_is_a_dot_of_the_pen_width():
    image = render_strokes([np.array([[30.0, 30.0]])], 10.0, (60, 60))
    assert image.sum() == pytest.approx(np.pi * 25, rel=0.02)
    assert render_strokes([], 10.0, (60, 60)).sum() == 0


def test_strokes_outside_the_image_are_clipped():
    image = render_strokes([np.array([[-50.0, 10.0], [30.0, 10.0]])], 4.0, (20, 20))
    assert image.shape == (20, 20) and image[:, :25].max() == pytest.approx(1.0)


def test_segments_in_a_batch_match_one_stroke_at_a_time():
    rng = np.random.default_rng(0)
    starts = rng.uniform(2, 26, (5, 3, 2))
    ends = rng.uniform(2, 26, (5, 3, 2))
    starts[2, 1] = np.nan  # not drawn
    widths = rng.uniform(1, 4, 5)
    batch = render_segments(starts, ends, widths, (28, 28))
    for b in range(5):
        expected = np.zeros((28, 28), np.float32)
        for s in range(3):
            if not np.isnan(starts[b, s, 0]):
                segment = np.stack([starts[b, s], ends[b, s]])
                render_strokes([segment], widths[b], (28, 28), out=expected)
        np.testing.assert_allclose(batch[b], expected, atol=1e-5)


def test_euler_numbers_count_pieces_minus_holes_8_connected():
    shapes = np.zeros((5, 9, 9), bool)
    shapes[0, 3:6, 3:6] = True  # a square: 1
    shapes[1, 2:7, 2:7] = True
    shapes[1, 4, 4] = False  # a ring: 1 piece, 1 hole
    shapes[2, 2, 2] = shapes[2, 6, 6] = True  # two dots: 2
    shapes[3, 3, 3] = shapes[3, 4, 4] = True  # touching at a corner: 1
    shapes[4, 1:8, 2:7] = True
    shapes[4, 3, 4] = shapes[4, 5, 4] = False  # a figure eight: 1 piece, 2 holes
    padded = np.pad(shapes, ((0, 0), (1, 1), (1, 1)))
    assert _euler_numbers(padded).tolist() == [1, 0, 2, 1, -1]
