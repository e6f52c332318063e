"""core.history_csv: one row per epoch, the expected columns, values as stored."""

from __future__ import annotations

import csv
import io

import pytest

from core.datasets import load_bundled
from core.history_csv import history_csv, history_table, write_history_csv
from core.model_io import load_model, save_model
from core.run import (
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import BatchEvent, TrainingConfig, TrainingControl


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """A model trained 3 epochs, then fine-tuned 2 (a second phase), as saved."""
    data = load_bundled("mnist-sample")
    config = TrainingConfig(hidden_sizes=(16,), epochs=3, batch_size=64)
    prepared = prepare_run(RunRequest(data, config, subset=600))
    model = build_model(prepared, prepared.network, run_training(prepared))
    drawings = data.subset(list(range(12)))
    request = fine_tune_request(model, data, drawings)
    request = RunRequest(
        **{**request.__dict__, "config": request.config.replace(epochs=2)}
    )
    tuned = prepare_run(request)
    model = build_model(tuned, tuned.network, run_training(tuned))
    path = tmp_path_factory.mktemp("csv") / "m.npz"
    save_model(path, model.network, model.metadata)
    return load_model(path)


def _read(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_epoch_with_the_history_values(fine_tuned):
    rows = _read(history_csv(fine_tuned.history, fine_tuned.phases))
    assert len(rows) == len(fine_tuned.history) == 5
    for row, stored in zip(rows, fine_tuned.history, strict=True):
        for key, value in stored.items():
            if key == "phase":
                assert int(row["phase"]) == value
            elif isinstance(value, list):
                for layer, item in enumerate(value):
                    cell = row[f"{key}_layer{layer + 1}"]
                    assert (float(cell) if cell else None) == item
            elif value is None and key in ("gradient_norm", "update_ratio"):
                # An epoch without a health sample: every layer's cell is empty.
                assert row[f"{key}_layer1"] == row[f"{key}_layer2"] == ""
            elif value is None and key == "inactive_share":
                assert row[f"{key}_layer1"] == ""
            elif value is None:
                assert row[key] == ""
            else:
                assert float(row[key]) == value  # exact: repr round-trips


def test_the_columns_and_the_phases(fine_tuned):
    header, table = history_table(fine_tuned.history, fine_tuned.phases)
    assert header[:6] == [
        "run_epoch",
        "phase",
        "phase_kind",
        "epoch",
        "epochs",
        "train_loss",
    ]
    for name in ("validation_accuracy", "learning_rate", "seconds"):
        assert name in header
    assert [h for h in header if h.startswith("gradient_norm")] == [
        "gradient_norm_layer1",
        "gradient_norm_layer2",
    ]
    assert [h for h in header if h.startswith("inactive_share")] == [
        "inactive_share_layer1"
    ]
    assert [row[0] for row in table] == ["1.0", "2.0", "3.0", "4.0", "5.0"]
    assert [row[2] for row in table] == ["train"] * 3 + ["fine_tune"] * 2
    assert [row[header.index("epoch")] for row in table] == ["1", "2", "3", "1", "2"]


def test_unknown_fields_keep_their_own_columns():
    history = [
        {"epoch": 1, "train_loss": 0.5, "note": "x"},
        {"epoch": 2, "train_loss": 0.25, "lr_change": {"from": 0.1, "to": 0.01}},
    ]
    header, table = history_table(history, [{"kind": "train"}])
    assert header == [
        "run_epoch", "phase", "phase_kind", "epoch", "train_loss", "note",
        "lr_change.from", "lr_change.to",
    ]  # fmt: skip
    assert table[1][-3:] == ["", "0.1", "0.01"]


def test_the_file_is_written_atomically(tmp_path, fine_tuned):
    path = tmp_path / "history.csv"
    write_history_csv(path, fine_tuned.history, fine_tuned.phases)
    assert path.read_text(encoding="utf-8") == history_csv(
        fine_tuned.history, fine_tuned.phases
    )
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_learning_rate_changes_are_rows_where_they_applied(tmp_path):
    """A real run whose rate and momentum change after batch 4 of epoch 2."""
    data = load_bundled("mnist-sample")
    config = TrainingConfig(
        hidden_sizes=(16,), epochs=3, batch_size=64, optimizer="momentum"
    )
    prepared = prepare_run(RunRequest(data, config, subset=640))
    control = TrainingControl()
    batches = []

    def change(event):
        if isinstance(event, BatchEvent):
            batches.append(event.batches_per_epoch)
            if (event.epoch, event.batch_index) == (2, 3):
                control.change_settings(learning_rate=0.002, momentum=0.5)

    result = run_training(prepared, change, control)
    model = build_model(prepared, prepared.network, result)
    save_model(tmp_path / "m.npz", model.network, model.metadata)
    model = load_model(tmp_path / "m.npz")
    header, table = history_table(model.history, model.phases)
    assert header[-2:] == ["momentum", "settings_changed"]
    column = {name: index for index, name in enumerate(header)}
    assert [row[column["settings_changed"]] for row in table] == [
        "", "true", "", "",
    ]  # fmt: skip
    changed = table[1]  # during epoch 2: after epoch 1's row, before epoch 2's
    assert float(changed[column["run_epoch"]]) == pytest.approx(1 + 4 / batches[0])
    assert changed[column["phase_kind"]] == "train"
    assert float(changed[column["learning_rate"]]) == 0.002
    assert float(changed[column["momentum"]]) == 0.5
    assert changed[column["epoch"]] == changed[column["train_loss"]] == ""
    # Epoch 2 ended at the new rate.
    assert float(table[2][column["learning_rate"]]) == 0.002
    assert [row[column["epoch"]] for row in table] == ["1", "", "2", "3"]
