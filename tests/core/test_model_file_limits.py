"""Hostile model files: refused fast, with bounded memory, before any array is read.

Loads that could run away (a zip bomb, sparse files, /dev/zero) run in a child process
with a memory limit and a timeout, so that a regression fails the test instead of
exhausting the machine or hanging.
"""

import io
import json
import os
import pathlib
import resource
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

from core.datasets import Normalization
from core.model_io import (
    MAX_FILE_BYTES,
    ModelFileError,
    ModelMetadata,
    load_model,
    save_model,
)
from core.network import MLP

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHILD_MEMORY_LIMIT = 1 << 30
CHILD_TIMEOUT = 90  # seconds: only a hang comes near it, even on a busy machine
BOUNDED_PEAK = 8 << 20  # bytes the loader may allocate to refuse a file
_CHILD = """
import json, sys, time, tracemalloc
from core.model_io import ModelFileError, load_model
tracemalloc.start()
start = time.perf_counter()
try:
    load_model(sys.argv[1])
    error, message = "none", ""
except ModelFileError as exc:
    error, message = "ModelFileError", str(exc)
except BaseException as exc:
    error, message = type(exc).__name__, str(exc)[:300]
print(json.dumps({
    "error": error,
    "message": message,
    "peak": tracemalloc.get_traced_memory()[1],
    "seconds": time.perf_counter() - start,
}))
"""


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_LIMIT, CHILD_MEMORY_LIMIT))


def _load_in_child(path) -> dict:
    """Load ``path`` in a child process with 1 GiB of address space at most."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_refused_cheaply(path, message):
    outcome = _load_in_child(path)
    assert outcome["error"] == "ModelFileError", outcome
    assert message in outcome["message"]
    assert outcome["peak"] < BOUNDED_PEAK, outcome


def _model_file(tmp_path, name="model.npz") -> pathlib.Path:
    network = MLP((16, 8, 3), seed=0)
    images = np.random.default_rng(0).integers(0, 256, (20, 4, 4), np.uint8)
    metadata = ModelMetadata(
        normalization=Normalization.fit("scale", images, 255),
        image_shape=(4, 4),
        class_names=("a", "b", "c"),
    )
    path = tmp_path / name
    save_model(path, network, metadata)
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    """Write ``(name, bytes)`` pairs as they are, duplicates included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- nothing unbounded is read -------------------------------------------------


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory):
    """A 128 MiB W0 of zeros deflated into about 130 KB (1000:1): a valid .npy whose
    shape the metadata does not expect, so only inflating it all would find out."""
    folder = tmp_path_factory.mktemp("bomb")
    members = _members(_model_file(folder))
    path = folder / "bomb.npz"
    header = io.BytesIO()
    shape = (16, 2 << 20)
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(
        path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9
    ) as archive:
        for name, data in members.items():
            if name != "W0.npy":
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as member:
                member.write(header.getvalue())
                zeros = bytes(8 << 20)
                for _ in range(shape[0] * shape[1] * 4 // len(zeros)):
                    member.write(zeros)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("W0.npy")
    assert info.file_size > 900 * info.compress_size
    return path


def test_zip_bomb_is_refused_from_its_headers(zip_bomb):
    _assert_refused_cheaply(zip_bomb, r"W0 has shape (16, 2097152), expected (16, 8)")


def test_member_declaring_more_than_its_compressed_data_holds_is_refused(tmp_path):
    members = _members(_model_file(tmp_path))
    path = _write_zip(
        tmp_path / "liar.npz", members.items(), compression=zipfile.ZIP_DEFLATED
    )
    data = bytearray(path.read_bytes())
    # The central directory's uncompressed size of W0.npy (offset 24 in its entry).
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 52] != b"W0.npy":
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<L", data, entry + 24, 900_000_000)
    path.write_bytes(bytes(data))
    _assert_refused_cheaply(path, "which its compression cannot give")


def test_sparse_file_beyond_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "sparse.npz"
    with open(path, "wb") as handle:
        handle.truncate(3 << 30)
    assert path.stat().st_size > MAX_FILE_BYTES
    _assert_refused_cheaply(path, "too large to be a Digit Studio model")


def test_large_sparse_file_is_not_read_to_find_it_is_not_a_zip(tmp_path):
    path = tmp_path / "sparse.npz"
    with open(path, "wb") as handle:
        handle.truncate(1 << 30)
    _assert_refused_cheaply(path, "not an .npz archive")


def test_huge_zip_directory_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "directory.npz"
    directory = 900 << 20
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3, 3, directory, 0, 0)
    with open(path, "wb") as handle:
        handle.truncate(directory + 4096)
        handle.seek(0, os.SEEK_END)
        handle.write(end)
    _assert_refused_cheaply(path, "its zip directory lists 3 entries in")


def test_symlink_to_dev_zero_is_refused_unread(tmp_path):
    path = tmp_path / "zero.npz"
    path.symlink_to("/dev/zero")
    _assert_refused_cheaply(path, "not a regular file")


def test_too_many_layers_are_refused_with_a_short_message(tmp_path):
    path = _model_file(tmp_path)
    members = _members(path)
    meta = json.loads(str(np.load(io.BytesIO(members["metadata.npy"]))))
    meta["layer_sizes"] = [16] + [1] * 5000 + [3]
    members["metadata.npy"] = _npy(np.array(json.dumps(meta)))
    _write_zip(path, members.items())
    with pytest.raises(
        ModelFileError, match="5,001 layers, more than the 1,000"
    ) as info:
        load_model(path)
    assert len(str(info.value)) < 500


def test_too_many_parameters_are_refused_before_any_array_is_read(tmp_path):
    path = _model_file(tmp_path)
    members = _members(path)
    meta = json.loads(str(np.load(io.BytesIO(members["metadata.npy"]))))
    meta["layer_sizes"] = [16, 100_000, 100_000, 3]
    meta["class_names"] = ["a", "b", "c"]
    members["metadata.npy"] = _npy(np.array(json.dumps(meta)))
    _write_zip(path, members.items())
    with pytest.raises(ModelFileError, match="needs 10,002,100,003 numbers"):
        load_model(path)


def test_member_whose_header_lies_about_its_size_is_damaged(tmp_path):
    members = _members(_model_file(tmp_path))
    header_then_little = _npy(np.zeros((16, 8), np.float32))[:200]
    members["W0.npy"] = header_then_little
    path = _write_zip(tmp_path / "short.npz", members.items())
    with pytest.raises(ModelFileError, match="W0.npy declares 200 bytes"):
        load_model(path)


@pytest.mark.parametrize(
    "content",
    [
        b"\x93NUMPY\x01\x00\xff\xff" + b" " * 100,  # a header longer than the member
        b"\x93NUMPY\x02\x00\xff\xff\xff\x7f",  # a 2 GiB header
        b"\x93NUMPY\x03\x00\x10\x00\x00\x00{}              ",  # a version NumPy 1 lacks
        b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}   \n",  # a header that is no header
    ],
)
def test_malformed_npy_headers_are_not_arrays(tmp_path, content):
    members = _members(_model_file(tmp_path))
    members["W0.npy"] = content
    path = _write_zip(tmp_path / "header.npz", members.items())
    with pytest.raises(ModelFileError, match="entry W0.npy is not a NumPy array"):
        load_model(path)


def test_running_out_of_memory_is_the_documented_error(tmp_path, monkeypatch):
    from core import model_io

    path = _model_file(tmp_path)

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(model_io, "MLP", no_memory)
    with pytest.raises(ModelFileError, match="not enough memory to load"):
        load_model(path)


# --- one entry per name --------------------------------------------------------


@pytest.mark.parametrize("name", ["W0.npy", "metadata.npy"])
def test_duplicate_members_are_refused(tmp_path, name):
    members = _members(_model_file(tmp_path))
    if name == "W0.npy":
        second = _npy(np.ones((16, 8), np.float32))
    else:
        meta = json.loads(str(np.load(io.BytesIO(members[name]))))
        meta["class_names"] = ["x", "y", "z"]
        second = _npy(np.array(json.dumps(meta)))
    path = _write_zip(tmp_path / "twice.npz", [*members.items(), (name, second)])
    with pytest.raises(ModelFileError, match=f"two entries named '{name}'"):
        load_model(path)


# --- a file must compute finite outputs -----------------------------------------


def _rewritten(tmp_path, change):
    path = _model_file(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    out = tmp_path / "changed.npz"
    with open(out, "wb") as handle:
        np.savez(handle, **arrays)
    return out


def _set_meta(arrays, **changes):
    meta = json.loads(str(arrays["metadata"]))
    meta.update(changes)
    arrays["metadata"] = np.array(json.dumps(meta))


def _standardized(arrays, std):
    _set_meta(arrays, normalization={"kind": "standardize", "max_value": 255.0})
    arrays["input_mean"] = np.zeros(16, np.float32)
    arrays["input_std"] = np.full(16, 0.5, np.float32)
    arrays["input_std"][3] = std


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a["W0"].fill(3e38), "its weights give NaN or infinite outputs"),
        (lambda a: a["b0"].fill(3e38), "its weights give NaN or infinite outputs"),
        (
            lambda a: _set_meta(
                a, normalization={"kind": "scale", "max_value": 1e-300}
            ),
            "its input normalisation turns pixels into NaN or infinite values",
        ),
        (
            lambda a: _standardized(a, np.float32(1e-45)),
            "its input normalisation turns pixels into NaN or infinite values",
        ),
    ],
)
def test_files_that_would_compute_nan_are_refused(tmp_path, change, message):
    path = _rewritten(tmp_path, change)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_large_but_harmless_values_still_load(tmp_path):
    def large(arrays):
        arrays["W1"][:] = 1e4
        arrays["b1"][:] = -1e4

    model = load_model(_rewritten(tmp_path, large))
    probabilities = model.predict_proba(np.full((4, 4), 255, np.uint8))
    assert np.isfinite(probabilities).all()


def test_saving_refuses_a_model_that_would_compute_nan(tmp_path):
    network = MLP((16, 8, 3), seed=0)
    network.weights[0][:] = 3e38
    metadata = ModelMetadata(
        normalization=Normalization("scale", 255.0),
        image_shape=(4, 4),
        class_names=("a", "b", "c"),
    )
    with pytest.raises(ModelFileError, match="cannot be saved: its weights give NaN"):
        save_model(tmp_path / "m.npz", network, metadata)
    assert not (tmp_path / "m.npz").exists()
