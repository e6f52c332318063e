import sys

import numpy as np
import pytest
from memory_peak import resident_bytes_of

from core.resident_pages import drop_read_rows

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="pages are given back on Linux only"
)


@pytest.fixture
def stored(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4000, 28, 28), np.uint8)
    path = tmp_path / "images.npy"
    np.save(path, images)
    return images, path


def test_a_stored_sets_read_rows_leave_the_process_and_read_back(stored):
    images, path = stored
    mapped = np.load(path, mmap_mode="r")
    assert int(mapped.sum(dtype=np.int64)) == int(images.sum(dtype=np.int64))
    assert resident_bytes_of(path) >= images.nbytes
    assert drop_read_rows(mapped, 0, 2000)
    # The rows before 2,000 went (but the page they share with row 2,000).
    assert resident_bytes_of(path) <= images.nbytes // 2 + 8192
    assert drop_read_rows(mapped, 2000, 4000)
    assert resident_bytes_of(path) < 8192
    np.testing.assert_array_equal(mapped, images)  # read again from the file


@pytest.mark.parametrize("mode", ["r+", "c"])
def test_arrays_that_may_hold_changes_are_left_alone(stored, mode):
    images, path = stored
    mapped = np.load(path, mmap_mode=mode)
    mapped[0] = 7  # a change only this mapping holds, for "c"
    assert not drop_read_rows(mapped, 0, 4000)
    assert (mapped[0] == 7).all()
    assert not drop_read_rows(images.copy(), 0, 4000)
