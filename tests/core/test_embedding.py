"""core.embedding: the PCA map matches numpy.linalg.svd; the digit map's parts."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from trained_model import holdout, trained_model

from core.datasets import load_bundled
from core.embedding import digit_map, map_features, pca_map
from core.neurons import layer_outputs


def _svd_coordinates(features, count=2):
    centred = features - features.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return (u[:, :count] * s[:count]), s**2 / np.sum(s**2)


def _assert_equal_up_to_sign(got, want):
    for axis in range(want.shape[1]):
        sign = np.sign(np.dot(got[:, axis], want[:, axis]))
        assert sign != 0
        np.testing.assert_allclose(
            got[:, axis],
            sign * want[:, axis],
            rtol=1e-4,
            atol=1e-4 * np.abs(want).max(),
        )


@pytest.mark.parametrize(("samples", "values"), [(300, 20), (15, 40), (40, 40)])
def test_pca_coordinates_match_numpy_svd_up_to_sign(samples, values):
    rng = np.random.default_rng(samples)
    # Clearly separated variances, so the axes are well defined.
    features = rng.normal(size=(samples, values)) * np.linspace(5, 0.1, values)
    features = features @ np.linalg.qr(rng.normal(size=(values, values)))[0]
    result = pca_map(features)
    want, ratio = _svd_coordinates(features)
    _assert_equal_up_to_sign(result.coordinates, want)
    np.testing.assert_allclose(result.explained, ratio[:2], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(result.components, axis=1), 1.0)


def test_pca_of_real_images_matches_numpy_svd():
    data = load_bundled("digits-8x8")
    features = (
        data.images_at(slice(None)).reshape(len(data), -1).astype(np.float32) / 16
    )
    result = pca_map(features)
    want, _ = _svd_coordinates(features.astype(np.float64))
    _assert_equal_up_to_sign(result.coordinates, want)


def test_projecting_the_fitted_samples_gives_their_coordinates():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 12)) * np.arange(12, 0, -1)
    result = pca_map(features)
    np.testing.assert_allclose(
        result.project(features), result.coordinates, rtol=1e-5, atol=1e-5
    )


def test_the_sign_of_each_axis_is_fixed():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 6)) * np.arange(6, 0, -1)
    a = pca_map(features)
    b = pca_map(features[::-1].copy())
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)


def test_digit_map_of_a_hidden_layer():
    model = trained_model()
    data = holdout()
    result = digit_map(model.network, model.normalization, data, layer=1)
    inputs = model.normalization.apply(data.images_at(slice(None)))
    outputs = layer_outputs(model.network, inputs)
    want, _ = _svd_coordinates(outputs[1].astype(np.float64))
    _assert_equal_up_to_sign(result.projection.coordinates, want)
    np.testing.assert_array_equal(result.indices, np.arange(len(data)))
    np.testing.assert_array_equal(result.labels, data.labels)
    np.testing.assert_array_equal(result.predictions, outputs[-1].argmax(axis=1))
    np.testing.assert_allclose(result.confidences, outputs[-1].max(axis=1))
    assert result.misclassified.sum() == np.count_nonzero(
        outputs[-1].argmax(axis=1) != data.labels
    )
    # A new input lands where the same features put it.
    one = map_features(
        model.network, model.normalization, data.images_at(slice(1)), 1, data.max_value
    )
    np.testing.assert_allclose(
        result.projection.project(one)[0],
        result.projection.coordinates[0],
        rtol=1e-4,
        atol=1e-4,
    )


def test_digit_map_of_raw_pixels_and_the_image_cap():
    model = trained_model()
    data = load_bundled("digits-8x8")
    result = digit_map(model.network, model.normalization, data, None, max_images=500)
    assert len(result.indices) == 500 and len(np.unique(result.indices)) == 500
    features = data.images_at(result.indices).reshape(500, -1) / 16.0
    want, _ = _svd_coordinates(features)
    _assert_equal_up_to_sign(result.projection.coordinates, want)
    assert result.layer is None


def test_digit_map_stops_when_cancelled():
    model = trained_model()
    cancel = threading.Event()
    cancel.set()
    assert (
        digit_map(model.network, model.normalization, holdout(), 0, cancel=cancel)
        is None
    )
