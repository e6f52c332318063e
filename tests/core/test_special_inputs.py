"""Every reader refuses FIFOs and devices at once, and every save refuses to replace
them or a symbolic link (docs/safety.md)."""

import os

import numpy as np
import pytest
from special_files import call_within, make_char_device, make_fifo, make_unreplaceable

from core.dataset_store import import_idx, list_datasets, read_info
from core.datasets import DatasetError, Normalization
from core.idx import IdxError, read_idx, read_idx_header, write_idx
from core.model_io import ModelFileError, ModelMetadata, load_model, save_model
from core.network import MLP
from core.personal_set import PersonalSet, load_personal_dataset

DRAWING_ID = "20260101T000000000000-0123abcd"


def _special(tmp_path, kind, name):
    """A FIFO, a character device, or a link to /dev/zero named ``name``."""
    path = tmp_path / name
    if kind == "fifo":
        return make_fifo(path), "FIFO"
    if kind == "device":
        return make_char_device(path), "character device"
    path.symlink_to("/dev/zero")
    return path, "character device"


KINDS = ["fifo", "device", "link to /dev/zero"]


@pytest.mark.parametrize("kind", KINDS)
def test_load_model_refuses_at_once(tmp_path, kind):
    path, what = _special(tmp_path, kind, "model.npz")
    with pytest.raises(ModelFileError, match=f"Cannot read .*: it is a {what}"):
        call_within(load_model, path, fifo=path if kind == "fifo" else None)


def _model():
    network = MLP((4, 3), activation="relu", seed=0)
    metadata = ModelMetadata(
        normalization=Normalization.fit("scale", np.zeros((1, 2, 2), np.uint8), 255),
        image_shape=(2, 2),
        class_names=("a", "b", "c"),
    )
    return network, metadata


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link"])
def test_save_model_refuses_to_replace_a_special_file_or_link(tmp_path, kind):
    path = make_unreplaceable(tmp_path / "model.npz", kind)
    mode = os.lstat(path).st_mode
    with pytest.raises(ModelFileError, match="Could not save the model to .*: it is"):
        save_model(path, *_model())
    assert os.lstat(path).st_mode == mode
    if kind == "link":
        assert (tmp_path / "real.npz").read_bytes() == b"kept"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", [read_idx, read_idx_header])
def test_idx_readers_refuse_at_once(tmp_path, kind, reader):
    path, what = _special(tmp_path, kind, "train-images-idx3-ubyte")
    with pytest.raises(IdxError, match=f"cannot open \\(it is a {what}"):
        call_within(reader, path, fifo=path if kind == "fifo" else None)


def test_import_idx_refuses_a_fifo_and_stores_nothing(tmp_path):
    fifo = make_fifo(tmp_path / "train-images-idx3-ubyte")
    write_idx(tmp_path / "labels", np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match="FIFO"):
        call_within(
            import_idx, tmp_path / "data", "x", fifo, tmp_path / "labels", fifo=fifo
        )
    assert not (tmp_path / "data" / "datasets" / "x").exists()


def test_a_fifo_as_dataset_metadata_is_skipped_in_the_list(tmp_path):
    folder = tmp_path / "datasets" / "broken"
    folder.mkdir(parents=True)
    fifo = make_fifo(folder / "dataset.json")
    with pytest.raises(DatasetError, match="unreadable.*FIFO"):
        call_within(read_info, folder, fifo=fifo)
    names = [info.name for info in call_within(list_datasets, tmp_path, fifo=fifo)]
    assert "broken" not in names and "mnist-sample" in names


def test_import_idx_cleans_stale_staging_folders(tmp_path):
    import time

    root = tmp_path / "data" / "datasets"
    stale = root / ".import-old-0a1b2c3d"
    stale.mkdir(parents=True)
    long_ago = time.time() - 86_400
    os.utime(stale, (long_ago, long_ago))
    write_idx(tmp_path / "images", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "labels", np.array([0, 1, 1], np.uint8))
    import_idx(tmp_path / "data", "new", tmp_path / "images", tmp_path / "labels")
    assert sorted(p.name for p in root.iterdir()) == ["new"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_special_file_among_personal_drawings_is_skipped(tmp_path, kind):
    personal = PersonalSet(tmp_path)
    kept = personal.add(np.full((28, 28), 7, np.uint8), 3, "mnist")
    path, what = _special(personal.folder("mnist"), kind, f"{DRAWING_ID}.npz")
    fifo = path if kind == "fifo" else None
    drawings = call_within(personal.list, "mnist", fifo=fifo)
    assert [d.drawing_id for d in drawings] == [kept.drawing_id]
    ((skipped, reason),) = personal.skipped
    assert skipped == path and f"it is a {what}" in reason
    dataset = call_within(load_personal_dataset, tmp_path, "mnist", fifo=fifo)
    assert len(dataset) == 1
