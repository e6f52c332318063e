"""What breaks a model: accuracy on more and more distorted images.

Noise, rotation, shift, scale and stroke thickness, one curve per distortion.

Owns `DISTORTIONS`, `distort`, `add_noise` and `robustness_curves`. The pixel work is
`core.augment`'s (its bilinear warp, stroke thickness and noise), given one fixed
amount for every image instead of random ones. Pure NumPy; no Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.augment import AugmentConfig, Augmenter, _Draws
from core.datasets import Dataset, DatasetPart, Normalization
from core.network import MLP

__all__ = [
    "DISTORTIONS",
    "Distortion",
    "RobustnessCurve",
    "RobustnessResult",
    "RobustnessStep",
    "add_noise",
    "distort",
    "robustness_curves",
]

MAX_ROBUSTNESS_IMAGES = 10_000
# Any geometric amount makes `Augmenter.run` warp; the maps themselves are ours.
_WARP = AugmentConfig(rotation=1.0)
_NO_WARP = AugmentConfig()


@dataclass(frozen=True)
class Distortion:
    """One way of damaging images, at growing levels.

    Attributes
    ----------
    name : str
        Registry key.
    label : str
        Shown in the UI.
    unit : str
        What a level means, for the axis.
    identity : float
        The level that leaves images unchanged.
    levels_28 : tuple of float
        Levels for 28x28 images.
    per_pixel : bool
        True when a level is a length in pixels, scaled to other image sizes.
    """

    name: str
    label: str
    unit: str
    identity: float
    levels_28: tuple[float, ...]
    per_pixel: bool = False

    def levels(self, image_shape: tuple[int, int]) -> np.ndarray:
        """Return the float64 levels for images of ``image_shape``."""
        levels = np.asarray(self.levels_28, dtype=np.float64)
        if self.per_pixel:
            levels = levels * (min(image_shape) / 28.0)
        return levels


DISTORTIONS: dict[str, Distortion] = {
    "noise": Distortion(
        "noise",
        "Noise",
        "std. dev., % of white",
        0.0,
        (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
    ),
    "rotation": Distortion(
        "rotation",
        "Rotation",
        "degrees",
        0.0,
        (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0),
    ),
    "shift": Distortion(
        "shift", "Shift", "pixels", 0.0, (0, 1, 2, 3, 4, 5, 6), per_pixel=True
    ),
    "scale": Distortion(
        "scale",
        "Scale",
        "size factor",
        1.0,
        (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5),
    ),
    "thickness": Distortion(
        "thickness",
        "Stroke thickness",
        "dilations (- thinner, + thicker)",
        0.0,
        (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
    ),
}


def _affine_maps(
    angle: np.ndarray, scale: np.ndarray, shift: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Output-to-source maps float32 (2, B, 3) in `core.augment`'s layout.

    Each image is rotated by ``angle`` degrees and resized by ``scale`` about its
    centre, then moved by ``shift`` (2, B) pixels (x, y): the source of an output
    pixel is ``R(angle) / scale @ (out - centre) + centre - shift``.
    """
    radians = np.radians(angle)
    cos, sin = np.cos(radians) / scale, np.sin(radians) / scale
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    maps = np.empty((2, angle.size, 3), np.float32)
    maps[0, :, 0], maps[0, :, 1] = cos, -sin
    maps[0, :, 2] = cx - cos * cx + sin * cy - shift[0]
    maps[1, :, 0], maps[1, :, 1] = sin, cos
    maps[1, :, 2] = cy - sin * cx - cos * cy - shift[1]
    return maps


def _run(
    augmenter: Augmenter,
    images: np.ndarray,
    config: AugmentConfig,
    max_value: float,
    maps: np.ndarray | None = None,
    thickness: np.ndarray | None = None,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    count = images.shape[0]
    if maps is None:
        maps = np.zeros((2, count, 3), np.float32)
    draws = _Draws(np.ones(count, np.float32), maps, None, thickness, noise)
    out = np.empty(images.shape, np.float32)
    augmenter.run(images, draws, config, max_value, out)
    return out


def distort(
    images: np.ndarray,
    name: str,
    level: float,
    rng: np.random.Generator,
    max_value: float = 255.0,
    augmenter: Augmenter | None = None,
) -> np.ndarray:
    """Apply one distortion at one level to every image.

    Rotation turns each image by ``level`` degrees, clockwise or not at random;
    shift moves it ``level`` pixels in a random direction; scale resizes it by the
    factor ``level`` about the centre; thickness dilates (positive) or erodes
    (negative) the strokes ``|level|`` times by a one-pixel cross (a fraction blends
    the last step); noise adds Gaussian noise of standard deviation ``level *
    max_value``. Every result is clipped to ``[0, max_value]``.

    Parameters
    ----------
    images : ndarray
        uint8 or float ``(B, H, W)`` in ``0..max_value``, bright ink on 0.
    name : str
        A key of `DISTORTIONS`.
    level : float
        Amount, in the distortion's unit.
    rng : numpy.random.Generator
        Draws the directions and the noise.
    max_value : float
        The brightest pixel value.
    augmenter : core.augment.Augmenter, optional
        Buffers for batches of this shape, reused across calls.

    Returns
    -------
    ndarray
        float32 ``(B, H, W)``.
    """
    if name not in DISTORTIONS:
        raise KeyError(
            f"unknown distortion {name!r}; choose one of {list(DISTORTIONS)}"
        )
    images = np.asarray(images)
    count, height, width = images.shape
    if augmenter is None or augmenter.shape != images.shape:
        augmenter = Augmenter(count, height, width)
    if level == DISTORTIONS[name].identity:
        return images.astype(np.float32)
    if name == "noise":
        noise = rng.standard_normal((count, height * width), dtype=np.float32)
        noise *= np.float32(level * max_value)
        return _run(augmenter, images, _NO_WARP, max_value, noise=noise)
    if name == "thickness":
        out = images
        steps = abs(float(level))
        while steps > 0:
            step = min(steps, 1.0)
            amounts = np.full(count, np.copysign(step, level), np.float32)
            out = _run(augmenter, out, _NO_WARP, max_value, thickness=amounts)
            steps -= step
        return out
    angle = np.zeros(count)
    scale = np.ones(count)
    shift = np.zeros((2, count))
    if name == "rotation":
        angle = level * rng.choice((-1.0, 1.0), size=count)
    elif name == "scale":
        scale = np.full(count, float(level))
    else:
        direction = rng.uniform(0.0, 2.0 * np.pi, size=count)
        shift = level * np.stack([np.cos(direction), np.sin(direction)])
    maps = _affine_maps(angle, scale, shift, height, width)
    return _run(augmenter, images, _WARP, max_value, maps=maps)


def add_noise(
    image: np.ndarray, amount: float, max_value: float = 255.0, seed: int = 0
) -> np.ndarray:
    """Return ``image`` (uint8 ``(H, W)``) with the "noise" distortion, as uint8.

    The same ``seed`` gives the same noise pattern at every amount, so a growing
    amount only makes it stronger.
    """
    image = np.asarray(image)
    if amount <= 0:
        return image
    noisy = distort(
        image[None], "noise", amount, np.random.default_rng(seed), max_value
    )
    return np.rint(noisy[0]).astype(np.uint8)


@dataclass(frozen=True)
class RobustnessCurve:
    """Accuracy of one model at each level of one distortion."""

    distortion: str
    levels: np.ndarray
    accuracy: np.ndarray


@dataclass(frozen=True)
class RobustnessStep:
    """Progress of `robustness_curves`: one level of one distortion is done."""

    fraction: float
    distortion: str
    level: float
    accuracy: float


@dataclass(frozen=True)
class RobustnessResult:
    """Every curve of one model, with the undistorted accuracy and images used."""

    curves: dict[str, RobustnessCurve]
    plain_accuracy: float
    images: int


def robustness_curves(
    network: MLP,
    normalization: Normalization,
    dataset: Dataset | DatasetPart,
    names: Sequence[str] | None = None,
    max_images: int = MAX_ROBUSTNESS_IMAGES,
    seed: int = 0,
    batch_size: int = 1000,
    cancel: threading.Event | None = None,
    progress: Callable[[RobustnessStep], None] | None = None,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
) -> RobustnessResult | None:
    """Measure accuracy on ``dataset`` as each distortion grows.

    Parameters
    ----------
    network : MLP
        Used from this thread only (pass a copy when another thread uses it).
    normalization : Normalization
        The network's input normalisation.
    dataset : Dataset or DatasetPart
        Labelled images (the validation or test images); a seeded random choice of
        ``max_images`` when it has more.
    names : sequence of str, optional
        Distortions to measure, keys of `DISTORTIONS` (default: all).
    max_images : int
    seed : int
        Seeds the choice of images and every distortion's random draws.
    batch_size : int
        Images distorted and classified at once.
    cancel : threading.Event, optional
        Checked between batches; when set the function returns None.
    progress : callable, optional
        Called with a `RobustnessStep` after each level.
    prepare : callable, optional
        How the model reads a distorted batch ``(B, H, W)`` before normalising it
        (`core.model_io.SavedModel.prepare`: deskewing, for a model trained so).

    Returns
    -------
    RobustnessResult or None when cancelled
        At each distortion's identity level the accuracy is the plain one.
    """
    names = list(DISTORTIONS) if names is None else list(names)
    count = len(dataset)
    if count == 0:
        raise ValueError(f"{dataset.name!r} has no images to test")
    rng = np.random.default_rng(seed)
    if count > max_images:
        chosen = np.sort(rng.choice(count, size=max_images, replace=False))
    else:
        chosen = np.arange(count)
    images, labels = dataset.images_at(chosen), dataset.labels[chosen].astype(np.intp)
    augmenters: dict[int, Augmenter] = {}

    def accuracy(name: str | None, level: float, level_rng) -> float | None:
        correct = 0
        for start in range(0, len(chosen), batch_size):
            if cancel is not None and cancel.is_set():
                return None
            batch = images[start : start + batch_size]
            if name is not None:
                augmenter = augmenters.get(len(batch))
                if augmenter is None:
                    augmenter = augmenters[len(batch)] = Augmenter(*batch.shape)
                batch = distort(
                    batch, name, level, level_rng, dataset.max_value, augmenter
                )
            if prepare is not None:
                batch = prepare(batch)
            inputs = normalization.apply(batch)
            predicted = network.forward(inputs, copy=False).argmax(axis=1)
            correct += int(
                np.count_nonzero(predicted == labels[start : start + batch_size])
            )
        return correct / len(chosen)

    plain = accuracy(None, 0.0, None)
    if plain is None:
        return None
    steps = sum(DISTORTIONS[name].levels(dataset.image_shape).size for name in names)
    done = 0
    curves: dict[str, RobustnessCurve] = {}
    for index, name in enumerate(names):
        distortion = DISTORTIONS[name]
        levels = distortion.levels(dataset.image_shape)
        values = np.empty(levels.size)
        for position, level in enumerate(levels):
            if level == distortion.identity:
                values[position] = plain
            else:
                level_rng = np.random.default_rng([seed, index, position])
                result = accuracy(name, float(level), level_rng)
                if result is None:
                    return None
                values[position] = result
            done += 1
            if progress is not None:
                progress(
                    RobustnessStep(
                        done / steps, name, float(level), float(values[position])
                    )
                )
        curves[name] = RobustnessCurve(name, levels, values)
    return RobustnessResult(curves, float(plain), int(len(chosen)))
