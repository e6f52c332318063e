"""core.neuron_edits: silencing or scaling hidden units in a copy of a network."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trained_model import holdout, trained_model

from core.model_io import load_model, save_model
from core.neuron_edits import EditError, NeuronEdit, edited_metadata, edited_network


@pytest.fixture(scope="module")
def model():
    return trained_model()


def _forward_with_unit_scaled(model, x, layer, unit, scale):
    """The forward pass by hand, with one hidden unit's output multiplied."""
    network = model.network
    a = x.astype(np.float64)
    for i, (w, b) in enumerate(zip(network.weights, network.biases, strict=True)):
        z = a @ w.astype(np.float64) + b
        if i == len(network.weights) - 1:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        a = np.maximum(z, 0.0)
        if i == layer:
            a[:, unit] *= scale


@pytest.mark.parametrize(("layer", "scale"), [(0, 0.0), (1, 0.0), (0, 0.5), (1, 2.0)])
def test_an_edit_changes_the_output_as_the_direct_computation_says(model, layer, scale):
    x = model.normalization.apply(holdout().images_at(slice(None)))
    hidden = np.maximum(x @ model.network.weights[0] + model.network.biases[0], 0)
    if layer == 1:
        hidden = np.maximum(
            hidden @ model.network.weights[1] + model.network.biases[1], 0
        )
    # The unit that moves the most predictions when switched off.
    unit = int(np.argmax(hidden.mean(axis=0)))
    network = edited_network(model.network, [NeuronEdit(layer, unit, scale)])
    expected = _forward_with_unit_scaled(model, x, layer, unit, scale)
    np.testing.assert_allclose(network.forward(x), expected, rtol=1e-4, atol=1e-6)
    before = model.network.predict(x)
    assert not np.array_equal(network.forward(x), model.network.forward(x))
    if scale == 0.0 and layer == 1:
        assert np.count_nonzero(network.predict(x) != before) > 0


def test_the_base_network_is_left_alone(model):
    before = [w.copy() for w in model.network.weights]
    edited_network(model.network, [NeuronEdit(0, 3, 0.0)])
    for w, b in zip(model.network.weights, before, strict=True):
        np.testing.assert_array_equal(w, b)


def test_no_edits_is_an_equal_copy(model):
    copy = edited_network(model.network, [])
    for w, b in zip(copy.weights, model.network.weights, strict=True):
        np.testing.assert_array_equal(w, b)
    assert copy.weights[0] is not model.network.weights[0]


@pytest.mark.parametrize(
    "edit",
    [
        NeuronEdit(2, 0, 0.0),
        NeuronEdit(-1, 0, 0.0),
        NeuronEdit(0, 24, 0.0),
        NeuronEdit(0, 0, float("nan")),
    ],
)
def test_a_unit_the_network_lacks_is_refused(model, edit):
    with pytest.raises(EditError):
        edited_network(model.network, [edit])


def test_the_saved_edited_model_lists_its_edits_and_runs_edited(model, tmp_path):
    edits = [NeuronEdit(0, 3, 0.0), NeuronEdit(1, 5, 0.5)]
    network = edited_network(model.network, edits)
    metadata = edited_metadata(
        model.metadata,
        edits,
        {"data": "digits-8x8 holdout", "accuracy_before": 0.95, "accuracy_after": 0.9},
    )
    path = tmp_path / "edited.npz"
    save_model(path, network, metadata)
    loaded = load_model(path)
    (record,) = loaded.edits
    assert record["units"] == [
        {"hidden_layer": 0, "unit": 3, "scale": 0.0},
        {"hidden_layer": 1, "unit": 5, "scale": 0.5},
    ]
    weights_figures = ("train_loss", "train_accuracy", "validation_loss")
    weights_figures += ("validation_accuracy",)
    assert record["base_metrics"] == {
        key: model.metrics[key] for key in weights_figures
    }
    assert all(model.metrics[key] is not None for key in weights_figures)
    # They were the base's: the edited weights have none measured.
    assert all(loaded.metrics[key] is None for key in weights_figures)
    assert loaded.metrics["epochs_completed"] == model.metrics["epochs_completed"]
    assert record["after_phase"] == len(model.phases) - 1
    assert record["base_created"] == model.created
    assert record["evaluation"]["accuracy_after"] == 0.9
    assert loaded.created and loaded.created != model.created
    assert loaded.config == model.config and loaded.history == model.history
    x = model.normalization.apply(holdout().images_at(slice(None)))
    np.testing.assert_array_equal(loaded.network.forward(x), network.forward(x))
    json.dumps(loaded.metrics)
    json.dumps(loaded.edits)


def test_editing_an_edited_model_keeps_the_earlier_record(model):
    first = edited_metadata(model.metadata, [NeuronEdit(0, 1, 0.0)])
    second = edited_metadata(first, [NeuronEdit(0, 2, 0.0)])
    earlier, record = second.edits
    assert record["units"] == [{"hidden_layer": 0, "unit": 2, "scale": 0.0}]
    assert earlier["units"] == [{"hidden_layer": 0, "unit": 1, "scale": 0.0}]


def test_describe():
    assert NeuronEdit(0, 17, 0.0).describe() == "layer 1, unit 17 off"
    assert NeuronEdit(1, 2, 0.5).describe() == "layer 2, unit 2 x0.5"


def test_an_edited_model_keeps_no_thresholds_of_the_base_weights(model, tmp_path):
    # The base's "not sure" thresholds were set for its weights, not the edited ones.
    assert model.judgement is not None
    metadata = edited_metadata(model.metadata, [NeuronEdit(0, 3, 0.0)])
    assert metadata.judgement is None
    path = tmp_path / "edited.npz"
    save_model(path, edited_network(model.network, [NeuronEdit(0, 3, 0.0)]), metadata)
    assert load_model(path).judgement is None
