"""The "not sure" gate of a model: `core.confidence` calibrated for one loaded model.

Real digits from the bundled sets fit the class subspaces and novelty limits (once per
input format and process); a model's own forward pass over held-out digits sets its
top-probability threshold. Used by the Draw tab and the CLI. Never imports Qt.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from core.confidence import ConfidenceError, ConfidenceGate
from core.datasets import DIGIT_CLASS_NAMES, DatasetError, load_bundled
from core.model_io import SavedModel
from core.preprocess import PreprocessError, target_for_shape

# 4,000 real digits fit the subspaces and set the novelty limits (half each); 1,000
# of the held-out half set each model's threshold (one forward pass, about 15 ms).
CALIBRATION_IMAGES = 4000
MODEL_CALIBRATION_IMAGES = 1000
# The bundled set whose digits stand for each drawing target's input format.
REFERENCE_DATASETS = {"mnist": "mnist-sample", "digits-8x8": "digits-8x8"}

_lock = threading.Lock()
_subspaces: dict[str, ConfidenceGate] = {}


class ModelGate(NamedTuple):
    """The gate in force for a model, or None with the reason it is off."""

    gate: ConfidenceGate | None
    reason: str


def digit_subspaces(target: str) -> ConfidenceGate:
    """Return the digit subspaces and novelty limits for a drawing target.

    Fitted on `CALIBRATION_IMAGES` digits of the target's bundled set (0.1-0.3 s) the
    first time, then kept for the process; callers in other threads wait for that
    one fit. The top-probability threshold is left at its floor (`calibrated_gate`
    sets it per model).

    Raises
    ------
    DatasetError, ConfidenceError
        When the reference digits cannot be read or fitted.
    """
    with _lock:
        if target not in _subspaces:
            reference = load_bundled(REFERENCE_DATASETS.get(target, "mnist-sample"))
            rng = np.random.default_rng(0)
            count = min(CALIBRATION_IMAGES, len(reference))
            chosen = rng.choice(len(reference), size=count, replace=False)
            _subspaces[target] = ConfidenceGate.fit(
                reference.images[chosen], reference.labels[chosen], reference.max_value
            )
        return _subspaces[target]


def calibrated_gate(model: SavedModel) -> ModelGate:
    """Return the "not sure" gate calibrated for ``model``, or why there is none.

    A digit model gets the digit subspaces with its own top-probability threshold;
    a model of other classes (an imported set) keeps only the floor on the top
    probability, since digit shapes say nothing about it. Safe to call from any
    thread.

    Parameters
    ----------
    model : SavedModel
        Anything with ``image_shape``, ``class_names`` and ``predict_proba``.

    Returns
    -------
    ModelGate
        ``(gate, "")``, or ``(None, reason)`` with a sentence for the user.
    """
    try:
        target = target_for_shape(tuple(model.image_shape))
        subspaces = digit_subspaces(target)
    except (DatasetError, ConfidenceError, OSError, PreprocessError) as error:
        return ModelGate(None, f"Confidence check off: {error}")
    if subspaces.means.shape[1] != int(np.prod(model.image_shape)):
        height, width = model.image_shape
        return ModelGate(
            None, f"Confidence check off: no reference digits of {height}x{width}."
        )
    if tuple(model.class_names) != DIGIT_CLASS_NAMES:
        return ModelGate(
            replace(subspaces, max_error=np.inf, max_relative_error=np.inf), ""
        )
    try:
        gate = subspaces.for_model(
            model.predict_proba, max_images=MODEL_CALIBRATION_IMAGES
        )
    except (ConfidenceError, ValueError) as error:
        return ModelGate(None, f"Confidence check off: {error}")
    return ModelGate(gate, "")
