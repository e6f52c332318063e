"""core.run: the split, personal drawings, fine-tuning and the model file's contents."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import run
from core.augment import AugmentConfig
from core.datasets import (
    Dataset,
    DatasetError,
    Normalization,
    load_bundled,
    stratified_split,
)
from core.drawing_variants import VARIANTS
from core.model_io import METRICS, load_model, save_model
from core.neuron_edits import NeuronEdit, edited_metadata, edited_network
from core.personal_set import PersonalSet
from core.run import (
    FINE_TUNE_EPOCHS,
    FINE_TUNE_LIMIT,
    FINE_TUNE_REPEAT,
    PERSONAL_REPEAT,
    SNAPSHOT_STOPPED,
    PersonalDrawings,
    RunError,
    RunRequest,
    build_model,
    epoch_row,
    fine_tune_config,
    fine_tune_request,
    held_out_split,
    history_timeline,
    prepare_run,
    run_training,
)
from core.training import EpochEvent, TrainingConfig


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_bundled("digits-8x8")


def _config(**changes) -> TrainingConfig:
    settings = dict(hidden_sizes=(12,), batch_size=64, epochs=2, learning_rate=0.01)
    settings.update(changes)
    return TrainingConfig(**settings)


def _drawings(count: int, max_value: int = 16, label: int = 3) -> Dataset:
    """Images no dataset holds: a checkerboard of full ink, one offset per drawing."""
    images = np.zeros((count, 8, 8), np.uint8)
    for index in range(count):
        images[index, index % 8, :] = max_value
        images[index, :, (index * 3) % 8] = max_value
    labels = np.full(count, label, np.uint8)
    return Dataset("personal-digits-8x8", images, labels, max_value=max_value)


def _images(data) -> np.ndarray:
    """A run's part's images (copied out of the dataset), or a dataset's."""
    return data.images if isinstance(data, Dataset) else data.materialize().images


def _rows_matching(images: np.ndarray, image: np.ndarray) -> int:
    return int(np.all(images == image, axis=(1, 2)).sum())


def _trained(dataset: Dataset, subset: int | None = None, **changes):
    prepared = prepare_run(RunRequest(dataset, _config(**changes), subset=subset))
    result = run_training(prepared)
    return build_model(prepared, result.network, result)


def _parameters(model) -> list[np.ndarray]:
    return [p.copy() for p in model.network.parameters()]


# --- the split ---------------------------------------------------------------------


def test_split_sizes_follow_the_validation_share(digits):
    prepared = prepare_run(RunRequest(digits, _config(validation_fraction=0.2)))
    validation = prepared.validation_set
    assert len(prepared.train_set) + len(validation) == len(digits)
    assert len(validation) == round(0.2 * len(digits))
    # Same class proportions: every class gives about a fifth of its images.
    share = np.bincount(validation.labels, minlength=10) / np.bincount(digits.labels)
    assert np.all(np.abs(share - 0.2) < 0.02)
    assert (
        _images(run.split(digits, 0.2, 0)[1]).tobytes() == _images(validation).tobytes()
    )


def test_no_validation_share_trains_on_everything(digits):
    prepared = prepare_run(RunRequest(digits, _config(validation_fraction=0.0)))
    assert prepared.validation_set is None
    assert len(prepared.train_set) == len(digits)


def test_subset_is_drawn_before_the_split(digits):
    prepared = prepare_run(RunRequest(digits, _config(seed=4), subset=500))
    assert len(prepared.train_set) + len(prepared.validation_set) == 500
    assert len(prepared.validation_set) == 50
    assert set(np.unique(prepared.validation_set.labels)) == set(range(10))
    assert prepared.describe() == "digits-8x8: 450 training / 50 validation images"
    again = run.split(digits, 0.1, 4, subset=500)[1]
    assert np.array_equal(_images(again), _images(prepared.validation_set))
    with pytest.raises(DatasetError, match="cannot hold all 10 classes"):
        prepare_run(RunRequest(digits, _config(), subset=8))


def test_personal_drawings_are_repeated_in_the_training_part_only(digits):
    drawings = _drawings(4)
    prepared = prepare_run(RunRequest(digits, _config(), personal=drawings))
    plain = prepare_run(RunRequest(digits, _config()))
    assert prepared.personal_images == 4
    assert len(prepared.train_set) == len(plain.train_set) + 4 * PERSONAL_REPEAT
    for image in drawings.images:
        assert _rows_matching(_images(prepared.train_set), image) == PERSONAL_REPEAT
        assert _rows_matching(_images(prepared.validation_set), image) == 0
    # The validation part is the one without drawings, image for image.
    assert np.array_equal(
        _images(prepared.validation_set), _images(plain.validation_set)
    )
    added = prepared.train_set.labels[len(plain.train_set) :]
    assert np.all(added == 3)
    assert "with 4 personal drawings" in prepared.describe()


def test_personal_drawings_are_read_when_the_run_is_prepared(digits):
    calls = []

    def loader():
        calls.append("read")
        return _drawings(2)

    request = RunRequest(digits, _config(), personal=loader, personal_repeat=3)
    assert calls == []
    prepared = prepare_run(request)
    assert calls == ["read"]
    assert prepared.personal_images == 2
    assert _rows_matching(_images(prepared.train_set), _drawings(2).images[1]) == 3


def test_drawings_of_another_brightness_are_rescaled(digits):
    drawings = _drawings(1, max_value=255)
    prepared = prepare_run(RunRequest(digits, _config(), personal=drawings))
    expected = _drawings(1, max_value=16).images[0]
    assert _rows_matching(_images(prepared.train_set), expected) == PERSONAL_REPEAT


def test_drawings_that_do_not_fit_are_refused(digits):
    wrong_size = Dataset("p", np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(RunError, match="drawings are 28x28"):
        prepare_run(RunRequest(digits, _config(), personal=wrong_size))
    three = dataclasses.replace(
        digits.subset(np.flatnonzero(digits.labels < 3)), class_names=("0", "1", "2")
    )
    with pytest.raises(RunError, match="labelled 3 but"):
        prepare_run(RunRequest(three, _config(), personal=_drawings(1)))


def test_required_drawings_missing_is_a_clear_error(digits):
    request = RunRequest(
        digits, _config(), personal=lambda: None, require_personal=True
    )
    with pytest.raises(RunError, match="no drawings in your personal set"):
        prepare_run(request)


def test_personal_drawings_loader_reads_the_users_set(tmp_path, digits):
    loader = PersonalDrawings(tmp_path, (8, 8))
    assert loader() is None
    PersonalSet(tmp_path).add(digits.images[0], 5, "digits-8x8")
    loaded = loader()
    assert len(loaded) == 1 and loaded.labels[0] == 5
    assert PersonalDrawings(tmp_path, (10, 10))() is None  # no drawing has that size


def test_limit_caps_the_training_part_before_the_drawings(digits):
    plain = prepare_run(RunRequest(digits, _config()))
    capped = prepare_run(
        RunRequest(digits, _config(), personal=_drawings(3), limit=200)
    )
    assert len(capped.train_set) == 200 + 3 * PERSONAL_REPEAT
    assert np.array_equal(_images(capped.validation_set), _images(plain.validation_set))
    # The kept images are a sample of the training part, not its first ones.
    kept = _images(capped.train_set)[:200].reshape(200, -1)
    part = _images(plain.train_set).reshape(len(plain.train_set), -1)
    assert not np.array_equal(kept, part[:200])
    assert all((part == row).all(axis=1).any() for row in kept[:20])


def test_a_new_run_fits_the_normalisation_and_builds_a_network(digits):
    prepared = prepare_run(RunRequest(digits, _config(normalization="standardize")))
    train_set = prepared.train_set
    mean = (_images(train_set).reshape(len(train_set), -1) / 16.0).mean(axis=0)
    np.testing.assert_allclose(prepared.normalization.mean, mean, atol=1e-5)
    assert prepared.network.layer_sizes == (64, 12, 10)


# --- fine-tuning ---------------------------------------------------------------------


def test_fine_tune_config_is_the_policy():
    original = _config(
        epochs=50, learning_rate=0.01, schedule="cosine", min_learning_rate=0.005,
        early_stopping_patience=4, l2=0.001,
        augment=AugmentConfig(shift=1.5, rotation=10.0, probability=0.5),
    )  # fmt: skip
    tuned = fine_tune_config(original)
    assert tuned.epochs == FINE_TUNE_EPOCHS == 10
    assert tuned.learning_rate == pytest.approx(0.0005)
    assert tuned.schedule == "constant"
    assert tuned.early_stopping_patience == 0
    assert tuned.min_learning_rate <= tuned.learning_rate  # still a valid config
    assert tuned.l2 == 0.001 and tuned.hidden_sizes == original.hidden_sizes
    # The drawings are taught as drawn, the training images as stored.
    assert not tuned.augment.is_active
    assert original.augment.is_active


def test_fine_tune_request_is_the_policy(digits):
    base = _trained(digits, epochs=1)
    request = fine_tune_request(base, digits, _drawings(2))
    assert request.base is base
    assert request.limit == FINE_TUNE_LIMIT == 20_000
    assert request.personal_repeat == FINE_TUNE_REPEAT == len(VARIANTS) == 15
    assert PERSONAL_REPEAT == 20  # a new run's repeats are not the fine-tune's
    assert request.require_personal
    assert request.kind == "fine_tune"
    assert request.config == fine_tune_config(_config(epochs=1))


def test_fine_tuning_never_changes_the_base_model(digits):
    base = _trained(digits, epochs=1)
    before = _parameters(base)
    prepared = prepare_run(fine_tune_request(base, digits, _drawings(3)))
    assert prepared.network is not base.network
    for mine, theirs in zip(
        prepared.network.parameters(), base.network.parameters(), strict=True
    ):
        assert not np.shares_memory(mine, theirs)
    result = run_training(prepared)
    for kept, now in zip(before, base.network.parameters(), strict=True):
        assert kept.tobytes() == now.tobytes()
    assert not np.array_equal(result.network.weights[0], base.network.weights[0])


def test_fine_tuning_keeps_the_base_normalisation(digits):
    base = _trained(digits, epochs=1, normalization="standardize")
    prepared = prepare_run(fine_tune_request(base, digits, _drawings(3)))
    assert prepared.normalization is base.normalization
    # Fitted on the fine-tune's own training part, the statistics would differ.
    train_set = prepared.train_set
    refitted = Normalization.fit("standardize", _images(train_set), 16)
    assert not np.allclose(refitted.mean, base.normalization.mean)


def test_fine_tuning_keeps_the_original_split(digits):
    base = _trained(digits, epochs=1, validation_fraction=0.2, seed=3)
    original = prepare_run(RunRequest(digits, _config(validation_fraction=0.2, seed=3)))
    prepared = prepare_run(fine_tune_request(base, digits, _drawings(3)))
    assert np.array_equal(
        _images(prepared.validation_set), _images(original.validation_set)
    )


def test_fine_tuning_refuses_data_of_another_shape(digits):
    base = _trained(digits, epochs=1)
    mnist = load_bundled("mnist-sample")
    with pytest.raises(RunError, match="reads 8x8 images"):
        fine_tune_request(base, mnist, _drawings(1))


def test_fine_tuning_without_recorded_settings_uses_the_fallback(digits):
    base = dataclasses.replace(_trained(digits, epochs=1), config={}, phases=[])
    with pytest.raises(RunError, match="no training settings"):
        fine_tune_request(base, digits, _drawings(1))
    request = fine_tune_request(
        base, digits, _drawings(1), fallback_config=_config(learning_rate=0.1)
    )
    assert request.config.learning_rate == pytest.approx(0.005)


def test_fine_tuned_file_keeps_the_whole_history(tmp_path, digits):
    path = tmp_path / "base.npz"
    base = _trained(digits, epochs=4, learning_rate=0.01)
    save_model(path, base.network, base.metadata)
    loaded = load_model(path)
    prepared = prepare_run(fine_tune_request(loaded, digits, _drawings(3)))
    result = run_training(prepared)
    tuned = build_model(prepared, result.network, result)
    save_model(path, tuned.network, tuned.metadata)
    again = load_model(path)

    tuned_epochs = list(range(1, FINE_TUNE_EPOCHS + 1))
    assert [row["phase"] for row in again.history] == [0] * 4 + [1] * FINE_TUNE_EPOCHS
    assert [row["epoch"] for row in again.history] == [1, 2, 3, 4, *tuned_epochs]
    rates = [row["learning_rate"] for row in again.history]
    assert rates[:4] == [pytest.approx(0.01)] * 4
    assert rates[4:] == [pytest.approx(0.0005)] * FINE_TUNE_EPOCHS
    assert [phase["kind"] for phase in again.phases] == ["train", "fine_tune"]
    assert again.phases[0]["config"]["epochs"] == 4
    assert again.phases[0]["config"]["learning_rate"] == 0.01
    assert again.phases[1]["config"]["epochs"] == FINE_TUNE_EPOCHS
    assert again.phases[1]["config"]["learning_rate"] == pytest.approx(0.0005)
    assert again.phases[0]["metrics"] == loaded.metrics  # the original run's figures
    assert again.phases[1]["metrics"]["personal_images"] == 3
    # Opening the file shows the original settings (50 epochs stay 50, not 3).
    assert again.config == loaded.config and again.config["epochs"] == 4
    assert again.dataset_name == "digits-8x8"
    assert again.metrics == again.phases[1]["metrics"]
    timeline = history_timeline(again.history)
    assert list(timeline.epochs) == list(range(1, 5 + FINE_TUNE_EPOCHS))
    assert timeline.starts == (0.0, 4.0)


# --- the model file's contents -------------------------------------------------------


def test_snapshot_and_final_model_share_one_metrics_schema(digits):
    prepared = prepare_run(RunRequest(digits, _config(epochs=3)))
    rows = []
    snapshots = []

    def on_event(event):
        if isinstance(event, EpochEvent):
            rows.append(epoch_row(prepared, event))
            snapshot = build_model(prepared, prepared.network.copy(), rows=list(rows))
            snapshots.append(snapshot)

    result = run_training(prepared, on_event=on_event)
    final = build_model(prepared, result.network, result)
    for model in [*snapshots, final]:
        assert list(model.metrics) == list(METRICS)
        assert len(model.phases) == 1 and model.phases[0]["kind"] == "train"
        assert all(row["phase"] == 0 for row in model.history)
    assert snapshots[0].metrics["stopped"] == SNAPSHOT_STOPPED
    assert snapshots[0].metrics["epochs_completed"] == 1
    assert len(snapshots[1].history) == 2
    assert final.metrics["stopped"] == "completed"
    assert final.metrics["epochs_completed"] == 3
    assert final.metrics["training_images"] == len(prepared.train_set)
    assert final.metrics["validation_images"] == len(prepared.validation_set)
    assert (
        final.metrics["validation_accuracy"]
        == result.history[-1]["validation_accuracy"]
    )
    assert final.config == prepared.config.to_dict()
    assert final.created.endswith("Z") and final.app_version
    assert final.history[-1] == snapshots[-1].history[-1]


def test_metrics_describe_the_kept_epoch_after_early_stopping(digits):
    prepared = prepare_run(
        RunRequest(
            digits,
            _config(epochs=40, learning_rate=0.05, early_stopping_patience=1),
        )
    )
    result = run_training(prepared)
    assert result.reason == "early_stopped"
    model = build_model(prepared, result.network, result)
    kept = result.history[result.best_epoch - 1]
    assert model.metrics["best_epoch"] == result.best_epoch
    assert model.metrics["validation_loss"] == kept["validation_loss"]
    assert model.metrics["train_accuracy"] == kept["train_accuracy"]
    assert model.metrics["epochs_completed"] == len(result.history)


def test_model_without_validation_has_null_validation_figures(tmp_path, digits):
    model = _trained(digits, epochs=1, validation_fraction=0.0)
    assert model.metrics["validation_images"] == 0
    assert model.metrics["validation_accuracy"] is None
    assert model.metrics["train_accuracy"] is not None
    save_model(tmp_path / "m.npz", model.network, model.metadata)
    assert load_model(tmp_path / "m.npz").metrics == model.metrics


def test_saved_and_loaded_model_is_the_built_one(tmp_path, digits):
    model = _trained(digits, epochs=2, subset=700)
    save_model(tmp_path / "m.npz", model.network, model.metadata)
    loaded = load_model(tmp_path / "m.npz")
    for field in ("config", "history", "metrics", "phases", "dataset_name"):
        assert getattr(loaded, field) == getattr(model, field)
    assert loaded.metrics["subset"] == 700


# --- what evaluation and plots read back -------------------------------------------


def test_held_out_split_recomputes_the_validation_part(digits):
    model = _trained(digits, epochs=1, validation_fraction=0.3, seed=9, subset=600)
    spec = held_out_split(model)
    assert spec == run.HeldOutSplit("digits-8x8", 0.3, 9, 600)
    prepared = prepare_run(
        RunRequest(digits, _config(validation_fraction=0.3, seed=9), subset=600)
    )
    _, validation = run.split(digits, spec.validation_fraction, spec.seed, spec.subset)
    assert np.array_equal(_images(validation), _images(prepared.validation_set))


def test_held_out_split_refuses_what_cannot_be_recomputed(digits):
    everything = _trained(digits, epochs=1, validation_fraction=0.0)
    with pytest.raises(RunError, match="trained on all of 'digits-8x8'"):
        held_out_split(everything)
    model = _trained(digits, epochs=1)
    other = dataclasses.replace(digits, name="digits-copy")
    prepared = prepare_run(fine_tune_request(model, other, _drawings(2)))
    result = run_training(prepared)
    tuned = build_model(prepared, result.network, result)
    with pytest.raises(RunError, match="different data or splits"):
        held_out_split(tuned)


def test_history_timeline_lays_phases_end_to_end():
    history = [
        {"epoch": 1},
        {"epoch": 2},
        {"phase": 1, "epoch": 1},
        {"phase": 1, "epoch": 2},
        {"phase": 1, "epoch": 3},
        {"phase": 2, "epoch": 1},
    ]
    timeline = history_timeline(history)
    assert list(timeline.epochs) == [1, 2, 3, 4, 5, 6]
    assert list(timeline.phases) == [0, 0, 1, 1, 1, 2]
    assert timeline.starts == (0.0, 2.0, 5.0)
    empty = history_timeline([])
    assert len(empty.epochs) == 0 and empty.starts == (0.0,)
    assert list(history_timeline([{}, {}]).epochs) == [1, 2]


def test_the_split_is_the_datasets_stratified_split(digits):
    train_part, validation = run.split(digits, 0.25, 2)
    expected_train, expected_validation = stratified_split(digits, 0.25, 2)
    assert np.array_equal(_images(validation), _images(expected_validation))
    assert np.array_equal(train_part.labels, expected_train.labels)


def test_epoch_rows_carry_the_phase_after_the_base_models(digits):
    base = _trained(digits, epochs=1)
    fresh = prepare_run(RunRequest(digits, _config()))
    tuned = prepare_run(fine_tune_request(base, digits, _drawings(1)))
    values = {"epoch": 1, "train_loss": float("nan"), "phase": 7}
    assert epoch_row(fresh, values) == {"phase": 0, "epoch": 1, "train_loss": None}
    assert epoch_row(tuned, values)["phase"] == 1
    with pytest.raises(TypeError):
        build_model(fresh, fresh.network)


def test_a_fine_tune_of_an_edited_model_keeps_the_record_of_its_edits(digits):
    base = _trained(digits, epochs=1)
    assert base.edits == []
    edits = [NeuronEdit(0, 2, 0.0)]
    metadata = edited_metadata(base.metadata, edits)
    edited = dataclasses.replace(
        base,
        network=edited_network(base.network, edits),
        metrics=metadata.metrics,
        edits=metadata.edits,
    )
    prepared = prepare_run(fine_tune_request(edited, digits, _drawings(3)))
    result = run_training(prepared)
    tuned = build_model(prepared, result.network, result)
    assert tuned.edits == edited.edits and tuned.edits[0]["after_phase"] == 0
    assert tuned.metrics["validation_accuracy"] is not None  # the tuned weights'
