"""Evaluation of a network on a dataset: loss, accuracy, confusion, per class.

Owns ``evaluate``, ``Evaluation`` and ``loss_and_accuracy`` (the trainer's
per-epoch check). Works batch by batch in preallocated buffers; images stay
uint8 until a batch needs them. A network with a "not a digit" output
(`core.judgement.NOT_A_DIGIT`) is scored on its best guess among the real
classes, and how often it turned an image away is counted apart. Imports NumPy
and core only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import fast
from core.blas_threads import ThreadChooser, latest_choice
from core.datasets import Dataset, DatasetPart, Normalization
from core.judgement import NOT_A_DIGIT
from core.network import MLP
from core.slant import deskew as deskewed

# Images per forward pass: 512 read as fast as 2,048 (70,000 digits of 784-256-10 in
# 0.27 s either way) with a quarter of the work buffers, 8 MiB less at a big set's peak.
EVALUATION_BATCH = 512


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
        Share of samples whose best guess is the true class, in [0, 1]: the
        highest output among the dataset's real classes (a "not a digit" output,
        or outputs beyond the dataset's classes, are not guesses).
    turned_away : float
        Share of samples whose highest output is one of those others (0 for a
        network with one output per class).
    confusion : ndarray of int64, shape (K, K)
        ``confusion[true, predicted]`` counts, ``K`` the network's outputs:
        predicted is the highest output, so the turned-away samples fill the
        "not a digit" column.
    precision : ndarray of float64, shape (K,)
        Per class: correct predictions of the class / all predictions of it
        (0 when the class is never predicted).
    recall : ndarray of float64, shape (K,)
        Per class: correct predictions / samples of the class (0 when absent).
    probabilities : ndarray of float32, shape (N, K)
        Output activations per sample.
    predictions : ndarray of intp, shape (N,)
        Highest output per sample.
    guesses : ndarray of intp, shape (N,)
        Best guess per sample (the highest output among the real classes).
    """

    loss: float
    accuracy: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    probabilities: np.ndarray
    predictions: np.ndarray
    guesses: np.ndarray
    turned_away: float = 0.0


def answer_classes(network: MLP, dataset: Dataset) -> np.ndarray:
    """Return the outputs that are real classes of ``dataset`` (its guesses).

    The dataset's classes that the network has, except `core.judgement.NOT_A_DIGIT`.
    """
    names = dataset.class_names[: network.num_classes]
    return np.array(
        [index for index, name in enumerate(names) if name != NOT_A_DIGIT], np.intp
    )


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


class _InOrder:
    """A part's images read through once, in order (`DatasetPart.read_once`).

    Consecutive ``take(start, stop)`` calls walk the part from its first image; a
    stored set's pages go once read, where gathering a validation part spread over
    a big set would keep nearly all of it resident.
    """

    def __init__(self, part: DatasetPart) -> None:
        self._count = len(part)
        self._blocks = part.read_once()
        self._block = slice(0, 0)
        self._images = np.empty((0, *part.image_shape), np.uint8)

    def take(self, start: int, stop: int) -> np.ndarray:
        """Return the images ``start:stop``, uint8 ``(B, H, W)``."""
        pieces = []
        while start < stop:
            if start >= self._block.stop:
                self._block, self._images = next(self._blocks)
            end = min(stop, self._block.stop)
            offset = self._block.start
            pieces.append(self._images[start - offset : end - offset])
            start = end
        if stop >= self._count:
            next(self._blocks, None)  # the reading ends: the last pages go too
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _passes(
    network: MLP,
    dataset: Dataset | DatasetPart,
    normalization: Normalization | None,
    batch_size: int,
    buffer: np.ndarray | None = None,
    threads: int | str | None = None,
    deskew: bool = False,
):
    """Yield ``(start, stop, loss, probabilities)`` for consecutive batches."""
    _check(network, dataset)
    if normalization is None:
        normalization = Normalization("scale", dataset.max_value)
    count = len(dataset)
    batch_size = max(1, min(int(batch_size), count))
    labels = dataset.labels
    if isinstance(dataset, DatasetPart) and not (deskew or dataset.deskewed):
        images, extra = dataset.flat_sources()
        rows = dataset.rows

        def inputs(start: int, stop: int, out: np.ndarray) -> np.ndarray:
            return fast.gather_normalized(
                images, rows[start:stop], normalization, out, extra=extra
            )

    else:
        reader = _InOrder(dataset) if isinstance(dataset, DatasetPart) else None

        def inputs(start: int, stop: int, out: np.ndarray) -> np.ndarray:
            if reader is None:
                raw = dataset.images[start:stop]
            else:
                raw = reader.take(start, stop)
            if deskew:
                raw = deskewed(raw)
            return normalization.apply(raw.reshape(stop - start, -1), out=out)

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
    batch_size: int = EVALUATION_BATCH,
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
        Of the best guesses, as `Evaluation.accuracy`.
    """
    total_loss = 0.0
    correct = 0
    answers = answer_classes(network, dataset)
    for start, stop, loss, probs in _passes(
        network, dataset, normalization, batch_size, buffer, threads
    ):
        total_loss += loss * (stop - start)
        guesses = answers[probs[:, answers].argmax(axis=1)]
        correct += int(np.count_nonzero(guesses == dataset.labels[start:stop]))
    count = len(dataset)
    return total_loss / count, correct / count


def evaluate(
    network: MLP,
    dataset: Dataset | DatasetPart,
    batch_size: int = EVALUATION_BATCH,
    normalization: Normalization | None = None,
    threads: int | str | None = None,
    deskew: bool = False,
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
    deskew : bool
        Deskew every image first (`core.slant.deskew`), for a model that reads
        images so (`core.model_io.SavedModel.deskews`).

    Returns
    -------
    Evaluation
    """
    count = len(dataset)
    classes = network.num_classes
    probabilities = np.empty((count, classes), np.float32)
    total_loss = 0.0
    for start, stop, loss, probs in _passes(
        network, dataset, normalization, batch_size, threads=threads, deskew=deskew
    ):
        total_loss += loss * (stop - start)
        probabilities[start:stop] = probs
    predictions = probabilities.argmax(axis=1)
    answers = answer_classes(network, dataset)
    guesses = answers[probabilities[:, answers].argmax(axis=1)]
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
        accuracy=float(np.count_nonzero(guesses == labels) / count),
        confusion=confusion.astype(np.int64),
        precision=precision,
        recall=recall,
        probabilities=probabilities,
        predictions=predictions,
        guesses=guesses,
        turned_away=float(np.count_nonzero(~np.isin(predictions, answers)) / count),
    )
