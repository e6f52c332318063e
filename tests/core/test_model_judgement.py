"""Model files store the "not sure" thresholds and whether the model reads deskewed."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from core.datasets import DIGIT_CLASS_NAMES, Normalization
from core.judgement import NOT_A_DIGIT, Judge
from core.model_io import (
    ModelFileError,
    ModelMetadata,
    SavedModel,
    load_model,
    save_model,
)
from core.network import MLP
from core.slant import deskew

WITH_OTHER = (*DIGIT_CLASS_NAMES, NOT_A_DIGIT)


def _metadata(names=WITH_OTHER, judgement=None, config=None) -> ModelMetadata:
    return ModelMetadata(
        normalization=Normalization("scale", 255),
        image_shape=(28, 28),
        class_names=names,
        dataset_name="mnist-sample",
        config=config or {},
        judgement=judgement,
    )


def _saved(tmp_path, names=WITH_OTHER, judgement=None, config=None):
    path = tmp_path / "m.npz"
    network = MLP((784, 8, len(names)), seed=0)
    save_model(path, network, _metadata(names, judgement, config))
    return path


def _rewritten(path, change) -> None:
    """Edit the metadata JSON of a saved file in place (as a hostile file would)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    change(meta)
    arrays["metadata"] = np.array(json.dumps(meta), dtype=np.str_)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_thresholds_round_trip(tmp_path):
    stored = Judge(10, 10, min_margin=-0.35, false_rejection=0.015).to_dict()
    loaded = load_model(_saved(tmp_path, judgement=stored))
    assert loaded.judgement == stored
    assert Judge.from_dict(loaded.judgement) == Judge.from_dict(stored)


def test_files_without_thresholds_load_with_none(tmp_path):
    path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        assert "judgement" not in json.loads(str(archive["metadata"]))
    assert load_model(path).judgement is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ([0.5], "judgement must be a JSON object"),
        ({"digit_classes": 10, "not_a_digit_class": 10}, "min_margin is missing"),
        (
            {"digit_classes": 10, "not_a_digit_class": 10, "min_margin": "x"},
            "min_margin must be a finite number",
        ),
        (
            {"digit_classes": 10, "not_a_digit_class": 10, "min_margin": 7.0},
            "out of range",
        ),
        (
            {"digit_classes": 10.5, "not_a_digit_class": 10, "min_margin": 0.1},
            "whole number",
        ),
        (
            {"digit_classes": 10, "not_a_digit_class": 10, "min_margin": 0.1, "x": 1},
            "unknown key",
        ),
        (
            {"digit_classes": 10, "not_a_digit_class": None, "min_margin": 0.5},
            "not for this model's classes",
        ),
        (
            {"digit_classes": 9, "not_a_digit_class": 9, "min_margin": 0.5},
            "not for this model's classes",
        ),
    ],
)
def test_malformed_thresholds_are_refused_on_load(tmp_path, bad, message):
    path = _saved(tmp_path)
    _rewritten(path, lambda meta: meta.__setitem__("judgement", bad))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_thresholds_that_do_not_fit_are_refused_on_save(tmp_path):
    wrong = Judge(10, None, min_margin=0.5).to_dict()
    with pytest.raises(ModelFileError, match="not for this model's classes"):
        _saved(tmp_path, judgement=wrong)


def test_a_deskewed_model_reads_deskewed_images(tmp_path):
    path = _saved(tmp_path, names=DIGIT_CLASS_NAMES, config={"deskew": True})
    model = load_model(path)
    assert model.deskews
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    inputs = model.normalization.apply(deskew(images).reshape(5, -1))
    expected = model.network.predict_proba(inputs)
    np.testing.assert_allclose(model.predict_proba(images), expected, rtol=1e-6)
    flat = images.reshape(5, -1)
    np.testing.assert_allclose(model.predict_proba(flat), expected, rtol=1e-6)
    upright = dataclasses.replace(model, config={})
    assert not upright.deskews
    np.testing.assert_array_equal(upright.prepare(images), images)
    assert isinstance(upright, SavedModel)
