"""Output layers paired with their cost, and the registry ``OUTPUTS``.

Each output layer knows its forward pass, its mean loss over a batch and the
gradient of that loss with respect to its pre-activation. Imports NumPy and the
activations.
"""

from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS


def _rows(labels: np.ndarray) -> np.ndarray:
    return np.arange(labels.shape[0])


class OutputLayer:
    """Base class: an output non-linearity with its matching cost.

    Labels are integer class indices of shape ``(B,)``; probabilities and
    pre-activations have shape ``(B, K)``.
    """

    name = ""

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write the output activations for pre-activations ``z`` into ``out``."""
        raise NotImplementedError

    def loss(self, probs: np.ndarray, labels: np.ndarray) -> float:
        """Return the loss averaged over the batch, from the output activations."""
        raise NotImplementedError

    def forward_loss(self, z: np.ndarray, labels: np.ndarray, out: np.ndarray) -> float:
        """Run ``forward`` into ``out`` and return the mean loss, computed stably."""
        self.forward(z, out)
        return self.loss(out, labels)

    def delta(
        self, probs: np.ndarray, labels: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Write dL/dz of the mean loss into ``out`` (shape ``(B, K)``)."""
        raise NotImplementedError

    def log_probability_gradient(
        self, probs: np.ndarray, class_index: np.ndarray
    ) -> np.ndarray:
        """Return d log(output[class]) / dz, shape ``(B, K)``, for explanations."""
        raise NotImplementedError


def _shift_by_row_maximum(z: np.ndarray) -> None:
    # Logits beyond +-1.7e38 may overflow to -inf here; exp then gives 0.
    with np.errstate(over="ignore"):
        z -= z.max(axis=1, keepdims=True)


def cross_entropy_from_sums(sums: np.ndarray, picked: np.ndarray) -> float:
    """Mean cross-entropy from each row's sum of exp(shifted logits), ``(B,)``.

    ``picked`` ``(B,)`` holds each row's shifted logit at its label; the loss is
    the mean of ``log(sums) - picked``.
    """
    return (float(np.log(sums).sum()) - float(picked.sum())) / picked.shape[0]


class SoftmaxCrossEntropy(OutputLayer):
    """Softmax output with cross-entropy cost ``-mean(log p[label])``."""

    name = "softmax_cross_entropy"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Softmax of each row, shifted by the row maximum so exp never overflows."""
        if out is not z:
            np.copyto(out, z)
        _shift_by_row_maximum(out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def loss(self, probs: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy; probabilities are floored at the dtype's tiny value."""
        picked = probs[_rows(labels), labels]
        tiny = np.finfo(probs.dtype).tiny
        return float(-np.mean(np.log(np.maximum(picked, tiny))))

    def forward_loss(self, z: np.ndarray, labels: np.ndarray, out: np.ndarray) -> float:
        """Softmax into ``out`` and the exact log-sum-exp cross-entropy.

        The loss uses ``log(sum(exp(z - max))) - (z[label] - max)``, which stays
        finite even when a probability underflows to zero.
        """
        if out is not z:
            np.copyto(out, z)
        _shift_by_row_maximum(out)
        picked = out[_rows(labels), labels]
        np.exp(out, out=out)
        sums = out.sum(axis=1)
        out /= sums[:, None]
        return cross_entropy_from_sums(sums, picked)

    def delta(
        self, probs: np.ndarray, labels: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Softmax with cross-entropy gives ``(p - onehot) / B``."""
        if out is not probs:
            np.copyto(out, probs)
        out[_rows(labels), labels] -= 1.0
        out *= 1.0 / labels.shape[0]
        return out

    def log_probability_gradient(
        self, probs: np.ndarray, class_index: np.ndarray
    ) -> np.ndarray:
        """Return d log p_c / dz, which is ``onehot_c - p``."""
        grad = -probs
        grad[_rows(class_index), class_index] += 1.0
        return grad


class SigmoidQuadratic(OutputLayer):
    """Sigmoid output with the textbook quadratic cost ``0.5 * ||a - y||^2``.

    The squared error is summed over the outputs and averaged over the batch;
    ``y`` is the one-hot encoding of the label.
    """

    name = "sigmoid_quadratic"

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Element-wise logistic sigmoid."""
        return ACTIVATIONS["sigmoid"].forward(z, out)

    def _error(self, a: np.ndarray, labels: np.ndarray) -> np.ndarray:
        error = a.copy()
        error[_rows(labels), labels] -= 1.0
        return error

    def loss(self, probs: np.ndarray, labels: np.ndarray) -> float:
        """Mean over the batch of half the summed squared error."""
        error = self._error(probs, labels)
        return float(0.5 * np.einsum("ij,ij->", error, error) / labels.shape[0])

    def delta(
        self, probs: np.ndarray, labels: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Write ``(a - y) * a * (1 - a) / B``, the sigmoid derivative from ``a``."""
        a = probs
        if out is not a:
            np.copyto(out, a)
        out[_rows(labels), labels] -= 1.0
        out *= a
        out *= (1.0 - a) * (1.0 / labels.shape[0])
        return out

    def log_probability_gradient(
        self, probs: np.ndarray, class_index: np.ndarray
    ) -> np.ndarray:
        """Return d log a_c / dz: ``1 - a_c`` at the class, zero elsewhere."""
        grad = np.zeros_like(probs)
        rows = _rows(class_index)
        grad[rows, class_index] = 1.0 - probs[rows, class_index]
        return grad


OUTPUTS: dict[str, OutputLayer] = {
    "softmax_cross_entropy": SoftmaxCrossEntropy(),
    "sigmoid_quadratic": SigmoidQuadratic(),
}
