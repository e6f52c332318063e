"""Keeping a network's answers while it learns more (knowledge distillation).

A fine-tune teaches a few drawings, mixed with some of the model's training images;
trained on those alone, the network drifts on everything else (the MNIST test set
lost up to 0.45 points in `bench.drawings_teach`). With a `Distillation` every step
also trains on a few of the training images, augmented as the model was first
trained, towards the answers the network gave before: what it read before is kept
beyond the images the step sees. Pure NumPy; used by `core.training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.augment import AugmentConfig, augment_batch
from core.datasets import DatasetPart, Normalization
from core.network import MLP


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
    """One run's buffers for a `Distillation`: the gradients of a step's kept part.

    The images are drawn, augmented and answered by the teacher `BLOCK` at a time:
    each call of augmentation has a fixed cost that a few images a step would pay
    again and again (a fine-tune at 64 a step: 16.5 s so, 20.0 s one step at a time).
    """

    BLOCK = 512

    def __init__(
        self,
        distillation: Distillation,
        network: MLP,
        normalization: Normalization,
        rng: np.random.Generator,
        digits: bool,
    ) -> None:
        """``digits``: the classes are digits (augmentation's style strokes)."""
        self.distillation = distillation
        self.normalization = normalization
        self.rng = rng
        images = distillation.images
        self.labels = images.labels.astype(np.intp) if digits else None
        block = max(self.BLOCK, distillation.batch)
        self.inputs = np.empty((block, images.input_size), np.float32)
        self.targets = np.empty((block, network.num_classes), network.dtype)
        self.used = block  # every row of the block used: draw the next one first
        self.kept_gradients = [np.empty_like(p) for p in network.parameters()]

    def gradients(self, network: MLP, dropout: float) -> list[np.ndarray] | None:
        """Return ``weight`` times the gradients towards the teacher's answers.

        For ``batch`` images drawn at random and augmented; None when the loss is
        not finite. Call before the step's own gradients: both use the network's
        buffers, and these are copied out.
        """
        distillation = self.distillation
        if self.used + distillation.batch > len(self.inputs):
            self._next_block()
        rows = slice(self.used, self.used + distillation.batch)
        self.used = rows.stop
        inputs = self.inputs[rows].astype(network.dtype, copy=False)
        targets = self.targets[rows]
        loss, grads, _ = network.loss_and_gradients(
            inputs, targets.argmax(axis=1), dropout, 0.0, self.rng, targets=targets
        )
        if not np.isfinite(loss):
            return None
        for out, grad in zip(self.kept_gradients, grads, strict=True):
            np.multiply(grad, distillation.weight, out=out)
        return self.kept_gradients

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
