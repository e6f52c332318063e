"""Keeping a network's answers while it learns more (knowledge distillation).

A fine-tune teaches a few drawings, mixed with some of the model's training images;
trained on those alone, the network drifts on everything else (the MNIST test set
lost up to 0.45 points in `bench.drawings_teach`). With a `Distillation` every step
also trains on a few of the training images, augmented as the model was first
trained, towards the answers the network gave before: what it read before is kept
beyond the images the step sees. Pure NumPy; used by `core.training`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.augment import AugmentConfig, augment_batch
from core.datasets import DatasetPart, Normalization
from core.losses import OUTPUTS
from core.network import MLP, Gradients

# The step's own loss, as the network reports it without kept rows.
_CROSS_ENTROPY = OUTPUTS["softmax_cross_entropy"]


@dataclass(frozen=True, eq=False)
class Distillation:
    """What a run keeps of a network's earlier answers, and how strongly.

    Attributes
    ----------
    teacher : MLP
        The network as it answered before (a copy: it is run in the training
        thread), with the trained network's inputs and outputs and a softmax.
    images : DatasetPart
        The images to keep its answers on, as the run reads them.
    augment : AugmentConfig
        How each drawn image is varied first (the teacher's own training's).
    weight : float
        Of the kept answers' cross-entropy against the step's own loss.
    batch : int
        Images drawn each step.
    """

    teacher: MLP
    images: DatasetPart
    augment: AugmentConfig
    weight: float
    batch: int


class KeptAnswers:
    """One run's buffers for a `Distillation`: each step's rows with the kept ones.

    A step trains its own rows and ``batch`` kept ones in one pass: most of a small
    batch's cost is each call's fixed cost (a fine-tune of 20 drawings took 10.8 s
    in two passes a step, 9 s in one, 6 s keeping nothing).
    The kept images are drawn, augmented and answered by the teacher `BLOCK` at a
    time: each call of augmentation has a fixed cost that a few images a step
    would pay again and again (a fine-tune at 64 a step: 16.5 s so, 20.0 s one
    step at a time).
    """

    BLOCK = 512

    def __init__(
        self,
        distillation: Distillation,
        network: MLP,
        normalization: Normalization,
        rng: np.random.Generator,
        digits: bool,
        batch: int,
    ) -> None:
        """Size the buffers for steps of up to ``batch`` rows of their own.

        ``digits``: the classes are digits (augmentation's style strokes).
        """
        self.distillation = distillation
        self.network = network
        self.normalization = normalization
        self.rng = rng
        images = distillation.images
        self.labels = images.labels.astype(np.intp) if digits else None
        block = max(self.BLOCK, distillation.batch)
        self.inputs = np.empty((block, images.input_size), np.float32)
        self.targets = np.empty((block, network.num_classes), network.dtype)
        self.used = block  # every row of the block used: draw the next one first
        rows = batch + distillation.batch
        self.joined_inputs = np.empty((rows, images.input_size), network.dtype)
        self.joined_labels = np.empty(rows, np.intp)
        self.joined_targets = np.empty((rows, network.num_classes), network.dtype)
        self.joined_weights = np.empty(rows, network.dtype)

    def loss_and_gradients(
        self,
        inputs: np.ndarray,
        labels: np.ndarray,
        dropout: float,
        l2: float,
        rng: np.random.Generator,
    ) -> Gradients:
        """`MLP.loss_and_gradients` of a step's rows, with ``batch`` kept rows added.

        The gradients are those of the step's mean loss plus ``weight`` times the
        kept rows' mean cross-entropy against the teacher's answers; the loss and
        the probabilities are the step's rows' own. The loss is NaN when the whole
        cost is not finite.
        """
        distillation = self.distillation
        if self.used + distillation.batch > len(self.inputs):
            self._next_block()
        kept = slice(self.used, self.used + distillation.batch)
        self.used = kept.stop
        size, total = len(labels), len(labels) + distillation.batch
        joined = slice(size, total)
        X = self.joined_inputs[:total]
        X[:size] = inputs
        X[joined] = self.inputs[kept]
        targets = self.joined_targets[:total]
        targets[:size] = 0.0
        targets[np.arange(size), labels] = 1.0
        targets[joined] = self.targets[kept]
        all_labels = self.joined_labels[:total]
        all_labels[:size] = labels
        np.argmax(targets[joined], axis=1, out=all_labels[joined])
        weights = self.joined_weights[:total]
        weights[:size] = 1.0 / size
        weights[joined] = distillation.weight / distillation.batch
        cost, grads, probabilities = self.network.loss_and_gradients(
            X, all_labels, dropout, l2, rng, targets=targets, weights=weights
        )
        own = probabilities[:size]
        loss = _CROSS_ENTROPY.loss(own, labels) if math.isfinite(cost) else math.nan
        return Gradients(loss, grads, own)

    def _next_block(self) -> None:
        distillation = self.distillation
        inputs = self.inputs
        rows = self.rng.integers(0, len(distillation.images), len(inputs))
        raw = distillation.images.images_at(rows)
        augment_batch(
            raw,
            distillation.augment,
            self.rng,
            distillation.images.max_value,
            out=inputs.reshape(raw.shape),
            labels=None if self.labels is None else self.labels[rows],
        )
        self.normalization.apply(inputs, out=inputs)
        teacher = distillation.teacher
        answers = teacher.forward(inputs.astype(teacher.dtype, copy=False), copy=False)
        np.copyto(self.targets, answers, casting="same_kind")
        self.used = 0
