"""gui.model_document: the current model, its file and unsaved state change only when
an operation succeeded."""

from __future__ import annotations

import numpy as np
import pytest
from template_model import template_model

from core.model_io import ModelFileError
from gui.model_document import ModelDocument


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
