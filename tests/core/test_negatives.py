import numpy as np
import pytest

from core.datasets import load_bundled
from core.negatives import KINDS, LETTERS, make_negatives
from core.preprocess import MNIST_STROKE_WIDTH, stroke_width


@pytest.fixture(scope="module")
def digits():
    return load_bundled("mnist-sample").images[:1500]


def _centre(image):
    x = image.astype(np.float64)
    return (x.sum(1) @ np.arange(28)) / x.sum(), (x.sum(0) @ np.arange(28)) / x.sum()


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("overlap", "piece")])
def test_each_kind_is_laid_out_like_a_converted_drawing(kind, digits):
    images = make_negatives(24, seed=3, digits=digits, kinds=(kind,))
    assert images.shape == (24, 28, 28) and images.dtype == np.uint8
    for image in images:
        assert image.max() >= 200
        rows = np.flatnonzero(image.max(axis=1) > 64)
        cols = np.flatnonzero(image.max(axis=0) > 64)
        # The 20 px box (give or take the soft edge) and the centre of mass.
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in range(17, 23)
        cy, cx = _centre(image)
        assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75
    widths = [stroke_width(image) for image in images]
    # Dots and tight loops read wide or blobby, real digits as MNIST's are.
    if kind not in ("marks", "coil"):
        assert np.median(widths) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.25)


def test_same_seed_same_images_other_seed_other_images(digits):
    first = make_negatives(40, seed=7, digits=digits)
    np.testing.assert_array_equal(first, make_negatives(40, seed=7, digits=digits))
    assert not np.array_equal(first, make_negatives(40, seed=8, digits=digits))


def test_overlaps_need_digits_and_are_two_digits():
    with pytest.raises(ValueError, match="needs real digits"):
        make_negatives(10, seed=0, kinds=("overlap",))
    digits = load_bundled("mnist-sample").images[:50]
    images = make_negatives(10, seed=0, digits=digits, kinds=("overlap",))
    assert images.max(axis=(1, 2)).min() >= 200


def test_pieces_are_part_of_a_digit_drawn_crisp(digits):
    with pytest.raises(ValueError, match="needs real digits"):
        make_negatives(10, seed=0, kinds=("piece",))
    pieces = make_negatives(60, seed=4, digits=digits, kinds=("piece",))
    overlaps = make_negatives(60, seed=4, digits=digits, kinds=("overlap",))
    # Less ink than two digits, in strokes as wide and as sharp as a drawing's.
    assert pieces.astype(float).sum() < 0.8 * overlaps.astype(float).sum()
    widths = [stroke_width(image) for image in pieces]
    assert np.median(widths) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.3)
    inked = pieces[pieces > 0]
    # Nearly as full as a converted drawing's (0.43 for the drawn digits of
    # bench.drawings; 0.36-0.39 for pieces of seeds 4-6, MNIST's own 0.53).
    assert np.mean(inked >= 200) > 0.35
    # Laid out by the drawing conversion: the centre of mass on the centre.
    for image in pieces[pieces.max(axis=(1, 2)) > 0]:
        cy, cx = _centre(image)
        assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0


def test_drawings_most_like_a_digit_are_left_out(digits):
    def likeness(images):
        flat = images.reshape(len(images), -1).astype(np.float32)
        flat /= np.linalg.norm(flat, axis=1, keepdims=True)
        ref = digits.reshape(len(digits), -1).astype(np.float32)
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
        return (flat @ ref.T).max(axis=1)

    kinds = ("glyph", "scribble")
    sorted_out = make_negatives(300, seed=2, digits=digits, kinds=kinds)
    raw = make_negatives(300, seed=2, kinds=kinds)
    assert np.mean(likeness(sorted_out)) < np.mean(likeness(raw))
    assert np.mean(likeness(sorted_out) >= 0.75) < np.mean(likeness(raw) >= 0.75)


def test_letters_are_not_shaped_like_digits():
    assert not set(LETTERS) & set("OoIlIiSsZzBbGgqDjJ0123456789")


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown negative kinds"):
        make_negatives(3, kinds=("stars",))


def test_sorting_out_digit_like_drawings_never_compares_all_at_once(digits):
    from memory_peak import traced_peak

    from core.negatives import _likeness

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6000, 28, 28), np.uint8)
    likeness, peak = traced_peak(lambda: _likeness(images, digits))

    # Each image's cosine similarity to its nearest digit...
    def unit(x):
        flat = x.reshape(len(x), -1).astype(np.float64)
        return flat / np.linalg.norm(flat, axis=1, keepdims=True)

    expected = (unit(images) @ unit(digits).T).max(axis=1)
    np.testing.assert_allclose(likeness, expected, rtol=1e-5)
    # ...a block at a time: the similarities of all 6,000 to 1,500 digits at once
    # would take 34 MiB alone.
    assert peak < 24 * 2**20


def test_digits_read_from_a_dataset_part_give_the_same_images(digits):
    from core.datasets import Dataset, as_part

    labels = np.zeros(len(digits), np.uint8)
    part = as_part(Dataset("digits", digits, labels)).subset(np.arange(3, 1200))
    np.testing.assert_array_equal(
        make_negatives(300, seed=5, digits=part),
        make_negatives(300, seed=5, digits=digits[3:1200]),
    )
