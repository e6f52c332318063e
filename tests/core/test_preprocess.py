import time

import numpy as np
import pytest

from core import preprocess
from core.datasets import Normalization, load_bundled, stratified_split
from core.preprocess import (
    MNIST_STROKE_WIDTH,
    PreprocessError,
    canvas_to_image,
    canvas_to_input,
    convert_drawing,
    stroke_width,
    target_for_shape,
)
from core.slant import slant
from core.strokes import render_strokes


@pytest.fixture(scope="module")
def mnist():
    return load_bundled("mnist-sample")


def _paste(image, canvas_shape, top, left, dtype=np.uint8):
    canvas = np.zeros(canvas_shape, dtype)
    h, w = image.shape
    canvas[top : top + h, left : left + w] = image
    return canvas


def _centre_of_mass(image):
    image = image.astype(np.float64)
    total = image.sum()
    rows = np.arange(image.shape[0])
    cols = np.arange(image.shape[1])
    return (image.sum(1) @ rows) / total, (image.sum(0) @ cols) / total


def test_vertical_bar_comes_out_centred_and_upright():
    canvas = np.zeros((300, 200), np.uint8)
    canvas[40:260, 30:44] = 255  # tall bar far from the canvas centre
    image = canvas_to_image(canvas, "mnist", normalize_stroke=False)
    assert image.shape == (28, 28) and image.dtype == np.uint8
    ink_rows = np.flatnonzero(image.any(axis=1))
    ink_cols = np.flatnonzero(image.any(axis=0))
    assert len(ink_rows) == 20  # the longer side becomes 20 px
    assert len(ink_cols) <= 3
    cy, cx = _centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    # Upright: every row of the bar has the same column profile.
    bar = image[ink_rows]
    assert np.all(bar == bar[0])
    assert image.max() == 255


@pytest.mark.parametrize("target", ["mnist", "digits-8x8"])
@pytest.mark.parametrize("shift", [(0, 1), (37, -50), (-120, 180)])
def test_shifted_copy_of_a_digit_gives_the_same_image(mnist, target, shift):
    digit = np.kron(mnist.images[3], np.ones((9, 9), np.uint8))
    first = _paste(digit, (600, 700), 200, 250)
    second = _paste(digit, (600, 700), 200 + shift[0], 250 + shift[1])
    np.testing.assert_array_equal(
        canvas_to_image(first, target), canvas_to_image(second, target)
    )


def test_mnist_images_pasted_big_come_back_as_themselves(mnist):
    rng = np.random.default_rng(0)
    exact = 0
    indices = rng.choice(len(mnist), 30, replace=False)
    for index in indices:
        original = mnist.images[index].astype(np.float64)
        factor = int(rng.integers(3, 15))
        big = np.kron(mnist.images[index], np.ones((factor, factor), np.uint8))
        canvas = _paste(big, (big.shape[0] + 150, big.shape[1] + 300), 40, 220)
        image = canvas_to_image(canvas, "mnist", normalize_stroke=False)
        image = image.astype(np.float64)
        # MNIST was made this way, so the digit comes back almost bit for bit; a
        # centre of mass exactly between two pixels may round the other way.
        errors = {
            (dy, dx): np.abs(np.roll(image, (dy, dx), axis=(0, 1)) - original).mean()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        }
        assert min(errors.values()) < 0.5
        exact += errors[0, 0] < 0.5
    assert exact >= 0.8 * len(indices)


@pytest.mark.parametrize("dark_ink", [False, True])
def test_a_digit_at_the_datasets_size_is_read_as_the_dataset_has_it(mnist, dark_ink):
    # An MNIST digit saved as a 28x28 file (as `predict` reads it): its strokes are
    # kept, not reworked at that scale.
    indices = np.random.default_rng(1).choice(len(mnist), 60, replace=False)
    exact = 0
    for index in indices:
        original = mnist.images[index]
        canvas = 255 - original if dark_ink else original
        image = canvas_to_image(canvas, "mnist")
        exact += np.abs(image.astype(np.float64) - original).mean() < 0.5
    assert exact >= 0.7 * len(indices)


def test_dark_ink_on_paper_is_detected_and_can_be_forced(mnist):
    digit = np.kron(mnist.images[11], np.ones((6, 6), np.uint8))
    bright = _paste(digit, (300, 300), 50, 80)
    paper = 255 - bright
    expected = canvas_to_image(bright, "mnist")
    np.testing.assert_array_equal(canvas_to_image(paper, "mnist"), expected)
    np.testing.assert_array_equal(canvas_to_image(paper, "mnist", False), expected)
    np.testing.assert_array_equal(canvas_to_image(bright, "mnist", True), expected)


def test_grey_paper_and_colour_canvases_match_a_clean_one(mnist):
    digit = np.kron(mnist.images[20], np.ones((5, 5), np.uint8))
    clean = _paste(digit, (200, 240), 30, 40)
    expected = canvas_to_image(clean, "mnist")
    # Dark ink on light grey paper: 220 background, ink down to 220 - 200.
    grey = (220 - clean.astype(np.int32) * 200 // 255).astype(np.uint8)
    got = canvas_to_image(grey, "mnist").astype(int)
    assert np.abs(got - expected).mean() < 3
    rgb = np.repeat((255 - clean)[..., None], 3, axis=2)
    np.testing.assert_array_equal(canvas_to_image(rgb, "mnist"), expected)
    rgba = np.concatenate([rgb, np.full(clean.shape + (1,), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(canvas_to_image(rgba, "mnist"), expected)
    as_float = clean.astype(np.float32) / 255.0
    got = canvas_to_image(as_float, "mnist").astype(int)
    assert np.abs(got - expected).max() <= 1


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.zeros((1, 1), np.uint8),
        np.full((1, 1), 255, np.uint8),
        np.zeros((0, 0), np.uint8),
        np.zeros((3000, 10), np.uint8),
    ],
    ids=["black", "white", "1x1-black", "1x1-white", "0x0", "tall-strip"],
)
@pytest.mark.parametrize("target", ["mnist", "digits-8x8"])
def test_empty_canvas_means_nothing_drawn(canvas, target):
    assert canvas_to_image(canvas, target) is None
    normalization = Normalization.fit("scale", np.zeros((1, 28, 28), np.uint8), 255)
    assert canvas_to_input(canvas, normalization, "mnist") is None


@pytest.mark.parametrize(
    "speck",
    [(5, 5, 255, 1), (100, 100, 20, 3)],
    ids=["one-pixel", "faint-blot"],
)
def test_nearly_empty_canvas_means_nothing_drawn(speck):
    y, x, value, size = speck
    canvas = np.zeros((280, 280), np.uint8)
    canvas[y : y + size, x : x + size] = value
    assert canvas_to_image(canvas, "mnist") is None


def test_one_pixel_line_on_a_big_canvas_is_kept():
    canvas = np.zeros((2000, 2000), np.uint8)
    rows = np.arange(300, 1700)
    canvas[rows, 1000 + (rows - 300) // 4] = 255  # a steep one-pixel stroke
    image = canvas_to_image(canvas, "mnist", normalize_stroke=False)
    assert image is not None and image.max() == 255
    assert np.count_nonzero(image.any(axis=1)) == 20
    assert np.count_nonzero(image > 64) >= 20


def test_stroke_touching_the_border_is_converted():
    canvas = np.full((100, 80), 255, np.uint8)  # paper
    canvas[:, 35:45] = 0  # dark bar from the top edge to the bottom edge
    canvas[0, :] = 0  # and along the whole top edge
    image = canvas_to_image(canvas, "mnist", normalize_stroke=False)
    assert image is not None
    cy, cx = _centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert np.count_nonzero(image.any(axis=1)) == 20  # the longer side is 20 px


@pytest.mark.parametrize("target", ["mnist", "digits-8x8"])
def test_tiny_digit_is_scaled_up(target):
    canvas = np.zeros((500, 500), np.uint8)
    canvas[200:207, 300:303] = 255  # a 7x3 "one"
    image = canvas_to_image(canvas, target, normalize_stroke=False)
    assert image is not None
    if target == "mnist":
        assert np.count_nonzero(image.any(axis=1)) == 20
    else:
        assert image.max() == 16


def test_huge_canvas_is_fast(mnist):
    digit = np.kron(mnist.images[5][4:24, 4:24], np.ones((190, 190), np.uint8))
    canvas = _paste(digit, (4000, 4000), 100, 150)
    canvas_to_image(canvas, "mnist")  # first call pays for fresh memory
    start = time.perf_counter()
    image = canvas_to_image(255 - canvas, "mnist")
    elapsed = time.perf_counter() - start
    assert image is not None
    # About 60 ms on the idle 2-core development machine; generous for busy CI.
    assert elapsed < 1.5


def test_digits_8x8_counts_on_pixels_in_4x4_blocks():
    canvas = np.zeros((64, 64), np.uint8)
    canvas[:, 24:40] = 255  # full-height bar, a quarter of the width, centred
    image = canvas_to_image(canvas, "digits-8x8")
    assert image.shape == (8, 8) and image.dtype == np.uint8
    expected = np.zeros((8, 8), np.uint8)
    expected[:, 3:5] = 16
    np.testing.assert_array_equal(image, expected)


def test_digits_8x8_of_a_32x32_bitmap_is_its_block_counts():
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[0:32, 0:32]
    # A ring 32 px tall and 20 px wide, centred: already the UCI normalised bitmap.
    radius = ((rows - 15.5) / 16.0) ** 2 + ((cols - 15.5) / 10.0) ** 2
    bitmap = (radius <= 1.0) & (radius >= 0.45)
    bitmap[rng.random((32, 32)) < 0.2] = False  # an irregular stroke
    bitmap[[0, 31], 15] = True
    bitmap[15, [6, 25]] = True
    canvas = np.kron(bitmap.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    image = canvas_to_image(_paste(canvas, (300, 300), 60, 70), "digits-8x8")
    expected = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    np.testing.assert_array_equal(image, expected)


def test_canvas_to_input_applies_the_model_normalization(mnist):
    canvas = _paste(
        np.kron(mnist.images[0], np.ones((4, 4), np.uint8)), (150, 150), 9, 9
    )
    for kind in ("scale", "standardize"):
        normalization = Normalization.fit(kind, mnist.images[:500], 255)
        vector = canvas_to_input(canvas, normalization, "mnist")
        expected = normalization.apply(canvas_to_image(canvas, "mnist")[None])[0]
        assert vector.shape == (784,) and vector.dtype == np.float32
        np.testing.assert_array_equal(vector, expected)


def test_canvas_is_not_modified(mnist):
    canvas = _paste(
        mnist.images[2].astype(np.float32) / 255, (80, 80), 5, 5, np.float32
    )
    before = canvas.copy()
    canvas_to_image(canvas, "mnist")
    np.testing.assert_array_equal(canvas, before)


def test_target_can_be_given_as_the_model_image_shape(mnist):
    canvas = _paste(mnist.images[1], (60, 60), 3, 3)
    assert target_for_shape((28, 28)) == "mnist"
    np.testing.assert_array_equal(
        canvas_to_image(canvas, (28, 28)), canvas_to_image(canvas, "mnist")
    )
    assert canvas_to_image(canvas, (8, 8)).shape == (8, 8)


@pytest.mark.parametrize(
    ("canvas", "target", "message"),
    [
        (np.zeros((10, 10)), "cifar", "unknown drawing target"),
        (np.zeros((10, 10)), (32, 32), "not 32x32"),
        (np.zeros(10), "mnist", "grey-scale"),
        (np.zeros((4, 4, 2)), "mnist", "grey-scale"),
        (np.array([["a"]]), "mnist", "must hold numbers"),
    ],
)
def test_bad_input_raises_a_clear_error(canvas, target, message):
    with pytest.raises(PreprocessError, match=message):
        canvas_to_image(canvas, target)


@pytest.fixture(scope="module")
def trained(mnist):
    """A `recommended`-style model trained briefly on the bundled sample."""
    import dataclasses

    from core.augment import AugmentConfig
    from core.network import MLP
    from core.presets import PRESETS
    from core.training import train

    # The preset's network and optimiser, briefly and without augmentation.
    config = dataclasses.replace(
        PRESETS["recommended"].config, epochs=3, augment=AugmentConfig()
    )
    train_set, validation_set = stratified_split(mnist, 0.1, seed=0)
    network = MLP((784, *config.hidden_sizes, 10), config.activation, seed=0)
    result = train(network, train_set, validation_set, config)
    assert result.history[-1]["validation_accuracy"] > 0.9
    return network, result.normalization, validation_set


def test_digits_moved_and_rescaled_on_a_big_canvas_keep_their_class(trained):
    network, normalization, validation_set = trained
    rng = np.random.default_rng(0)
    originals = validation_set.images[:40]
    predicted = network.predict(normalization.apply(originals))
    confident = np.flatnonzero(predicted == validation_set.labels[:40])[:8]
    assert len(confident) == 8
    for index in confident:
        factor = int(rng.integers(4, 20))
        big = np.kron(originals[index], np.ones((factor, factor), np.uint8))
        canvas_shape = (big.shape[0] + 300, big.shape[1] + 500)
        top, left = int(rng.integers(0, 300)), int(rng.integers(0, 500))
        canvas = _paste(big, canvas_shape, top, left)
        if index % 2:
            canvas = 255 - canvas  # dark ink on paper, detected
        vector = canvas_to_input(canvas, normalization, "mnist")
        assert network.predict(vector) == predicted[index]


# -- stroke width -------------------------------------------------------------------


def _polyline(points, step=4.0):
    """Points every ``step`` px along a polyline, as a mouse reports them."""
    points = np.asarray(points, np.float64)
    out = [points[0]]
    for start, end in zip(points[:-1], points[1:], strict=True):
        count = max(1, int(np.ceil(np.linalg.norm(end - start) / step)))
        out.extend(start + (end - start) * t for t in np.arange(1, count + 1) / count)
    return np.array(out)


_ANGLES = np.linspace(0.0, 2.0 * np.pi, 120)
# Digits as a person might draw them on the 280 px canvas: (x, y) polylines.
DRAWN = {
    2: [
        _polyline(
            [(80, 90), (110, 60), (160, 55), (195, 80), (190, 120), (150, 160)]
            + [(90, 215), (200, 215)]
        )
    ],
    8: [np.stack([140 + 45 * np.sin(2 * _ANGLES), 140 - 85 * np.cos(_ANGLES)], 1)],
    4: [
        _polyline([(120, 50), (80, 160), (210, 160)]),
        _polyline([(175, 70), (170, 235)]),
    ],
    1: [_polyline([(105, 95), (150, 45), (150, 230)])],
}
PENS = (3, 8, 18, 40)


def _draw(strokes, pen):
    return (render_strokes(strokes, pen, (280, 280)) * 255).astype(np.uint8)


@pytest.mark.parametrize("pen", [2, 3, 5, 12, 25, 40])
@pytest.mark.parametrize("degrees", [0, 20, 45, 90])
def test_stroke_width_of_a_long_line_is_the_pen_width(pen, degrees):
    angle = np.radians(degrees)
    half = 100 * np.array([np.cos(angle), np.sin(angle)])
    line = np.array([(150, 150) - half, (150, 150) + half])
    image = render_strokes([line], pen, (300, 300))
    # Ink w L + pi w^2 / 4 over half the outline L + pi w / 2: the two round caps
    # make it read a little low.
    expected = pen * (1 - (np.pi * pen / 2) / (400 + np.pi * pen))
    # Below 3 px the soft edges are a large part of the stroke.
    assert stroke_width(image) == pytest.approx(expected, rel=0.05 if pen >= 3 else 0.1)
    assert stroke_width((image * 255).astype(np.uint8)) == pytest.approx(
        stroke_width(image), rel=5e-3
    )


def test_stroke_width_of_an_empty_image_is_zero():
    assert stroke_width(np.zeros((28, 28), np.uint8)) == 0.0


@pytest.mark.parametrize("digit", sorted(DRAWN))
@pytest.mark.parametrize("pen", PENS)
def test_pen_width_is_estimated_for_strokes_loops_and_crossings(digit, pen):
    conversion = convert_drawing(_draw(DRAWN[digit], pen), "mnist")
    # A wide pen fills the inside of sharp corners, which reads a little wide.
    assert conversion.pen_width == pytest.approx(pen, rel=0.08)


def test_pen_width_of_a_dot_is_its_diameter():
    canvas = _draw([np.array([[140.0, 140.0]])], 30)
    conversion = convert_drawing(canvas, "mnist")
    # A disc is the one shape whose outline is as short as its ink allows, so the
    # estimate is sensitive to the pixels there.
    assert conversion.pen_width == pytest.approx(30, rel=0.15)
    assert conversion.size < 0.02  # a dot has no centre line to speak of


@pytest.mark.parametrize("digit", sorted(DRAWN))
def test_any_pen_gives_strokes_as_wide_as_mnist(digit):
    widths = []
    for pen in PENS:
        image = canvas_to_image(_draw(DRAWN[digit], pen), "mnist")
        widths.append(stroke_width(image))
        raw = canvas_to_image(_draw(DRAWN[digit], pen), "mnist", normalize_stroke=False)
        # Without the width change, the thinnest and the widest pen are far off.
        if pen == 3:
            assert stroke_width(raw) < 0.7 * MNIST_STROKE_WIDTH
        if pen == 40:
            assert stroke_width(raw) > 1.3 * MNIST_STROKE_WIDTH
    # MNIST's quartiles are 2.13 and 2.91 px; crossings read a little wide.
    assert min(widths) >= 0.9 * MNIST_STROKE_WIDTH
    assert max(widths) <= 1.25 * MNIST_STROKE_WIDTH
    assert max(widths) - min(widths) < 0.4


@pytest.mark.parametrize("digit", sorted(DRAWN))
def test_pens_from_3_to_40_give_nearly_the_same_input(digit):
    images = [
        canvas_to_image(_draw(DRAWN[digit], pen), "mnist").astype(np.float64)
        for pen in PENS
    ]
    # "Nearly the same": any two pens differ by at most 8 grey levels (of 255) on
    # average over the 784 pixels (a one-pixel shift of a digit costs about 40).
    for first in range(len(PENS)):
        for second in range(first + 1, len(PENS)):
            difference = np.abs(images[first] - images[second]).mean()
            assert difference <= 8.0, (PENS[first], PENS[second], difference)


def test_pens_from_3_to_40_give_the_same_prediction(trained):
    network, normalization, _ = trained
    for digit, strokes in DRAWN.items():
        images = np.stack(
            [canvas_to_image(_draw(strokes, pen), "mnist") for pen in PENS]
        )
        predicted = network.predict(normalization.apply(images))
        assert np.all(predicted == predicted[0]), (digit, predicted)


def _pieces(image: np.ndarray) -> int:
    """8-connected pieces of the ink at half strength or more."""
    ink = image >= 128
    seen = np.zeros_like(ink)
    pieces = 0
    for start in zip(*np.nonzero(ink), strict=True):
        if seen[start]:
            continue
        pieces += 1
        seen[start] = True
        stack = [start]
        while stack:
            y, x = stack.pop()
            for ny in range(max(y - 1, 0), min(y + 2, ink.shape[0])):
                for nx in range(max(x - 1, 0), min(x + 2, ink.shape[1])):
                    if ink[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
    return pieces


@pytest.mark.parametrize("digit", sorted(DRAWN))
def test_a_pen_wide_for_its_drawing_is_thinned_whole_in_coarser_pixels(
    digit, monkeypatch
):
    # A small digit drawn with a 30 px pen runs together into a blob. Its width is
    # changed in working pixels coarse enough for the pen (the blur that thins it,
    # and its cost, grow with the pen in them) and as one stroke: the per-stroke
    # cut took the blob's filled loops for strokes and cut the 4 to pieces.
    sigmas = []
    blur = preprocess._blur

    def recording_blur(ink, margin, sigma):
        sigmas.append(sigma)
        return blur(ink, margin, sigma)

    monkeypatch.setattr(preprocess, "_blur", recording_blur)
    small = [91.0 + 0.35 * stroke for stroke in DRAWN[digit]]
    image = canvas_to_image(_draw(small, 30), "mnist")
    assert all(sigma <= preprocess._MAX_WORK_PEN / 3.0 for sigma in sigmas)
    assert _pieces(image) == 1


def _holes(image: np.ndarray) -> int:
    """Pieces of paper (below half strength) the ink closes off from the border."""
    paper = np.pad(image < 128, 1, constant_values=True)
    return _pieces(paper.astype(np.uint8) * 255) - 1


@pytest.mark.parametrize("shape", ["ring", "4"])
def test_a_small_drawing_in_a_wide_pen_keeps_its_holes(shape):
    # A third of their usual size, drawn with a 25 px pen (the ring's hole is
    # 3 x 10 px): the blur that thins the strokes all the way filled the
    # ring's hole (it read as a blob, "not a digit") and the 4's.
    strokes = {
        "ring": [np.stack([40 * np.cos(_ANGLES), 50 * np.sin(_ANGLES)], 1)],
        "4": [stroke - 140 for stroke in DRAWN[4]],
    }[shape]
    canvas = _draw([140 + 0.35 * stroke for stroke in strokes], 25)
    assert _holes(canvas) == 1
    assert _holes(canvas_to_image(canvas, "mnist")) == 1


def test_a_pen_too_wide_for_its_drawing_is_told():
    def small(pen, scale=0.35):
        return _draw([140 + scale * (stroke - 140) for stroke in DRAWN[4]], pen)

    # 40 px on a 4 a third of its usual size: more than three times MNIST's width
    # for that size, so the strokes stay wide.
    assert convert_drawing(small(40), "mnist").wide_pen
    assert not convert_drawing(small(8), "mnist").wide_pen
    assert not convert_drawing(small(40, scale=1.0), "mnist").wide_pen
    assert not convert_drawing(small(40), "digits-8x8").wide_pen


def test_thick_strokes_are_thinned_and_thin_ones_thickened():
    thin = _draw(DRAWN[2], 3)
    thick = _draw(DRAWN[2], 40)
    for canvas, raw_is_thinner in ((thin, True), (thick, False)):
        raw = canvas_to_image(canvas, "mnist", normalize_stroke=False)
        new = canvas_to_image(canvas, "mnist")
        assert (stroke_width(raw) < stroke_width(new)) == raw_is_thinner
        assert (raw.sum() < new.sum()) == raw_is_thinner


def _serif_zero(sides=40, hairlines=8):
    """A 0 as type sets it: stems ``sides`` px wide, hairlines top and bottom."""
    y, x = np.mgrid[0:280, 0:280] + 0.5

    def inside(rx, ry):
        return ((x - 140) / rx) ** 2 + ((y - 140) / ry) ** 2 <= 1

    ring = inside(50 + sides, 104) & ~inside(50, 104 - hairlines)
    return (ring * 255).astype(np.uint8)


def test_hairlines_beside_thick_stems_come_out_as_wide_as_the_stems():
    image = canvas_to_image(_serif_zero(), "mnist")
    middle = image[:, 12:17].max(axis=1)
    # One width for the whole 0 thinned the hairlines to grey 3 of 255.
    assert middle[:14].max() >= 200 and middle[14:].max() >= 200
    stems, hairline = stroke_width(image[8:20]), stroke_width(image[:8, 8:20])
    assert hairline == pytest.approx(stems, rel=0.2)
    assert stems == pytest.approx(MNIST_STROKE_WIDTH, rel=0.2)


@pytest.mark.parametrize("digit", sorted(DRAWN))
def test_one_pen_is_brought_to_mnist_width_as_one(digit, monkeypatch):
    # Drawn with one pen, every stroke has the same width: the per-stroke change
    # stays out of it (it would turn a pen's crossings and ends into widths).
    images = [canvas_to_image(_draw(DRAWN[digit], pen), "mnist") for pen in PENS]
    monkeypatch.setattr(preprocess, "_THIN_SHARE", 2.0)  # never per stroke
    for pen, image in zip(PENS, images, strict=True):
        assert np.array_equal(image, canvas_to_image(_draw(DRAWN[digit], pen), "mnist"))


def test_normalized_bar_is_centred_upright_and_twenty_pixels_long():
    canvas = np.zeros((300, 200), np.uint8)
    canvas[40:260, 30:44] = 255
    image = canvas_to_image(canvas, "mnist")
    cy, cx = _centre_of_mass(image)
    # The width change centres the ink exactly, not to the nearest pixel.
    assert abs(cy - 14) < 0.05 and abs(cx - 14) < 0.05
    rows = image.astype(np.float64).sum(axis=1) / 255
    # 20 px long: the ends are round caps of MNIST's width (half of it each side).
    assert 20 - MNIST_STROKE_WIDTH / 2 - 0.5 <= np.count_nonzero(rows > 0.5) <= 20
    body = image[8:20]
    assert np.all(body == body[0])  # upright: every row of the body the same
    assert stroke_width(image) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.1)


@pytest.mark.parametrize("lean", [-0.35, 0.2, 0.45])
def test_a_slanted_drawing_is_stood_upright(lean):
    def sheared(strokes):
        # x moves by lean per pixel of height above the canvas middle.
        return [
            np.stack([s[:, 0] + lean * (140 - s[:, 1]), s[:, 1]], 1) for s in strokes
        ]

    for digit in (1, 4):
        upright = canvas_to_image(_draw(DRAWN[digit], 12), "mnist")
        leaning = canvas_to_image(_draw(sheared(DRAWN[digit]), 12), "mnist")
        assert abs(float(slant(leaning))) < 0.05
        assert np.abs(leaning.astype(float) - upright.astype(float)).mean() < 12


@pytest.mark.parametrize("q", [2, 3, 5, 7])
def test_block_sums_have_the_bits_of_a_reshaped_sum(q):
    from core.preprocess import _block_sums

    rng = np.random.default_rng(q)
    crop = rng.random((97, 263), dtype=np.float32)
    h, w = -(-97 // q), -(-263 // q)
    padded = np.zeros((h * q, w * q), np.float32)
    padded[:97, :263] = crop
    expected = padded.reshape(h, q, w, q).sum(axis=(1, 3))
    assert _block_sums(crop, q).tobytes() == expected.tobytes()
