"""Model files: exact round trip, atomic writes, a clear error for every bad file."""

import dataclasses
import hashlib
import io
import json
import pathlib
import pickle
import re
import zipfile

import numpy as np
import pytest
from json_places import leaf_paths, replaced

from core import model_io
from core.datasets import Normalization
from core.model_io import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    ModelMetadata,
    load_model,
    save_model,
)
from core.network import MLP

DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data"
IMAGE_SHAPE = (4, 4)
CLASS_NAMES = ("zero", "one", "two")


def _network(activation="relu", output="softmax_cross_entropy", seed=0):
    return MLP((16, 8, 5, 3), activation=activation, output=output, seed=seed)


def _normalization(kind, rng):
    images = rng.integers(0, 256, size=(40, *IMAGE_SHAPE), dtype=np.uint8)
    return Normalization.fit(kind, images, 255)


def _metadata(kind="standardize", seed=0):
    rng = np.random.default_rng(seed)
    history = [
        {
            "epoch": epoch,
            "epochs": 2,
            "train_loss": 1.0 / epoch,
            "train_accuracy": 0.5,
            "validation_loss": 0.9 / epoch,
            "validation_accuracy": 0.25 * epoch,
            "learning_rate": 0.01,
            "seconds": 0.125,
            "samples_per_second": 1000.0,
        }
        for epoch in (1, 2)
    ]
    return ModelMetadata(
        normalization=_normalization(kind, rng),
        image_shape=IMAGE_SHAPE,
        class_names=CLASS_NAMES,
        dataset_name="tiny",
        config={"hidden_sizes": [8, 5], "learning_rate": 0.01, "seed": 3},
        history=history,
        metrics={"validation_accuracy": 0.5, "validation_loss": 0.45},
        created="2026-11-22T10:00:00Z",
        app_version="0.1.0",
    )


def _saved_file(tmp_path, kind="standardize"):
    path = tmp_path / "model.npz"
    save_model(path, _network(), _metadata(kind))
    return path


def _arrays_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _write_npz(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _meta_of(arrays):
    return json.loads(str(arrays["metadata"][()]))


def _with_meta(arrays, **changes):
    meta = _meta_of(arrays)
    meta.update(changes)
    arrays["metadata"] = np.array(json.dumps(meta))
    return arrays


@pytest.mark.parametrize("kind", ["scale", "standardize"])
@pytest.mark.parametrize(
    ("activation", "output"),
    [
        ("relu", "softmax_cross_entropy"),
        ("sigmoid", "sigmoid_quadratic"),
        ("tanh", "softmax_cross_entropy"),
        ("leaky_relu", "sigmoid_quadratic"),
    ],
)
def test_round_trip_is_exact(tmp_path, kind, activation, output):
    network = _network(activation, output, seed=7)
    metadata = _metadata(kind)
    path = tmp_path / "model.npz"
    save_model(path, network, metadata)
    loaded = load_model(path)

    assert loaded.network.layer_sizes == network.layer_sizes
    assert loaded.network.activation == activation
    assert loaded.network.output == output
    for saved, original in zip(
        loaded.network.parameters(), network.parameters(), strict=True
    ):
        assert saved.dtype == np.float32
        assert saved.tobytes() == original.tobytes()
    assert loaded.normalization.kind == kind
    assert loaded.normalization.max_value == metadata.normalization.max_value
    if kind == "standardize":
        for name in ("mean", "std"):
            stored = getattr(loaded.normalization, name)
            assert stored.tobytes() == getattr(metadata.normalization, name).tobytes()
    else:
        assert loaded.normalization.mean is None
    assert loaded.image_shape == metadata.image_shape
    assert loaded.class_names == metadata.class_names
    assert loaded.dataset_name == metadata.dataset_name
    assert loaded.config == metadata.config
    assert loaded.history == metadata.history
    assert loaded.metrics == metadata.metrics
    assert loaded.created == metadata.created
    assert loaded.app_version == metadata.app_version
    assert loaded.format_version == FORMAT_VERSION

    images = np.random.default_rng(1).integers(0, 256, (5, *IMAGE_SHAPE), np.uint8)
    inputs = metadata.normalization.apply(images)
    np.testing.assert_array_equal(
        loaded.predict_proba(images), network.predict_proba(inputs)
    )
    np.testing.assert_array_equal(
        loaded.predict_proba(images[0]), network.predict_proba(inputs[0])
    )


def test_saving_again_reproduces_the_same_file(tmp_path):
    first = _saved_file(tmp_path)
    loaded = load_model(first)
    second = tmp_path / "again.npz"
    save_model(second, loaded.network, loaded.metadata)
    assert second.read_bytes() == first.read_bytes()


def test_file_uses_documented_layout(tmp_path):
    arrays = _arrays_of(_saved_file(tmp_path))
    assert set(arrays) == {
        "W0", "b0", "W1", "b1", "W2", "b2", "input_mean", "input_std", "metadata"
    }  # fmt: skip
    assert arrays["W0"].shape == (16, 8) and arrays["b2"].shape == (3,)
    assert arrays["metadata"].shape == () and arrays["metadata"].dtype.kind == "U"
    meta = _meta_of(arrays)
    assert meta["format"] == FORMAT_NAME
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["layer_sizes"] == [16, 8, 5, 3]
    assert meta["normalization"] == {"kind": "standardize", "max_value": 255.0}


def test_missing_created_and_version_are_filled_in(tmp_path):
    metadata = _metadata()
    metadata = ModelMetadata(
        normalization=metadata.normalization,
        image_shape=IMAGE_SHAPE,
        class_names=CLASS_NAMES,
    )
    path = tmp_path / "m.npz"
    save_model(path, _network(), metadata)
    loaded = load_model(path)
    assert loaded.created.endswith("Z") and loaded.created[:2] == "20"
    assert loaded.app_version == model_io.app_version()


def test_non_finite_metadata_numbers_become_null(tmp_path):
    metadata = _metadata()
    history = [{"epoch": 1, "train_loss": float("nan"), "seconds": np.float32(2.0)}]
    metadata = ModelMetadata(
        normalization=metadata.normalization,
        image_shape=IMAGE_SHAPE,
        class_names=CLASS_NAMES,
        history=history,
        metrics={"loss": float("inf"), "accuracy": np.float64(0.5)},
    )
    path = tmp_path / "m.npz"
    save_model(path, _network(), metadata)
    loaded = load_model(path)
    assert loaded.history == [{"epoch": 1, "train_loss": None, "seconds": 2.0}]
    assert loaded.metrics == {"loss": None, "accuracy": 0.5}


def test_float64_weights_are_accepted_and_converted(tmp_path):
    arrays = _arrays_of(_saved_file(tmp_path))
    arrays["W1"] = arrays["W1"].astype(np.float64)
    path = tmp_path / "f64.npz"
    _write_npz(path, arrays)
    loaded = load_model(path)
    assert loaded.network.weights[1].dtype == np.float32
    np.testing.assert_array_equal(loaded.network.weights[1], arrays["W1"])


def test_big_endian_and_fortran_ordered_arrays_load(tmp_path):
    arrays = _arrays_of(_saved_file(tmp_path))
    expected = arrays["W0"].copy()
    arrays["W0"] = np.asfortranarray(arrays["W0"].astype(">f4"))
    arrays["input_mean"] = arrays["input_mean"].astype(">f8")
    path = tmp_path / "odd.npz"
    _write_npz(path, arrays)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.network.weights[0], expected)
    assert loaded.network.weights[0].dtype == np.float32


def test_save_replaces_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old contents")
    save_model(path, _network(), _metadata())
    assert load_model(path).dataset_name == "tiny"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_failed_save_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = _saved_file(tmp_path)
    before = path.read_bytes()

    def full_disk(handle, **arrays):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_io.np, "savez", full_disk)
    with pytest.raises(ModelFileError, match="No space left"):
        save_model(path, _network(seed=5), _metadata())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_save_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="Could not save"):
        save_model(tmp_path / "no" / "such" / "m.npz", _network(), _metadata())


def test_save_rejects_class_names_that_do_not_match_outputs(tmp_path):
    metadata = _metadata()
    bad = ModelMetadata(
        normalization=metadata.normalization,
        image_shape=IMAGE_SHAPE,
        class_names=("a", "b"),
    )
    with pytest.raises(ModelFileError, match="class names"):
        save_model(tmp_path / "m.npz", _network(), bad)
    assert not (tmp_path / "m.npz").exists()


class _Trap:
    """Unpickling this creates a marker file, proving code would have run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _corrupt(tmp_path, how):
    """Write a bad model file of kind ``how``; return its path."""
    good = _saved_file(tmp_path)
    arrays = _arrays_of(good)
    path = tmp_path / f"{how}.npz"
    marker = tmp_path / "code-ran"
    if how == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncated_tail":
        path.write_bytes(good.read_bytes()[:-30])
    elif how == "random_bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "plain_pickle":
        path.write_bytes(pickle.dumps(_Trap(marker)))
    elif how == "pickled_object_array":
        arrays["payload"] = np.array([_Trap(marker)], dtype=object)
        _write_npz(path, arrays)
    elif how == "pickled_metadata":
        arrays["metadata"] = np.array([_Trap(marker)], dtype=object)
        _write_npz(path, arrays)
    elif how == "pickled_weights":
        arrays["W0"] = np.array([_Trap(marker)], dtype=object)
        _write_npz(path, arrays)
    elif how == "wrong_shape":
        arrays["W1"] = np.zeros((8, 4), np.float32)
        _write_npz(path, arrays)
    elif how == "broken_chain":
        arrays["W1"] = np.zeros((7, 5), np.float32)
        _write_npz(path, arrays)
    elif how == "nan_weights":
        arrays["W0"][3, 2] = np.nan
        _write_npz(path, arrays)
    elif how == "inf_bias":
        arrays["b2"][0] = np.inf
        _write_npz(path, arrays)
    elif how == "nan_input_std":
        arrays["input_std"][0] = np.nan
        _write_npz(path, arrays)
    elif how == "float64_overflow":
        arrays["W1"] = arrays["W1"].astype(np.float64)
        arrays["W1"][0, 0] = 1e300
        _write_npz(path, arrays)
    elif how == "integer_weights":
        arrays["W0"] = arrays["W0"].astype(np.int32)
        _write_npz(path, arrays)
    elif how == "missing_metadata":
        del arrays["metadata"]
        _write_npz(path, arrays)
    elif how == "missing_bias":
        del arrays["b1"]
        _write_npz(path, arrays)
    elif how == "missing_input_std":
        del arrays["input_std"]
        _write_npz(path, arrays)
    elif how == "extra_array":
        arrays["W3"] = np.zeros((3, 3), np.float32)
        _write_npz(path, arrays)
    elif how == "metadata_not_json":
        arrays["metadata"] = np.array("{not json")
        _write_npz(path, arrays)
    elif how == "metadata_not_object":
        arrays["metadata"] = np.array("[1, 2, 3]")
        _write_npz(path, arrays)
    elif how == "metadata_bytes":
        arrays["metadata"] = np.array(b"{}")
        _write_npz(path, arrays)
    elif how == "other_format":
        _write_npz(path, _with_meta(arrays, format="someone-else"))
    elif how == "newer_version":
        _write_npz(path, _with_meta(arrays, format_version=FORMAT_VERSION + 1))
    elif how == "version_zero":
        _write_npz(path, _with_meta(arrays, format_version=0))
    elif how == "version_string":
        _write_npz(path, _with_meta(arrays, format_version="1"))
    elif how == "unknown_activation":
        _write_npz(path, _with_meta(arrays, activation="__class__"))
    elif how == "unknown_output":
        _write_npz(path, _with_meta(arrays, output="os.system"))
    elif how == "bad_layer_sizes":
        _write_npz(path, _with_meta(arrays, layer_sizes=[16, -8, 5, 3]))
    elif how == "layer_sizes_mismatch":
        _write_npz(path, _with_meta(arrays, layer_sizes=[16, 8, 3]))
    elif how == "image_shape_mismatch":
        _write_npz(path, _with_meta(arrays, image_shape=[5, 5]))
    elif how == "class_names_mismatch":
        _write_npz(path, _with_meta(arrays, class_names=["a", "b"]))
    elif how == "unknown_normalization":
        _write_npz(path, _with_meta(arrays, normalization={"kind": "whiten"}))
    elif how == "history_not_list":
        _write_npz(path, _with_meta(arrays, history={"epoch": 1}))
    elif how == "history_value_list":
        history = [{"epoch": 1, "train_loss": [1.0, 2.0]}]
        _write_npz(path, _with_meta(arrays, history=history))
    elif how == "history_nan":
        history = [{"epoch": 1, "train_loss": float("nan")}]  # json writes NaN
        _write_npz(path, _with_meta(arrays, history=history))
    elif how == "history_negative_epoch":
        _write_npz(path, _with_meta(arrays, history=[{"epoch": -2}]))
    elif how == "history_unknown_phase":
        _write_npz(path, _with_meta(arrays, history=[{"epoch": 1, "phase": 4}]))
    elif how == "config_not_object":
        _write_npz(path, _with_meta(arrays, config=[1, 2]))
    elif how == "config_augment_not_object":
        _write_npz(path, _with_meta(arrays, config={"augment": [1, 2]}))
    elif how == "config_negative_seed":
        _write_npz(path, _with_meta(arrays, config={"seed": -1}))
    elif how == "config_unknown_setting":
        _write_npz(path, _with_meta(arrays, config={"speed": 3}))
    elif how == "metrics_value_list":
        metrics = {"validation_accuracy": [0.5]}
        _write_npz(path, _with_meta(arrays, metrics=metrics))
    elif how == "metrics_fractional_count":
        _write_npz(path, _with_meta(arrays, metrics={"training_images": 1.5}))
    elif how == "phases_not_list":
        _write_npz(path, _with_meta(arrays, phases={"kind": "train"}))
    elif how == "phase_unknown_kind":
        phase = {"kind": "retrain", "dataset_name": "", "config": {}, "metrics": {}}
        _write_npz(path, _with_meta(arrays, phases=[phase]))
    elif how == "phase_negative_seed":
        phase = {
            "kind": "train", "dataset_name": "", "config": {"seed": -1},
            "metrics": {},
        }  # fmt: skip
        _write_npz(path, _with_meta(arrays, phases=[phase]))
    elif how in ("metadata_not_array", "weights_not_array"):
        raw = "metadata" if how == "metadata_not_array" else "W0"
        with zipfile.ZipFile(path, "w") as archive:
            for key, value in arrays.items():
                if key == raw:
                    archive.writestr(f"{key}.npy", b"just some bytes")
                else:
                    buffer = io.BytesIO()
                    np.save(buffer, value)
                    archive.writestr(f"{key}.npy", buffer.getvalue())
    elif how == "not_npy_member":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil.py", "print('hi')")
    elif how == "folder":
        path.mkdir()
    elif how == "missing_file":
        pass
    else:
        raise AssertionError(how)
    return path, marker


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "damaged or incomplete"),
        ("truncated_tail", "damaged or incomplete"),
        ("random_bytes", "not a Digit Studio model"),
        ("empty", "not a Digit Studio model"),
        ("plain_pickle", "not a Digit Studio model"),
        ("pickled_object_array", "pickled"),
        ("pickled_metadata", "pickled"),
        ("pickled_weights", "pickled"),
        ("wrong_shape", r"W1 has shape \(8, 4\), expected \(8, 5\)"),
        ("broken_chain", r"W1 has shape \(7, 5\)"),
        ("nan_weights", "W0 contains NaN"),
        ("inf_bias", "b2 contains NaN or infinite"),
        ("nan_input_std", "input_std contains NaN"),
        ("float64_overflow", "W1 contains NaN or infinite"),
        ("integer_weights", "W0 has dtype int32"),
        ("missing_metadata", "no metadata"),
        ("missing_bias", "b1 missing"),
        ("missing_input_std", "input_std missing"),
        ("extra_array", "unexpected array"),
        ("metadata_not_json", "damaged metadata"),
        ("metadata_not_object", "unknown format"),
        ("metadata_bytes", "not a JSON string"),
        ("other_format", "unknown format"),
        ("newer_version", "made by a newer Digit Studio"),
        ("version_zero", "invalid format version"),
        ("version_string", "invalid format version"),
        ("unknown_activation", "unknown activation '__class__'"),
        ("unknown_output", "unknown output 'os.system'"),
        ("bad_layer_sizes", "layer_sizes"),
        ("layer_sizes_mismatch", "unexpected array|has shape"),
        ("image_shape_mismatch", "image_shape"),
        ("class_names_mismatch", "class_names"),
        ("unknown_normalization", "unknown input normalisation"),
        ("history_not_list", "history must be a list"),
        ("history_value_list", "history entry 1 train_loss must be a finite number"),
        ("history_nan", "history entry 1 train_loss must be a finite number"),
        ("history_negative_epoch", "history entry 1 epoch must be a whole number"),
        ("history_unknown_phase", "names phase 4, which is not stored"),
        ("config_not_object", "config must be a dict"),
        ("config_augment_not_object", "config holds invalid training settings"),
        ("config_negative_seed", r"config holds invalid training settings \(seed"),
        ("config_unknown_setting", "Unknown training setting"),
        ("metrics_value_list", "validation_accuracy must be a finite number"),
        ("metrics_fractional_count", "training_images must be a whole number"),
        ("phases_not_list", "phases must be a list"),
        ("phase_unknown_kind", "phase 1 has an unknown kind 'retrain'"),
        ("phase_negative_seed", r"phase 1 config holds invalid training settings"),
        ("metadata_not_array", "entry metadata.npy is not a NumPy array"),
        ("weights_not_array", "entry W0.npy is not a NumPy array"),
        ("not_npy_member", "unexpected entry 'evil.py'"),
        ("folder", "is a folder"),
        ("missing_file", "not found"),
    ],
)
def test_bad_file_gives_clear_error_and_runs_no_code(tmp_path, how, message):
    path, marker = _corrupt(tmp_path, how)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_newer_version_message_tells_what_to_do(tmp_path):
    path, _ = _corrupt(tmp_path, "newer_version")
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert f"model format {FORMAT_VERSION + 1}" in str(info.value)
    assert "Update Digit Studio" in str(info.value)


def test_oversized_archive_is_refused_before_reading(tmp_path, monkeypatch):
    path = _saved_file(tmp_path)
    monkeypatch.setattr(model_io, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(ModelFileError, match="too large"):
        load_model(path)


def test_corrupted_member_data_is_reported_as_damaged(tmp_path):
    good = _saved_file(tmp_path)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("W0.npy")
    # Flip bytes inside W0's stored data (past its local header): the CRC fails.
    offset = info.header_offset + 30 + len(info.filename) + 200
    data[offset : offset + 4] = bytes(b ^ 0xFF for b in data[offset : offset + 4])
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(path)


def _v1_arrays():
    """The weights of tests/data/model_v1.npz, recomputable without any RNG."""
    sizes = (16, 6, 3)
    arrays = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        count = fan_in * fan_out
        values = np.sin(np.arange(count, dtype=np.float64) * 0.37 + i) * 0.5
        arrays[f"W{i}"] = values.astype(np.float32).reshape(fan_in, fan_out)
        arrays[f"b{i}"] = (np.arange(fan_out) * 0.125 - 0.25).astype(np.float32)
    return arrays


def test_checked_in_version_1_file_still_loads():
    loaded = load_model(DATA_DIR / "model_v1.npz")
    assert loaded.format_version == 1
    assert loaded.network.layer_sizes == (16, 6, 3)
    assert loaded.network.activation == "sigmoid"
    assert loaded.network.output == "softmax_cross_entropy"
    for key, expected in _v1_arrays().items():
        layer = int(key[1:])
        actual = (loaded.network.weights if key[0] == "W" else loaded.network.biases)[
            layer
        ]
        np.testing.assert_array_equal(actual, expected)
    assert loaded.image_shape == (4, 4)
    assert loaded.class_names == ("a", "b", "c")
    assert loaded.normalization.kind == "standardize"
    np.testing.assert_array_equal(
        loaded.normalization.mean, np.linspace(0, 0.5, 16, dtype=np.float32)
    )
    assert loaded.dataset_name == "format-v1-fixture"
    assert loaded.history[0]["epoch"] == 1
    assert loaded.metrics == {"validation_accuracy": 0.75}
    probabilities = loaded.predict_proba(np.full((4, 4), 100, np.uint8))
    assert probabilities.shape == (3,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)


_HOSTILE_VALUES = ([1, 2], {"x": 1}, "text", -1, 0.5, 10**400, None, True)


def test_hostile_metadata_values_give_model_file_errors_only(tmp_path):
    """Any value anywhere in the metadata: the file loads, and what readers of a
    model do with it works, or loading raises ModelFileError; nothing else escapes."""
    from core.run import RunError, held_out_split, history_timeline
    from core.training import TrainingConfig

    arrays = _arrays_of(_saved_file(tmp_path))
    document = _meta_of(arrays)
    path = tmp_path / "hostile.npz"
    loaded_count = 0
    for place in leaf_paths(document):
        if place[:1] in (("format",), ("format_version",)):
            continue
        for value in _HOSTILE_VALUES:
            arrays["metadata"] = np.array(json.dumps(replaced(document, place, value)))
            _write_npz(path, arrays)
            try:
                model = load_model(path)
            except ModelFileError as error:
                assert "\n" not in str(error)
                continue
            loaded_count += 1
            if model.config:
                TrainingConfig.from_dict(model.config)
            history_timeline(model.history)
            try:
                held_out_split(model)
            except RunError:
                pass
            model.predict_proba(np.zeros(IMAGE_SHAPE, np.uint8))
    assert loaded_count > 20  # unknown fields and nulls stay loadable


def test_version_2_file_records_phases(tmp_path):
    arrays = _arrays_of(_saved_file(tmp_path))
    meta = _meta_of(arrays)
    assert FORMAT_VERSION == 5 and meta["format_version"] == 5
    assert meta["phases"] == [
        {
            "kind": "train",
            "dataset_name": "tiny",
            "config": meta["config"],
            "metrics": meta["metrics"],
        }
    ]
    loaded = load_model(tmp_path / "model.npz")
    assert loaded.phases == meta["phases"]


def test_saving_refuses_metadata_that_would_not_load(tmp_path):
    metadata = _metadata()
    bad = dataclasses.replace(metadata, history=[{"epoch": 1, "train_loss": "low"}])
    with pytest.raises(ModelFileError, match="cannot be saved: history entry 1"):
        save_model(tmp_path / "m.npz", _network(), bad)
    bad = dataclasses.replace(metadata, config={"seed": -5})
    with pytest.raises(ModelFileError, match="cannot be saved: config holds invalid"):
        save_model(tmp_path / "m.npz", _network(), bad)
    assert not (tmp_path / "m.npz").exists()


def test_version_1_metrics_are_upgraded_to_the_one_schema(tmp_path):
    arrays = _arrays_of(_saved_file(tmp_path))
    app_metrics = {"epochs": 12, "validation_accuracy": 0.9, "stopped": "completed"}
    _write_npz(
        tmp_path / "v1.npz", _with_meta(arrays, format_version=1, metrics=app_metrics)
    )
    loaded = load_model(tmp_path / "v1.npz")
    assert loaded.format_version == 1
    assert loaded.metrics == {
        "epochs_completed": 12,
        "validation_accuracy": 0.9,
        "stopped": "completed",
    }
    assert len(loaded.phases) == 1 and loaded.phases[0]["kind"] == "train"
    assert loaded.phases[0]["metrics"] == loaded.metrics


def _parameters_digest(model) -> str:
    digest = hashlib.sha256()
    for array in model.network.parameters():
        digest.update(array.tobytes())
    return digest.hexdigest()


def test_checked_in_version_2_file_still_loads():
    """tests/data/model_v2.npz: written by tools/make_model_v2_fixture.py, frozen."""
    from core.model_io import METRICS

    loaded = load_model(DATA_DIR / "model_v2.npz")
    assert loaded.format_version == 2
    assert loaded.network.layer_sizes == (16, 6, 3)
    assert loaded.network.activation == "tanh" and loaded.network.init == "xavier"
    assert _parameters_digest(loaded) == (
        "b608102ec8a3adeda5591873ace0a24a595577b0f789680fe98bb867f87ab8d3"
    )
    assert loaded.normalization.kind == "standardize"
    assert loaded.image_shape == (4, 4) and loaded.class_names == ("a", "b", "c")
    assert loaded.dataset_name == "format-v2-fixture"
    assert loaded.created == "2026-12-05T00:00:00Z"
    assert [phase["kind"] for phase in loaded.phases] == ["train", "fine_tune"]
    first, second = loaded.phases
    assert first["config"]["learning_rate"] == 0.05 and first["config"]["epochs"] == 2
    assert second["config"]["learning_rate"] == pytest.approx(0.015)
    assert second["config"]["epochs"] == 3
    assert loaded.config == first["config"]
    assert [row["phase"] for row in loaded.history] == [0, 0, 1, 1, 1]
    assert [row["epoch"] for row in loaded.history] == [1, 2, 1, 2, 3]
    assert list(loaded.metrics) == list(METRICS)
    assert loaded.metrics == second["metrics"]
    assert second["metrics"]["personal_images"] == 3
    assert second["metrics"]["training_images"] == 72 + 3 * 5
    assert first["metrics"]["training_images"] == 72
    assert second["metrics"]["validation_images"] == 18
    probabilities = loaded.predict_proba(np.full((4, 4), 100, np.uint8))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)


# --- edits of the weights after training (the optional "edits") ---------------------


def _edited_metadata():
    record = {
        "units": [{"hidden_layer": 1, "unit": 4, "scale": 0.0}],
        "after_phase": 0,
        "base_created": "2026-11-22T10:00:00Z",
        "base_metrics": {"validation_accuracy": 0.5},
        "evaluation": {
            "dataset": "tiny",
            "images": 40,
            "accuracy_before": 0.5,
            "accuracy_after": 0.45,
        },
    }
    return dataclasses.replace(_metadata(), edits=[record])


def test_edits_round_trip_and_only_edited_models_have_them(tmp_path):
    save_model(tmp_path / "edited.npz", _network(), _edited_metadata())
    assert load_model(tmp_path / "edited.npz").edits == _edited_metadata().edits
    assert "edits" not in _meta_of(_arrays_of(_saved_file(tmp_path)))
    assert load_model(tmp_path / "model.npz").edits == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"units": [{"hidden_layer": 2, "unit": 0, "scale": 0.0}]}, "hidden layer 2"),
        ({"units": [{"hidden_layer": 1, "unit": 5, "scale": 0}]}, "unit 5 of hidden"),
        ({"units": [{"hidden_layer": 0, "unit": 0, "scale": None}]}, "finite number"),
        ({"units": [{"hidden_layer": 0, "unit": 0}]}, "units must have"),
        ({"units": []}, "units must be a non-empty list"),
        ({"after_phase": 1}, "after_phase must name a stored phase"),
        ({"base_created": 3}, "base_created must be text"),
        ({"base_metrics": {"validation_accuracy": "high"}}, "validation_accuracy"),
        ({"evaluation": {"images": -1}}, "evaluation images"),
        ({"earlier": {}}, "unknown field(s) earlier"),
    ],
)
def test_bad_edits_are_refused_on_save_and_on_load(tmp_path, change, message):
    record = {**_edited_metadata().edits[0], **change}
    with pytest.raises(ModelFileError, match=re.escape(message)):
        save_model(
            tmp_path / "m.npz",
            _network(),
            dataclasses.replace(_metadata(), edits=[record]),
        )
    arrays = _with_meta(_arrays_of(_saved_file(tmp_path)), edits=[record])
    _write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(tmp_path / "bad.npz")


def test_a_hands_width_and_turn_are_kept_and_wrong_ones_refused(tmp_path):
    path = _saved_file(tmp_path)
    assert load_model(path).hand_width == 1.0
    assert load_model(path).hand_turn == 0.0
    meta = _meta_of(_arrays_of(path))
    assert "hand_width" not in meta and "hand_turn" not in meta  # as they were
    turned = tmp_path / "turned.npz"
    save_model(turned, _network(), dataclasses.replace(_metadata(), hand_turn=-35.0))
    assert load_model(turned).hand_turn == -35.0
    wide = tmp_path / "wide.npz"
    save_model(wide, _network(), dataclasses.replace(_metadata(), hand_width=1.75))
    assert load_model(wide).hand_width == 1.75
    save_model(wide, _network(), dataclasses.replace(_metadata(), hand_width=0.6))
    assert load_model(wide).hand_width == 0.6
    for wrong, message in [
        (0.4, "hand_width must be 0.5 to 3"),
        (float("nan"), "hand_width must be 0.5 to 3"),
        ("wide", "hand_width must be a number"),
        (True, "hand_width must be a number"),
    ]:
        bad = tmp_path / "bad.npz"
        _write_npz(bad, _with_meta(_arrays_of(path), hand_width=wrong))
        with pytest.raises(ModelFileError, match=message):
            load_model(bad)
    for wrong, message in [
        (120, "hand_turn must be -90 to 90"),
        (float("nan"), "hand_turn must be -90 to 90"),
        ("left", "hand_turn must be a number"),
    ]:
        _write_npz(bad, _with_meta(_arrays_of(path), hand_turn=wrong))
        with pytest.raises(ModelFileError, match=message):
            load_model(bad)
    with pytest.raises(ModelFileError, match="hand_width"):
        save_model(bad, _network(), dataclasses.replace(_metadata(), hand_width=9.0))


def test_checked_in_version_4_file_still_loads():
    """tests/data/model_v4.npz: written by tools/make_model_v4_fixture.py, frozen."""
    from core.training import TrainingConfig

    loaded = load_model(DATA_DIR / "model_v4.npz")
    assert loaded.format_version == 4
    assert loaded.network.layer_sizes == (16, 8, 3)
    assert _parameters_digest(loaded) == (
        "5ba71bdc27adb703c970da8403f2b0472e47c40aa8b419ab1b33dcffdb94ca5c"
    )
    # Its settings predate the pen digits: read as without them.
    assert "pen_digits" not in loaded.config
    assert TrainingConfig.from_dict(loaded.config).pen_digits is False
    assert loaded.history[0]["gradient_norm"] is not None
    assert loaded.created == "2027-02-01T00:00:00Z"
