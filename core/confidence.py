"""Honest answers: decide whether a prediction on a drawing is sure enough to state.

Three scores, each calibrated on held-out real digits for a share of the target
false-rejection rate: the network's top probability, and how badly the closest digit
class's principal subspace reconstructs the image, in absolute error (catches heavy
hatching) and relative to the ink (catches thin scribbles). Never imports Qt.
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
    means : np.ndarray
        float32 ``(C, D)`` mean image of each reference class, scaled to [0, 1].
    components : np.ndarray
        float32 ``(C, k, D)`` orthonormal principal directions of each class.
    min_confidence : float
        Predictions whose top probability is below this are "not sure".
    max_error : float
        Limit on the absolute squared reconstruction error (closest class).
    max_relative_error : float
        Limit on the squared reconstruction error divided by the image's own energy.
    max_value : int
        Pixel value of full ink in the images this gate takes (255 or 16).
    false_rejection : float
        The share of real digits the calibration aimed to reject, all scores together.
    calibration_images : np.ndarray
        uint8 ``(M, H, W)`` the held-out digits the thresholds were set on.
    """

    means: np.ndarray
    components: np.ndarray
    min_confidence: float
    max_error: float
    max_relative_error: float
    max_value: int
    false_rejection: float
    calibration_images: np.ndarray

    @classmethod
    def fit(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        max_value: int,
        predict_proba: Callable[[np.ndarray], np.ndarray] | None = None,
        false_rejection: float = 0.05,
        components: int = 10,
        seed: int = 0,
    ) -> ConfidenceGate:
        """Fit one subspace per class and calibrate the thresholds on real digits.

        Half of the images (chosen with ``seed``) fit the subspaces; the other half set
        the limits, so the limits are measured on digits the subspaces never saw.

        Parameters
        ----------
        images : np.ndarray
            uint8 ``(N, H, W)`` real digits in ``0..max_value``, ``N >= 20``.
        labels : np.ndarray
            int ``(N,)`` their classes; every class needs a few fitting images.
        max_value : int
            Pixel value of full ink.
        predict_proba : callable or None
            The model: uint8 ``(M, H, W)`` images to ``(M, C)`` probabilities. None
            keeps the top-probability threshold at its floor (see `for_model`).
        false_rejection : float
            Share of real digits to reject, split evenly between the three scores.
        components : int
            Size of each class's subspace.
        seed : int
            Seed of the fit / calibration split.
        """
        images = np.asarray(images)
        labels = np.asarray(labels).reshape(-1)
        if images.ndim != 3 or len(images) < 20:
            raise ConfidenceError(
                f"calibration needs at least 20 images shaped (N, H, W), got shape "
                f"{images.shape}"
            )
        if len(labels) != len(images):
            raise ConfidenceError(f"{len(labels)} labels for {len(images)} images")
        if not 0.0 < false_rejection < 0.5:
            raise ConfidenceError(
                f"false_rejection must be between 0 and 0.5, got {false_rejection}"
            )
        if max_value <= 0:
            raise ConfidenceError(f"max_value must be positive, got {max_value}")
        order = np.random.default_rng(seed).permutation(len(images))
        fit_part, calibration_part = np.array_split(order, 2)
        scaled = images.reshape(len(images), -1).astype(np.float32) / np.float32(
            max_value
        )
        classes = np.unique(labels)
        means, bases = [], []
        for label in classes:
            members = scaled[fit_part][labels[fit_part] == label]
            if len(members) < 3:
                raise ConfidenceError(
                    f"class {label} has {len(members)} fitting images; at least 3 "
                    "are needed"
                )
            mean = members.mean(axis=0)
            basis = np.zeros((components, scaled.shape[1]), dtype=np.float32)
            top = _principal_directions(members - mean, components)
            basis[: len(top)] = top
            means.append(mean)
            bases.append(basis)
        per_score = false_rejection / 3.0
        means_array = np.stack(means).astype(np.float32)
        bases_array = np.stack(bases).astype(np.float32)
        error, relative = _errors(scaled[calibration_part], means_array, bases_array)
        gate = cls(
            means=means_array,
            components=bases_array,
            min_confidence=_MIN_CONFIDENCE_FLOOR,
            max_error=float(np.quantile(error, 1.0 - per_score)),
            max_relative_error=float(np.quantile(relative, 1.0 - per_score)),
            max_value=int(max_value),
            false_rejection=float(false_rejection),
            calibration_images=np.ascontiguousarray(images[calibration_part]),
        )
        return gate if predict_proba is None else gate.for_model(predict_proba)

    def for_model(
        self,
        predict_proba: Callable[[np.ndarray], np.ndarray],
        max_images: int | None = None,
    ) -> ConfidenceGate:
        """Return a copy whose top-probability threshold is calibrated for a model.

        The subspaces do not depend on the model, so only this cheap step is repeated
        when the model changes (one forward pass over the held-out digits).

        Parameters
        ----------
        predict_proba : callable
            uint8 ``(M, H, W)`` images to ``(M, C)`` probabilities.
        max_images : int or None
            Use at most this many held-out digits (a faster, coarser quantile).
        """
        images = self.calibration_images[:max_images]
        probabilities = np.asarray(predict_proba(images), dtype=np.float32)
        if probabilities.ndim != 2 or len(probabilities) != len(images):
            raise ConfidenceError(
                f"the model returned probabilities of shape {probabilities.shape} for "
                f"{len(images)} images"
            )
        top = probabilities.max(axis=1)
        threshold = np.quantile(top, self.false_rejection / 3.0)
        return replace(
            self,
            min_confidence=float(
                np.clip(threshold, _MIN_CONFIDENCE_FLOOR, _MIN_CONFIDENCE_CEILING)
            ),
        )

    def novelty(self, images: np.ndarray) -> np.ndarray:
        """Reconstruction error of each image by its closest class, over the limit.

        Parameters
        ----------
        images : np.ndarray
            ``(H, W)``, ``(B, H, W)`` or ``(B, H*W)`` in ``0..max_value``.

        Returns
        -------
        np.ndarray
            float32 ``(B,)``: the larger of absolute and relative error, each divided
            by its limit; above 1 means "unlike the reference digits".
        """
        error, relative = _errors(self._scaled(images), self.means, self.components)
        return np.maximum(
            error / np.float32(self.max_error),
            relative / np.float32(self.max_relative_error),
        ).astype(np.float32)

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
            float32 ``(B,)`` relative to the limits.
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
        size = self.means.shape[1]
        if images.size % size or images.size == 0:
            raise ConfidenceError(
                f"images of {size} pixels expected, got an array shaped {images.shape}"
            )
        return images.reshape(-1, size).astype(np.float32) / np.float32(self.max_value)


def _principal_directions(centred: np.ndarray, k: int) -> np.ndarray:
    # Through the small (n, n) Gram matrix: a class has a few hundred images but
    # 784 pixels, so this is several times faster than an SVD of the data.
    gram = (centred @ centred.T).astype(np.float64)
    values, vectors = np.linalg.eigh(gram)
    keep = np.argsort(values)[::-1][:k]
    keep = keep[values[keep] > 1e-9 * max(float(values.max()), 1e-30)]
    directions = (vectors[:, keep].T @ centred) / np.sqrt(values[keep])[:, None]
    return directions.astype(np.float32)


def _errors(
    scaled: np.ndarray, means: np.ndarray, bases: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Squared residual after projecting onto each class's affine subspace, by
    # Pythagoras (orthonormal rows): |x - m|^2 - |V (x - m)|^2, all matrix products.
    # The closest class decides; divided by the ink, thick and thin strokes compare.
    classes, k, size = bases.shape
    ink = np.einsum("bd,bd->b", scaled, scaled)
    distance = (
        ink[:, None]
        - 2.0 * (scaled @ means.T)
        + np.einsum("cd,cd->c", means, means)[None, :]
    )
    flat_bases = bases.reshape(classes * k, size)
    coordinates = (scaled @ flat_bases.T).reshape(-1, classes, k) - np.einsum(
        "ckd,cd->ck", bases, means
    )
    explained = np.einsum("bck,bck->bc", coordinates, coordinates)
    error = np.maximum(distance - explained, 0.0).min(axis=1).astype(np.float32)
    return error, error / (ink + np.float32(_EPSILON))
