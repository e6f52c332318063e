import numpy as np
import pytest

from core.datasets import load_bundled
from core.drawing_styles import (
    _draw_segments,
    add_style_strokes,
    half_turns,
    restroke,
    styled_mask,
)
from core.preprocess import stroke_width
from core.strokes import pen_widths, render_segments, render_strokes


@pytest.fixture(scope="module")
def mnist():
    return load_bundled("mnist-sample")


def _ring(width):
    angles = np.linspace(0, 2 * np.pi, 80)
    ring = np.stack([14 + 6 * np.cos(angles), 14 + 8 * np.sin(angles)], 1)
    return render_strokes([ring], width, (28, 28)) * 255


@pytest.mark.parametrize("width", [2.0, 2.4, 3.5])
def test_pen_widths_match_the_pen_of_a_ring(width):
    assert pen_widths(_ring(width)[None])[0] == pytest.approx(width, rel=0.12)


def test_pen_widths_of_a_batch_match_one_at_a_time(mnist):
    images = mnist.images[:20]
    batch = pen_widths(images)
    assert batch.shape == (20,)
    for image, width in zip(images, batch, strict=True):
        assert pen_widths(image[None])[0] == pytest.approx(width)
    assert pen_widths(np.zeros((1, 28, 28)))[0] == 0.0


@pytest.mark.parametrize("target", [1.8, 2.4, 3.4])
def test_restroke_gives_every_digit_the_wanted_pen(mnist, target):
    images = mnist.images[:64]
    out = restroke(images, np.full(64, target))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    measured = np.array([stroke_width(image) for image in out])
    # Thick and thin MNIST strokes alike come out near the wanted width.
    assert np.median(measured) == pytest.approx(target, rel=0.15)
    before = np.array([stroke_width(image) for image in images])
    assert np.std(measured) < np.std(before)


def test_restroke_thins_thick_and_thickens_thin_strokes():
    images = np.stack([_ring(1.5), _ring(4.0)])
    out = restroke(images, np.array([2.6, 2.6]))
    assert out[0].sum() > images[0].sum()
    assert out[1].sum() < images[1].sum()


def test_style_strokes_go_to_ones_sixes_sevens_and_nines_only(mnist):
    labels = mnist.labels[:200]
    images = mnist.images[:200]
    out = add_style_strokes(images, labels, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32
    changed = np.abs(out - images.astype(np.float32)).sum(axis=(1, 2)) > 0
    assert np.all(changed[np.isin(labels, (1, 6, 7, 9))])
    assert not np.any(changed[~np.isin(labels, (1, 6, 7, 9))])
    # New ink, not lost ink: the strokes add to the digit.
    styled = np.isin(labels, (1, 6, 7, 9))
    assert np.all(out[styled].sum(axis=(1, 2)) > images[styled].sum(axis=(1, 2)))
    assert out.max() <= 255.0


def test_style_strokes_keep_the_centre_of_mass_within_a_pixel(mnist):
    ones = mnist.images[mnist.labels == 1][:30]
    out = add_style_strokes(ones, np.ones(30, int), np.random.default_rng(1))

    def centres(x):
        x = x.astype(np.float64)
        mass = x.sum(axis=(1, 2))
        return x.sum(axis=2) @ np.arange(28) / mass, x.sum(axis=1) @ np.arange(
            28
        ) / mass

    for before, after in zip(centres(ones), centres(out), strict=True):
        assert np.all(np.abs(before - after) <= 0.75)


def test_flags_go_left_from_the_top_of_a_one():
    one = render_strokes([np.array([[14.5, 4.0], [14.5, 24.0]])], 2.4, (28, 28)) * 255
    for seed in range(5):
        out = add_style_strokes(one[None], np.array([1]), np.random.default_rng(seed))
        rows, cols = np.nonzero(out[0] > 128)
        stem = np.median(cols)
        # Ink now reaches left of the stem in the top half (the flag) ...
        assert cols[rows < 12].min() < stem - 2
        # ... and the top of the stem is still the top of the digit.
        assert rows.min() <= 5


def test_style_strokes_are_deterministic_with_a_seed(mnist):
    images, labels = mnist.images[:100], mnist.labels[:100]
    first = add_style_strokes(images, labels, np.random.default_rng(5))
    second = add_style_strokes(images, labels, np.random.default_rng(5))
    np.testing.assert_array_equal(first, second)


def test_some_ones_get_a_foot_across_the_bottom():
    one = render_strokes([np.array([[14.5, 4.0], [14.5, 24.0]])], 2.4, (28, 28)) * 255
    feet = 0
    for seed in range(12):
        out = add_style_strokes(one[None], np.array([1]), np.random.default_rng(seed))
        rows, cols = np.nonzero(out[0] > 128)
        bottom = cols[rows >= rows.max() - 1]
        stem = np.median(cols[rows > 14])
        feet += bottom.min() < stem - 2 and bottom.max() > stem + 2
    assert 2 <= feet <= 10  # about half of them


def _bowl_and_stem(stem_up: bool) -> np.ndarray:
    """A 6 (bowl at the bottom, stem up its left) or a 9 (turned upside down)."""
    angles = np.linspace(0, 2 * np.pi, 60)
    bowl = np.stack([14 + 5 * np.cos(angles), 19 + 5 * np.sin(angles)], 1)
    stem = np.array([[9.0, 19.0], [10.0, 5.0]])
    six = render_strokes([bowl, stem], 2.4, (28, 28)) * 255
    return six if stem_up else six[::-1, ::-1]


def test_sixes_get_a_hook_to_the_right_at_the_top():
    six = _bowl_and_stem(True)
    top = np.flatnonzero(six.max(axis=1) > 128).min()
    for seed in range(5):
        out = add_style_strokes(six[None], np.array([6]), np.random.default_rng(seed))
        rows, cols = np.nonzero(out[0] > 128)
        rows_before, cols_before = np.nonzero(six > 128)
        shift = np.median(cols) - np.median(cols_before)  # recentred by whole pixels
        # New ink right of the stem near the top, none above it.
        near_top = rows <= rows.min() + 3
        assert (
            cols[near_top].max() - shift > cols_before[rows_before <= top + 3].max() + 2
        )
        assert rows.max() - rows.min() <= rows_before.max() - rows_before.min() + 1


def test_nines_get_a_tail_curled_to_the_left():
    nine = _bowl_and_stem(False)
    for seed in range(5):
        out = add_style_strokes(nine[None], np.array([9]), np.random.default_rng(seed))
        rows, cols = np.nonzero(out[0] > 128)
        rows_before, cols_before = np.nonzero(nine > 128)
        shift = np.median(cols) - np.median(cols_before)
        near_bottom = rows >= rows.max() - 3
        bottom_before = rows_before >= rows_before.max() - 3
        assert cols[near_bottom].min() - shift < cols_before[bottom_before].min() - 2


def test_some_nines_get_a_long_hook_running_level_to_the_left():
    # As people write a 9: print's tail curls back up, this one runs along the
    # bottom, so the lower half's leftmost ink is at the bottom, far left of the stem.
    nine = _bowl_and_stem(False)
    rows_before, cols_before = np.nonzero(nine > 128)
    height = rows_before.max() - rows_before.min()
    stem = cols_before[rows_before >= rows_before.max() - 3].min()
    hooks = 0
    for seed in range(16):
        out = add_style_strokes(nine[None], np.array([9]), np.random.default_rng(seed))
        rows, cols = np.nonzero(out[0] > 128)
        shift = np.median(cols) - np.median(cols_before)
        lower = rows > rows.min() + height / 2
        leftmost = cols[lower].min()
        level = rows.max() - rows[lower][cols[lower] == leftmost].max() <= 1
        hooks += level and stem - (leftmost - shift) >= 0.3 * height
    assert 4 <= hooks <= 12  # about half of them


def test_half_turns_pair_sixes_with_nines_of_the_batch():
    labels = np.array([6, 9, 6, 9, 3, 6, 9, 1] * 8)
    styled = np.arange(len(labels))
    turned, partners = half_turns(labels, styled, np.random.default_rng(0))
    assert 0 < len(turned) < np.isin(labels, (6, 9)).sum()  # about half of them
    assert len(set(turned.tolist())) == len(turned)
    for image, partner in zip(turned, partners, strict=True):
        assert {labels[image], labels[partner]} == {6, 9}
    # Without a partner of the other label nothing is turned.
    only_sixes = np.array([6, 6, 3])
    turned, _ = half_turns(only_sixes, np.arange(3), np.random.default_rng(0))
    assert len(turned) == 0


def test_style_strokes_are_drawn_with_the_pen_of_render_segments(engine_path):
    rng = np.random.default_rng(7)
    starts = rng.uniform(-4, 32, (9, 6, 2))  # some reach beyond the image
    ends = starts + rng.uniform(-12, 12, (9, 6, 2))
    starts[rng.random((9, 6)) < 0.5] = np.nan
    starts[:, 0] = rng.uniform(2, 26, (9, 2))  # every image has a segment
    widths = rng.uniform(1.2, 4.0, 9)
    ink = (rng.random((9, 28, 28)) < 0.1).astype(np.float32) * 0.7
    # Pixel centres are whole here, at +0.5 in render_segments.
    segments = np.stack([starts[..., 0], starts[..., 1], ends[..., 0], ends[..., 1]])
    segments[2:][np.isnan(segments[:2])] = np.nan
    drawn = ink.copy()
    _draw_segments(drawn, segments - 0.5, widths)
    expected = np.maximum(ink, render_segments(starts, ends, widths, (28, 28)))
    np.testing.assert_allclose(drawn, expected, atol=1e-5)
    assert drawn.sum() > ink.sum() + 20


def test_styled_mask_is_isin():
    labels = np.array([0, 1, 2, 6, 7, 8, 9, 10, 1, -1])
    np.testing.assert_array_equal(styled_mask(labels), np.isin(labels, (1, 6, 7, 9)))
    np.testing.assert_array_equal(styled_mask(labels, (6, 9)), np.isin(labels, (6, 9)))
