"""Continuing a model as a new phase, and settings changed during a run, on file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from core.datasets import Dataset, load_bundled
from core.model_io import (
    FORMAT_VERSION,
    ModelFileError,
    load_model,
    save_model,
)
from core.run import (
    CONTINUE_KEEPS,
    RunError,
    RunRequest,
    build_model,
    change_record,
    continue_request,
    held_out_split,
    history_timeline,
    prepare_run,
    run_training,
)
from core.training import BatchEvent, SettingsEvent, TrainingConfig, TrainingControl

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_bundled("digits-8x8")


def _config(**changes) -> TrainingConfig:
    settings = dict(
        hidden_sizes=(12,),
        batch_size=64,
        epochs=2,
        learning_rate=0.01,
        validation_fraction=0.2,
        seed=4,
        normalization="standardize",
    )
    settings.update(changes)
    return TrainingConfig(**settings)


def _trained(dataset, subset=None, on_event=None, control=None, **changes):
    prepared = prepare_run(RunRequest(dataset, _config(**changes), subset=subset))
    result = run_training(prepared, on_event, control)
    return build_model(prepared, result.network, result)


def test_continuing_keeps_the_architecture_and_split_and_takes_new_settings(digits):
    base = _trained(digits, subset=900)
    asked = TrainingConfig(
        hidden_sizes=(99, 99),
        activation="sigmoid",
        output="sigmoid_quadratic",
        init="xavier",
        optimizer="sgd",
        learning_rate=0.05,
        epochs=3,
        seed=11,
        validation_fraction=0.5,
        normalization="scale",
    )
    request = continue_request(base, digits, asked)
    assert request.kind == "continue" and request.base is base
    config = request.config
    assert config.hidden_sizes == (12,) and config.activation == "relu"
    assert (config.seed, config.validation_fraction) == (4, 0.2)
    assert config.normalization == "standardize"
    assert (config.optimizer, config.learning_rate, config.epochs) == ("sgd", 0.05, 3)
    assert request.subset == 900
    assert set(CONTINUE_KEEPS) == {
        name
        for name in dataclasses.asdict(asked)
        if getattr(config, name) != getattr(asked, name)
    }
    original = prepare_run(RunRequest(digits, _config(), subset=900))
    continued = prepare_run(request)
    # The parts name rows of the dataset: their images copied out to compare.
    np.testing.assert_array_equal(
        continued.validation_set.materialize().images,
        original.validation_set.materialize().images,
    )
    assert continued.normalization is base.normalization


def test_a_continued_model_goes_on_from_the_weights_and_keeps_its_history(digits):
    base = _trained(digits)
    before = [p.copy() for p in base.network.parameters()]
    prepared = prepare_run(continue_request(base, digits, _config(epochs=3)))
    for start, weights in zip(prepared.network.parameters(), before, strict=True):
        np.testing.assert_array_equal(start, weights)
    result = run_training(prepared)
    model = build_model(prepared, result.network, result)
    for kept, weights in zip(base.network.parameters(), before, strict=True):
        np.testing.assert_array_equal(kept, weights)  # the base is never trained
    assert [phase["kind"] for phase in model.phases] == ["train", "continue"]
    assert model.phases[0] == base.phases[0]
    assert [(row["phase"], row["epoch"]) for row in model.history] == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
        (1, 3),
    ]
    assert history_timeline(model.history).starts == (0.0, 2.0)
    assert held_out_split(model).validation_fraction == 0.2
    assert model.metrics["epochs_completed"] == 3


def test_continuing_refuses_data_the_model_cannot_read(digits):
    base = _trained(digits)
    wide = Dataset(
        "wide", np.zeros((30, 4, 16), np.uint8), np.arange(30) % 10, max_value=16
    )
    with pytest.raises(RunError, match="reads 8x8 images"):
        continue_request(base, wide, _config())


def test_changed_settings_are_recorded_in_their_phase(tmp_path, digits):
    control = TrainingControl()

    def change_after_fourth(event):
        if isinstance(event, BatchEvent) and (event.epoch, event.batch_index) == (1, 3):
            control.change_settings(learning_rate=0.002)

    model = _trained(digits, on_event=change_after_fourth, control=control)
    batches = model.metrics["training_images"] // 64 + 1
    assert model.phases[0]["changes"] == [
        {
            "at_epoch": 4 / batches,
            "at_batch": 4,
            "learning_rate": 0.002,
        }
    ]
    assert model.phases[0]["config"]["learning_rate"] == 0.01  # where it started
    save_model(tmp_path / "m.npz", model.network, model.metadata)
    assert load_model(tmp_path / "m.npz").phases == model.phases


def test_a_phase_without_changes_records_none(digits):
    assert "changes" not in _trained(digits).phases[0]


def test_change_records_count_batches_from_the_phase_start():
    event = SettingsEvent(3, 2, 8, 0.05, 0.7)
    assert change_record(event) == {
        "at_epoch": 2.25,
        "at_batch": 18,
        "learning_rate": 0.05,
        "momentum": 0.7,
    }


def _file_with_changes(tmp_path, changes):
    model = load_model(DATA_DIR / "model_v3.npz")
    phases = [dict(model.phases[0], changes=changes), *model.phases[1:]]
    metadata = dataclasses.replace(model.metadata, phases=phases)
    path = tmp_path / "changed.npz"
    with np.load(DATA_DIR / "model_v3.npz", allow_pickle=False) as arrays:
        stored = {key: arrays[key] for key in arrays.files}
    meta = json.loads(str(stored["metadata"]))
    meta["phases"] = metadata.phases
    stored["metadata"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **stored)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"at_epoch": 1}, "changes must be a list"),
        ([{"at_epoch": 1.0, "learning_rate": 0.1}], "needs at_batch"),
        ([{"at_epoch": 1.0, "at_batch": 2, "learning_rate": -1}], "positive rate"),
        ([{"at_epoch": 1.0, "at_batch": 2, "learning_rate": "fast"}], "finite number"),
        (
            [{"at_epoch": 1.0, "at_batch": 2, "learning_rate": 0.1, "momentum": 1.5}],
            "momentum must be in",
        ),
        (
            [{"at_epoch": 1.0, "at_batch": 2, "learning_rate": 0.1, "batch_size": 5}],
            "unknown field",
        ),
        (
            [
                {"at_epoch": 1.0, "at_batch": 5, "learning_rate": 0.1},
                {"at_epoch": 0.5, "at_batch": 2, "learning_rate": 0.2},
            ],
            "comes before",
        ),
    ],
)
def test_bad_change_records_are_refused_by_name(tmp_path, changes, message):
    path = _file_with_changes(tmp_path, changes)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_checked_in_version_3_file_still_loads():
    """tests/data/model_v3.npz: written by tools/make_model_v3_fixture.py, frozen."""
    loaded = load_model(DATA_DIR / "model_v3.npz")
    assert FORMAT_VERSION >= 3 and loaded.format_version == 3
    assert loaded.network.layer_sizes == (16, 6, 3)
    digest = hashlib.sha256()
    for array in loaded.network.parameters():
        digest.update(array.tobytes())
    assert digest.hexdigest() == (
        "b1f92030b63c650c1a3f2147edc8a8e567115252b4bb4fc6784b7c17aea2e5b1"
    )
    assert [phase["kind"] for phase in loaded.phases] == ["train", "continue"]
    first, second = loaded.phases
    assert first["changes"] == [
        {"at_epoch": 0.6, "at_batch": 3, "learning_rate": 0.2, "momentum": 0.5}
    ]
    assert "changes" not in second
    assert (second["config"]["optimizer"], second["config"]["seed"]) == ("sgd", 1)
    assert [row["phase"] for row in loaded.history] == [0, 0, 1, 1]
    assert [row["learning_rate"] for row in loaded.history] == [0.2, 0.2, 0.1, 0.1]
    assert loaded.created == "2027-01-10T00:00:00Z"
