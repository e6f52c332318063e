"""Switching hidden neurons off, or scaling their output, in a copy of a network.

Scaling unit ``j`` of hidden layer ``l`` by ``s`` is exactly scaling row ``j`` of the
next layer's weights ``W[l + 1]`` by ``s``: the edited network is a plain `MLP` that
saves, loads and runs like any other. Pure NumPy; no Qt.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.model_io import ModelMetadata
from core.network import MLP

__all__ = [
    "EditError",
    "NeuronEdit",
    "edited_metadata",
    "edited_network",
    "edits_text",
]

# Metrics of the base model that describe its own weights, not the edited ones.
_WEIGHT_METRICS = (
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
    "test_loss",
    "test_accuracy",
)


class EditError(ValueError):
    """An edit names a unit the network does not have, or a bad scale."""


@dataclass(frozen=True)
class NeuronEdit:
    """Multiply one hidden unit's output by ``scale`` (0 switches it off).

    Attributes
    ----------
    layer : int
        Hidden layer, counted from 0 (the units computed by ``W0``).
    unit : int
        Unit index within that layer.
    scale : float
        Factor applied to the unit's output; 1 leaves it unchanged.
    """

    layer: int
    unit: int
    scale: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in a model file's metadata."""
        return {"hidden_layer": self.layer, "unit": self.unit, "scale": self.scale}

    def describe(self) -> str:
        """Short text such as ``layer 1, unit 17 off`` (layers counted from 1)."""
        what = "off" if self.scale == 0 else f"x{self.scale:g}"
        return f"layer {self.layer + 1}, unit {self.unit} {what}"


def _check(network: MLP, edit: NeuronEdit) -> None:
    hidden = network.layer_sizes[1:-1]
    if not 0 <= edit.layer < len(hidden):
        raise EditError(
            f"the network has {len(hidden)} hidden layer(s); there is no hidden "
            f"layer {edit.layer}"
        )
    if not 0 <= edit.unit < hidden[edit.layer]:
        raise EditError(
            f"hidden layer {edit.layer} has {hidden[edit.layer]} units; there is no "
            f"unit {edit.unit}"
        )
    if not math.isfinite(edit.scale):
        raise EditError(f"a unit's scale must be a finite number, got {edit.scale}")


def edited_network(network: MLP, edits: Iterable[NeuronEdit]) -> MLP:
    """Return a copy of ``network`` with every edit applied.

    Parameters
    ----------
    network : MLP
        Left unchanged.
    edits : iterable of NeuronEdit
        Applied in order; two edits of one unit multiply.

    Returns
    -------
    MLP
        The copy: row ``unit`` of ``weights[layer + 1]`` times ``scale``.

    Raises
    ------
    EditError
        If an edit names a unit the network lacks or has a non-finite scale.
    """
    copy = network.copy()
    for edit in edits:
        _check(network, edit)
        copy.weights[edit.layer + 1][edit.unit, :] *= copy.dtype.type(edit.scale)
    return copy


def edited_metadata(
    metadata: ModelMetadata,
    edits: Iterable[NeuronEdit],
    evaluation: Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Return the metadata of an edited copy of a model, for `save_model`.

    A record of the edits is appended to ``edits`` (`core.model_io.EDIT_FIELDS`):
    ``units`` lists them (already applied to the saved weights), ``after_phase``
    the training phase whose weights were edited, ``base_created`` and
    ``base_metrics`` the base model's time and the metrics that describe its
    weights (losses and accuracies), which become null in ``metrics``: they are not
    the edited weights' figures. ``created`` and ``app_version`` are cleared so that
    saving stamps them anew, and the stored "not sure" thresholds too (they were set
    for the base weights; `core.calibration.model_judge` sets the edited model's when
    it is loaded); config, phases and history stay the base's.

    Parameters
    ----------
    metadata : ModelMetadata
        The base model's (an edited model's keeps its earlier records).
    edits : iterable of NeuronEdit
    evaluation : mapping, optional
        How the edit was judged, stored as the record's ``evaluation`` (e.g. the
        data set and the accuracy before and after; see
        `core.model_io.EDIT_EVALUATION`).
    """
    metrics = dict(metadata.metrics)
    base = {key: metrics[key] for key in _WEIGHT_METRICS if key in metrics}
    metrics.update(dict.fromkeys(base))
    record: dict[str, Any] = {
        "units": [edit.to_dict() for edit in edits],
        "after_phase": len(metadata.phases) - 1,
        "base_created": metadata.created,
        "base_metrics": base,
    }
    if evaluation is not None:
        record["evaluation"] = dict(evaluation)
    return dataclasses.replace(
        metadata,
        metrics=metrics,
        edits=[*metadata.edits, record],
        judgement=None,  # set for the base weights: the edited ones get theirs at load
        created="",
        app_version="",
    )


def edits_text(record: Mapping[str, Any]) -> str:
    """Describe one stored record of edits, e.g. ``layer 1, unit 17 off``."""
    return "; ".join(
        NeuronEdit(unit["hidden_layer"], unit["unit"], unit["scale"]).describe()
        for unit in record["units"]
    )
