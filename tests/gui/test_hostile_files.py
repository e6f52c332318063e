"""Opening hostile model files in the window: a dialog with the loader's message, or
the model opens; no exception ever escapes, and memory errors get the dialog too."""

from __future__ import annotations

import json

import numpy as np
from json_places import leaf_paths, replaced
from template_model import template_model

from core.model_io import load_model, save_model, single_phase
from core.training import TrainingConfig

# Wrong types, a negative, a fraction, counts beyond a C int and beyond any float.
_HOSTILE_VALUES = ([1, 2], "\x1b[2J", -1, 0.5, 2**40, 10**400, None)


def _trained_looking_model():
    """The template model with a trained one's settings, history and metrics."""
    model = template_model()
    model.config = TrainingConfig(hidden_sizes=(10,), epochs=2).to_dict()
    model.history = [
        {
            "phase": 0, "epoch": epoch, "epochs": 2, "train_loss": 0.5,
            "train_accuracy": 0.8, "validation_loss": 0.6,
            "validation_accuracy": 0.75, "learning_rate": 0.001, "seconds": 1.0,
            "samples_per_second": 1000.0,
        }
        for epoch in (1, 2)
    ]  # fmt: skip
    model.metrics = {"validation_accuracy": 0.75, "epochs_completed": 2}
    model.dataset_name = "mnist-sample"
    model.phases = [single_phase(model.dataset_name, model.config, model.metrics)]
    return model


def test_hostile_metadata_opens_or_gives_the_dialog(qtbot, window, tmp_path, dialogs):
    model = _trained_looking_model()
    good = tmp_path / "good.npz"
    save_model(good, model.network, model.metadata)
    with np.load(good, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    document = json.loads(str(arrays["metadata"]))
    path = tmp_path / "hostile.npz"
    opened = refused = 0
    for place in leaf_paths(document, rows=1):  # one row stands for the rest
        # A phase's config and metrics are checked as the top-level ones are.
        if not place or place[0] in ("format", "format_version", "phases"):
            continue
        for value in _HOSTILE_VALUES:
            arrays["metadata"] = np.array(json.dumps(replaced(document, place, value)))
            with open(path, "wb") as handle:
                np.savez(handle, **arrays)
            before = len(dialogs.of_kind("critical"))
            with qtbot.captureExceptions() as exceptions:
                ok = window.files.open_path(path)
                qtbot.wait(1)
            assert not exceptions, (place, value, exceptions)
            if ok:
                opened += 1
                assert window.document.path == path
            else:
                refused += 1
                (call,) = dialogs.of_kind("critical")[before:]
                assert str(path) in call[2] and "\n" not in call[2]
    assert opened > 20 and refused > 200


def test_memory_error_while_opening_gives_the_dialog(
    qtbot, window, tmp_path, dialogs, monkeypatch
):
    model = template_model()
    path = tmp_path / "big.npz"
    save_model(path, model.network, model.metadata)

    def out_of_memory(_path):
        raise MemoryError

    monkeypatch.setattr("gui.model_document.load_model", out_of_memory)
    assert window.files.open_path(path) is False
    (call,) = dialogs.of_kind("critical")
    assert "not enough memory" in call[2] and str(path) in call[2]
    assert window.document.model is None and window.document.path is None
    monkeypatch.setattr("gui.model_document.load_model", load_model)
    assert window.files.open_path(path)
