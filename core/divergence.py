"""When a training run has diverged: its loss is not finite, or finite but blown up.

Owns the rule training applies after every minibatch and epoch (`DivergenceWatch`,
built on `loss_blew_up` and `stuck_at_chance`), so that training and any later
guidance judge a run the same way. Pure Python and NumPy; never imports Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.losses import OUTPUTS

# A loss this many times its reference has blown up: a healthy run, even one with a
# learning rate high enough to make it jumpy, stays far below (docs/engine.md).
BLOW_UP_FACTOR = 10.0
# Weight of each minibatch in the smoothed training loss (about the last 10 to 20
# minibatches count), so that one unlucky minibatch is not taken for a blow-up.
SMOOTHING = 0.1
# At chance after an epoch with a loss this many times its reference: the run went
# the wrong way (a slow starter sits at chance with its loss near its start).
STUCK_FACTOR = 2.0
# Accuracy within this of the chance level (the largest class's share) is chance.
CHANCE_MARGIN = 0.05
_COUNT_BLOCK = 65536


def chance_loss(output: str, num_classes: int) -> float:
    """Return the loss of a network that knows nothing: all its outputs' inputs 0.

    ``log(num_classes)`` for softmax with cross-entropy, ``num_classes / 8`` for
    sigmoid outputs with the quadratic cost.
    """
    z = np.zeros((1, int(num_classes)))
    labels = np.zeros(1, np.intp)
    return OUTPUTS[output].forward_loss(z, labels, np.empty_like(z))


def chance_accuracy(labels: np.ndarray, num_classes: int) -> float:
    """Return the accuracy of always guessing the most common class of ``labels``."""
    if len(labels) == 0:
        return 1.0 / max(1, int(num_classes))
    # Counted in blocks: bincount copies its input as int64, 8 bytes an image.
    labels = np.asarray(labels).reshape(-1)
    counts = np.zeros(int(num_classes), np.int64)
    for start in range(0, len(labels), _COUNT_BLOCK):
        block = np.bincount(labels[start : start + _COUNT_BLOCK], minlength=len(counts))
        block[: len(counts)] += counts
        counts = block
    return float(counts.max()) / len(labels)


def loss_blew_up(loss: float, reference: float) -> bool:
    """Tell whether ``loss`` is not finite or above `BLOW_UP_FACTOR` x ``reference``.

    ``reference`` is the run's starting loss, at least the `chance_loss`.
    """
    return not math.isfinite(loss) or loss > BLOW_UP_FACTOR * reference


def stuck_at_chance(
    loss: float, accuracy: float, reference: float, chance: float
) -> bool:
    """Tell whether an epoch ended at chance accuracy with a loss that has risen.

    True when ``accuracy`` is within `CHANCE_MARGIN` of ``chance`` and ``loss`` is
    above `STUCK_FACTOR` x ``reference``.
    """
    return accuracy <= chance + CHANCE_MARGIN and loss > STUCK_FACTOR * reference


@dataclass(frozen=True)
class Divergence:
    """Why a run was judged diverged.

    Attributes
    ----------
    what : str
        ``"training loss"`` or ``"validation loss"``.
    value : float
        The loss that was judged (for minibatches, the larger of the last one's
        and the smoothed loss).
    reference : float
        The run's starting loss (at least the chance loss).
    accuracy : float or None
        Set when the run was judged stuck at chance rather than blown up.
    """

    what: str
    value: float
    reference: float
    accuracy: float | None = None

    def describe(self) -> str:
        """E.g. ``the training loss rose to 3.1e+04, over 10 times its start (2.3)``."""
        if not math.isfinite(self.value):
            return f"the {self.what} became {self.value}"
        start = f"its starting value ({self.reference:.3g})"
        if self.accuracy is None:
            return (
                f"the {self.what} rose to {self.value:.3g}, more than "
                f"{BLOW_UP_FACTOR:g} times {start}"
            )
        return (
            f"the {self.what} rose to {self.value:.3g}, more than {STUCK_FACTOR:g} "
            f"times {start}, while the accuracy stayed at chance "
            f"({100 * self.accuracy:.1f}%)"
        )


class DivergenceWatch:
    """Applies the divergence rule to one run's losses as they come.

    The reference is the first minibatch's loss (the untrained network's), or the
    `chance_loss` when that is larger, so that a run starting from good weights
    (a fine-tune) is not judged against a tiny loss.

    Parameters
    ----------
    output : str
        The network's output layer (a key of ``OUTPUTS``).
    num_classes : int
        Its number of outputs.
    chance : float
        The accuracy of guessing (`chance_accuracy` of the training labels).
    """

    def __init__(self, output: str, num_classes: int, chance: float) -> None:
        self.chance_loss = chance_loss(output, num_classes)
        self.chance = chance
        self.reference: float | None = None
        self.smoothed = math.nan

    def on_batch(self, loss: float) -> Divergence | None:
        """Judge a minibatch's training loss; None while the run is healthy."""
        if not math.isfinite(loss):
            return Divergence("training loss", loss, self.reference or math.nan)
        if self.reference is None:
            self.reference = max(loss, self.chance_loss)
            self.smoothed = self.reference
        self.smoothed += SMOOTHING * (loss - self.smoothed)
        if loss_blew_up(self.smoothed, self.reference):
            # The larger figure: one huge minibatch, or the smoothed rise.
            value = max(loss, self.smoothed)
            return Divergence("training loss", value, self.reference)
        return None

    def on_epoch(
        self,
        train_loss: float,
        train_accuracy: float,
        validation_loss: float | None = None,
    ) -> Divergence | None:
        """Judge an epoch: its training loss and accuracy, and the validation loss.

        The validation loss only counts when it is not finite: a validation loss
        that grows while training goes well is overfitting (or data unlike the
        training data), not divergence.
        """
        if validation_loss is not None and not math.isfinite(validation_loss):
            return Divergence("validation loss", validation_loss, math.nan)
        reference = self.chance_loss if self.reference is None else self.reference
        if loss_blew_up(train_loss, reference):
            return Divergence("training loss", train_loss, reference)
        if stuck_at_chance(train_loss, train_accuracy, reference, self.chance):
            return Divergence("training loss", train_loss, reference, train_accuracy)
        return None
