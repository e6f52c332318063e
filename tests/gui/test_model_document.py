"""gui.model_document: the current model, its file and unsaved state change only when
an operation succeeded."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from template_model import template_model

from core.judgement import Judge
from core.model_io import ModelFileError
from gui.model_document import ModelDocument, model_details, model_summary


@pytest.fixture
def document(app_settings) -> ModelDocument:
    return ModelDocument(app_settings)


@pytest.fixture
def saved(document, tmp_path):
    """A document that opened a file it had saved."""
    document.adopt_trained(template_model(), live=False, same_file=False)
    path = tmp_path / "model.npz"
    document.save(path)
    document.open(path)
    return document


def _signals(document: ModelDocument) -> list[str]:
    seen: list[str] = []
    document.opened.connect(lambda _model: seen.append("opened"))
    document.model_changed.connect(lambda live: seen.append(f"model_changed {live}"))
    document.state_changed.connect(lambda: seen.append("state_changed"))
    return seen


def test_open_makes_the_file_current_and_remembers_it(document, tmp_path):
    model = template_model()
    document.adopt_trained(model, live=False, same_file=False)
    path = tmp_path / "a.npz"
    document.save(path)
    document.new()
    seen = _signals(document)
    opened = document.open(path)
    assert document.model is opened and document.path == path
    assert not document.unsaved
    assert seen == ["opened", "model_changed False", "state_changed"]
    assert document.recent_files[0] == str(path)
    probe = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    np.testing.assert_allclose(
        opened.network.forward(probe), model.network.forward(probe), rtol=1e-6
    )


@pytest.mark.parametrize("content", [b"this is not a zip file", None])
def test_failed_open_leaves_model_and_path_as_they_were(saved, tmp_path, content):
    model, path = saved.model, saved.path
    bad = tmp_path / "bad.npz"
    if content is not None:
        bad.write_bytes(content)  # else: the file does not exist
    seen = _signals(saved)
    with pytest.raises((ModelFileError, OSError)):
        saved.open(bad)
    assert saved.model is model and saved.path == path and not saved.unsaved
    assert seen == []
    assert str(bad) not in saved.recent_files


def test_failed_save_leaves_path_and_unsaved_state_as_they_were(saved, tmp_path):
    path = saved.path
    saved.adopt_trained(template_model(), live=False, same_file=True)
    assert saved.unsaved and saved.path == path
    seen = _signals(saved)
    with pytest.raises((ModelFileError, OSError)):
        saved.save(tmp_path / "no such folder" / "model.npz")
    assert saved.path == path and saved.unsaved
    assert seen == []


def test_trained_model_keeps_the_file_only_when_fine_tuned(saved):
    path = saved.path
    saved.adopt_trained(template_model(), live=True, same_file=True)
    assert saved.path == path and saved.unsaved
    saved.adopt_trained(template_model(), live=True, same_file=False)
    assert saved.path is None and saved.unsaved


def _trained_looking(model):
    return dataclasses.replace(
        model,
        metrics={
            "epochs": 50,
            "train_loss": 0.09653643441120871,
            "validation_accuracy": 0.9823456789,
            "validation_loss": 0.0712345678901,
            "training_seconds": 83.4567,
            "stopped": "completed",
        },
        history=[{"epoch": 1, "train_loss": 0.123456789, "train_accuracy": 0.9}],
        created="2026-12-04T23:00:05Z",
        app_version="0.1.0",
    )


def test_model_details_read_as_words_and_rounded_figures():
    text, details = model_details(_trained_looking(template_model()), None)
    assert "MLP(" not in text and "activation=" not in text
    assert "784-10-10, ReLU hidden layers" in text
    assert "Softmax + cross-entropy output" in text
    assert "7,960 parameters" in text
    assert "train loss: 0.0965" in text
    assert "validation accuracy: 98.23%" in text
    assert "training seconds: 1:23" in text
    assert "epochs: 50" in text
    # No raw float anywhere: at most four decimals.
    assert not re.search(r"\d\.\d{5,}", text + details), text + details
    assert "train loss 0.1235" in details
    assert "T23:00:05Z" not in text


def test_model_details_say_when_the_model_is_not_sure():
    model = _trained_looking(template_model())
    assert "Not sure" not in model_details(model, None)[0]
    judge = Judge(10, None, 0.55)
    judged = dataclasses.replace(model, judgement=judge.to_dict())
    assert f"Not sure: {judge.summary()}" in model_details(judged, None)[0]


def test_model_details_leave_out_results_that_are_not_there():
    model = _trained_looking(template_model())
    metrics = {**model.metrics, "best_epoch": None, "subset": None}
    text, _ = model_details(dataclasses.replace(model, metrics=metrics), None)
    assert "None" not in text and "best epoch" not in text


def test_the_creation_time_never_wraps_inside_the_model_line():
    line = model_summary(_trained_looking(template_model()), None)
    assert "T23:00:05Z" not in line
    match = re.search(r"<span style='white-space:nowrap'>created ([^<]+)</span>", line)
    assert match, line
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", match.group(1))
