"""Evaluation of a network on a dataset: loss, accuracy, confusion, per class.

Owns ``evaluate``, ``Evaluation`` and ``loss_and_accuracy`` (the trainer's
per-epoch check). Works batch by batch in preallocated buffers; images stay
uint8 until a batch needs them. Imports NumPy and core only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import fast
from core.blas_threads import ThreadChooser, latest_choice
from core.datasets import Dataset, DatasetPart, Normalization
from core.network import MLP


class MetricsError(ValueError):
    """The network and the dataset do not fit together."""


@dataclass(frozen=True)
class Evaluation:
    """Results of ``evaluate``.

    Attributes
    ----------
    loss : float
        Mean loss over the dataset (the network's own cost).
    accuracy : float
        Share of samples whose highest output is the true class, in [0, 1].
    confusion : ndarray of int64, shape (K, K)
        ``confusion[true, predicted]`` counts.
    precision : ndarray of float64, shape (K,)
        Per class: correct predictions of the class / all predictions of it
        (0 when the class is never predicted).
    recall : ndarray of float64, shape (K,)
        Per class: correct predictions / samples of the class (0 when absent).
    probabilities : ndarray of float32, shape (N, K)
        Output activations per sample.
    predictions : ndarray of intp, shape (N,)
        Predicted class per sample.
    """

    loss: float
    accuracy: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    probabilities: np.ndarray
    predictions: np.ndarray


def _check(network: MLP, dataset: Dataset | DatasetPart) -> None:
    if dataset.input_size != network.input_size:
        raise MetricsError(
            f"The network expects {network.input_size} inputs but the images of "
            f"{dataset.name!r} have {dataset.input_size} pixels."
        )
    if dataset.num_classes > network.num_classes:
        raise MetricsError(
            f"{dataset.name!r} has {dataset.num_classes} classes but the network "
            f"has only {network.num_classes} outputs."
        )
    if len(dataset) == 0:
        raise MetricsError(f"{dataset.name!r} has no samples to evaluate.")


def _passes(
    network: MLP,
    dataset: Dataset | DatasetPart,
    normalization: Normalization | None,
    batch_size: int,
    buffer: np.ndarray | None = None,
    threads: int | str | None = None,
):
    """Yield ``(start, stop, loss, probabilities)`` for consecutive batches."""
    _check(network, dataset)
    if normalization is None:
        normalization = Normalization("scale", dataset.max_value)
    count = len(dataset)
    batch_size = max(1, min(int(batch_size), count))
    labels = dataset.labels
    if isinstance(dataset, DatasetPart):
        images, extra = dataset.flat_sources()
        rows = dataset.rows

        def inputs(start: int, stop: int, out: np.ndarray) -> np.ndarray:
            return fast.gather_normalized(
                images, rows[start:stop], normalization, out, extra=extra
            )

    else:
        images = dataset.images.reshape(count, -1)

        def inputs(start: int, stop: int, out: np.ndarray) -> np.ndarray:
            return normalization.apply(images[start:stop], out=out)

    shape = (batch_size, dataset.input_size)
    if (
        buffer is not None
        and buffer.dtype == np.float32
        and buffer.ndim == 2
        and buffer.shape[0] >= shape[0]
        and buffer.shape[1] == shape[1]
    ):
        buffer = buffer[: shape[0]]
    else:
        buffer = np.empty(shape, np.float32)
    converted = buffer if network.dtype == np.float32 else None
    # After training, begin with training's choice; otherwise measure first.
    chooser = ThreadChooser(threads, start=latest_choice())
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        batch = inputs(start, stop, buffer[: stop - start])
        if converted is None:
            batch = batch.astype(network.dtype)
        with chooser.step():
            loss, probs = network.loss_and_probabilities(batch, labels[start:stop])
        yield start, stop, loss, probs


def loss_and_accuracy(
    network: MLP,
    dataset: Dataset | DatasetPart,
    normalization: Normalization | None = None,
    batch_size: int = 2048,
    buffer: np.ndarray | None = None,
    threads: int | str | None = None,
) -> tuple[float, float]:
    """Return the mean loss and the accuracy of ``network`` on ``dataset``.

    Parameters
    ----------
    network : MLP
    dataset : Dataset
    normalization : Normalization, optional
        How pixels become inputs; ``"scale"`` when omitted.
    batch_size : int
        Samples per forward pass.
    buffer : ndarray of float32, shape (>= batch_size, H * W), optional
        Work array for the converted inputs, reused across calls (the trainer
        passes one so that per-epoch validation allocates nothing).
    threads : int, "auto" or None
        BLAS threads, as for `core.training.train`; None leaves them as they are.

    Returns
    -------
    loss : float
    accuracy : float
    """
    total_loss = 0.0
    correct = 0
    for start, stop, loss, probs in _passes(
        network, dataset, normalization, batch_size, buffer, threads
    ):
        total_loss += loss * (stop - start)
        correct += int(
            np.count_nonzero(probs.argmax(axis=1) == dataset.labels[start:stop])
        )
    count = len(dataset)
    return total_loss / count, correct / count


def evaluate(
    network: MLP,
    dataset: Dataset | DatasetPart,
    batch_size: int = 2048,
    normalization: Normalization | None = None,
    threads: int | str | None = None,
) -> Evaluation:
    """Evaluate ``network`` on every sample of ``dataset``.

    Parameters
    ----------
    network : MLP
        Its outputs are the classes, in the dataset's label order.
    dataset : Dataset
        uint8 images ``(N, H, W)`` with ``H * W`` equal to the network's input.
    batch_size : int
        Samples per forward pass (memory use scales with it).
    normalization : Normalization, optional
        The normalisation the network was trained with; ``"scale"`` when
        omitted.
    threads : int, "auto" or None
        BLAS threads, as for `core.training.train` (``"auto"`` starts from the
        latest choice made in this process); None leaves them as they are.

    Returns
    -------
    Evaluation
    """
    count = len(dataset)
    classes = network.num_classes
    probabilities = np.empty((count, classes), np.float32)
    total_loss = 0.0
    for start, stop, loss, probs in _passes(
        network, dataset, normalization, batch_size, threads=threads
    ):
        total_loss += loss * (stop - start)
        probabilities[start:stop] = probs
    predictions = probabilities.argmax(axis=1)
    labels = dataset.labels.astype(np.intp)
    confusion = np.bincount(
        labels * classes + predictions, minlength=classes * classes
    ).reshape(classes, classes)
    correct = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(
        correct, predicted, out=np.zeros(classes), where=predicted > 0
    )
    recall = np.divide(correct, actual, out=np.zeros(classes), where=actual > 0)
    return Evaluation(
        loss=total_loss / count,
        accuracy=float(correct.sum() / count),
        confusion=confusion.astype(np.int64),
        precision=precision,
        recall=recall,
        probabilities=probabilities,
        predictions=predictions,
    )
