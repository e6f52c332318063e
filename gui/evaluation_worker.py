"""Evaluation off the GUI thread: `start_evaluation` and the report it hands back.

`build_report` runs `core.metrics.evaluate`, then derives what the Evaluate tab shows
(predictions, misclassified order, first-layer weight tiles); it never touches
widgets. The thread and signals are `gui.background.start_task`'s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QThread

from core.calibration import not_sure_share
from core.datasets import Dataset, DatasetPart
from core.metrics import evaluate
from core.model_io import SavedModel
from gui.background import TaskWorker, start_task


@dataclass(frozen=True)
class EvaluationReport:
    """Everything the Evaluate tab shows for one (model, dataset) pair.

    Attributes
    ----------
    dataset : Dataset
        The images evaluated.
    accuracy, loss : float
        Over the whole dataset (`core.metrics.Evaluation`: of the best guesses).
    turned_away : float
        Share of the images whose highest output is "not a digit".
    not_sure : float or None
        Share the Draw tab and `predict` would answer "not sure"
        (`core.calibration.not_sure_share`).
    class_names : tuple of str
        The names of the confusion matrix's rows and columns: the model's outputs.
    confusion : np.ndarray
        int64 ``(C, C)``, rows true classes, columns predictions.
    precision, recall : np.ndarray
        float ``(C,)``.
    predictions : np.ndarray
        int64 ``(N,)`` predicted class of every image.
    confidences : np.ndarray
        float32 ``(N,)`` probability of the predicted class.
    misclassified : np.ndarray
        int64 indices of wrong predictions, most confident first.
    weight_tiles : np.ndarray | None
        uint8 ``(units, H, W, 3)`` the first layer's incoming weights as RGB tiles,
        strongest unit first; without a hidden layer, the output units' weights in
        class order (None when the input is not the image).
    weight_units : np.ndarray
        int64 ``(units,)`` the unit index of each tile.
    hidden_units : int
        Size of the first hidden layer (0 without one).
    output_units : int
        Number of outputs.
    seconds : float
        Time the evaluation took.
    """

    dataset: Dataset
    accuracy: float
    loss: float
    turned_away: float
    class_names: tuple[str, ...]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray
    misclassified: np.ndarray
    weight_tiles: np.ndarray | None
    weight_units: np.ndarray
    hidden_units: int
    output_units: int
    seconds: float
    not_sure: float | None = None

    def cell_indices(self, true: int, predicted: int) -> np.ndarray:
        """Return the images of one confusion-matrix cell, most confident first."""
        mask = (self.dataset.labels == true) & (self.predictions == predicted)
        indices = np.flatnonzero(mask)
        return indices[np.argsort(-self.confidences[indices], kind="stable")]


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """Map values in [-1, 1] to blue (negative), white (0), red (positive) uint8 RGB."""
    v = np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)[..., None]
    white = np.array([247, 247, 247], dtype=np.float32)
    red = np.array([178, 24, 43], dtype=np.float32)
    blue = np.array([33, 102, 172], dtype=np.float32)
    rgb = np.where(v >= 0, white + (red - white) * v, white + (blue - white) * -v)
    return np.rint(rgb).astype(np.uint8)


def coloured_tiles(weights: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Colour each hidden unit's incoming weights as an RGB image.

    Parameters
    ----------
    weights : np.ndarray
        ``(H*W, units)`` the first layer's weights.
    image_shape : tuple of int
        ``(H, W)``.

    Returns
    -------
    np.ndarray
        uint8 ``(units, H, W, 3)``; each tile is scaled by its own largest magnitude.
    """
    height, width = image_shape
    units = weights.shape[1]
    tiles = np.asarray(weights, dtype=np.float32).T.reshape(units, height, width)
    peak = np.abs(tiles).reshape(units, -1).max(axis=1)
    return diverging_rgb(tiles / np.where(peak > 0, peak, 1.0)[:, None, None])


def unit_order(weights: list[np.ndarray]) -> np.ndarray:
    """Order the first hidden layer's units by the size of their outgoing weights.

    A unit whose outgoing weights are large moves the next layer most, so it is
    shown first. Returns int64 ``(units,)`` unit indices, strongest first.
    """
    if len(weights) < 2:
        return np.arange(weights[0].shape[1])
    strength = np.linalg.norm(np.asarray(weights[1], dtype=np.float64), axis=1)
    return np.argsort(-strength, kind="stable").astype(np.int64)


def tile_mosaic(
    tiles: np.ndarray, count: int
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Lay the first ``count`` tiles ``(U, H, W, 3)`` out in a near-square grid.

    Returns
    -------
    mosaic : np.ndarray
        uint8 ``(rows*(H+1)-1, cols*(W+1)-1, 3)`` with 1-pixel grey gaps.
    grid : tuple of int
        ``(rows, cols, tiles shown)``.
    """
    shown = max(1, min(int(count), len(tiles)))
    height, width = tiles.shape[1:3]
    cols = int(np.ceil(np.sqrt(shown)))
    rows = int(np.ceil(shown / cols))
    mosaic = np.full(
        (rows * (height + 1) - 1, cols * (width + 1) - 1, 3), 160, dtype=np.uint8
    )
    for index in range(shown):
        r, c = divmod(index, cols)
        top, left = r * (height + 1), c * (width + 1)
        mosaic[top : top + height, left : left + width] = tiles[index]
    return mosaic, (rows, cols, shown)


def build_report(
    model: SavedModel,
    dataset: Dataset | DatasetPart,
    cancel: threading.Event | None = None,
) -> EvaluationReport | None:
    """Evaluate ``model`` on ``dataset`` and derive the views; None when cancelled.

    A part of a dataset (a run's validation part) is copied out first: the report
    shows its images.
    """
    start = time.perf_counter()
    if isinstance(dataset, DatasetPart):
        dataset = dataset.materialize()
    # A copy: the batch buffers evaluation leaves in a network (tens of MB for a
    # large one) go with it, not with the model the window and the run list keep.
    network = model.network.copy()
    if dataset.image_shape != tuple(model.image_shape):
        raise ValueError(
            f"the model takes {model.image_shape[0]}x{model.image_shape[1]} images but "
            f"the dataset {dataset.name!r} has {dataset.image_shape[0]}x"
            f"{dataset.image_shape[1]} images"
        )
    evaluation = evaluate(
        network, dataset, normalization=model.normalization, deskew=model.deskews
    )
    if cancel is not None and cancel.is_set():
        return None
    probabilities = np.asarray(evaluation.probabilities, dtype=np.float32)
    predictions = np.asarray(evaluation.predictions, dtype=np.int64)
    confidences = probabilities[np.arange(len(predictions)), predictions]
    wrong = np.flatnonzero(predictions != dataset.labels)
    misclassified = wrong[np.argsort(-confidences[wrong], kind="stable")]
    tiles, units = None, np.zeros(0, dtype=np.int64)
    first = network.weights[0]
    if first.shape[0] == int(np.prod(model.image_shape)):
        # Without a hidden layer the first weights are the output's: one template per
        # class, shown in class order.
        units = unit_order(network.weights)
        tiles = coloured_tiles(first, tuple(model.image_shape))[units]
    return EvaluationReport(
        dataset=dataset,
        accuracy=float(evaluation.accuracy),
        loss=float(evaluation.loss),
        turned_away=float(evaluation.turned_away),
        class_names=(
            *dataset.class_names,
            *model.class_names[len(dataset.class_names) :],
        ),
        confusion=np.asarray(evaluation.confusion, dtype=np.int64),
        precision=np.asarray(evaluation.precision, dtype=np.float64),
        recall=np.asarray(evaluation.recall, dtype=np.float64),
        predictions=predictions,
        confidences=confidences,
        misclassified=misclassified,
        weight_tiles=tiles,
        weight_units=units,
        hidden_units=int(first.shape[1]) if len(network.weights) > 1 else 0,
        output_units=int(network.weights[-1].shape[1]),
        seconds=time.perf_counter() - start,
        not_sure=not_sure_share(model, probabilities),
    )


def start_evaluation(
    model: SavedModel,
    dataset: Dataset | DatasetPart,
    *,
    on_succeeded: Callable[[EvaluationReport], None],
    on_failed: Callable[[str], None],
    on_finished: Callable[[], None],
) -> tuple[QThread, TaskWorker]:
    """Run `build_report` in a background thread (``gui.background.start_task``).

    Its matrix products use the app's BLAS thread setting
    (``gui.background.with_blas_limit``).

    Exactly one of ``on_succeeded(report)`` and ``on_failed(message)`` runs, unless
    the worker is cancelled; then always ``on_finished``. All must be GUI-thread slots.
    """

    def run(cancel: threading.Event, _report: Callable[[Any], None]):
        return build_report(model, dataset, cancel)

    return start_task(
        run,
        on_succeeded=on_succeeded,
        on_failed=on_failed,
        on_finished=on_finished,
        name="evaluation",
        uses_blas=True,
    )
