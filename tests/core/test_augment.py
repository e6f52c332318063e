import math
import time

import numpy as np
import pytest

from core.augment import AugmentConfig, Augmenter, AugmentError, _draw, augment_batch
from core.datasets import load_bundled
from core.preprocess import MNIST_STROKE_WIDTH

AMOUNTS = {
    "shift": 2.0,
    "rotation": 15.0,
    "scale": 0.1,
    "shear": 10.0,
    "elastic": 1.5,
    "thickness": 0.5,
    "noise": 0.05,
}
GEOMETRIC = ("shift", "rotation", "scale", "shear", "elastic")


@pytest.fixture(scope="module")
def digits():
    return load_bundled("mnist-sample").images[:128]


def _centre_of_mass(images):
    images = images.astype(np.float64)
    mass = images.sum(axis=(1, 2))
    rows = np.arange(images.shape[1])
    cols = np.arange(images.shape[2])
    cy = (images.sum(axis=2) @ rows) / mass
    cx = (images.sum(axis=1) @ cols) / mass
    return cy, cx


def _bilinear_reference(image, matrix):
    """Slow per-pixel reference: out[y, x] = image at matrix @ (x, y, 1), 0 outside."""
    H, W = image.shape
    padded = np.zeros((H + 4, W + 4))
    padded[2:-2, 2:-2] = image
    out = np.zeros((H, W))
    for y in range(H):
        for x in range(W):
            sx, sy = matrix @ np.array([x, y, 1.0])
            sx = min(max(sx, -1.5), W + 0.5)
            sy = min(max(sy, -1.5), H + 0.5)
            x0, y0 = math.floor(sx), math.floor(sy)
            fx, fy = sx - x0, sy - y0
            p = padded[y0 + 2 : y0 + 4, x0 + 2 : x0 + 4]
            top = p[0, 0] * (1 - fx) + p[0, 1] * fx
            bottom = p[1, 0] * (1 - fx) + p[1, 1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def test_default_config_is_off():
    config = AugmentConfig()
    assert not config.is_active
    assert all(getattr(config, name) == 0 for name in AMOUNTS)


@pytest.mark.parametrize("name", AMOUNTS)
def test_each_amount_switches_augmentation_on(name):
    config = AugmentConfig(**{name: AMOUNTS[name]})
    assert config.is_active
    assert config.is_geometric == (name in GEOMETRIC)
    assert not AugmentConfig(**{name: AMOUNTS[name]}, probability=0.0).is_active


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shift", -1.0),
        ("rotation", 400.0),
        ("scale", 0.95),
        ("shear", float("nan")),
        ("elastic", float("inf")),
        ("thickness", 1.5),
        ("noise", "a lot"),
        ("probability", 1.2),
        ("elastic_grid", 1),
        ("elastic_grid", 3.5),
        ("shift", True),
    ],
)
def test_bad_amount_raises_a_message_naming_it(field, value):
    with pytest.raises(AugmentError, match=field):
        AugmentConfig(**{field: value})


def test_config_round_trips_through_a_dict():
    config = AugmentConfig(**AMOUNTS, elastic_grid=5, probability=0.75)
    assert AugmentConfig.from_dict(config.to_dict()) == config
    assert AugmentConfig.from_dict({"rotation": 5}) == AugmentConfig(rotation=5)
    assert AugmentConfig.from_dict(None) == AugmentConfig()
    assert AugmentConfig.from_dict({"elastic_grid": 6.0}).elastic_grid == 6


@pytest.mark.parametrize("data", [{"spin": 3}, [1, 2], {"rotation": -3}])
def test_bad_dict_raises(data):
    with pytest.raises(AugmentError):
        AugmentConfig.from_dict(data)


def test_inactive_config_returns_a_float_copy(digits):
    out = augment_batch(digits, AugmentConfig(), np.random.default_rng(0), 255)
    assert out.dtype == np.float32 and out.shape == digits.shape
    np.testing.assert_array_equal(out, digits)


@pytest.mark.parametrize("name", AMOUNTS)
def test_same_seed_gives_the_same_batch(digits, name):
    config = AugmentConfig(**{name: AMOUNTS[name]})
    first = augment_batch(digits, config, np.random.default_rng(7), 255)
    again = augment_batch(digits, config, np.random.default_rng(7), 255)
    other = augment_batch(digits, config, np.random.default_rng(8), 255)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 0 and first.max() <= 255


@pytest.mark.parametrize(
    "amounts",
    [
        {"rotation": 30.0},
        {"scale": 0.3},
        {"shear": 25.0},
        {"shift": 4.0},
        {"shift": 3.0, "rotation": 20.0, "scale": 0.2, "shear": 15.0},
    ],
)
def test_warp_matches_a_per_pixel_bilinear_reference(digits, amounts):
    images = digits[:6]
    augmenter = Augmenter(*images.shape)
    config = AugmentConfig(**amounts)
    out = augmenter(images, config, np.random.default_rng(3), 255)
    # The per-image output-to-source maps of this call (white box on purpose).
    params = augmenter._params
    for i, image in enumerate(images):
        matrix = params[:, i, :].astype(np.float64)
        expected = _bilinear_reference(image.astype(np.float64), matrix)
        # Source positions are rounded to 1/256 pixel: up to ~1 grey level apart.
        assert np.abs(out[i] - expected).max() < 2.0
    # and the batch really moved
    assert np.abs(out - images).mean() > 5


def test_shift_keeps_the_ink_and_moves_its_centre(digits):
    config = AugmentConfig(shift=3.0)
    out = augment_batch(digits, config, np.random.default_rng(1), 255)
    cy0, cx0 = _centre_of_mass(digits)
    cy1, cx1 = _centre_of_mass(out)
    dy, dx = cy1 - cy0, cx1 - cx0
    # A translation keeps the ink of digits clear of the border, and moves the
    # centre by at most the amount, in both directions over a batch.
    frame = digits.copy()
    frame[:, 3:-3, 3:-3] = 0
    clear = ~frame.any(axis=(1, 2))
    assert clear.sum() > 20
    np.testing.assert_allclose(
        out[clear].sum(axis=(1, 2)), digits[clear].sum(axis=(1, 2)), rtol=1e-4
    )
    assert np.abs(dy).max() <= 3.0 + 1e-3 and np.abs(dx).max() <= 3.0 + 1e-3
    assert dy.min() < -1.5 and dy.max() > 1.5 and dx.min() < -1.5 and dx.max() > 1.5


def test_elastic_field_is_smooth_and_has_the_requested_size():
    batch = np.zeros((64, 28, 28), np.uint8)
    augmenter = Augmenter(*batch.shape)
    rng = np.random.default_rng(2)
    draws = _draw(AugmentConfig(elastic=1.5), rng, batch.shape, 255)
    # Fixed-point source x minus the pixel's own x (the padding and rounding offsets
    # are 256.5); unclipped interior pixels only.
    coords = augmenter._source_coordinates(draws.params, draws.coarse, 64)[0] - 256.5
    displacement = coords / 256.0 - np.arange(28)[None, None, :]
    interior = displacement[:, 6:22, 6:22]
    rms = np.sqrt((interior**2).mean())
    assert 1.2 < rms < 1.8
    # Neighbouring pixels move almost together; distant ones independently.
    near = np.corrcoef(interior[:, :, :-1].ravel(), interior[:, :, 1:].ravel())[0, 1]
    far = np.corrcoef(displacement[:, :, 0].ravel(), displacement[:, :, 27].ravel())
    assert near > 0.95 and abs(far[0, 1]) < 0.3


def test_thickness_both_thickens_and_thins(digits):
    out = augment_batch(
        digits, AugmentConfig(thickness=1.0), np.random.default_rng(4), 255
    )
    ratio = out.sum(axis=(1, 2)) / digits.sum(axis=(1, 2))
    assert ratio.max() > 1.3 and ratio.min() < 0.7
    # Dilation never dims a pixel, erosion never brightens one.
    grew = ratio > 1
    assert np.all(out[grew] >= digits[grew] - 1e-3)
    assert np.all(out[~grew] <= digits[~grew] + 1e-3)


@pytest.mark.parametrize("max_value", [255, 16])
def test_noise_has_the_requested_spread(max_value):
    grey = np.full((128, 28, 28), max_value // 2, np.uint8)
    out = augment_batch(
        grey, AugmentConfig(noise=0.05), np.random.default_rng(5), max_value
    )
    assert out.std() == pytest.approx(0.05 * max_value, rel=0.05)
    assert out.mean() == pytest.approx(max_value // 2, abs=0.01 * max_value)


def test_probability_leaves_some_images_untouched(digits):
    config = AugmentConfig(rotation=20.0, elastic=1.0, probability=0.5)
    out = augment_batch(digits, config, np.random.default_rng(6), 255)
    untouched = np.all(out == digits, axis=(1, 2))
    assert 0.3 < untouched.mean() < 0.7


def test_uint8_and_float_inputs_agree(digits):
    config = AugmentConfig(**AMOUNTS)
    a = augment_batch(digits, config, np.random.default_rng(9), 255)
    b = augment_batch(digits.astype(np.float32), config, np.random.default_rng(9), 255)
    np.testing.assert_allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("shape", [(1, 28, 28), (37, 28, 28), (200, 8, 8), (5, 3, 40)])
def test_any_batch_and_image_size_works(shape):
    rng = np.random.default_rng(10)
    images = rng.integers(0, 17, shape).astype(np.uint8)
    out = np.empty(shape, np.float32)
    result = augment_batch(images, AugmentConfig(**AMOUNTS), rng, 16, out=out)
    assert result is out
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 16


@pytest.mark.parametrize(
    ("images", "out"),
    [
        (np.zeros((28, 28), np.uint8), None),
        (np.zeros((0, 28, 28), np.uint8), None),
        (np.zeros((2, 28, 28), np.int64), None),
        (np.zeros((2, 28, 28), np.uint8), np.zeros((2, 28, 28), np.float64)),
        (np.zeros((2, 28, 28), np.uint8), np.zeros((3, 28, 28), np.float32)),
        # A strided out would be written through a copy and stay unchanged.
        (np.zeros((2, 28, 28), np.uint8), np.zeros((2, 28, 56), np.float32)[..., ::2]),
    ],
)
def test_bad_arrays_raise(images, out):
    with pytest.raises(AugmentError):
        augment_batch(
            images, AugmentConfig(rotation=5), np.random.default_rng(0), 255, out
        )


def test_a_minibatch_takes_well_under_a_millisecond_per_ten_images(digits):
    config = AugmentConfig(**{k: AMOUNTS[k] for k in GEOMETRIC})
    rng = np.random.default_rng(11)
    out = np.empty(digits.shape, np.float32)
    augment_batch(digits, config, rng, 255, out=out)
    start = time.perf_counter()
    for _ in range(20):
        augment_batch(digits, config, rng, 255, out=out)
    per_batch = (time.perf_counter() - start) / 20
    # About 0.6 ms for 128 images on the 2-core development machine.
    assert per_batch < 0.01


# -- drawn-looking digits: a new pen, style strokes, width ----------------------------

DRAWN = {"restroke": 0.5, "styles": 0.5, "aspect": 0.2}


@pytest.fixture(scope="module")
def labelled():
    data = load_bundled("mnist-sample")
    return data.images[:256], data.labels[:256].astype(np.intp)


@pytest.mark.parametrize("name", DRAWN)
def test_drawn_look_settings_switch_augmentation_on_and_are_checked(name):
    config = AugmentConfig(**{name: DRAWN[name]})
    assert config.is_active
    assert config.is_geometric == (name == "aspect")
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(AugmentError, match=name):
        AugmentConfig(**{name: 1.5})


@pytest.mark.parametrize("name", DRAWN)
def test_drawn_look_is_deterministic_with_a_seed(labelled, name):
    images, labels = labelled
    config = AugmentConfig(**{name: 1.0 if name != "aspect" else 0.3})
    first = augment_batch(images, config, np.random.default_rng(4), 255, labels=labels)
    again = augment_batch(images, config, np.random.default_rng(4), 255, labels=labels)
    other = augment_batch(images, config, np.random.default_rng(5), 255, labels=labels)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == images.shape and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 255


def test_style_strokes_change_only_ones_sixes_sevens_and_nines(labelled):
    images, labels = labelled
    config = AugmentConfig(styles=1.0)
    out = augment_batch(images, config, np.random.default_rng(0), 255, labels=labels)
    changed = np.any(out != images, axis=(1, 2))
    styled = np.isin(labels, (1, 6, 7, 9))
    assert np.all(changed[styled]) and not np.any(changed[~styled])
    # Without labels there is nothing to go by: the batch passes unchanged.
    plain = augment_batch(images, config, np.random.default_rng(0), 255)
    np.testing.assert_array_equal(plain, images)


def test_restroke_brings_stroke_widths_into_its_range(labelled):
    from core.strokes import pen_widths

    images, labels = labelled
    out = augment_batch(images, AugmentConfig(restroke=1.0), np.random.default_rng(1))
    widths = pen_widths(out)
    low, high = 0.75 * MNIST_STROKE_WIDTH, 1.45 * MNIST_STROKE_WIDTH
    inside = np.mean((widths > 0.85 * low) & (widths < 1.3 * high))
    # Junctions read a little wide at 28x28 (see test_drawing_styles for the pens).
    assert inside > 0.9 and not np.array_equal(out, images)


def test_aspect_changes_the_width_only():
    square = np.zeros((64, 28, 28), np.uint8)
    square[:, 8:20, 9:19] = 255
    out = augment_batch(square, AugmentConfig(aspect=0.3), np.random.default_rng(2))
    widths = (out > 127).any(axis=1).sum(axis=1)
    heights = (out > 127).any(axis=2).sum(axis=1)
    assert np.all(heights == 12)
    assert widths.min() <= 8 and widths.max() >= 12  # 10 px times 0.7 .. 1.3


def test_drawn_look_leaves_small_images_alone():
    small = (np.random.default_rng(0).random((32, 8, 8)) * 16).round()
    config = AugmentConfig(restroke=1.0, styles=1.0)
    out = augment_batch(small, config, np.random.default_rng(0), 16, labels=np.ones(32))
    np.testing.assert_array_equal(out, small)


def test_older_settings_draw_the_same_random_numbers_with_labels(digits):
    config = AugmentConfig(**AMOUNTS)
    labels = np.ones(len(digits), np.intp)
    with_labels = augment_batch(digits, config, np.random.default_rng(9), labels=labels)
    without = augment_batch(digits, config, np.random.default_rng(9))
    np.testing.assert_array_equal(with_labels, without)
