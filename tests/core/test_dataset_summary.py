"""core.dataset_summary: counts, class averages and the histogram, against NumPy."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.dataset_summary import summarize
from core.datasets import Dataset, load_bundled


@pytest.mark.parametrize("name", ["digits-8x8", "mnist-sample"])
def test_summary_equals_direct_numpy(name, monkeypatch):
    import core.dataset_summary as module

    monkeypatch.setattr(module, "_CHUNK", 777)  # several chunks, one partial
    data = load_bundled(name)
    summary = summarize(data)
    np.testing.assert_array_equal(
        summary.counts, np.bincount(data.labels, minlength=10)
    )
    for k in range(10):
        want = data.images[data.labels == k].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(summary.means[k], want, rtol=1e-6, atol=1e-5)
    hist, _ = np.histogram(data.images, bins=np.arange(data.max_value + 2))
    np.testing.assert_array_equal(summary.histogram, hist)
    assert summary.total == len(data) and summary.max_value == data.max_value


def test_an_empty_class_averages_to_zero():
    images = np.full((3, 2, 2), 7, np.uint8)
    data = Dataset("tiny", images, np.array([0, 0, 2]), ("a", "b", "c"), 10)
    summary = summarize(data)
    np.testing.assert_array_equal(summary.counts, [2, 0, 1])
    assert np.all(summary.means[1] == 0) and np.all(summary.means[0] == 7)
    assert summary.histogram.tolist() == [0] * 7 + [12] + [0] * 3


def test_cancel():
    cancel = threading.Event()
    cancel.set()
    assert summarize(load_bundled("digits-8x8"), cancel) is None
