"""The answer to a drawing: a digit, "not sure", or nothing drawn, and why.

Owns `Judge` (one model's calibrated threshold, the same in the app and the CLI) and
`Verdict`. A drawing is answered when its best digit leads the model's "not a
digit" output (0 for a model without one) by a calibrated margin, an optional
novelty score (for example `core.confidence`'s subspaces) is at most 1, and it was
not drawn tiny. The margin is set on held-out real digits for a share of false
rejections; a drawing (what `core.preprocess` reworks from a canvas larger than the
dataset's images) has to clear a second, stricter one, set for a larger share.
Pure NumPy; never imports Qt, never reads files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np

__all__ = [
    "NOT_A_DIGIT",
    "VERDICTS",
    "WIDE_PEN_REASON",
    "Judge",
    "JudgementError",
    "Verdict",
    "digit_class_names",
    "not_a_digit_output",
]

VERDICTS = ("digit", "not_sure", "nothing_drawn")
# The class name of the optional output that means "this is not a digit".
NOT_A_DIGIT = "not a digit"
# A drawing whose strokes span less than this share of the canvas is a stray mark
# (about 20 px on the 280 px canvas), not a digit.
_MIN_SIZE = 0.07
# Why a drawing whose pen is too wide for its size (`core.preprocess`) is not
# answered: its strokes run together, and a person can do something about it.
WIDE_PEN_REASON = (
    "The pen is too wide for a drawing this small: draw it larger or use a thinner pen."
)
# The calibrated margin stays in this range: too low says nothing, and a model
# scored on images it trained on would set it too high. With a "not a digit"
# output the margin may be negative: real digits the model half takes for
# something else are still answered; at -0.95 only a drawing the model holds 97.5%
# sure to be no digit is turned away (a model trained on 5,000 digits is that sure
# of 2% of MNIST's test digits).
_MARGIN_RANGE = (0.3, 0.8)
_MARGIN_RANGE_WITH_OTHER = (-0.95, 0.8)
# A drawing clears a stricter margin, set for this much more of the calibration
# digits: letters and shapes that come near it are the commoner mistake. Where it
# sits was chosen on `recommended` (trained with the pen digits) against both
# kinds of drawing: at 6 points more, about 2% of the made-up drawn digits and of
# the digits 14 unseen people wrote (UCI's pen digits, .tes) are answered "not sure",
# 87.4% of the non-digits turned away; at 2.3 points 1.2%, 1.2%, 84.4%; at 9
# points digits set in type pass 5% "not sure" (bench/RESULTS.md, twenty-second
# session). MNIST's own images keep the first margin.
DRAWING_EXTRA_REJECTION = 0.06
_REQUIRED = object()
# Stored keys that may be null: a model without the output, files from before
# drawings had a margin of their own (they keep the one margin for everything).
_MAY_BE_NONE = ("not_a_digit_class", "drawing_margin", "drawing_false_rejection")
# What `Judge.to_dict` stores, with the defaults of keys that may be left out.
_STORED = {
    "digit_classes": _REQUIRED,
    "not_a_digit_class": None,
    "min_margin": _REQUIRED,
    "min_size": _MIN_SIZE,
    "false_rejection": 0.02,
    "drawing_margin": None,
    "drawing_false_rejection": None,
}


class JudgementError(ValueError):
    """Thresholds cannot be set or applied with the given data; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """The answer to one drawing.

    Attributes
    ----------
    verdict : str
        ``"digit"`` (state it), ``"not_sure"`` or ``"nothing_drawn"``.
    digit : int or None
        Index of the most probable digit class, also when not sure; None only when
        nothing is drawn.
    confidence : float
        That class's probability (0 when nothing is drawn).
    reason : str
        Empty for ``"digit"``; otherwise one sentence for the user.
    not_a_digit : float
        Probability the model gives to "not a digit" (0 without that output).
    """

    verdict: str
    digit: int | None
    confidence: float
    reason: str
    not_a_digit: float = 0.0


@dataclass(frozen=True)
class Judge:
    """Thresholds that turn a model's probabilities into verdicts.

    Attributes
    ----------
    digit_classes : int
        Outputs ``0 .. digit_classes - 1`` are digits.
    not_a_digit_class : int or None
        Index of the "not a digit" output, or None when the model has none.
    min_margin : float
        Least lead of the best digit's probability over "not a digit" for an
        answer; without that output, the least probability of the best digit.
    min_size : float
        Smallest drawing answered, as a share of the canvas (see
        `core.preprocess.Conversion.size`).
    false_rejection : float
        The share of the calibration digits (real held-out digits, or moved copies
        of them) the thresholds allowed to be turned away.
    drawing_margin : float or None
        `min_margin` for drawings (`judge`'s ``drawing``); None: the same.
    drawing_false_rejection : float or None
        The share of the calibration digits `drawing_margin` was set to turn away.
    novelty : callable or None
        uint8 ``(B, H, W)`` images to float ``(B,)``; above 1 means "unlike any
        digit". Not stored by `to_dict`.
    """

    digit_classes: int = 10
    not_a_digit_class: int | None = None
    min_margin: float = 0.5
    min_size: float = _MIN_SIZE
    false_rejection: float = 0.02
    drawing_margin: float | None = None
    drawing_false_rejection: float | None = None
    novelty: Callable[[np.ndarray], np.ndarray] | None = field(
        default=None, compare=False, repr=False
    )

    @classmethod
    def calibrate(
        cls,
        probabilities: np.ndarray,
        class_names: tuple[str, ...],
        false_rejection: float = 0.02,
        novelty: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Judge:
        """Set the thresholds on real digits the model has not trained on.

        Parameters
        ----------
        probabilities : np.ndarray
            float ``(N, C)``: the model's output on ``N >= 20`` held-out real digits.
        class_names : tuple of str
            The model's class names: digits first, then perhaps `NOT_A_DIGIT`.
        false_rejection : float
            Share of those digits that may be turned away, in ``(0, 0.5)``; the
            drawings' margin is set for `DRAWING_EXTRA_REJECTION` more.
        novelty : callable, optional
            Kept as is (its own limit is 1).

        Returns
        -------
        Judge
        """
        probabilities = np.asarray(probabilities, np.float64)
        names = tuple(class_names)
        if probabilities.ndim != 2 or probabilities.shape[1] != len(names):
            raise JudgementError(
                f"probabilities must be (N, {len(names)}), got {probabilities.shape}"
            )
        if len(probabilities) < 20:
            raise JudgementError(
                f"at least 20 held-out digits are needed, got {len(probabilities)}"
            )
        if not 0.0 < false_rejection < 0.5:
            raise JudgementError(
                f"false_rejection must be between 0 and 0.5, got {false_rejection}"
            )
        other = not_a_digit_output(names)
        digits = len(names) - (other is not None)
        judge = cls(digits, other, false_rejection=float(false_rejection))
        limits = _MARGIN_RANGE if other is None else _MARGIN_RANGE_WITH_OTHER
        drawing_share = min(false_rejection + DRAWING_EXTRA_REJECTION, 0.49)
        margins = np.quantile(
            judge._margins(probabilities), [false_rejection, drawing_share]
        )
        margin, drawing_margin = np.clip(margins, *limits)
        return replace(
            judge,
            min_margin=float(margin),
            drawing_margin=float(drawing_margin),
            drawing_false_rejection=float(drawing_share),
            novelty=novelty,
        )

    @classmethod
    def for_model(
        cls,
        model,
        reference: np.ndarray,
        false_rejection: float = 0.02,
        novelty: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Judge:
        """Calibrate for a model on reference digits (one forward pass).

        Parameters
        ----------
        model : core.model_io.SavedModel
            Anything with ``predict_proba(images)`` and ``class_names``.
        reference : np.ndarray
            uint8 ``(N, H, W)`` real digits, best held out from its training (its
            validation split); digits it trained on make the thresholds strict.
        """
        probabilities = model.predict_proba(np.asarray(reference))
        return cls.calibrate(
            probabilities, tuple(model.class_names), false_rejection, novelty
        )

    def judge(
        self,
        probabilities: np.ndarray | None,
        image: np.ndarray | None = None,
        size: float | None = None,
        wide_pen: bool = False,
        drawing: bool = False,
    ) -> Verdict:
        """Return the verdict on one drawing.

        Parameters
        ----------
        probabilities : np.ndarray or None
            ``(C,)`` the model's output; None when nothing is drawn (the
            conversion returned None).
        image : np.ndarray, optional
            The converted ``(H, W)`` image, for the novelty score.
        size : float, optional
            `core.preprocess.Conversion.size`; None skips the size check.
        wide_pen : bool
            `core.preprocess.Conversion.wide_pen`: a drawing not answered then
            says the pen is the likely cause (the verdict is the same).
        drawing : bool
            `core.preprocess.Conversion.drawing`: the image was reworked from a
            drawing, and must clear `drawing_margin`.
        """
        if probabilities is None:
            return Verdict("nothing_drawn", None, 0.0, "Nothing is drawn yet.")
        p = np.asarray(probabilities, np.float64).reshape(-1)
        if p.size < self.digit_classes:
            raise JudgementError(
                f"expected {self.digit_classes} or more probabilities, got {p.size}"
            )
        order = np.argsort(p[: self.digit_classes])[::-1]
        best, second = int(order[0]), int(order[1])
        confidence = float(p[best])
        other = 0.0
        if self.not_a_digit_class is not None:
            other = float(p[self.not_a_digit_class])
        novel = False
        if self.novelty is not None and image is not None:
            score = self.novelty(np.asarray(image)[None])
            novel = float(np.asarray(score).reshape(-1)[0]) > 1.0
        short = confidence - other < self.margin_for(drawing)
        reason = ""
        if size is not None and size < self.min_size:
            reason = "Too small to read: draw the digit larger."
        elif wide_pen and (novel or short):
            reason = WIDE_PEN_REASON
        elif novel or (short and other > p[second]):
            reason = "This does not look like a digit."
        elif short:
            reason = f"Too close to call between {best} and {second}."
        verdict = "not_sure" if reason else "digit"
        return Verdict(verdict, best, confidence, reason, other)

    def verdicts(
        self,
        probabilities: np.ndarray,
        images: np.ndarray | None = None,
        sizes: np.ndarray | None = None,
        drawings: np.ndarray | bool = False,
    ) -> np.ndarray:
        """Vectorised verdicts for drawings that all have something drawn.

        Parameters
        ----------
        probabilities : np.ndarray
            ``(B, C)``.
        images : np.ndarray, optional
            ``(B, H, W)`` converted images, for the novelty score.
        sizes : np.ndarray, optional
            ``(B,)`` drawing sizes; None (or NaN entries) skip the size check.
        drawings : np.ndarray or bool
            bool ``(B,)`` or one for all: `judge`'s ``drawing``.

        Returns
        -------
        np.ndarray
            ``(B,)`` strings, ``"digit"`` or ``"not_sure"``.
        """
        p = np.asarray(probabilities, np.float64)
        if p.ndim != 2 or p.shape[1] < self.digit_classes:
            raise JudgementError(
                f"probabilities must be (B, >= {self.digit_classes}), got {p.shape}"
            )
        margins = np.where(drawings, self.margin_for(True), self.margin_for(False))
        sure = self._margins(p) >= margins
        if self.novelty is not None and images is not None:
            sure &= np.asarray(self.novelty(np.asarray(images))).reshape(-1) <= 1.0
        if sizes is not None:
            sizes = np.asarray(sizes, np.float64).reshape(-1)
            sure &= ~(sizes < self.min_size)  # NaN compares False: no check
        return np.where(sure, "digit", "not_sure")

    def summary(self) -> str:
        """Say in one sentence when the answer is "not sure" (a model's details)."""
        if self.not_a_digit_class is None:
            rule = f"the best digit's probability is under {self.min_margin:.3f}"
        else:
            rule = (
                'the best digit leads "not a digit" by less than '
                f"{self.min_margin:+.3f}"
            )
        shares = f"{100 * self.false_rejection:.3g}%"
        if self.drawing_margin is not None:
            rule += f" (a drawing: {self.drawing_margin:+.3f})"
            if self.drawing_false_rejection is not None:
                shares += f" ({100 * self.drawing_false_rejection:.3g}%)"
        return (
            f"when {rule} or a drawing spans under {100 * self.min_size:.3g}% of the "
            f"canvas; set for {shares} of the calibration digits"
        )

    def margin_for(self, drawing: bool) -> float:
        """Return the least lead a drawing (or another image) needs to be answered."""
        if drawing and self.drawing_margin is not None:
            return self.drawing_margin
        return self.min_margin

    def _margins(self, p: np.ndarray) -> np.ndarray:
        """Lead of the best digit over "not a digit", per row of ``p``."""
        top = p[:, : self.digit_classes].max(axis=1)
        if self.not_a_digit_class is None:
            return top
        return top - p[:, self.not_a_digit_class]

    def to_dict(self) -> dict:
        """Plain JSON-ready thresholds (the novelty scorer is not stored)."""
        data = asdict(replace(self, novelty=None))
        data.pop("novelty")
        return data

    @classmethod
    def from_dict(
        cls,
        data: Mapping,
        novelty: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Judge:
        """Rebuild from `to_dict` output.

        Raises
        ------
        JudgementError
            For an unknown or missing key, a value of the wrong type or out of range.
        """
        if not isinstance(data, Mapping):
            raise JudgementError(
                f"bad judgement thresholds: not a mapping but {data!r}"
            )
        unknown = sorted(map(str, set(data) - set(_STORED)))
        if unknown:
            raise JudgementError(
                f"bad judgement thresholds: unknown key(s) {', '.join(unknown)}"
            )
        values = {}
        for key, default in _STORED.items():
            value = data.get(key, default)
            if value is _REQUIRED:
                raise JudgementError(f"bad judgement thresholds: {key} is missing")
            if value is None and key in _MAY_BE_NONE:
                values[key] = None
                continue
            whole = key in ("digit_classes", "not_a_digit_class")
            if whole:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise JudgementError(
                        f"bad judgement thresholds: {key} must be a whole number, "
                        f"not {value!r}"
                    )
            elif not whole and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise JudgementError(
                    f"bad judgement thresholds: {key} must be a finite number, "
                    f"not {value!r}"
                )
            values[key] = value if whole else float(value)
        judge = cls(**values, novelty=novelty)
        other = judge.not_a_digit_class
        drawing_share = judge.drawing_false_rejection
        if not (
            judge.digit_classes >= 2
            and (other is None or other == judge.digit_classes)
            and -1.0 <= judge.min_margin <= 1.0
            and -1.0 <= judge.margin_for(True) <= 1.0
            and 0.0 <= judge.min_size <= 1.0
            and 0.0 < judge.false_rejection < 0.5
            and (drawing_share is None or 0.0 < drawing_share < 0.5)
        ):
            raise JudgementError(f"judgement thresholds out of range: {dict(data)}")
        return judge


def not_a_digit_output(class_names: tuple[str, ...]) -> int | None:
    """Index of the `NOT_A_DIGIT` class (it must be the last one), or None."""
    names = tuple(class_names)
    if names and names[-1] == NOT_A_DIGIT:
        return len(names) - 1
    return None


def digit_class_names(class_names: tuple[str, ...]) -> tuple[str, ...]:
    """Return the class names without the `NOT_A_DIGIT` output."""
    names = tuple(class_names)
    return names[:-1] if not_a_digit_output(names) is not None else names
