import json

import numpy as np
import pytest

from core import fast
from core.datasets import (
    BUNDLED,
    Dataset,
    DatasetError,
    Normalization,
    load_bundled,
    load_idx_pair,
    stratified_split,
)
from core.idx import write_idx


def _dataset(n=200, classes=10, shape=(6, 5), seed=0, max_value=255):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, max_value + 1, (n, *shape), dtype=np.uint8)
    labels = rng.integers(0, classes, n).astype(np.uint8)
    names = tuple(f"c{i}" for i in range(classes))
    return Dataset("synthetic", images, labels, names, max_value)


# Bundled data ------------------------------------------------------------------


def test_mnist_sample_has_5000_images_500_per_digit():
    data = load_bundled("mnist-sample")
    assert data.images.shape == (5000, 28, 28)
    assert data.images.dtype == np.uint8 and data.labels.dtype == np.uint8
    assert data.max_value == 255 and int(data.images.max()) == 255
    np.testing.assert_array_equal(data.class_counts(), np.full(10, 500))
    assert data.class_names == tuple("0123456789")
    assert (data.input_size, data.num_classes, len(data)) == (784, 10, 5000)
    # Shuffled once when bundled: the first 100 images already hold every digit.
    assert set(data.labels[:100]) == set(range(10))
    # Real MNIST digits: mostly dark background, ink covering ~19% of pixels.
    assert 0.1 < (data.images > 127).mean() < 0.3


def test_digits_8x8_has_1797_images_with_values_up_to_16():
    data = load_bundled("digits-8x8")
    assert data.images.shape == (1797, 8, 8)
    assert data.max_value == 16 and int(data.images.max()) == 16
    counts = data.class_counts()
    assert counts.sum() == 1797 and counts.min() == 174 and counts.max() == 183
    # The first UCI digit is a zero with this well-known top row.
    np.testing.assert_array_equal(data.images[0, 0], [0, 0, 5, 13, 9, 1, 0, 0])
    assert data.labels[0] == 0


def test_unknown_bundled_name_lists_the_bundled():
    with pytest.raises(DatasetError, match="mnist-sample, digits-8x8, pen-digits"):
        load_bundled("cifar")
    assert BUNDLED == ("mnist-sample", "digits-8x8", "pen-digits")


# Dataset ------------------------------------------------------------------------


def test_subset_keeps_the_rows_and_the_description():
    data = _dataset()
    sub = data.subset([3, 1, 4])
    np.testing.assert_array_equal(sub.images, data.images[[3, 1, 4]])
    np.testing.assert_array_equal(sub.labels, data.labels[[3, 1, 4]])
    assert sub.class_names == data.class_names and sub.max_value == 255


@pytest.mark.parametrize("kind", ["scale", "standardize"])
def test_gather_normalises_the_rows_it_is_given(kind):
    # The trainer's path from uint8 images to a minibatch of inputs.
    data = _dataset(max_value=16, seed=2)
    norm = Normalization.fit(kind, data.images, 16)
    flat = data.images.reshape(len(data), -1)
    indices = np.array([7, 0, 7, 199], np.intp)
    out = np.full((4, 30), np.nan, np.float32)
    batch = fast.gather_normalized(flat, indices, norm, out)
    assert batch is out
    expected = flat[indices] / 16.0
    if kind == "standardize":
        expected = (expected - norm.mean) / norm.std
    np.testing.assert_allclose(batch, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "images, labels, names, max_value, message",
    [
        (np.zeros((3, 4, 4), np.float32), [0, 1, 0], ("a", "b"), 255, "uint8"),
        (np.zeros((3, 16), np.uint8), [0, 1, 0], ("a", "b"), 255, r"\(N, H, W\)"),
        (np.zeros((3, 4, 4), np.uint8), [0, 1], ("a", "b"), 255, "3 images"),
        (np.zeros((3, 4, 4), np.uint8), [0, 1, 2], ("a", "b"), 255, "labels range"),
        (np.zeros((3, 4, 4), np.uint8), [0, 1, 0], ("a",), 255, "two class names"),
        (np.full((3, 4, 4), 17, np.uint8), [0, 1, 0], ("a", "b"), 16, "exceeds"),
    ],
)
def test_inconsistent_dataset_is_rejected(images, labels, names, max_value, message):
    with pytest.raises(DatasetError, match=message):
        Dataset("bad", images, np.asarray(labels), names, max_value)


# Normalization ------------------------------------------------------------------


def test_scale_maps_max_value_to_one():
    norm = Normalization.fit("scale", np.zeros((1, 2, 2), np.uint8), 16)
    out = norm.apply(np.array([[[0, 8], [16, 4]]], np.uint8))
    np.testing.assert_array_equal(out, [[0.0, 0.5, 1.0, 0.25]])
    assert out.dtype == np.float32


def test_standardize_gives_zero_mean_unit_std_on_training_data():
    data = _dataset(n=500, seed=3)
    images = data.images.copy()
    images[:, 0, 0] = 7  # a constant pixel: std 0 must become 1, not a division by 0
    norm = Normalization.fit("standardize", images, 255)
    out = norm.apply(images)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0)[1:], 1.0, rtol=1e-4)
    assert norm.std[0] == 1.0 and np.abs(out[:, 0]).max() < 1e-6
    # mean and std are those of the scaled [0, 1] values
    flat = images.reshape(500, -1) / 255.0
    np.testing.assert_allclose(norm.mean, flat.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(norm.std[1:], flat.std(axis=0)[1:], rtol=1e-5)


@pytest.mark.parametrize("kind", ["scale", "standardize"])
def test_apply_accepts_both_layouts_floats_and_out(kind):
    data = _dataset(n=64, seed=4)
    norm = Normalization.fit(kind, data.images, 255)
    expected = norm.apply(data.images)
    flat = norm.apply(data.images.reshape(64, -1))
    as_float = norm.apply(data.images.astype(np.float32))
    out = np.empty((64, 30), np.float32)
    result = norm.apply(data.images, out=out)
    assert result is out
    for other in (flat, as_float, out):
        np.testing.assert_array_equal(other, expected)
    with pytest.raises(DatasetError, match="out must be float32"):
        norm.apply(data.images, out=np.empty((64, 30), np.float64))


@pytest.mark.parametrize("kind", ["scale", "standardize"])
def test_normalization_round_trips_through_json(kind):
    data = _dataset(n=100, seed=5, max_value=16)
    norm = Normalization.fit(kind, data.images, 16)
    back = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back.kind == kind and back.max_value == 16.0
    np.testing.assert_array_equal(back.apply(data.images), norm.apply(data.images))


@pytest.mark.parametrize(
    "description, message",
    [
        ({"kind": "whiten", "max_value": 255}, "unknown normalization"),
        ({"kind": "scale", "max_value": 0}, "positive"),
        ({"kind": "standardize", "max_value": 255}, "needs a mean"),
        ({"kind": "standardize", "max_value": 1, "mean": [0, 0], "std": [1]}, "std"),
        ({"kind": "standardize", "max_value": 1, "mean": [0], "std": [0]}, "positive"),
        ({"kind": "standardize", "max_value": 1, "mean": [np.nan], "std": [1]}, "fin"),
        ({"max_value": 255}, "invalid normalization"),
    ],
)
def test_bad_normalization_description_is_rejected(description, message):
    with pytest.raises(DatasetError, match=message):
        Normalization.from_dict(description)


def test_apply_rejects_wrong_pixel_count():
    norm = Normalization.fit("standardize", _dataset(n=10).images, 255)
    with pytest.raises(DatasetError, match="30"):
        norm.apply(np.zeros((2, 28, 28), np.uint8))


# Split ---------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.4])
@pytest.mark.parametrize("seed", [0, 7])
def test_split_is_stratified_disjoint_and_complete(fraction, seed):
    data = load_bundled("digits-8x8")
    train, validation = stratified_split(data, fraction, seed)
    assert len(train) + len(validation) == len(data)
    assert len(validation) == round(fraction * len(data))
    # Per class, validation holds the fraction of that class (up to rounding).
    counts = data.class_counts()
    np.testing.assert_array_less(
        np.abs(validation.class_counts() - fraction * counts), 1.0 + 1e-9
    )
    # Disjoint and complete: matching rows by content is ambiguous, so use identity
    # through a tagged copy of the dataset.
    tagged = Dataset(
        "t",
        np.arange(len(data), dtype=np.uint32).view(np.uint8).reshape(len(data), 2, 2),
        data.labels,
        data.class_names,
    )
    tagged_train, tagged_validation = stratified_split(tagged, fraction, seed)
    ids_train = tagged_train.images.reshape(-1, 4).view(np.uint32).ravel()
    ids_validation = tagged_validation.images.reshape(-1, 4).view(np.uint32).ravel()
    assert set(ids_train).isdisjoint(ids_validation)
    assert sorted([*ids_train, *ids_validation]) == list(range(len(data)))
    np.testing.assert_array_equal(data.labels[ids_validation], validation.labels)


def test_split_is_reproducible_and_depends_on_seed():
    data = _dataset(n=300)
    a = stratified_split(data, 0.2, seed=1)[1]
    b = stratified_split(data, 0.2, seed=1)[1]
    c = stratified_split(data, 0.2, seed=2)[1]
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_default_split_of_the_sample_is_500_validation_images_50_per_digit():
    train, validation = stratified_split(load_bundled("mnist-sample"))
    assert len(train) == 4500
    np.testing.assert_array_equal(validation.class_counts(), np.full(10, 50))


def test_zero_fraction_gives_no_validation_set():
    data = _dataset()
    train, validation = stratified_split(data, 0.0, seed=0)
    assert validation is None and train is data


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_invalid_fraction_is_rejected(fraction):
    with pytest.raises(DatasetError, match=r"\[0, 1\)"):
        stratified_split(_dataset(), fraction, 0)


def test_every_class_keeps_a_training_image():
    data = _dataset(n=10, classes=5, seed=8)
    train, validation = stratified_split(data, 0.9, seed=0)
    present = np.flatnonzero(data.class_counts())
    assert (train.class_counts()[present] >= 1).all()
    assert len(validation) >= 1


# IDX pairs -------------------------------------------------------------------------


def _write_pair(folder, images, labels):
    write_idx(folder / "images.gz", images)
    write_idx(folder / "labels.gz", labels)
    return folder / "images.gz", folder / "labels.gz"


def test_load_idx_pair_reads_images_labels_and_names(tmp_path):
    data = _dataset(n=20, classes=3)
    paths = _write_pair(tmp_path, data.images, data.labels)
    loaded = load_idx_pair(*paths, name="mine", class_names=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.images, data.images)
    np.testing.assert_array_equal(loaded.labels, data.labels)
    assert loaded.class_names == ("a", "b", "c") and loaded.name == "mine"


def test_default_class_names_cover_the_labels(tmp_path):
    labels = np.array([0, 3, 14], np.uint8)
    paths = _write_pair(tmp_path, np.zeros((3, 2, 2), np.uint8), labels)
    assert load_idx_pair(*paths).num_classes == 15
    paths = _write_pair(tmp_path, np.zeros((3, 2, 2), np.uint8), labels % 4)
    assert load_idx_pair(*paths).class_names == tuple("0123456789")


def test_transpose_swaps_rows_and_columns(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    paths = _write_pair(tmp_path, images, np.array([0, 1], np.uint8))
    loaded = load_idx_pair(*paths, transpose=True)
    np.testing.assert_array_equal(loaded.images, images.transpose(0, 2, 1))


@pytest.mark.parametrize(
    "images, labels, kwargs, message",
    [
        (
            np.zeros((5, 4, 4), np.uint8),
            np.zeros(4, np.uint8),
            {},
            "5 images.*4 labels",
        ),
        (
            np.zeros((2, 4, 4), np.uint8),
            np.array([0, 2], np.uint8),
            {"class_names": ["a", "b"]},
            "labels range 0..2.*2 classes",
        ),
        (
            np.zeros((2, 4, 4), np.uint8),
            np.zeros(2, np.uint8),
            {"expected_shape": (28, 28)},
            "4x4 but 28x28",
        ),
        (np.zeros((2, 16), np.uint8), np.zeros(2, np.uint8), {}, "expected 3 dim"),
        (np.zeros((2, 4, 4), np.int16), np.zeros(2, np.uint8), {}, "must be uint8"),
        (
            np.full((2, 4, 4), 20, np.uint8),
            np.zeros(2, np.uint8),
            {"max_value": 16},
            "exceeds 16",
        ),
    ],
)
def test_bad_idx_pair_is_rejected(tmp_path, images, labels, kwargs, message):
    paths = _write_pair(tmp_path, images, labels)
    with pytest.raises(DatasetError, match=message):
        load_idx_pair(*paths, **kwargs)


def test_wrong_magic_and_missing_files_become_dataset_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x00")
    write_idx(tmp_path / "labels", np.zeros(0, np.uint8))
    with pytest.raises(DatasetError, match="bad magic"):
        load_idx_pair(bad, tmp_path / "labels")
    with pytest.raises(DatasetError, match="cannot open"):
        load_idx_pair(tmp_path / "missing", tmp_path / "labels")


# Labels: any IDX integer type, at most MAX_CLASSES classes, never wrapped ----------


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_labels_of_every_idx_type_load_exactly_or_are_refused(tmp_path, dtype):
    images = np.zeros((4, 2, 2), np.uint8)
    paths = _write_pair(tmp_path, images, np.array([0, 3, 9, 1], dtype))
    if np.dtype(dtype).kind == "f":
        with pytest.raises(DatasetError, match=f"integers, found {np.dtype(dtype)}"):
            load_idx_pair(*paths)
        return
    loaded = load_idx_pair(*paths)
    assert loaded.labels.dtype == np.uint8 and loaded.num_classes == 10
    np.testing.assert_array_equal(loaded.labels, [0, 3, 9, 1])
    bad = -2 if np.dtype(dtype).kind == "i" else 200
    paths = _write_pair(tmp_path, images, np.array([0, 3, bad, 1], dtype))
    with pytest.raises(
        DatasetError, match=f"labels.gz: .*label {bad} at index 2 is the first"
    ):
        load_idx_pair(*paths, class_names=[str(i) for i in range(10)])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 300, 5, 256], r"label 300 at index 1 is the first .* \(1 more after it\)"),
        ([20_000_000, 0, 1, 2], "supports at most 256 classes .* label 20000000 at"),
        ([70_000, 0, 1, 2], "label 70000 at index 0"),
    ],
)
def test_labels_beyond_256_classes_are_refused_before_names_are_made(
    tmp_path, labels, message
):
    # They once gave 301 (or 20,000,001) classes, and stored 300 as 44.
    images = np.zeros((4, 2, 2), np.uint8)
    paths = _write_pair(tmp_path, images, np.array(labels, np.int32))
    with pytest.raises(DatasetError, match=message):
        load_idx_pair(*paths)


def test_a_dataset_never_wraps_labels_into_uint8():
    images = np.zeros((3, 2, 2), np.uint8)
    names = [str(i) for i in range(301)]
    with pytest.raises(DatasetError, match="301 classes; .* at most 256"):
        Dataset("wide", images, np.array([0, 256, 300]), names)
    with pytest.raises(DatasetError, match="label 256 at index 1 is the first"):
        Dataset("wide", images, np.array([0, 256, 300]), names[:256])
    kept = Dataset("wide", images, np.array([0, 255, 7], np.int64), names[:256])
    np.testing.assert_array_equal(kept.labels, [0, 255, 7])


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, 28, 28), "images.gz: the file holds no images"),
        ((3, 0, 0), "images are 0x0 pixels"),
        ((3, 0, 5), "images are 0x5 pixels"),
    ],
)
def test_idx_pairs_without_images_or_pixels_are_refused(tmp_path, shape, message):
    paths = _write_pair(
        tmp_path, np.zeros(shape, np.uint8), np.zeros(shape[0], np.uint8)
    )
    with pytest.raises(DatasetError, match=message):
        load_idx_pair(*paths)
