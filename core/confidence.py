"""Honest answers: decide whether a prediction on a drawing is sure enough to state.

Two scores, each calibrated on real digits for a target false-rejection rate: the
network's top probability, and a novelty score (how much of the image a principal
subspace of real digits fails to reconstruct). Pure NumPy: never imports Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["ConfidenceError", "ConfidenceGate", "Judgement"]

# The top-probability threshold is calibrated, then kept inside these bounds: a model
# scored on its own training images is over-confident, and a threshold near 1 would
# reject most real drawings.
_MIN_CONFIDENCE_FLOOR = 0.30
_MIN_CONFIDENCE_CEILING = 0.70
_EPSILON = 1e-6


class ConfidenceError(Exception):
    """The gate cannot be fitted or applied to the given data; the message says why."""


@dataclass(frozen=True)
class Judgement:
    """The verdict on one image.

    Attributes
    ----------
    predicted : int
        Class with the highest probability.
    confidence : float
        That probability.
    novelty : float
        Reconstruction error relative to the calibrated limit (above 1: unlike digits).
    sure : bool
        True when the prediction should be stated.
    reason : str
        Empty when sure, else a short human explanation.
    """

    predicted: int
    confidence: float
    novelty: float
    sure: bool
    reason: str


@dataclass(frozen=True, eq=False)
class ConfidenceGate:
    """Calibrated thresholds on top probability and on novelty.

    Attributes
    ----------
    mean : np.ndarray
        float32 ``(D,)`` mean of the reference digits scaled to [0, 1].
    components : np.ndarray
        float32 ``(k, D)`` orthonormal principal directions of the reference digits.
    min_confidence : float
        Predictions whose top probability is below this are "not sure".
    max_novelty : float
        Images whose relative reconstruction error exceeds this are "not sure".
    max_value : int
        Pixel value of full ink in the images this gate takes (255 or 16).
    false_rejection : float
        The rate of real digits the calibration aimed to reject.
    calibration_images : np.ndarray
        uint8 ``(M, H, W)`` the held-out digits the thresholds were set on.
    """

    mean: np.ndarray
    components: np.ndarray
    min_confidence: float
    max_novelty: float
    max_value: int
    false_rejection: float
    calibration_images: np.ndarray

    @classmethod
    def fit(
        cls,
        images: np.ndarray,
        max_value: int,
        predict_proba: Callable[[np.ndarray], np.ndarray] | None = None,
        false_rejection: float = 0.05,
        components: int = 40,
        seed: int = 0,
    ) -> ConfidenceGate:
        """Fit the digit subspace and calibrate both thresholds on real digits.

        Half of the images (chosen with ``seed``) fit the subspace; the other half set
        the novelty limit, so that limit is measured on digits the subspace never saw.

        Parameters
        ----------
        images : np.ndarray
            uint8 ``(N, H, W)`` real digits in ``0..max_value``, ``N >= 20``.
        max_value : int
            Pixel value of full ink.
        predict_proba : callable or None
            The model: uint8 ``(M, H, W)`` images to ``(M, C)`` probabilities. None
            keeps the top-probability threshold at its floor (see `for_model`).
        false_rejection : float
            Share of real digits to reject, split evenly between the two scores.
        components : int
            Size of the digit subspace.
        seed : int
            Seed of the fit / calibration split.
        """
        images = np.asarray(images)
        if images.ndim != 3 or len(images) < 20:
            raise ConfidenceError(
                f"calibration needs at least 20 images shaped (N, H, W), got shape "
                f"{images.shape}"
            )
        if not 0.0 < false_rejection < 0.5:
            raise ConfidenceError(
                f"false_rejection must be between 0 and 0.5, got {false_rejection}"
            )
        if max_value <= 0:
            raise ConfidenceError(f"max_value must be positive, got {max_value}")
        order = np.random.default_rng(seed).permutation(len(images))
        half = len(images) // 2
        fit_part, calibration_part = order[:half], order[half:]
        scaled = images.reshape(len(images), -1).astype(np.float32) / np.float32(
            max_value
        )
        mean = scaled[fit_part].mean(axis=0)
        k = int(min(components, half - 1, scaled.shape[1]))
        basis = _principal_directions(scaled[fit_part] - mean, k, seed)
        per_score = false_rejection / 2.0
        novelty = _relative_error(scaled[calibration_part], mean, basis)
        max_novelty = float(np.quantile(novelty, 1.0 - per_score))
        gate = cls(
            mean=mean.astype(np.float32),
            components=basis,
            min_confidence=_MIN_CONFIDENCE_FLOOR,
            max_novelty=max_novelty,
            max_value=int(max_value),
            false_rejection=float(false_rejection),
            calibration_images=np.ascontiguousarray(images[calibration_part]),
        )
        return gate if predict_proba is None else gate.for_model(predict_proba)

    def for_model(
        self, predict_proba: Callable[[np.ndarray], np.ndarray]
    ) -> ConfidenceGate:
        """Return a copy whose top-probability threshold is calibrated for a model.

        The digit subspace does not depend on the model, so only this cheap step is
        repeated when the model changes (one forward pass over the held-out digits).

        Parameters
        ----------
        predict_proba : callable
            uint8 ``(M, H, W)`` images to ``(M, C)`` probabilities.
        """
        probabilities = np.asarray(
            predict_proba(self.calibration_images), dtype=np.float32
        )
        if probabilities.ndim != 2 or len(probabilities) != len(
            self.calibration_images
        ):
            raise ConfidenceError(
                f"the model returned probabilities of shape {probabilities.shape} for "
                f"{len(self.calibration_images)} images"
            )
        top = probabilities.max(axis=1)
        threshold = np.quantile(top, self.false_rejection / 2.0)
        return replace(
            self,
            min_confidence=float(
                np.clip(threshold, _MIN_CONFIDENCE_FLOOR, _MIN_CONFIDENCE_CEILING)
            ),
        )

    def novelty(self, images: np.ndarray) -> np.ndarray:
        """Relative reconstruction error of each image, divided by the limit.

        Parameters
        ----------
        images : np.ndarray
            ``(H, W)``, ``(B, H, W)`` or ``(B, H*W)`` in ``0..max_value``.

        Returns
        -------
        np.ndarray
            float32 ``(B,)``; above 1 means "unlike the reference digits".
        """
        scaled = self._scaled(images)
        return _relative_error(scaled, self.mean, self.components) / np.float32(
            self.max_novelty
        )

    def judge(self, image: np.ndarray, probabilities: np.ndarray) -> Judgement:
        """Return the verdict for one image and its class probabilities ``(C,)``."""
        probabilities = np.asarray(probabilities, dtype=np.float32).reshape(-1)
        sure, novelty = self.judge_batch(image, probabilities[None, :])
        predicted = int(np.argmax(probabilities))
        confidence = float(probabilities[predicted])
        reason = ""
        if novelty[0] > 1.0:
            reason = "This does not look like any digit I know."
        elif confidence < self.min_confidence:
            reason = "Too close to call between several digits."
        return Judgement(
            predicted, confidence, float(novelty[0]), bool(sure[0]), reason
        )

    def judge_batch(
        self, images: np.ndarray, probabilities: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised verdicts.

        Parameters
        ----------
        images : np.ndarray
            ``(B, H, W)`` or ``(B, H*W)`` (one ``(H, W)`` image is accepted too).
        probabilities : np.ndarray
            ``(B, C)``.

        Returns
        -------
        sure : np.ndarray
            bool ``(B,)``.
        novelty : np.ndarray
            float32 ``(B,)`` relative to the limit.
        """
        novelty = self.novelty(images)
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.ndim != 2 or len(probabilities) != len(novelty):
            raise ConfidenceError(
                f"probabilities must be (B, C) for B={len(novelty)} images, got shape "
                f"{probabilities.shape}"
            )
        sure = (novelty <= 1.0) & (probabilities.max(axis=1) >= self.min_confidence)
        return sure, novelty

    def _scaled(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        size = self.mean.shape[0]
        if images.size % size or images.size == 0:
            raise ConfidenceError(
                f"images of {size} pixels expected, got an array shaped {images.shape}"
            )
        return images.reshape(-1, size).astype(np.float32) / np.float32(self.max_value)


def _principal_directions(centred: np.ndarray, k: int, seed: int) -> np.ndarray:
    # Randomised range finder with two power iterations (Halko et al. 2011): the top
    # directions of a (1000, 784) matrix in milliseconds instead of a full SVD.
    rng = np.random.default_rng(seed)
    width = min(k + 10, min(centred.shape))
    sketch = centred @ rng.standard_normal((centred.shape[1], width)).astype(np.float32)
    for _ in range(2):
        sketch, _ = np.linalg.qr(sketch)
        sketch = centred @ (centred.T @ sketch)
    basis, _ = np.linalg.qr(sketch)
    _, _, vt = np.linalg.svd(basis.T @ centred, full_matrices=False)
    return np.ascontiguousarray(vt[:k], dtype=np.float32)


def _relative_error(
    scaled: np.ndarray, mean: np.ndarray, basis: np.ndarray
) -> np.ndarray:
    # Share of the image's energy left after projecting onto the digit subspace:
    # dividing by the ink keeps thick and thin strokes comparable.
    centred = scaled - mean
    residual = centred - (centred @ basis.T) @ basis
    ink = np.einsum("ij,ij->i", scaled, scaled)
    return np.einsum("ij,ij->i", residual, residual) / (ink + np.float32(_EPSILON))
