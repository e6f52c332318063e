import hashlib
import json

import numpy as np
import pytest
from memory_peak import resident_bytes_of, traced_peak

from core import dataset_store
from core.dataset_store import (
    ARRAY_FILES,
    DatasetInfo,
    delete_dataset,
    find_idx_files,
    get_info,
    import_idx,
    import_idx_folder,
    list_datasets,
    load_dataset,
)
from core.datasets import DatasetError
from core.download import DownloadError, download_mnist
from core.idx import write_idx
from core.user_dirs import data_dir, mnist_mirror

MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _arrays(seed=0, n_train=40, n_test=12, shape=(28, 28), classes=10):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        rng.integers(0, classes, n_train).astype(np.uint8),
        rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        rng.integers(0, classes, n_test).astype(np.uint8),
    )


def _write_set(folder, arrays, names=MNIST_NAMES, suffix=".gz"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(names, arrays, strict=False):
        write_idx(folder / (name + suffix), array)
        paths.append(folder / (name + suffix))
    return paths


def _stored_names(root):
    return [info.name for info in list_datasets(root)]


def test_without_a_data_folder_only_bundled_sets_are_listed():
    infos = list_datasets(None)
    assert [i.name for i in infos] == ["mnist-sample", "digits-8x8", "pen-digits"]
    sample, digits, written = infos
    assert (sample.train_count, sample.image_shape, sample.max_value) == (
        5000,
        (28, 28),
        255,
    )
    assert (digits.train_count, digits.image_shape, digits.max_value) == (
        1797,
        (8, 8),
        16,
    )
    assert sample.test_count == 1000 and sample.splits == ("train", "test")
    assert digits.test_count is None and digits.splits == ("train",)
    assert "CC BY-SA 3.0" in sample.source and "CC BY 4.0" in digits.source
    assert (written.train_count, written.image_shape, written.max_value) == (
        7494,
        (28, 28),
        255,
    )
    assert written.test_count is None and "Alimoglu, CC BY 4.0" in written.source


def test_import_files_then_list_and_load_both_splits(tmp_path):
    arrays = _arrays()
    paths = _write_set(tmp_path / "src", arrays)
    root = tmp_path / "data"
    info = import_idx(root, "fashion", *paths, class_names=[f"k{i}" for i in range(10)])
    assert isinstance(info, DatasetInfo)
    assert (info.kind, info.train_count, info.test_count) == ("imported", 40, 12)
    assert info.splits == ("train", "test") and info.class_names[3] == "k3"
    assert _stored_names(root) == [
        "mnist-sample",
        "digits-8x8",
        "pen-digits",
        "fashion",
    ]
    train = load_dataset("fashion", root)
    test = load_dataset("fashion", root, split="test")
    np.testing.assert_array_equal(train.images, arrays[0])
    np.testing.assert_array_equal(train.labels, arrays[1])
    np.testing.assert_array_equal(test.images, arrays[2])
    np.testing.assert_array_equal(test.labels, arrays[3])
    assert train.name == "fashion" and train.class_names[9] == "k9"
    assert sorted(p.name for p in info.path.iterdir()) == sorted(
        ["dataset.json", *ARRAY_FILES["train"], *ARRAY_FILES["test"]]
    )


def test_import_without_test_pair_has_only_a_train_split(tmp_path):
    paths = _write_set(tmp_path / "src", _arrays()[:2], suffix="")
    info = import_idx(tmp_path / "data", "small", *paths)
    assert info.test_count is None
    with pytest.raises(DatasetError, match="no test split"):
        load_dataset("small", tmp_path / "data", split="test")


@pytest.mark.parametrize(
    "names",
    [
        MNIST_NAMES,
        (
            "emnist-digits-train-images-idx3-ubyte",
            "emnist-digits-train-labels-idx1-ubyte",
            "emnist-digits-test-images-idx3-ubyte",
            "emnist-digits-test-labels-idx1-ubyte",
        ),
    ],
)
def test_import_folder_recognises_standard_names(tmp_path, names):
    arrays = _arrays(seed=1)
    _write_set(tmp_path / "src", arrays, names)
    (tmp_path / "src" / "README.txt").write_text("not data")
    info = import_idx_folder(tmp_path / "data", "set", tmp_path / "src")
    assert (info.train_count, info.test_count) == (40, 12)
    loaded = load_dataset("set", tmp_path / "data", split="test").images
    # EMNIST stores images transposed; its files are turned upright automatically.
    expected = (
        arrays[2].transpose(0, 2, 1) if names[0].startswith("emnist") else arrays[2]
    )
    np.testing.assert_array_equal(loaded, expected)


def test_folder_with_several_sets_needs_a_prefix(tmp_path):
    src = tmp_path / "src"
    for subset in ("digits", "letters"):
        _write_set(
            src,
            _arrays()[:2],
            [
                f"emnist-{subset}-train-{k}"
                for k in ("images-idx3-ubyte", "labels-idx1-ubyte")
            ],
        )
    with pytest.raises(DatasetError, match="several candidates.*prefix"):
        find_idx_files(src)
    files = find_idx_files(src, prefix="emnist-digits")
    assert files["train_images"].name == "emnist-digits-train-images-idx3-ubyte.gz"


def test_compressed_copy_is_preferred_over_the_raw_one(tmp_path):
    src = tmp_path / "src"
    _write_set(src, _arrays()[:2], suffix="")
    _write_set(src, _arrays()[:2], suffix=".gz")
    assert find_idx_files(src)["train_images"].suffix == ".gz"


@pytest.mark.parametrize(
    "present, message",
    [
        ((), "no train images"),
        ((0,), "no train labels"),
        ((0, 1, 2), "test labels file missing"),
    ],
)
def test_incomplete_folders_are_reported(tmp_path, present, message):
    arrays = _arrays()
    _write_set(
        tmp_path / "src",
        [arrays[i] for i in present],
        [MNIST_NAMES[i] for i in present],
    )
    with pytest.raises(DatasetError, match=message):
        import_idx_folder(tmp_path / "data", "x", tmp_path / "src")


def _bad_magic(path):
    path.write_bytes(b"\x08\x03" + path.read_bytes()[2:])


@pytest.mark.parametrize(
    "case, message",
    [
        ("magic", "bad magic"),
        ("count", "40 images but .* 39 labels"),
        ("range", "labels range 0..9 but there are 3 classes"),
        ("shape", "28x28 but 32x32 are expected"),
        ("test-shape", "14x14 but 28x28 are expected"),
        ("half-test", "both test images and test labels"),
        ("name", "invalid dataset name"),
        ("reserved", "reserved.*--mirror file"),
        ("bundled", "reserved"),
    ],
)
def test_bad_imports_raise_clear_errors_and_store_nothing(tmp_path, case, message):
    arrays = list(_arrays())
    kwargs = {}
    name = "new"
    if case == "count":
        arrays[1] = arrays[1][:39]
    elif case == "range":
        kwargs["class_names"] = ["a", "b", "c"]
    elif case == "shape":
        kwargs["expected_shape"] = (32, 32)
    elif case == "test-shape":
        arrays[2] = arrays[2][:, :14, :14]
    elif case in ("name", "reserved", "bundled"):
        name = {"name": "Bad Name", "reserved": "mnist", "bundled": "digits-8x8"}[case]
    paths = _write_set(tmp_path / "src", arrays)
    if case == "magic":
        _bad_magic(paths[0])
    if case == "half-test":
        paths[3] = None
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match=message):
        import_idx(root, name, *paths, **kwargs)
    assert _stored_names(root) == ["mnist-sample", "digits-8x8", "pen-digits"]
    assert not (root / "datasets").exists() or list((root / "datasets").iterdir()) == []


def test_existing_name_needs_overwrite(tmp_path):
    root = tmp_path / "data"
    first = _write_set(tmp_path / "a", _arrays(seed=1))
    second = _write_set(tmp_path / "b", _arrays(seed=2, n_train=20))
    import_idx(root, "set", *first)
    with pytest.raises(DatasetError, match="already exists"):
        import_idx(root, "set", *second)
    assert get_info("set", root).train_count == 40
    import_idx(root, "set", *second, overwrite=True)
    assert get_info("set", root).train_count == 20
    assert [p.name for p in (root / "datasets").iterdir()] == ["set"]


def test_delete_removes_a_stored_set(tmp_path):
    root = tmp_path / "data"
    import_idx(root, "set", *_write_set(tmp_path / "a", _arrays()))
    delete_dataset(root, "set")
    assert _stored_names(root) == ["mnist-sample", "digits-8x8", "pen-digits"]
    with pytest.raises(DatasetError, match="no stored dataset"):
        delete_dataset(root, "set")
    with pytest.raises(DatasetError, match="cannot be deleted"):
        delete_dataset(root, "mnist-sample")


def test_broken_or_unfinished_folders_are_not_listed(tmp_path):
    root = tmp_path / "data"
    import_idx(root, "good", *_write_set(tmp_path / "a", _arrays()))
    (root / "datasets" / "mnist").mkdir()  # an unfinished download: no dataset.json
    (root / "datasets" / "broken").mkdir()
    (root / "datasets" / "broken" / "dataset.json").write_text("{not json")
    meta = json.loads((root / "datasets" / "good" / "dataset.json").read_text())
    (root / "datasets" / "future").mkdir()
    (root / "datasets" / "future" / "dataset.json").write_text(
        json.dumps({**meta, "format_version": 99})
    )
    assert _stored_names(root) == ["mnist-sample", "digits-8x8", "pen-digits", "good"]
    with pytest.raises(DatasetError, match="download mnist"):
        load_dataset("mnist", root)


def test_bundled_sets_load_through_the_store():
    assert len(load_dataset("mnist-sample")) == 5000
    assert load_dataset("digits-8x8").max_value == 16
    with pytest.raises(DatasetError, match="no separate test set"):
        load_dataset("digits-8x8", split="test")
    with pytest.raises(DatasetError, match="8x8 but 28x28"):
        load_dataset("digits-8x8", expected_shape=(28, 28))
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("digits-8x8", split="validation")


def test_unknown_name_lists_the_available_ones(tmp_path):
    with pytest.raises(DatasetError, match="available: mnist-sample, digits-8x8"):
        load_dataset("cifar", tmp_path)


def test_data_dir_and_mirror_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("DIGIT_STUDIO_DATA_DIR")
    assert data_dir().name == "DigitStudio"
    monkeypatch.setenv("DIGIT_STUDIO_MNIST_MIRROR", " https://lab.example/mnist/ ")
    assert mnist_mirror() == "https://lab.example/mnist/"
    monkeypatch.setenv("DIGIT_STUDIO_MNIST_MIRROR", "")
    assert mnist_mirror() is None


def test_bundled_sample_has_a_test_part_no_training_image_is_in():
    train = load_dataset("mnist-sample")
    test = load_dataset("mnist-sample", split="test")
    assert len(test) == 1000 and test.image_shape == (28, 28)
    assert test.class_counts().tolist() == [100] * 10
    seen = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in seen for image in test.images)
    # Real digits, not blanks or copies of one another.
    assert len({image.tobytes() for image in test.images}) == 1000
    assert (test.images.reshape(1000, -1).max(axis=1) > 200).all()
    with pytest.raises(DatasetError, match="8x8 but 28x28"):
        load_dataset("digits-8x8", split="train", expected_shape=(28, 28))
    with pytest.raises(DatasetError, match="28x28 but 8x8"):
        load_dataset("mnist-sample", split="test", expected_shape=(8, 8))


# ------------------------------------------------ the stored format (version 2)


def test_loading_maps_the_stored_images_instead_of_copying_them(tmp_path):
    arrays = _arrays(n_train=4000, n_test=10)
    root = tmp_path / "data"
    import_idx(root, "big", *_write_set(tmp_path / "src", arrays))
    load_dataset("big", root)  # what a first load sets up once (imports, ctypes)
    train, peak = traced_peak(lambda: load_dataset("big", root))
    stored = get_info("big", root).path / ARRAY_FILES["train"][0]
    resident = resident_bytes_of(stored)
    np.testing.assert_array_equal(train.images, arrays[0])
    assert isinstance(train.images, np.memmap) == dataset_store.MAP_IMAGES
    if dataset_store.MAP_IMAGES:
        assert not train.images.flags.writeable
        assert peak < 0.05 * arrays[0].nbytes
        # Checked through (their brightest pixel), and none of them left resident.
        assert resident < 0.05 * arrays[0].nbytes
    else:
        assert peak < 1.05 * arrays[0].nbytes


def test_import_needs_no_second_copy_of_the_images(tmp_path):
    """EMNIST's files are turned upright in place: one copy of the images at most."""
    names = (
        "emnist-digits-train-images-idx3-ubyte",
        "emnist-digits-train-labels-idx1-ubyte",
    )
    arrays = _arrays(n_train=6000)[:2]
    _write_set(tmp_path / "src", arrays, names)
    root = tmp_path / "data"
    _, peak = traced_peak(lambda: import_idx_folder(root, "e", tmp_path / "src"))
    assert peak < arrays[0].nbytes + (3 << 20)
    loaded = load_dataset("e", root).images
    np.testing.assert_array_equal(loaded, arrays[0].transpose(0, 2, 1))


def _version_1_store(root, name, arrays):
    """A dataset as stored before version 2: IDX files and the old dataset.json."""
    folder = root / "datasets" / name
    _write_set(folder, arrays)
    meta = {
        "format": "digit-studio-dataset",
        "format_version": 1,
        "name": name,
        "kind": "imported",
        "image_shape": [28, 28],
        "class_names": [str(d) for d in range(10)],
        "max_value": 255,
        "train_count": len(arrays[0]),
        "test_count": len(arrays[2]),
        "source": "imported from somewhere",
    }
    (folder / "dataset.json").write_text(json.dumps(meta))
    return folder


def test_version_1_stores_still_load(tmp_path):
    arrays = _arrays(n_train=3000)
    root = tmp_path / "data"
    _version_1_store(root, "old", arrays)
    info = get_info("old", root)
    assert (info.format_version, info.train_count, info.test_count) == (1, 3000, 12)
    train, peak = traced_peak(lambda: load_dataset("old", root))
    test = load_dataset("old", root, split="test")
    np.testing.assert_array_equal(train.images, arrays[0])
    np.testing.assert_array_equal(train.labels, arrays[1])
    np.testing.assert_array_equal(test.images, arrays[2])
    # Decompressed straight into the array, in bounded chunks.
    assert peak < arrays[0].nbytes + (2 << 20)
    with pytest.raises(DatasetError, match="28x28 but 8x8 are expected"):
        load_dataset("old", root, expected_shape=(8, 8))


def test_a_downloaded_or_imported_set_is_stored_as_version_2(tmp_path):
    root = tmp_path / "data"
    info = import_idx(root, "new", *_write_set(tmp_path / "src", _arrays()))
    assert info.format_version == 2
    assert json.loads((info.path / "dataset.json").read_text())["format_version"] == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", "cannot be read"),
        ("pickle", "cannot be read"),
        ("labels", "does not match dataset.json"),
        ("dtype", "does not match dataset.json"),
        ("missing", "cannot be read"),
    ],
)
def test_damaged_arrays_give_one_clear_error(tmp_path, damage, message):
    root = tmp_path / "data"
    info = import_idx(root, "set", *_write_set(tmp_path / "src", _arrays()))
    images = info.path / ARRAY_FILES["train"][0]
    labels = info.path / ARRAY_FILES["train"][1]
    if damage == "truncate":
        images.write_bytes(images.read_bytes()[:-100])
    elif damage == "pickle":
        np.save(images, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif damage == "labels":
        np.save(labels, np.zeros(39, np.uint8))
    elif damage == "dtype":
        np.save(images, np.zeros((40, 28, 28), np.float32))
    else:
        images.unlink()
    with pytest.raises(DatasetError, match=message):
        load_dataset("set", root)
    with pytest.raises(DatasetError, match="again"):
        load_dataset("set", root)


def test_an_empty_split_stored_before_imports_refused_it_still_loads(tmp_path):
    # Imports refuse empty pairs now (below); a store written earlier keeps loading.
    root = tmp_path / "data"
    folder = import_idx(root, "s", *_write_set(tmp_path / "src", _arrays())).path
    for file, array in zip(ARRAY_FILES["test"], _arrays(n_test=0)[2:], strict=True):
        np.save(folder / file, array)
    meta = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**meta, "test_count": 0}))
    info = get_info("s", root)
    assert info.test_count == 0
    assert len(load_dataset("s", root, split="test")) == 0


def test_a_failed_delete_is_one_clear_error(tmp_path, monkeypatch):
    root = tmp_path / "data"
    import_idx(root, "set", *_write_set(tmp_path / "src", _arrays()))

    def refuse(source, target):
        raise PermissionError(13, "The file is in use")

    monkeypatch.setattr(dataset_store.os, "replace", refuse)
    with pytest.raises(DatasetError, match="cannot delete 'set': The file is in use"):
        delete_dataset(root, "set")


# Labels and classes (uint8 labels: at most MAX_CLASSES = 256 classes) -------------


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        # Values up to 300 once gave 301 classes and stored 256 and 300 as 0 and 44.
        (
            np.array([0, 1, 256, 3, 300, 2], np.int16),
            r"labels range 0\.\.300 but Digit Studio supports at most 256 classes "
            r"\(0\.\.255\); label 256 at index 2 is the first out of range "
            r"\(1 more after it\)",
        ),
        # One label of 20,000,000 once made a 20-million-class dataset.
        (
            np.array([0, 1, 2, 3, 4, 20_000_000], np.int32),
            "label 20000000 at index 5 is the first out of range$",
        ),
        (np.array([0, 1, -1, 3, 4, 5], np.int8), "label -1 at index 2"),
        (np.array([0, 1, 2, 3, 4, 5], np.float32), "labels must be integers"),
    ],
)
def test_labels_beyond_what_uint8_holds_are_refused_naming_the_first(
    tmp_path, labels, message
):
    arrays = _arrays(n_train=len(labels), n_test=0)
    images, labels_path = _write_set(tmp_path / "src", (arrays[0], labels))
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match=message):
        import_idx(root, "big", images, labels_path)
    assert _stored_names(root) == ["mnist-sample", "digits-8x8", "pen-digits"]
    assert not (root / "datasets").exists() or list((root / "datasets").iterdir()) == []


def test_labels_up_to_255_make_256_classes_stored_exactly(tmp_path):
    labels = np.array([0, 255, 7, 254, 128], np.int32)
    images = _arrays(n_train=len(labels))[0]
    info = import_idx(
        tmp_path / "data", "wide", *_write_set(tmp_path / "src", (images, labels))
    )
    assert info.num_classes == 256
    loaded = load_dataset("wide", tmp_path / "data")
    assert loaded.labels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.labels, labels)


def test_more_class_names_than_uint8_labels_hold_are_refused(tmp_path):
    paths = _write_set(tmp_path / "src", _arrays())
    with pytest.raises(DatasetError, match="257 classes; .* at most 256"):
        import_idx(tmp_path / "data", "s", *paths, class_names=range(257))
    assert _stored_names(tmp_path / "data") == [
        "mnist-sample",
        "digits-8x8",
        "pen-digits",
    ]


def test_a_stored_set_claiming_too_many_classes_is_not_listed(tmp_path):
    root = tmp_path / "data"
    folder = import_idx(root, "s", *_write_set(tmp_path / "src", _arrays())).path
    meta = json.loads((folder / "dataset.json").read_text())
    names = [str(i) for i in range(257)]
    (folder / "dataset.json").write_text(json.dumps({**meta, "class_names": names}))
    assert "s" not in _stored_names(root)


# Names and empty sets ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["fashion\n", "fashion\r\n", "\nfashion", "a b"])
def test_names_with_line_breaks_or_spaces_are_refused(tmp_path, name):
    with pytest.raises(DatasetError, match="invalid dataset name"):
        dataset_store.check_name(name)
    with pytest.raises(DatasetError, match="invalid dataset name"):
        import_idx(tmp_path / "data", name, *_write_set(tmp_path / "src", _arrays()))
    assert not (tmp_path / "data" / "datasets").exists()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_arrays(n_train=0), "train-images-idx3-ubyte.gz: the file holds no images"),
        (_arrays(shape=(0, 0)), "images are 0x0 pixels, so they hold nothing"),
        (_arrays(shape=(28, 0)), "images are 28x0 pixels"),
        (_arrays(n_test=0), "t10k-images-idx3-ubyte.gz: the file holds no images"),
    ],
    ids=["no-images", "0x0", "28x0", "empty-test-pair"],
)
def test_empty_sets_and_images_of_no_pixels_are_refused_at_import(
    tmp_path, arrays, message
):
    root = tmp_path / "data"
    with pytest.raises(DatasetError, match=message):
        import_idx(root, "empty", *_write_set(tmp_path / "src", arrays))
    assert _stored_names(root) == ["mnist-sample", "digits-8x8", "pen-digits"]
    assert not (root / "datasets").exists() or list((root / "datasets").iterdir()) == []


@pytest.mark.parametrize(
    ("shape", "message"),
    [((28, 28), "the file holds no images"), ((0, 0), "the images are 0x0 pixels")],
)
def test_the_download_refuses_to_record_an_empty_set(tmp_path, shape, message):
    # The official checksums would refuse such files; the record step must as well.
    mirror = tmp_path / "mirror"
    train_count = 0 if shape == (28, 28) else 5
    arrays = _arrays(n_train=train_count, n_test=3, shape=shape)
    paths = _write_set(mirror, arrays)
    contents = {path.name: path.read_bytes() for path in paths}
    checksums = {name: hashlib.md5(data).hexdigest() for name, data in contents.items()}
    sizes = {name: len(data) for name, data in contents.items()}
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="inconsistent: train-images.*" + message):
        download_mnist(root, [mirror.as_uri()], checksums=checksums, sizes=sizes)
    assert not (root / "datasets" / "mnist" / "dataset.json").exists()
    assert "mnist" not in _stored_names(root)
