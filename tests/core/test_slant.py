import numpy as np
import pytest
from memory_peak import traced_peak

from core.slant import deskew, slant
from core.strokes import render_strokes


def _bar(shear, width=2.5):
    # A 20 px tall bar whose top leans right by ``shear`` px per px of height.
    line = np.array([[14 + shear * 10, 4.0], [14 - shear * 10, 24.0]])
    return (render_strokes([line], width, (28, 28)) * 255).astype(np.uint8)


@pytest.mark.parametrize("shear", [-0.5, -0.2, 0.0, 0.3, 0.6])
def test_slant_of_a_sheared_bar_is_its_shear(shear):
    assert slant(_bar(shear)) == pytest.approx(shear, abs=0.02)


@pytest.mark.parametrize("shear", [-0.5, 0.3, 0.6])
def test_deskew_stands_a_sheared_bar_upright_about_its_centre(shear):
    image = _bar(shear)
    upright = deskew(image)
    assert upright.dtype == np.uint8 and upright.shape == (28, 28)
    assert abs(float(slant(upright))) < 0.02

    # The bar stays where it was: same centre of mass, same ink (within resampling).
    def centre(x):
        x = x.astype(np.float64)
        return (x.sum(1) @ np.arange(28)) / x.sum(), (
            x.sum(0) @ np.arange(28)
        ) / x.sum()

    assert centre(upright) == pytest.approx(centre(image), abs=0.15)
    assert int(upright.sum()) == pytest.approx(int(image.sum()), rel=0.03)
    # Upright: the ink's column is the same at the top and the bottom.
    top = np.average(np.arange(28), weights=upright[7].astype(float) + 1e-9)
    bottom = np.average(np.arange(28), weights=upright[21].astype(float) + 1e-9)
    assert top == pytest.approx(bottom, abs=0.3)


def test_deskew_is_batched_and_leaves_upright_and_empty_images_alone():
    batch = np.stack([_bar(0.4), _bar(0.0), np.zeros((28, 28), np.uint8)])
    out = deskew(batch)
    assert out.shape == batch.shape
    np.testing.assert_array_equal(out[1], batch[1])
    assert not out[2].any()
    np.testing.assert_array_equal(out[0], deskew(batch[0]))
    np.testing.assert_allclose(slant(batch), [0.4, 0.0, 0.0], atol=0.02)


def test_a_big_batch_is_deskewed_in_little_memory_and_as_each_image_alone():
    rng = np.random.default_rng(0)
    shears = rng.uniform(-0.6, 0.6, 20)
    bars = np.stack([_bar(shear) for shear in shears])
    batch = bars[rng.integers(0, 20, 2000)]
    out, peak = traced_peak(lambda: deskew(batch))
    # The output is 1.5 MB; all 2,000 images' temporaries at once took 60 MB.
    assert peak < 6 * 2**20
    for index in (0, 777, 1999):
        np.testing.assert_array_equal(out[index], deskew(batch[index]))


def test_slant_is_capped_for_flat_shapes():
    flat = np.zeros((28, 28), np.uint8)
    flat[13:15, 4:24] = 255
    flat[15, 4] = 255  # almost no height: mu02 is tiny
    assert abs(float(slant(flat))) <= 1.0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="images must be"):
        slant(np.zeros(5))
