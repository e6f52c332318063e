"""The judgement of a loaded model: `core.judgement` thresholds the app and CLI use.

A model file made by the run pipeline stores its thresholds (set on its validation
digits); others are set here on real digits it has not trained on (its recomputed
validation part when that came from a bundled set, else bundled digits). A model
without a "not a digit" output also gets the digit subspaces' novelty score
(`core.confidence`, fitted once per input format and process), so that it still
turns scribbles away. Never imports Qt.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from core.confidence import ConfidenceError, ConfidenceGate
from core.datasets import BUNDLED, DIGIT_CLASS_NAMES, DatasetError, load_bundled
from core.judgement import Judge, JudgementError, not_a_digit_output
from core.model_io import SavedModel
from core.preprocess import PreprocessError, target_for_shape
from core.run import (
    HELD_OUT_FALSE_REJECTION,
    RunError,
    calibration_copies,
    held_out_split,
    split,
)

# 4,000 real digits fit the subspaces and set the novelty limits (half each); up to
# 1,000 held-out digits, moved into `core.run.CALIBRATION_COPIES` copies, set a
# model's threshold (one forward pass over the copies).
CALIBRATION_IMAGES = 4000
MODEL_CALIBRATION_IMAGES = 1000
# The bundled set whose digits stand for each drawing target's input format.
REFERENCE_DATASETS = {"mnist": "mnist-sample", "digits-8x8": "digits-8x8"}
# A model of other classes than digits: its top class needs at least this
# probability (digit shapes say nothing about its classes).
OTHER_CLASSES_MARGIN = 0.3

_lock = threading.Lock()
_subspaces: dict[str, ConfidenceGate] = {}


class ModelJudge(NamedTuple):
    """The judgement in force for a model, or None with the reason it is off."""

    judge: Judge | None
    reason: str


def digit_subspaces(target: str) -> ConfidenceGate:
    """Return the digit subspaces and novelty limits for a drawing target.

    Fitted on `CALIBRATION_IMAGES` digits of the target's bundled set (0.1-0.3 s) the
    first time, then kept for the process; callers in other threads wait for that
    one fit.

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


def model_judge(model: SavedModel) -> ModelJudge:
    """Return the judgement for ``model``, or why there is none.

    The model's stored thresholds when it has them, else thresholds set now at
    `core.run.HELD_OUT_FALSE_REJECTION` on `core.run.calibration_copies` of
    `reference_digits`; plus the digit subspaces' novelty for a digit model
    without a "not a digit" output. A model of other classes keeps only a floor
    on its top probability. Safe to call from any thread.

    Parameters
    ----------
    model : SavedModel
        Anything with ``image_shape``, ``class_names``, ``judgement``, ``phases``
        and ``predict_proba``.

    Returns
    -------
    ModelJudge
        ``(judge, "")``, or ``(None, reason)`` with a sentence for the user.
    """
    names = tuple(model.class_names)
    other = not_a_digit_output(names)
    digits = len(names) - (other is not None)
    try:
        target = target_for_shape(tuple(model.image_shape))
        if names[:digits] != DIGIT_CLASS_NAMES:
            return ModelJudge(Judge(digits, other, OTHER_CLASSES_MARGIN), "")
        subspaces = digit_subspaces(target)
    except (DatasetError, ConfidenceError, OSError, PreprocessError) as error:
        return ModelJudge(None, f"Confidence check off: {error}")
    if subspaces.means.shape[1] != int(np.prod(model.image_shape)):
        height, width = model.image_shape
        return ModelJudge(
            None, f"Confidence check off: no reference digits of {height}x{width}."
        )
    novelty = subspaces.novelty if other is None else None
    try:
        if model.judgement is not None:
            return ModelJudge(Judge.from_dict(model.judgement, novelty), "")
        reference = reference_digits(model, subspaces.calibration_images)
        copies = calibration_copies(reference, subspaces.max_value)
        judge = Judge.for_model(model, copies, HELD_OUT_FALSE_REJECTION, novelty)
    except (JudgementError, ValueError) as error:
        return ModelJudge(None, f"Confidence check off: {error}")
    return ModelJudge(judge, "")


def not_sure_share(model: SavedModel, probabilities: np.ndarray) -> float | None:
    """Share of dataset images (``probabilities``, ``(N, C)``) answered "not sure".

    As `predict` and the Draw tab judge images of the dataset's size
    (`model_judge`, the first margin). None when the model has no judgement, or is
    judged by the digit subspaces' novelty too, which needs every image again.
    """
    judge, _ = model_judge(model)
    if judge is None or judge.novelty is not None:
        return None
    return float(np.mean(judge.verdicts(probabilities) == "not_sure"))


def reference_digits(model: SavedModel, fallback: np.ndarray) -> np.ndarray:
    """Return up to `MODEL_CALIBRATION_IMAGES` real digits to set thresholds on.

    The model's own validation part when every phase split the same bundled set
    (recomputed from the file), else the first of ``fallback``.
    """
    try:
        spec = held_out_split(model)
    except (RunError, KeyError, TypeError, ValueError):
        spec = None
    if spec is not None and spec.dataset_name in BUNDLED:
        try:
            dataset = load_bundled(spec.dataset_name)
            _, held_out = split(
                dataset, spec.validation_fraction, spec.seed, spec.subset
            )
        except (DatasetError, OSError):
            held_out = None
        if (
            held_out is not None
            and held_out.image_shape == tuple(model.image_shape)
            and len(held_out) >= 20
        ):
            return held_out.images_at(slice(MODEL_CALIBRATION_IMAGES))
    return fallback[:MODEL_CALIBRATION_IMAGES]
