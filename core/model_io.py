"""Model files: save and load a trained network with its metadata as a `.npz` archive.

Owns the file format (docs/model_format.md): its layout, the types of every metadata
field (checked on save and on load), the upgrade of older versions, and
`ModelFileError`. Never uses pickle and never looks names up with getattr. Must not
import Qt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import importlib.metadata
import io
import itertools
import json
import math
import os
import re
import stat
import struct
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.activations import ACTIVATIONS
from core.atomic_file import atomic_write
from core.datasets import DatasetError, Normalization
from core.initializers import INITIALIZERS
from core.judgement import Judge, JudgementError, not_a_digit_output
from core.losses import OUTPUTS
from core.messages import short_message
from core.network import MLP
from core.preprocess import MAX_TURN, MAX_WIDEN, MIN_WIDEN
from core.safe_files import open_regular
from core.slant import deskew
from core.training import TrainingConfig

FORMAT_NAME = "digit-studio-model"
# 2: training phases (a fine-tune is a later phase), a phase index in every history
# row, one metrics schema. Version 1 files are upgraded on load.
# 3: "continue" phases, and a phase's settings changed during its run ("changes").
# 4: health figures in history rows. 5: a setting older readers refuse, "pen_digits",
# in every config.
FORMAT_VERSION = 5
PHASE_KINDS = ("train", "fine_tune", "continue")
# The metrics of a phase, in the order files list them, and what each holds: "count"
# a whole number >= 0, "number" a finite number, "text" a string, "layers" a list of
# numbers (or nulls), one per weight layer, "hidden" one per hidden layer; any may be
# null.
METRICS: dict[str, str] = {
    "epochs_completed": "count",
    "stopped": "text",
    "best_epoch": "count",
    "training_seconds": "number",
    "training_images": "count",
    "personal_images": "count",
    "validation_images": "count",
    "subset": "count",
    "train_loss": "number",
    "train_accuracy": "number",
    "validation_loss": "number",
    "validation_accuracy": "number",
}
# The fields of a history row (one per epoch; ``EpochEvent`` plus the phase index).
HISTORY_FIELDS: dict[str, str] = {
    "phase": "count",
    "epoch": "count",
    "epochs": "count",
    "train_loss": "number",
    "train_accuracy": "number",
    "validation_loss": "number",
    "validation_accuracy": "number",
    "learning_rate": "number",
    "seconds": "number",
    "samples_per_second": "number",
    # The means of the epoch's health samples (core.health), null without a sample.
    "gradient_norm": "layers",
    "update_ratio": "layers",
    "inactive_share": "hidden",
}
# A setting changed during a phase's run: where (in epochs and minibatches of the
# phase) and the new values; ``momentum`` only with the momentum optimizer.
CHANGE_FIELDS: dict[str, str] = {
    "at_epoch": "number",
    "at_batch": "count",
    "learning_rate": "number",
    "momentum": "number",
}
# The keys of an edit of the weights after training (the optional ``edits``, see
# docs/model_format.md); ``evaluation`` may be missing or null.
EDIT_FIELDS = ("units", "after_phase", "base_created", "base_metrics", "evaluation")
EDIT_UNIT_FIELDS = ("hidden_layer", "unit", "scale")
# How an edit was judged: known fields have this kind, others hold a JSON scalar.
EDIT_EVALUATION: dict[str, str] = {
    "dataset": "text",
    "images": "count",
    "accuracy_before": "number",
    "accuracy_after": "number",
}
NORMALIZATION_KINDS = ("scale", "standardize")
# Limits that let a hostile file be refused before it can exhaust memory or time
# (docs/model_format.md, "Limits"). The app's largest network, ten hidden layers of
# 4,096 units, has about 155 million parameters.
MAX_LAYERS = 1000
MAX_PARAMETERS = 1 << 28  # numbers in all arrays together (1 GiB as float32)
MAX_METADATA_BYTES = 1 << 28  # the metadata array (4 bytes a character)
MAX_UNCOMPRESSED_BYTES = 1 << 31  # all members together, as declared
MAX_FILE_BYTES = MAX_UNCOMPRESSED_BYTES + (1 << 24)  # room for the zip's headers
MAX_MEMBERS = 2 * MAX_LAYERS + 3  # W and b per layer, input_mean/std, metadata
_MAX_DIRECTORY_BYTES = 1 << 20
_MAX_NPY_HEADER = 10_000  # NumPy's own limit for a header it parses safely
_DEFLATE_MAX_RATIO = 1032
_LAYER_ARRAY = re.compile(r"^([Wb])(0|[1-9][0-9]*)$")


class ModelFileError(Exception):
    """A model file cannot be written, read, or is not a valid Digit Studio model.

    Its message is one line of bounded length (`core.messages.short_message`),
    whatever the file held.
    """

    def __init__(self, message: str) -> None:
        super().__init__(short_message(message))


@dataclass(frozen=True)
class ModelMetadata:
    """Everything a model file stores besides the weights.

    Attributes
    ----------
    normalization : Normalization
        How raw pixels become network inputs.
    image_shape : tuple of int
        ``(H, W)`` of the images the network reads; ``H * W`` is the input size.
    class_names : tuple of str
        One name per output unit.
    dataset_name : str
        Name of the dataset the network was first trained on (the first phase's).
    config : dict
        ``TrainingConfig.to_dict()`` of the first phase, which built the network
        (may be empty when unknown).
    history : list of dict
        One dict per epoch of every phase: the ``EpochEvent`` fields, and ``phase``,
        the index of its phase (missing means 0).
    metrics : dict
        Figures of the stored weights: the last phase's metrics (`METRICS`).
    created : str
        ISO 8601 UTC time; filled in at save time when empty.
    app_version : str
        Digit Studio version that wrote the file; filled in at save time when empty.
    phases : list of dict
        One dict per training phase, oldest first: ``kind`` (`PHASE_KINDS`),
        ``dataset_name``, ``config`` and ``metrics``. Empty means one ``"train"``
        phase made of ``dataset_name``, ``config`` and ``metrics``.
    judgement : dict or None
        `core.judgement.Judge.to_dict` thresholds set on the model's held-out
        digits when it was trained; None when not stored (set at load instead).
    edits : list of dict
        Edits of the weights after training, oldest first (`EDIT_FIELDS`; written
        by `core.neuron_edits.edited_metadata`); empty for a model as trained.
    hand_width : float
        How much wider than drawn the model reads drawings (`core.hand_reading`;
        below 1, narrower): 1, or what a fine-tune found its drawings read best at.
    hand_turn : float
        Degrees clockwise the model finds drawings turned and turns them back by
        before it reads them: 0, or what a fine-tune found.
    """

    normalization: Normalization
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    dataset_name: str = ""
    config: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    created: str = ""
    app_version: str = ""
    phases: list = field(default_factory=list)
    judgement: dict | None = None
    edits: list = field(default_factory=list)
    hand_width: float = 1.0
    hand_turn: float = 0.0

    def __post_init__(self) -> None:
        if not self.phases:
            object.__setattr__(
                self,
                "phases",
                [single_phase(self.dataset_name, self.config, self.metrics)],
            )


@dataclass
class SavedModel:
    """A loaded model file: the network plus everything needed to use it.

    The metadata fields mean what they mean in `ModelMetadata`; ``phases`` is never
    empty (a model made without phases gets one ``"train"`` phase).
    """

    network: MLP
    normalization: Normalization
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    dataset_name: str
    config: dict
    history: list[dict]
    metrics: dict
    created: str
    app_version: str
    format_version: int = FORMAT_VERSION
    phases: list[dict] = field(default_factory=list)
    judgement: dict | None = None
    edits: list[dict] = field(default_factory=list)
    hand_width: float = 1.0
    hand_turn: float = 0.0

    def __post_init__(self) -> None:
        if not self.phases:
            self.phases = [single_phase(self.dataset_name, self.config, self.metrics)]

    @property
    def deskews(self) -> bool:
        """True when the network reads images stood upright (``config.deskew``).

        The one place that decides; `prepare` and `predict_proba` follow it.
        """
        return bool(self.config.get("deskew", False))

    @property
    def metadata(self) -> ModelMetadata:
        """The metadata part, ready to be saved again with `save_model`."""
        return ModelMetadata(
            normalization=self.normalization,
            image_shape=self.image_shape,
            class_names=self.class_names,
            dataset_name=self.dataset_name,
            config=self.config,
            history=self.history,
            metrics=self.metrics,
            created=self.created,
            app_version=self.app_version,
            phases=self.phases,
            judgement=self.judgement,
            edits=self.edits,
            hand_width=self.hand_width,
            hand_turn=self.hand_turn,
        )

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Return raw images as the network reads them: deskewed if it was trained so.

        Parameters
        ----------
        images : ndarray
            uint8 ``(H, W)``, ``(B, H, W)`` or ``(B, H*W)`` in the dataset's range.

        Returns
        -------
        ndarray
            The same shape; the input itself when nothing is to be done.
        """
        images = np.asarray(images)
        if not self.deskews:
            return images
        shape = images.shape
        return deskew(images.reshape(-1, *self.image_shape)).reshape(shape)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for raw images.

        Parameters
        ----------
        images : ndarray
            ``(H, W)`` or ``(B, H, W)`` (or already flattened ``(B, H*W)``), in the
            dataset's pixel range (0..255 for MNIST, 0..16 for the 8x8 digits);
            deskewed first when the model says so (`prepare`).

        Returns
        -------
        ndarray
            float32 ``(num_classes,)`` for one image, ``(B, num_classes)`` for a batch.
        """
        images = self.prepare(images)
        single = images.shape == tuple(self.image_shape) or images.ndim == 1
        batch = images.reshape(1, -1) if single else images.reshape(len(images), -1)
        probabilities = self.network.predict_proba(self.normalization.apply(batch))
        return probabilities[0] if single else probabilities


def single_phase(dataset_name: str, config: dict, metrics: dict) -> dict[str, Any]:
    """Return the phase record of a model trained once (``kind`` ``"train"``)."""
    return {
        "kind": "train",
        "dataset_name": dataset_name,
        "config": config,
        "metrics": metrics,
    }


@functools.cache
def app_version() -> str:
    """Return the installed Digit Studio version (or the source tree's)."""
    try:
        return importlib.metadata.version("digit-studio")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            return "unknown"
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
        return match.group(1) if match else "unknown"


def utc_now_iso() -> str:
    """Return the current time as ISO 8601 UTC, e.g. ``2026-11-22T10:40:00Z``."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def save_model(path: str | os.PathLike, network: MLP, metadata: ModelMetadata) -> None:
    """Write ``network`` and ``metadata`` to ``path`` atomically.

    The archive holds float32 arrays ``W0, b0, W1, b1, ...`` (weights ``(fan_in,
    fan_out)``, biases ``(fan_out,)``), ``input_mean`` and ``input_std`` (``(H*W,)``)
    for standardised inputs, and ``metadata``, a 0-d unicode array of JSON.

    Parameters
    ----------
    path : str or PathLike
        Destination; written as a temporary file in the same folder, then renamed.
    network : MLP
        The network to save (its arrays are copied into the file as they are).
    metadata : ModelMetadata
        Normalisation, image shape, class names, config, history, metrics, phases.

    Raises
    ------
    ModelFileError
        When the network and metadata disagree, a metadata field has the wrong type
        (the same checks as `load_model`, so every saved file loads), or the file
        cannot be written.
    """
    arrays = _arrays_to_save(network, metadata)
    document = _metadata_document(network, metadata)
    try:
        _check_size(document["layer_sizes"], metadata.normalization.kind)
        _check_training_record(document)
        _check_architecture(document)
        _check_judgement(document.get("judgement"), document["class_names"])
        _check_edits(document)
        _check_hand_reading(
            document.get("hand_width", 1.0), document.get("hand_turn", 0)
        )
    except _Invalid as exc:
        raise ModelFileError(f"The model cannot be saved: {exc}.") from exc
    reason = computation_problem(network, metadata.normalization)
    if reason is not None:
        raise ModelFileError(f"The model cannot be saved: {reason}.")
    try:
        text = json.dumps(document, allow_nan=False, ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"Model metadata cannot be stored as JSON: {exc}") from exc
    arrays["metadata"] = np.array(text, dtype=np.str_)
    if arrays["metadata"].nbytes > MAX_METADATA_BYTES:
        raise ModelFileError(
            f"The model cannot be saved: its metadata (mostly the history of "
            f"{len(metadata.history):,} epochs) would take "
            f"{_size_text(arrays['metadata'].nbytes)}, more than the "
            f"{_size_text(MAX_METADATA_BYTES)} a model file may use."
        )
    _write_atomically(Path(path), arrays)


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read and validate a model file.

    Parameters
    ----------
    path : str or PathLike
        A file written by `save_model` (any format version up to `FORMAT_VERSION`).

    Returns
    -------
    SavedModel
        The network (float32 weights) with its metadata.

    Raises
    ------
    ModelFileError
        With a human-readable message for any problem: missing or unreadable file,
        not an npz archive, pickled or non-numeric arrays, bad JSON, unknown names,
        shapes that do not chain, non-finite values, or a newer format version.
    """
    path = Path(path)
    try:
        with _open_file(path) as handle:
            archive = _Archive(path, handle)
            try:
                return _load(path, archive)
            finally:
                archive.close()
    except MemoryError as exc:
        raise ModelFileError(f"There is not enough memory to load {path}.") from exc


def check_model_size(layer_sizes: list[int], normalization_kind: str) -> None:
    """Refuse, before training, a network too large for a model file.

    Raises
    ------
    ModelFileError
        Beyond `MAX_LAYERS` layers or `MAX_PARAMETERS` numbers, the limits that
        `load_model` enforces (and so `save_model`).
    """
    try:
        _check_size([int(n) for n in layer_sizes], normalization_kind)
    except _Invalid as exc:
        raise ModelFileError(f"This network cannot be saved: {exc}.") from exc


# --- saving -------------------------------------------------------------------


def _arrays_to_save(network: MLP, metadata: ModelMetadata) -> dict[str, np.ndarray]:
    layer_sizes = [int(n) for n in network.layer_sizes]
    if len(network.weights) != len(layer_sizes) - 1:
        raise ModelFileError("The network's weights do not match its layer sizes.")
    image_shape = tuple(int(n) for n in metadata.image_shape)
    if len(image_shape) != 2 or image_shape[0] * image_shape[1] != layer_sizes[0]:
        raise ModelFileError(
            f"Image shape {image_shape} does not give the network's "
            f"{layer_sizes[0]} inputs."
        )
    if len(metadata.class_names) != layer_sizes[-1]:
        raise ModelFileError(
            f"{len(metadata.class_names)} class names for {layer_sizes[-1]} outputs."
        )
    arrays: dict[str, np.ndarray] = {}
    for i, (weights, biases) in enumerate(
        zip(network.weights, network.biases, strict=True)
    ):
        arrays[f"W{i}"] = np.ascontiguousarray(weights, dtype=np.float32)
        arrays[f"b{i}"] = np.ascontiguousarray(biases, dtype=np.float32)
    normalization = metadata.normalization
    if normalization.kind == "standardize":
        arrays["input_mean"] = np.ascontiguousarray(normalization.mean, np.float32)
        arrays["input_std"] = np.ascontiguousarray(normalization.std, np.float32)
    return arrays


def _metadata_document(network: MLP, metadata: ModelMetadata) -> dict[str, Any]:
    normalization = dict(metadata.normalization.to_dict())
    # The statistics live in the input_mean / input_std arrays, bit for bit.
    normalization.pop("mean", None)
    normalization.pop("std", None)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "layer_sizes": [int(n) for n in network.layer_sizes],
        "activation": network.activation,
        "output": network.output,
        "init": network.init,
        "normalization": json_ready(normalization),
        "image_shape": [int(n) for n in metadata.image_shape],
        "class_names": [str(name) for name in metadata.class_names],
        "dataset_name": str(metadata.dataset_name),
        "config": json_ready(metadata.config),
        "history": json_ready(metadata.history),
        "metrics": json_ready(metadata.metrics),
        "phases": json_ready(metadata.phases),
        "created": metadata.created or utc_now_iso(),
        "app_version": metadata.app_version or app_version(),
        # Only edited models have the key: other files stay as they were.
        **({"edits": json_ready(metadata.edits)} if metadata.edits else {}),
        # Only a narrow, wide or turned hand's model has the keys.
        **({"hand_width": metadata.hand_width} if metadata.hand_width != 1 else {}),
        **({"hand_turn": metadata.hand_turn} if metadata.hand_turn else {}),
    }
    if metadata.judgement is not None:
        document["judgement"] = json_ready(metadata.judgement)
    return document


def json_ready(value: Any) -> Any:
    """Return ``value`` as plain JSON types (NaN and infinities become None).

    Dataclasses become dicts, NumPy arrays lists, NumPy scalars Python numbers.

    Raises
    ------
    ModelFileError
        For a value JSON cannot hold.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return json_ready(to_dict() if callable(to_dict) else dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    raise ModelFileError(
        f"Model metadata holds a {type(value).__name__}, not JSON data."
    )


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        with atomic_write(path) as handle:
            # An open file object, because np.savez appends ".npz" to bare paths.
            np.savez(handle, **arrays)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ModelFileError(f"Could not save the model to {path}: {reason}.") from exc


# --- loading ------------------------------------------------------------------


def _open_file(path: Path) -> BinaryIO:
    """Open a model file for reading (the one place where one is opened)."""
    try:
        return open_regular(path)
    except FileNotFoundError as exc:
        raise ModelFileError(f"Model file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ModelFileError(f"{path} is a folder, not a model file.") from exc
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


@contextlib.contextmanager
def _damaged_on_failure(path: Path) -> Iterator[None]:
    # Any failure to decode untrusted bytes (zip structures, zlib, CRC, a cut-off
    # member, a malformed .npy header) means one thing to the user: a damaged file.
    try:
        yield
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:
        raise ModelFileError(f"{path} is damaged: {exc}.") from exc


@dataclass(frozen=True)
class _Header:
    """What a member's .npy header declares, read before any of its data."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    data_offset: int  # bytes of the member before its data

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class _Archive:
    """A model file's zip directory and .npy headers, checked before any data is read.

    Reads at most the last 64 KiB of the file, the zip directory (whose size is
    checked first), and the first bytes (the .npy header) of each member; members'
    data are read later, one at a time, only after their declared size matched.
    """

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        size = _regular_file_size(path, handle)
        _check_end_record(path, handle, size)
        with _damaged_on_failure(path):
            self.zip = zipfile.ZipFile(handle)
        self.members = _checked_members(path, self.zip.infolist(), size)
        self.headers = {key: self._header(key) for key in self.members}

    def _header(self, key: str) -> _Header:
        not_an_array = ModelFileError(
            f"{self.path} is not a valid Digit Studio model: entry {key}.npy is not a "
            "NumPy array."
        )
        with _damaged_on_failure(self.path), self.zip.open(self.members[key]) as member:
            prefix = _read_exactly(member, len(np.lib.format.MAGIC_PREFIX) + 2)
            if not prefix.startswith(np.lib.format.MAGIC_PREFIX):
                raise not_an_array
            version = prefix[-2]
            if version not in (1, 2):
                raise not_an_array
            length_field = _read_exactly(member, 2 if version == 1 else 4)
            length = int.from_bytes(length_field, "little")
            if length > _MAX_NPY_HEADER:
                raise not_an_array
            header = length_field + _read_exactly(member, length)
            parse = (
                np.lib.format.read_array_header_1_0
                if version == 1
                else np.lib.format.read_array_header_2_0
            )
            try:
                shape, fortran_order, dtype = parse(io.BytesIO(header))
            except ValueError:
                raise not_an_array from None
        if dtype.hasobject:
            raise ModelFileError(
                f"{self.path} holds Python objects (pickled data), which Digit Studio "
                "never loads because they could run code."
            )
        parsed = _Header(
            tuple(shape), bool(fortran_order), dtype, len(prefix) + len(header)
        )
        declared = self.members[key].file_size
        if parsed.data_offset + parsed.data_bytes != declared:
            raise ModelFileError(
                f"{self.path} is damaged: entry {key}.npy declares {declared:,} bytes, "
                f"but its header describes {parsed.data_offset + parsed.data_bytes:,}."
            )
        return parsed

    def read(self, key: str) -> np.ndarray:
        """Read one member's array, whose header was checked by the caller."""
        header = self.headers[key]
        with _damaged_on_failure(self.path), self.zip.open(self.members[key]) as member:
            _read_exactly(member, header.data_offset)
            data = _read_exactly(member, header.data_bytes)
            # Reading past the end checks the CRC and that nothing follows.
            if member.read(1):
                raise ValueError(f"entry {key}.npy holds more data than declared")
        array = np.frombuffer(data, dtype=header.dtype)
        order = "F" if header.fortran_order else "C"
        return array.reshape(header.shape, order=order)

    def close(self) -> None:
        self.zip.close()


def _read_exactly(member: BinaryIO, count: int) -> bytes:
    data = member.read(count)
    if len(data) != count:
        raise EOFError(f"{count:,} bytes expected, {len(data):,} found")
    return data


def _regular_file_size(path: Path, handle: BinaryIO) -> int:
    status = os.fstat(handle.fileno())
    if not stat.S_ISREG(status.st_mode):
        # Devices and pipes have no size to check: /dev/zero never ends.
        raise ModelFileError(f"{path} is not a regular file, so not a model file.")
    size = status.st_size
    if size == 0:
        raise ModelFileError(f"{path} is empty, not a Digit Studio model file.")
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"{path} is too large to be a Digit Studio model ({_size_text(size)}; "
            f"model files are at most {_size_text(MAX_FILE_BYTES)})."
        )
    return size


_END_RECORD = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP_COMMENT_MAX = 1 << 16


def _check_end_record(path: Path, handle: BinaryIO, size: int) -> None:
    """Find the zip's end record as zipfile does, and check what it declares."""
    start = max(0, size - _ZIP_COMMENT_MAX - _END_RECORD.size)
    handle.seek(start)
    tail = handle.read(size - start)
    at = len(tail) - _END_RECORD.size
    if not (tail[at : at + 4] == _END_SIGNATURE and tail[-2:] == b"\0\0"):
        at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        handle.seek(0)
        if handle.read(4) == b"PK\x03\x04":
            raise ModelFileError(f"{path} is damaged or incomplete (cut-off archive).")
        raise ModelFileError(
            f"{path} is not a Digit Studio model file (not an .npz archive)."
        )
    _, disk, directory_disk, disk_entries, entries, directory_size, _, _ = (
        _END_RECORD.unpack_from(tail, at)
    )
    if tail[max(0, at - 20) : at - 16] == _ZIP64_LOCATOR_SIGNATURE:
        # Only archives beyond 4 GiB or 65,535 entries need a zip64 directory.
        raise ModelFileError(f"{path} is too large to be a Digit Studio model.")
    if disk or directory_disk or disk_entries != entries:
        raise ModelFileError(f"{path} is damaged (a zip split over several disks).")
    if entries > MAX_MEMBERS or directory_size > _MAX_DIRECTORY_BYTES:
        raise ModelFileError(
            f"{path} is not a Digit Studio model: its zip directory lists "
            f"{entries:,} entries in {directory_size:,} bytes (a model has at most "
            f"{MAX_MEMBERS:,})."
        )
    if directory_size > start + at:
        raise ModelFileError(f"{path} is damaged or incomplete (cut-off archive).")


def _checked_members(
    path: Path, members: list[zipfile.ZipInfo], size: int
) -> dict[str, zipfile.ZipInfo]:
    """Map each array name to its zip entry, refusing anything a model never holds."""
    found: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for member in members:
        name = member.filename
        if not name.endswith(".npy") or "/" in name or "\\" in name:
            raise ModelFileError(f"{path} holds an unexpected entry {_shown(name)}.")
        key = name[: -len(".npy")]
        if key in found:
            raise ModelFileError(
                f"{path} is not a valid Digit Studio model: it holds two entries "
                f"named {_shown(name)}."
            )
        found[key] = member
        _check_declared_sizes(path, member, size)
        total += member.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ModelFileError(
            f"{path} is too large to be a Digit Studio model ({_size_text(total)} "
            f"of arrays; at most {_size_text(MAX_UNCOMPRESSED_BYTES)})."
        )
    return found


def _check_declared_sizes(path: Path, member: zipfile.ZipInfo, size: int) -> None:
    name = _shown(member.filename)
    if member.flag_bits & 0x1:
        raise ModelFileError(f"{path} holds an encrypted entry {name}.")
    packed, unpacked = member.compress_size, member.file_size
    if member.compress_type == zipfile.ZIP_STORED:
        consistent = packed == unpacked
    elif member.compress_type == zipfile.ZIP_DEFLATED:
        # Deflate gives at most 1032 bytes per byte, and grows incompressible data
        # by a few bytes per 16 KiB block: anything else is a lie (a zip bomb).
        consistent = (
            unpacked <= _DEFLATE_MAX_RATIO * packed + 1024
            and packed <= unpacked + unpacked // 1000 + 1024
        )
    else:
        raise ModelFileError(
            f"{path} is not a Digit Studio model: entry {name} is compressed with a "
            "method NumPy never uses."
        )
    if not consistent or member.header_offset + packed > size:
        raise ModelFileError(
            f"{path} is damaged: entry {name} declares {unpacked:,} bytes stored in "
            f"{packed:,}, which its compression cannot give."
        )


def _size_text(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


@dataclass(frozen=True)
class _Layout:
    """The architecture the metadata declares, and the arrays it implies."""

    layer_sizes: list[int]
    activation: str
    output: str
    init: str
    normalization: dict
    shapes: dict[str, tuple[int, ...]]  # every array but the metadata


def _load(path: Path, archive: _Archive) -> SavedModel:
    meta = _read_metadata(path, archive)
    problem = _Problem(path)
    try:
        layout = _layout(meta, problem)
        _check_arrays(archive, layout, problem)
        arrays = {
            key: _float_array(archive.read(key), key, problem) for key in layout.shapes
        }
        return _build_saved_model(meta, layout, arrays, problem)
    except ModelFileError:
        raise
    # A check this module lacks must still end as the documented error, never as a
    # crash of the program that opens the file.
    except (
        ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError
    ) as exc:  # fmt: skip
        raise problem(f"{type(exc).__name__}: {exc}") from exc


def _read_metadata(path: Path, archive: _Archive) -> dict[str, Any]:
    not_ours = f"{path} is not a Digit Studio model file"
    header = archive.headers.get("metadata")
    if header is None:
        raise ModelFileError(f"{not_ours} (it has no metadata).")
    if header.shape != () or header.dtype.kind != "U":
        raise ModelFileError(f"{not_ours} (its metadata is not a JSON string).")
    if header.data_bytes > MAX_METADATA_BYTES:
        raise ModelFileError(
            f"{path} is not a valid Digit Studio model: its metadata takes "
            f"{_size_text(header.data_bytes)}, more than the "
            f"{_size_text(MAX_METADATA_BYTES)} a model file may use."
        )
    raw = archive.read("metadata")
    try:
        meta = json.loads(str(raw[()]))
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path} has damaged metadata: {exc}.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{not_ours} (unknown format).")
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {_shown(version)}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was made by a newer Digit Studio (model format {version}; this "
            f"version reads up to {FORMAT_VERSION}). Update Digit Studio to open it."
        )
    return meta


def _layout(meta: dict, problem: _Problem) -> _Layout:
    layer_sizes = meta.get("layer_sizes")
    if (
        not isinstance(layer_sizes, list)
        or len(layer_sizes) < 2
        or not all(_is_int(n) and n >= 1 for n in layer_sizes)
    ):
        raise problem("layer_sizes must be a list of at least two positive integers")
    activation = _registry_name(meta, "activation", ACTIVATIONS, problem)
    output = _registry_name(meta, "output", OUTPUTS, problem)
    init = meta.get("init", "he")
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise problem(f"unknown initialiser {_shown(init)}")
    normalization = meta.get("normalization")
    if not isinstance(normalization, dict):
        raise problem("the input normalisation is missing")
    kind = normalization.get("kind")
    if kind not in NORMALIZATION_KINDS:
        raise problem(f"unknown input normalisation {_shown(kind)}")
    try:
        _check_size(layer_sizes, kind)
    except _Invalid as exc:
        raise problem(str(exc)) from exc
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(layer_sizes)):
        shapes[f"W{i}"] = (fan_in, fan_out)
        shapes[f"b{i}"] = (fan_out,)
    if kind == "standardize":
        shapes["input_mean"] = shapes["input_std"] = (layer_sizes[0],)
    return _Layout(layer_sizes, activation, output, init, normalization, shapes)


def _check_size(layer_sizes: list[int], normalization_kind: str) -> None:
    """Refuse networks beyond `MAX_LAYERS` or `MAX_PARAMETERS` (on save and load)."""
    layers = len(layer_sizes) - 1
    if layers > MAX_LAYERS:
        raise _Invalid(
            f"the network has {layers:,} layers, more than the {MAX_LAYERS:,} a model "
            "file may hold"
        )
    numbers = sum(a * b + b for a, b in itertools.pairwise(layer_sizes))
    if normalization_kind == "standardize":
        numbers += 2 * layer_sizes[0]
    if numbers > MAX_PARAMETERS:
        raise _Invalid(
            f"the network needs {numbers:,} numbers, more than the "
            f"{MAX_PARAMETERS:,} a model file may hold"
        )


def _check_arrays(archive: _Archive, layout: _Layout, problem: _Problem) -> None:
    """Check that the arrays are exactly the expected ones, dtypes and shapes."""
    present = archive.headers.keys() - {"metadata"}
    missing = sorted(layout.shapes.keys() - present, key=_array_order)
    extra = sorted(present - layout.shapes.keys(), key=_array_order)
    if missing:
        raise problem(f"array(s) {_listed(missing)} missing")
    if extra:
        raise problem(f"unexpected array(s) {_listed(extra)}")
    for key, shape in layout.shapes.items():
        header = archive.headers[key]
        if header.dtype.kind != "f" or header.dtype.itemsize not in (2, 4, 8):
            raise problem(f"{key} has dtype {header.dtype}, expected float32")
        if header.shape != shape:
            raise problem(f"{key} has shape {_shown(header.shape)}, expected {shape}")


def _build_saved_model(
    meta: dict, layout: _Layout, arrays: dict[str, np.ndarray], problem: _Problem
) -> SavedModel:
    layer_sizes = layout.layer_sizes
    image_shape = meta.get("image_shape")
    if (
        not isinstance(image_shape, list)
        or len(image_shape) != 2
        or not all(_is_int(n) and n >= 1 for n in image_shape)
        or image_shape[0] * image_shape[1] != layer_sizes[0]
    ):
        raise problem(
            f"image_shape {_shown(image_shape)} does not give {layer_sizes[0]} inputs"
        )
    class_names = meta.get("class_names")
    if (
        not isinstance(class_names, list)
        or len(class_names) != layer_sizes[-1]
        or not all(isinstance(name, str) for name in class_names)
    ):
        raise problem(f"class_names must be {layer_sizes[-1]} strings")

    normalization = _normalization(layout.normalization, arrays, problem)
    dataset_name = _typed(meta, "dataset_name", str, "", problem)
    config = _typed(meta, "config", dict, {}, problem)
    history = _typed(meta, "history", list, [], problem)
    if not all(isinstance(entry, dict) for entry in history):
        raise problem("every history entry must be a JSON object")
    metrics = _typed(meta, "metrics", dict, {}, problem)
    phases: list = []
    if meta["format_version"] == 1:
        metrics = _upgraded_metrics(metrics)
    else:
        phases = _typed(meta, "phases", list, [], problem)
    phases = phases or [single_phase(dataset_name, config, metrics)]
    edits = _typed(meta, "edits", list, [], problem)
    try:
        _check_training_record(
            {
                "config": config,
                "history": history,
                "metrics": metrics,
                "phases": phases,
                "layer_sizes": layer_sizes,
            }
        )
        _check_edits({"edits": edits, "layer_sizes": layer_sizes, "phases": phases})
        _check_architecture(
            {
                "config": config,
                "layer_sizes": layer_sizes,
                "activation": layout.activation,
                "output": layout.output,
                "init": layout.init,
            }
        )
    except _Invalid as exc:
        raise problem(str(exc)) from exc
    created = _typed(meta, "created", str, "", problem)
    version = _typed(meta, "app_version", str, "", problem)
    judgement = meta.get("judgement")
    hand_width = meta.get("hand_width", 1.0)
    hand_turn = meta.get("hand_turn", 0.0)
    try:
        _check_judgement(judgement, class_names)
        _check_hand_reading(hand_width, hand_turn)
    except _Invalid as exc:
        raise problem(str(exc)) from exc

    network = MLP(
        layer_sizes,
        activation=layout.activation,
        output=layout.output,
        init=layout.init,
    )
    for i in range(len(layer_sizes) - 1):
        network.weights[i][...] = arrays[f"W{i}"]
        network.biases[i][...] = arrays[f"b{i}"]
    reason = computation_problem(network, normalization)
    if reason is not None:
        raise problem(reason)
    return SavedModel(
        network=network,
        normalization=normalization,
        image_shape=(image_shape[0], image_shape[1]),
        class_names=tuple(class_names),
        dataset_name=dataset_name,
        config=config,
        history=history,
        metrics=metrics,
        created=created,
        app_version=version,
        format_version=meta["format_version"],
        phases=phases,
        judgement=judgement,
        edits=edits,
        hand_width=float(hand_width),
        hand_turn=float(hand_turn),
    )


def computation_problem(network: MLP, normalization: Normalization) -> str | None:
    """Return why ``network`` would compute NaN or infinities on ordinary images.

    Runs four probe images (blank, full ink, half ink, random pixels) through the
    normalisation and the network, as `SavedModel.predict_proba` does: finite
    stored values can still overflow float32 arithmetic (weights near 3e38, a
    ``max_value`` of 1e-300, an ``input_std`` of 1e-45).

    Returns
    -------
    str or None
        A phrase naming the part at fault, or None when every output is finite.
    """
    size = network.input_size
    peak = normalization.max_value
    probes = np.empty((4, size), np.float32)
    probes[0] = 0.0
    probes[1] = peak
    probes[2] = peak / 2
    probes[3] = np.random.default_rng(0).uniform(0.0, peak, size)
    with np.errstate(all="ignore"):
        inputs = normalization.apply(probes)
        if not np.isfinite(inputs).all():
            return (
                "its input normalisation turns pixels into NaN or infinite values "
                "(max_value or input_std is too small)"
            )
        outputs = network.forward(inputs)
    if not np.isfinite(outputs).all():
        return (
            "its weights give NaN or infinite outputs (values too large for float32 "
            "arithmetic)"
        )
    return None


class _Problem:
    """Builds the ModelFileError for a file that is an npz but not a valid model."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, detail: str) -> ModelFileError:
        return ModelFileError(
            f"{self.path} is not a valid Digit Studio model: {detail}."
        )


def _registry_name(
    meta: dict, key: str, registry: Mapping[str, Any], problem: _Problem
) -> str:
    name = meta.get(key)
    if not isinstance(name, str) or name not in registry:
        known = ", ".join(sorted(registry))
        raise problem(f"unknown {key} {_shown(name)} (known: {known})")
    return name


def _float_array(array: np.ndarray, key: str, problem: _Problem) -> np.ndarray:
    # float64 values beyond float32's range become inf here and are refused below.
    with np.errstate(over="ignore"):
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise problem(f"{key} contains NaN or infinite values")
    return array


def _normalization(
    meta: dict, arrays: dict[str, np.ndarray], problem: _Problem
) -> Normalization:
    max_value = meta.get("max_value")
    if (
        isinstance(max_value, bool)
        or not isinstance(max_value, (int, float))
        or not math.isfinite(max_value)
        or max_value <= 0
    ):
        raise problem(
            f"invalid max_value {_shown(max_value)} in the input normalisation"
        )
    settings = dict(meta)
    if meta["kind"] == "standardize":
        if not (arrays["input_std"] > 0).all():
            raise problem("input_std must be positive")
        settings["mean"], settings["std"] = arrays["input_mean"], arrays["input_std"]
    else:
        settings["mean"] = settings["std"] = None
    try:
        # A tiny std overflows its reciprocal; computation_problem reports it.
        with np.errstate(over="ignore", divide="ignore"):
            return Normalization.from_dict(settings)
    except (DatasetError, KeyError, TypeError, ValueError) as exc:
        raise problem(f"invalid input normalisation ({exc})") from exc


def _upgraded_metrics(metrics: dict) -> dict:
    # Version 1 files from the app named the epoch count "epochs".
    if "epochs" in metrics and "epochs_completed" not in metrics:
        metrics = {
            ("epochs_completed" if key == "epochs" else key): value
            for key, value in metrics.items()
        }
    return metrics


# --- metadata types (checked on save and on load) --------------------------------


class _Invalid(Exception):
    """A metadata field has the wrong type or value; the message names it."""


_MAX_COUNT = 2**53  # every count fits a float exactly
_MAX_SETTING = 2**31 - 1  # integer settings (but the seed) fit the app's controls
_KIND_TEXT = {
    "count": "a whole number from 0 to 2**53",
    "number": "a finite number",
    "text": "text",
    "layers": "a list of numbers, one per layer",
    "hidden": "a list of numbers, one per hidden layer",
}


def _check_training_record(document: dict[str, Any]) -> None:
    """Check ``config``, ``history``, ``metrics`` and ``phases`` (JSON types)."""
    _check_config(document["config"], "config")
    _check_fields(document["metrics"], METRICS, "metrics")
    phases = document["phases"]
    if not isinstance(phases, list) or not phases:
        raise _Invalid("phases must be a non-empty list")
    for index, phase in enumerate(phases):
        where = f"phase {index + 1}"
        if not isinstance(phase, dict):
            raise _Invalid(f"{where} must be a JSON object")
        if phase.get("kind") not in PHASE_KINDS:
            raise _Invalid(f"{where} has an unknown kind {_shown(phase.get('kind'))}")
        if not isinstance(phase.get("dataset_name"), str):
            raise _Invalid(f"{where} dataset_name must be text")
        known = {"kind", "dataset_name", "config", "metrics", "changes"}
        unknown = sorted(set(phase) - known)
        if unknown:
            raise _Invalid(f"{where} has unknown field(s) {', '.join(unknown)}")
        _check_config(phase.get("config"), f"{where} config")
        _check_fields(phase.get("metrics"), METRICS, f"{where} metrics")
        _check_changes(phase.get("changes", []), where)
    history = document["history"]
    if not isinstance(history, list):
        raise _Invalid("history must be a list")
    sizes = document.get("layer_sizes")
    layers = len(sizes) - 1 if isinstance(sizes, list) else None
    for index, row in enumerate(history):
        where = f"history entry {index + 1}"
        _check_fields(row, HISTORY_FIELDS, where, layers)
        if row.get("phase", 0) >= len(phases):
            raise _Invalid(f"{where} names phase {row['phase']}, which is not stored")


def _check_judgement(judgement: Any, class_names: list[str]) -> None:
    """Check the stored "not sure" thresholds (optional) against the classes."""
    if judgement is None:
        return
    if not isinstance(judgement, dict):
        raise _Invalid(f"judgement must be a JSON object, not {_shown(judgement)}")
    try:
        judge = Judge.from_dict(judgement)
    except JudgementError as exc:
        raise _Invalid(f"judgement: {exc}") from exc
    other = not_a_digit_output(tuple(class_names))
    digits = len(class_names) - (other is not None)
    if judge.digit_classes != digits or judge.not_a_digit_class != other:
        raise _Invalid(
            f"judgement is set for {judge.digit_classes} digit classes"
            + ("" if judge.not_a_digit_class is None else ' and "not a digit"')
            + f", not for this model's classes {', '.join(class_names)}"
        )


def _check_changes(changes: Any, where: str) -> None:
    """Check a phase's ``changes``: in order, every field but the momentum given."""
    if not isinstance(changes, list):
        raise _Invalid(f"{where} changes must be a list")
    previous = 0
    for index, change in enumerate(changes):
        place = f"{where} change {index + 1}"
        _check_fields(change, CHANGE_FIELDS, place)
        unknown = sorted(set(change) - set(CHANGE_FIELDS))
        if unknown:
            raise _Invalid(f"{place} has unknown field(s) {', '.join(unknown)}")
        for key in ("at_epoch", "at_batch", "learning_rate"):
            if change.get(key) is None:
                raise _Invalid(f"{place} needs {key}")
        if change["at_epoch"] < 0 or change["learning_rate"] <= 0:
            raise _Invalid(f"{place} needs a non-negative at_epoch and a positive rate")
        momentum = change.get("momentum")
        if momentum is not None and not 0 <= momentum < 1:
            raise _Invalid(f"{place} momentum must be in [0, 1)")
        if change["at_batch"] < previous:
            raise _Invalid(f"{place} comes before the change listed ahead of it")
        previous = change["at_batch"]


def _check_hand_reading(width: Any, turn: Any) -> None:
    """Check the optional ``hand_width`` and ``hand_turn`` as a conversion would."""
    for name, value in (("hand_width", width), ("hand_turn", turn)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(f"{name} must be a number, not {_shown(value)}")
    if not MIN_WIDEN <= width <= MAX_WIDEN:  # NaN too
        raise _Invalid(
            f"hand_width must be {MIN_WIDEN:g} to {MAX_WIDEN:g}, not {width}"
        )
    if not -MAX_TURN <= turn <= MAX_TURN:
        raise _Invalid(f"hand_turn must be -{MAX_TURN} to {MAX_TURN}, not {turn}")


def _check_edits(document: dict[str, Any]) -> None:
    """Check the optional ``edits``: known fields, units the network has."""
    edits = document.get("edits", [])
    if not isinstance(edits, list):
        raise _Invalid("edits must be a list")
    hidden = document["layer_sizes"][1:-1]
    for index, record in enumerate(edits):
        where = f"edit {index + 1}"
        if not isinstance(record, dict):
            raise _Invalid(f"{where} must be a JSON object")
        unknown = sorted(set(record) - set(EDIT_FIELDS))
        if unknown:
            raise _Invalid(f"{where} has unknown field(s) {', '.join(unknown)}")
        missing = [key for key in EDIT_FIELDS if key not in record]
        if missing not in ([], ["evaluation"]):
            raise _Invalid(f"{where} lacks {', '.join(missing)}")
        after = record["after_phase"]
        if not (_is_int(after) and 0 <= after < len(document["phases"])):
            raise _Invalid(f"{where} after_phase must name a stored phase")
        if not isinstance(record["base_created"], str):
            raise _Invalid(f"{where} base_created must be text")
        _check_fields(record["base_metrics"], METRICS, f"{where} base_metrics")
        if record.get("evaluation") is not None:
            _check_fields(record["evaluation"], EDIT_EVALUATION, f"{where} evaluation")
        units = record["units"]
        if not isinstance(units, list) or not units:
            raise _Invalid(f"{where} units must be a non-empty list")
        for unit in units:
            if not isinstance(unit, dict) or set(unit) != set(EDIT_UNIT_FIELDS):
                raise _Invalid(f"{where} units must have {', '.join(EDIT_UNIT_FIELDS)}")
            layer, number = unit["hidden_layer"], unit["unit"]
            if not (_is_int(layer) and 0 <= layer < len(hidden)):
                raise _Invalid(f"{where} names hidden layer {_shown(layer)}")
            if not (_is_int(number) and 0 <= number < hidden[layer]):
                raise _Invalid(
                    f"{where} names unit {_shown(number)} of hidden layer {layer}"
                )
            if not _is_number(unit["scale"]):
                raise _Invalid(f"{where} scale must be a finite number")


def _check_config(config: Any, where: str) -> None:
    if not isinstance(config, dict):
        raise _Invalid(f"{where} must be a JSON object, not {_shown(config)}")
    if not config:
        return  # not recorded
    try:
        TrainingConfig.from_dict(config)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise _Invalid(f"{where} holds invalid training settings ({exc})") from exc
    for key, value in config.items():
        counts = value if key == "hidden_sizes" else [value]
        if key != "seed" and any(_is_int(n) and n > _MAX_SETTING for n in counts):
            raise _Invalid(f"{where} {key} must be at most {_MAX_SETTING:,}")


def _check_architecture(document: dict[str, Any]) -> None:
    """Check that the first phase's settings (they built the network) describe it."""
    config = document["config"]
    expected = {
        "hidden_sizes": list(document["layer_sizes"][1:-1]),
        "activation": document["activation"],
        "output": document["output"],
        "init": document["init"],
    }
    for key, value in expected.items():
        if key in config and _as_list(config[key]) != value:
            raise _Invalid(
                f"config {key} is {_excerpt(config[key])}, but the network's is "
                f"{_excerpt(value)}"
            )


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_fields(
    record: Any, fields: Mapping[str, str], where: str, layers: int | None = None
) -> None:
    """Known fields have their kind (or are null); others hold a JSON scalar.

    ``layers`` is the network's number of weight layers, which per-layer lists
    must match (unchecked when None).
    """
    if not isinstance(record, dict):
        raise _Invalid(f"{where} must be a JSON object, not {_shown(record)}")
    for key, value in record.items():
        kind = fields.get(key)
        if value is None:
            continue
        if kind in ("layers", "hidden"):
            length = None if layers is None else layers - (kind == "hidden")
            valid = (
                isinstance(value, list)
                and len(value) <= MAX_LAYERS
                and (length is None or len(value) == length)
                and all(item is None or _is_number(item) for item in value)
            )
        elif kind == "count":
            valid = _is_int(value) and 0 <= value <= _MAX_COUNT
        elif kind == "number":
            valid = _is_number(value)
        elif kind == "text":
            valid = isinstance(value, str)
        else:
            valid = isinstance(value, (str, bool)) or _is_number(value)
        if not valid:
            expected = _KIND_TEXT.get(kind, "a number or text")
            raise _Invalid(f"{where} {key} must be {expected}, not {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _excerpt(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float's range
        return False


def _typed(meta: dict, key: str, kind: type, default: Any, problem: _Problem) -> Any:
    value = meta.get(key, default)
    if not isinstance(value, kind):
        raise problem(f"{key} must be a {kind.__name__}")
    return value


def _listed(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit:,} more"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _array_order(name: str) -> tuple[int, str]:
    match = _LAYER_ARRAY.match(name)
    return (int(match.group(2)), match.group(1)) if match else (1 << 30, name)
