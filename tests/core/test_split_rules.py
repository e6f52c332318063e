"""core.datasets.stratified_split: order and rounding rules that the sizes alone do not
show (test_datasets.py checks the sizes, proportions, disjointness and seeds)."""

import numpy as np

from core.datasets import Dataset, stratified_split


def _numbered(labels):
    """Image ``i`` holds the number ``i`` (as four uint8 pixels), so rows identify."""
    count = len(labels)
    images = np.arange(count, dtype=np.uint32).view(np.uint8).reshape(count, 2, 2)
    names = tuple(str(c) for c in range(int(max(labels)) + 1))
    return Dataset("numbered", images, np.asarray(labels, np.uint8), names)


def _numbers(dataset):
    return dataset.images.reshape(-1, 4).view(np.uint32).ravel()


def test_both_parts_keep_the_original_order():
    rng = np.random.default_rng(3)
    data = _numbered(rng.integers(0, 4, 200))
    for seed in range(3):
        train, validation = stratified_split(data, 0.3, seed)
        for part in (train, validation):
            numbers = _numbers(part)
            assert np.all(np.diff(numbers.astype(np.int64)) > 0)
            np.testing.assert_array_equal(part.labels, data.labels[numbers])


def test_rounding_gives_the_extra_images_to_the_largest_remainders():
    # 9, 6 and 5 images at 30%: ideal 2.7, 1.8 and 1.5 per class, 6 in all. Rounded
    # down that is 2, 1, 1; the two missing go to remainders 0.8 and 0.7.
    data = _numbered([0] * 9 + [1] * 6 + [2] * 5)
    for seed in range(3):
        _, validation = stratified_split(data, 0.3, seed)
        assert validation.class_counts().tolist() == [3, 2, 1]
