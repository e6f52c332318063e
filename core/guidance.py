"""Guidance: plain-language warnings about a run, each with fixes for the next run.

Owns the rules (`advise`: the loss exploding, not learning, vanishing gradients,
overfitting), `Advice` and `Fix`. They read a run's history rows as a model file
stores them (health figures included, ``core.health``) and its settings; when a run
has diverged is ``core.divergence``'s judgement. Pure Python; never imports Qt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.divergence import CHANCE_MARGIN, chance_accuracy
from core.health import HEALTH_FIELDS
from core.presets import PRESETS
from core.run import PreparedRun
from core.training import TrainingConfig

ADVICE_KINDS = ("exploding", "vanishing", "not_learning", "overfitting")
# Not learning: after this many epochs the accuracy is still at chance and the
# training loss changed by less than FLAT_CHANGE of itself over the last epoch.
NOT_LEARNING_EPOCHS = 2
FLAT_CHANGE = 0.02
# Steps this small against the weights (update-to-weight ratio, per step) move them
# too slowly to learn in a few epochs; a healthy run's are about 1e-3.
SMALL_UPDATE = 1e-4
LARGE_UPDATE = 1e-1
MOSTLY_INACTIVE = 0.5
# The loss is growing: it rose in each of the last GROWING_EPOCHS epochs, to this
# many times its lowest epoch value.
GROWING_EPOCHS = 2
GROWING_FACTOR = 1.5
# Vanishing gradients: the first layer's gradient norm and its update-to-weight
# ratio are both below this share of the largest layer's.
VANISHING_RATIO = 0.01
# Overfitting: the validation loss is this share above its lowest value, reached at
# least OVERFIT_EPOCHS epochs ago, while the training loss went on falling.
OVERFIT_RISE = 0.1
OVERFIT_EPOCHS = 2
# ... and the training accuracy is at least this much above the validation accuracy.
OVERFIT_GAP = 0.02
# Initialisation that suits each activation (He for ReLU, Glorot for S-shapes).
SUITED_INIT = {"relu": "he", "leaky_relu": "he", "sigmoid": "xavier", "tanh": "xavier"}


@dataclass(frozen=True)
class Fix:
    """One click's worth of settings for the next run.

    Attributes
    ----------
    label : str
        What the button says after "Apply: ", e.g. ``lr 0.01``.
    changes : tuple of (str, object)
        ``TrainingConfig`` fields and their new values.
    why : str
        One sentence for the tooltip.
    """

    label: str
    changes: tuple[tuple[str, Any], ...]
    why: str

    def settings(self) -> dict[str, Any]:
        """Return the changes as keyword arguments of ``TrainingConfig.replace``."""
        return dict(self.changes)


@dataclass(frozen=True)
class Advice:
    """A warning about the run, in plain words, with what to change.

    Attributes
    ----------
    kind : str
        One of `ADVICE_KINDS`.
    title : str
        A few words, e.g. ``The network is not learning``.
    text : str
        What the figures show and why it matters.
    fixes : tuple of Fix
        Settings for the next run, the likeliest first.
    """

    kind: str
    title: str
    text: str
    fixes: tuple[Fix, ...]


@dataclass(frozen=True)
class RunFacts:
    """What the rules know about a run besides its history.

    Attributes
    ----------
    config : TrainingConfig
        The run's settings.
    chance_accuracy : float
        The accuracy of guessing the commonest training class.
    stopped : str or None
        Why the run ended (``core.training.STOP_REASONS``); None while it runs.
    """

    config: TrainingConfig
    chance_accuracy: float
    stopped: str | None = None


def run_facts(prepared: PreparedRun, stopped: str | None = None) -> RunFacts:
    """Return the facts of a prepared run (its chance level from its training part)."""
    labels = prepared.train_set.labels
    return RunFacts(
        prepared.config,
        chance_accuracy(labels, prepared.network.num_classes),
        stopped,
    )


def advise(history: Sequence[Mapping[str, Any]], facts: RunFacts) -> list[Advice]:
    """Return the warnings a run's history calls for, the most urgent first.

    Parameters
    ----------
    history : sequence of dict
        This run's epochs, oldest first (``EpochEvent`` fields, or a model file's
        rows of one phase).
    facts : RunFacts
        The run's settings, chance level and how it ended.

    Returns
    -------
    list of Advice
        Empty for a healthy run. Vanishing gradients, when found, stand for the
        "not learning" they cause.
    """
    found = [
        rule(history, facts)
        for rule in (exploding, vanishing, not_learning, overfitting)
    ]
    advice = [item for item in found if item is not None]
    if any(item.kind == "vanishing" for item in advice):
        advice = [item for item in advice if item.kind != "not_learning"]
    return advice


def exploding(history: Sequence[Mapping[str, Any]], facts: RunFacts) -> Advice | None:
    """Warn when the run diverged (``core.divergence``) or its loss keeps growing."""
    rate = facts.config.learning_rate
    if facts.stopped == "diverged":
        text = (
            f"The loss blew up and training stopped: at a learning rate of {rate:g} "
            "each step overshoots, and the next overshoots further."
        )
    else:
        losses = _column(history, "train_loss")
        recent = losses[-(GROWING_EPOCHS + 1) :]
        if len(recent) < GROWING_EPOCHS + 1 or not all(
            later > earlier for earlier, later in zip(recent, recent[1:], strict=False)
        ):
            return None
        lowest = min(losses)
        if not recent[-1] >= GROWING_FACTOR * lowest:
            return None
        text = (
            f"The training loss has grown for {GROWING_EPOCHS} epochs, to "
            f"{recent[-1]:.3g} from a low of {lowest:.3g}: at a learning rate of "
            f"{rate:g} the steps overshoot."
        )
    return Advice(
        "exploding",
        "The loss is exploding",
        text + " Lower the learning rate.",
        (_rate_fix(facts.config, 0.1, "A smaller step that does not overshoot."),),
    )


def not_learning(
    history: Sequence[Mapping[str, Any]], facts: RunFacts
) -> Advice | None:
    """Warn at chance accuracy with a flat loss after `NOT_LEARNING_EPOCHS` epochs."""
    if len(history) < NOT_LEARNING_EPOCHS or facts.stopped == "diverged":
        return None
    last, before = history[-1], history[-2]
    loss, previous = last.get("train_loss"), before.get("train_loss")
    accuracy = last.get("train_accuracy")
    if loss is None or previous is None or accuracy is None:
        return None
    if accuracy > facts.chance_accuracy + CHANCE_MARGIN:
        return None
    if abs(loss - previous) > FLAT_CHANGE * abs(previous):
        return None
    config = facts.config
    health = _latest_health(history)
    updates = health.get("update_ratio") or []
    inactive = health.get("inactive_share") or []
    largest_update = max(updates, default=math.nan)
    text = (
        f"After {len(history)} epochs the training accuracy is "
        f"{100 * accuracy:.1f}%, what guessing gives, and the loss hardly moves "
        f"({previous:.4g} to {loss:.4g})."
    )
    fixes = []
    mostly_inactive = max(inactive, default=0.0) > MOSTLY_INACTIVE
    if largest_update >= LARGE_UPDATE or mostly_inactive:
        text += (
            " Its steps are large and most units have stopped responding, so the "
            "learning rate is more likely too high than too low."
        )
        fixes.append(_rate_fix(config, 0.1, "Smaller steps that do not saturate."))
    else:
        if largest_update < SMALL_UPDATE:
            text += (
                f" Each step changes the weights by only {largest_update:.1e} of "
                "their size: the steps are too small."
            )
        fixes.append(_rate_fix(config, 10.0, "Larger steps, so the weights move."))
    suited = SUITED_INIT.get(config.activation)
    if suited is not None and config.init != suited:
        fixes.append(
            Fix(
                f"{_INIT_NAMES[suited]} init",
                (("init", suited),),
                f"Starting weights scaled for {config.activation}, so signals and "
                "gradients keep their size through the layers.",
            )
        )
    return Advice(
        "not_learning",
        "The network is not learning",
        text,
        tuple(fixes),
    )


def vanishing(history: Sequence[Mapping[str, Any]], facts: RunFacts) -> Advice | None:
    """Warn when a deep sigmoid or tanh stack's first layers hardly get a gradient."""
    config = facts.config
    if config.activation not in ("sigmoid", "tanh") or len(config.hidden_sizes) < 2:
        return None
    health = _latest_health(history)
    norms = health.get("gradient_norm")
    updates = health.get("update_ratio")
    if not norms or not updates or None in norms or None in updates:
        return None
    if not (
        norms[0] < VANISHING_RATIO * max(norms)
        and updates[0] < VANISHING_RATIO * max(updates)
    ):
        return None
    listed = ", ".join(f"{value:.1e}" for value in norms)
    text = (
        f"The gradient shrinks on its way back through the {len(norms) - 1} "
        f"{config.activation} layers (norm per layer, first to last: {listed}); "
        f"the first layer's weights change {max(updates) / updates[0]:,.0f} times "
        "more slowly than the fastest layer's, so the early layers barely learn. "
        "ReLU units pass the gradient back undiminished where they are active, and "
        "He initialisation keeps its size from layer to layer."
    )
    return Advice(
        "vanishing",
        "The gradients vanish",
        text,
        (
            Fix(
                "ReLU + He init",
                (("activation", "relu"), ("init", "he")),
                "ReLU hidden units with He initialisation.",
            ),
            Fix(
                "He init",
                (("init", "he"),),
                f"Keep {config.activation} units but start from larger weights "
                "(N(0, 2/fan_in)).",
            ),
        ),
    )


def _not_memorising(last: Mapping[str, Any]) -> bool:
    """Return True when the training images are read less than `OVERFIT_GAP` better.

    Memorising shows as a gap between the two accuracies. Without one, a rising
    validation loss is noise or a few digits answered wrong more confidently:
    `recommended`'s 500 validation images move its loss between 0.16 and 0.27 from
    one epoch to the next while their accuracy climbs to 99%, above the training
    accuracy (its images augmented, its units dropped).
    """
    train, validation = last.get("train_accuracy"), last.get("validation_accuracy")
    if train is None or validation is None:
        return False
    return train - validation < OVERFIT_GAP


def overfitting(history: Sequence[Mapping[str, Any]], facts: RunFacts) -> Advice | None:
    """Warn when the validation loss rises while the training loss falls.

    Only while the training images are read better than the validation images
    (`_not_memorising`).
    """
    rows = [
        (index, row)
        for index, row in enumerate(history)
        if row.get("validation_loss") is not None and row.get("train_loss") is not None
    ]
    if len(rows) < OVERFIT_EPOCHS + 1:
        return None
    best_index, best = min(rows, key=lambda pair: pair[1]["validation_loss"])
    last_index, last = rows[-1]
    lowest = best["validation_loss"]
    if (
        last_index - best_index < OVERFIT_EPOCHS
        or last["validation_loss"] < (1 + OVERFIT_RISE) * lowest
        or last["train_loss"] >= best["train_loss"]
        or _not_memorising(last)
    ):
        return None
    config = facts.config
    text = (
        f"Since epoch {best.get('epoch', best_index + 1)} the validation loss rose "
        f"from {lowest:.3g} to {last['validation_loss']:.3g} while the training "
        f"loss fell from {best['train_loss']:.3g} to {last['train_loss']:.3g}: the "
        "network is memorising its training images instead of learning what "
        "digits look like."
    )
    fixes = []
    if config.dropout < 0.5:
        dropout = 0.2 if config.dropout < 0.2 else round(config.dropout + 0.1, 2)
        fixes.append(
            Fix(
                f"dropout {dropout:g}",
                (("dropout", dropout),),
                "Drop hidden units at random while training, so no unit can rely "
                "on a few others.",
            )
        )
    l2 = 1e-4 if config.l2 <= 0 else config.l2 * 10
    fixes.append(
        Fix(
            f"L2 {l2:g}",
            (("l2", l2),),
            "Penalise large weights (weight decay), which memorising needs.",
        )
    )
    if not config.augment.is_active:
        fixes.append(
            Fix(
                "augmentation",
                (("augment", PRESETS["recommended"].config.augment),),
                "Shift, rotate, scale and warp each minibatch at random: more "
                "varied images to learn from.",
            )
        )
    if config.early_stopping_patience == 0:
        fixes.append(
            Fix(
                "early stopping",
                (("early_stopping_patience", 5),),
                "Stop after 5 epochs without a better validation loss and keep the "
                "best epoch's weights.",
            )
        )
    return Advice("overfitting", "The network is overfitting", text, tuple(fixes))


_INIT_NAMES = {
    "he": "He",
    "xavier": "Glorot",
    "textbook": "textbook",
    "normal": "N(0,1)",
}


def _rate_fix(config: TrainingConfig, factor: float, why: str) -> Fix:
    rate = _round(config.learning_rate * factor)
    changes: list[tuple[str, Any]] = [("learning_rate", rate)]
    if config.min_learning_rate > rate:
        changes.append(("min_learning_rate", rate))
    return Fix(f"lr {rate:g}", tuple(changes), why)


def _round(value: float) -> float:
    """One significant digit: 0.0003 stays, 0.025 becomes 0.03."""
    return float(f"{value:.1g}")


def _column(history: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    return [row[name] for row in history if row.get(name) is not None]


def _latest_health(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Return the latest row holding health figures (sampling skips some epochs)."""
    for row in reversed(history):
        if any(row.get(name) is not None for name in HEALTH_FIELDS):
            return row
    return {}
