import gzip
import os

import numpy as np
import pytest
from memory_peak import traced_peak

from core.idx import IdxError, read_idx, read_idx_header, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "dtype, shape",
    [
        (np.uint8, (7, 5, 3)),
        (np.uint8, (11,)),
        (np.int8, (4, 2)),
        (np.int16, (3, 3)),
        (np.int32, (2, 3, 4, 5)),
        (np.float32, (6,)),
        (np.float64, (2, 2)),
        (np.uint8, (0, 28, 28)),
    ],
)
def test_round_trip_is_exact(tmp_path, suffix, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / f"data-idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert read_idx_header(path)[1] == shape


def test_uint8_header_matches_mnist_layout(tmp_path):
    path = tmp_path / "images"
    write_idx(path, np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert raw[4:16] == b"\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04"
    assert raw[16:] == bytes(range(24))


def test_gzip_detected_from_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz = tmp_path / "labels.gz"
    write_idx(gz, array)
    renamed = tmp_path / "labels-without-suffix"
    os.replace(gz, renamed)
    np.testing.assert_array_equal(read_idx(renamed), array)


def test_gzip_output_is_reproducible(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (5, 4, 4), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_result_is_writable(tmp_path):
    write_idx(tmp_path / "x", np.zeros((2, 2), dtype=np.uint8))
    array = read_idx(tmp_path / "x")
    array[0, 0] = 1


def _raw(tmp_path, payload: bytes, gz: bool = False):
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
        (b"PK\x03\x04 not idx at all", "bad magic"),
        (
            b"\x00\x00\x07\x01\x00\x00\x00\x01\x05",
            "unsupported IDX data type code 0x07",
        ),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated IDX data"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "unexpected bytes"),
        (b"\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff", "implausible size"),
    ],
)
def test_malformed_files_raise_idx_error(tmp_path, gz, payload, message):
    path = _raw(tmp_path, payload, gz)
    with pytest.raises(IdxError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream_is_reported(tmp_path):
    array = np.random.default_rng(2).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    path = tmp_path / "x.gz"
    write_idx(path, array)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_corrupt_gzip_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(IdxError, match="corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("ndim", [1, 2, 4])
def test_wrong_number_of_dimensions_is_reported(tmp_path, ndim):
    write_idx(tmp_path / "x", np.zeros((2, 3, 4), dtype=np.uint8))
    with pytest.raises(IdxError, match=f"expected {ndim} dimensions.*has 3 .2x3x4"):
        read_idx(tmp_path / "x", ndim=ndim)
    with pytest.raises(IdxError, match=f"expected {ndim} dimensions"):
        read_idx_header(tmp_path / "x", ndim=ndim)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(IdxError, match="cannot open"):
        read_idx(tmp_path / "nope.gz")


@pytest.mark.parametrize("array", [np.zeros((), np.uint8), np.zeros(3, np.uint64)])
def test_write_rejects_unsupported_arrays(tmp_path, array):
    with pytest.raises(IdxError, match="cannot write"):
        write_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "x.gz"
    write_idx(path, np.ones(5, np.uint8))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gzip.GzipFile, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.zeros(5, np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reading_needs_no_full_size_temporary(tmp_path, suffix):
    array = np.random.default_rng(2).integers(0, 256, (6000, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / ("big" + suffix), array, compresslevel=1)
    loaded, peak = traced_peak(lambda: read_idx(tmp_path / ("big" + suffix)))
    np.testing.assert_array_equal(loaded, array)
    assert peak < array.nbytes + (2 << 20)
