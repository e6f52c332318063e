"""Random, seeded, minibatch-wide image augmentation for training.

Owns `AugmentConfig` and `augment_batch`. Every transform is applied to the whole
minibatch at once with NumPy; nothing loops over samples in Python. The bilinear
sampling of uint8 images runs as one compiled pass when numba is installed
(`core.kernels`, same results). Drawn-looking digits (a new pen, flags, feet and
crossbars) come from `core.drawing_styles`. No Qt, no I/O.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, fields

import numpy as np

from core import fast
from core.drawing_styles import (
    add_style_strokes,
    half_turns,
    restroke,
    styled_mask,
)
from core.preprocess import MNIST_STROKE_WIDTH

__all__ = ["AugmentConfig", "AugmentError", "Augmenter", "augment_batch"]


class AugmentError(ValueError):
    """An augmentation setting or input array is invalid."""


# (field, lowest allowed, highest allowed, what it means) for the error messages.
_LIMITS: dict[str, tuple[float, float, str]] = {
    "shift": (0.0, 14.0, "pixels"),
    "rotation": (0.0, 180.0, "degrees"),
    "scale": (0.0, 0.9, "a fraction of the size"),
    "shear": (0.0, 60.0, "degrees"),
    "elastic": (0.0, 10.0, "pixels"),
    "thickness": (0.0, 1.0, "a fraction of a one-pixel dilation"),
    "noise": (0.0, 1.0, "a fraction of the brightest pixel value"),
    "elastic_grid": (2.0, 16.0, "control points per side"),
    "probability": (0.0, 1.0, "a probability"),
    "restroke": (0.0, 1.0, "a probability"),
    "aspect": (0.0, 0.9, "a fraction of the width"),
    "styles": (0.0, 1.0, "a probability"),
}
# A redrawn digit's pen: this range times MNIST's median stroke width (its middle
# half spans about 0.85 to 1.2 of it; drawings are brought to the median).
_RESTROKE_WIDTHS = (0.75, 1.45)
_MIN_DRAWN_SIDE = 20


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly each random transform is applied; 0 turns a transform off.

    Every image draws its own values uniformly in ``[-amount, +amount]`` (``[1 - scale,
    1 + scale]`` for the scale factor).

    Attributes
    ----------
    shift : float
        Largest translation along each axis, in pixels.
    rotation : float
        Largest rotation about the image centre, in degrees.
    scale : float
        Largest relative change of size (0.1 means 90 % to 110 %).
    shear : float
        Largest horizontal shear angle, in degrees (slants the strokes).
    elastic : float
        Root-mean-square displacement of a smooth random warp, in pixels.
    thickness : float
        Largest change of stroke thickness, as a fraction of one grey-scale dilation
        (positive draws) or erosion (negative draws) by a one-pixel cross.
    noise : float
        Standard deviation of added Gaussian noise, as a fraction of the brightest
        pixel value (1.0 for 255 on MNIST).
    elastic_grid : int
        Number of random control points per side of the elastic field; fewer points
        give a smoother warp.
    probability : float
        Fraction of the images in a minibatch that are augmented; the others pass
        through unchanged.
    aspect : float
        Largest change of the width alone (0.2 means 80 % to 120 % as wide): round,
        wide print-like digits as well as MNIST's narrow ones.
    restroke : float
        Fraction of the augmented images whose strokes are first redrawn with a
        steady pen of a random width (0.75 to 1.45 times MNIST's median): digits as
        the drawing conversion makes them, in many pen widths.
    styles : float
        Fraction of the augmented 1s, 6s, 7s and 9s that first get the strokes
        MNIST has few of: a flag (short or long, European), perhaps a foot, a
        crossbar, a 6's hook or a 9's curled tail (or a 9 or 6 of the batch turned).
        Needs the labels (`augment_batch`'s ``labels``) and digit classes.
        ``restroke`` and ``styles`` leave images smaller than 20x20 alone.
    """

    shift: float = 0.0
    rotation: float = 0.0
    scale: float = 0.0
    shear: float = 0.0
    elastic: float = 0.0
    thickness: float = 0.0
    noise: float = 0.0
    elastic_grid: int = 4
    probability: float = 1.0
    restroke: float = 0.0
    styles: float = 0.0
    aspect: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise `AugmentError` with a human message."""
        for name, (low, high, unit) in _LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AugmentError(
                    f"augmentation {name} must be a number, got {value!r}"
                )
            if not math.isfinite(value) or not low <= value <= high:
                raise AugmentError(
                    f"augmentation {name} must be between {low:g} and {high:g} "
                    f"({unit}), got {value!r}"
                )
        if int(self.elastic_grid) != self.elastic_grid:
            raise AugmentError(
                f"augmentation elastic_grid must be a whole number, "
                f"got {self.elastic_grid!r}"
            )

    @property
    def is_active(self) -> bool:
        """True when at least one transform would change an image."""
        amounts = (
            self.shift,
            self.rotation,
            self.scale,
            self.shear,
            self.elastic,
            self.thickness,
            self.noise,
            self.restroke,
            self.styles,
            self.aspect,
        )
        return self.probability > 0 and any(a > 0 for a in amounts)

    @property
    def is_geometric(self) -> bool:
        """True when pixels move (shift, rotation, scale, shear or elastic)."""
        return any(
            a > 0
            for a in (
                self.shift,
                self.rotation,
                self.scale,
                self.shear,
                self.elastic,
                self.aspect,
            )
        )

    def to_dict(self) -> dict[str, float]:
        """Plain JSON-ready dictionary of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> AugmentConfig:
        """Build a config from `to_dict` output; missing fields take their defaults.

        Raises
        ------
        AugmentError
            If ``data`` is not a mapping, names an unknown field, or holds a bad value.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise AugmentError(
                f"augmentation settings must be a mapping, got {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AugmentError(
                f"unknown augmentation setting(s): {', '.join(map(str, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        values = dict(data)
        if "elastic_grid" in values:
            grid = values["elastic_grid"]
            if isinstance(grid, float) and grid.is_integer():
                values["elastic_grid"] = int(grid)
        return cls(**values)


class Augmenter:
    """Reusable buffers for augmenting minibatches of one shape.

    `augment_batch` keeps one per thread and shape; use this class directly to hold
    the buffers yourself.

    Parameters
    ----------
    batch_size, height, width : int
        Shape of the minibatches this augmenter serves.
    elastic_grid : int
        Control points per side of the elastic field.
    """

    def __init__(
        self, batch_size: int, height: int, width: int, elastic_grid: int = 4
    ) -> None:
        B, H, W = int(batch_size), int(height), int(width)
        self.shape = (B, H, W)
        self.elastic_grid = int(elastic_grid)
        n = H * W
        g = self.elastic_grid
        # The elastic field is Wy @ coarse @ Wx.T per image and axis, with weights
        # per control point: rows (G, H), columns (G, W), zero-padded to G, a
        # multiple of 4, for the compiled warp (NumPy uses the first g).
        padded_g = -(-g // 4) * 4
        self._elastic_rows = np.zeros((padded_g, H), np.float32)
        self._elastic_rows[:g] = _elastic_axis(H, g).T
        self._elastic_columns = np.zeros((padded_g, W), np.float32)
        self._elastic_columns[:g] = _elastic_axis(W, g).T
        self._rows = np.arange(H, dtype=np.float32)
        self._columns = np.arange(W, dtype=np.float32)
        # What the compiled warp takes for "no elastic field": g = 0.
        self._no_elastic = (
            np.zeros((2, B, 0, 0), np.float32),
            np.zeros((0, H), np.float32),
            np.zeros((0, W), np.float32),
        )
        self._params = np.zeros((2, B, 3), np.float32)  # the last call's maps
        # Per-axis buffers laid out (axis, image, ...) for the k images distorted in
        # a call: flat, so that their first 2k rows are contiguous.
        self._elastic_buffer = np.empty(2 * B * H * g, np.float32)
        self._coords_buffer = np.empty(2 * B * n, np.float32)
        self._term_buffer = np.empty(2 * B * n, np.float32)
        self._fixed_buffer = np.empty(2 * B * n, np.int32)
        self._frac_buffer = np.empty(2 * B * n, np.uint32)
        self._cofrac_buffer = np.empty(2 * B * n, np.uint32)
        self._index = np.empty((B, n), np.intp)
        self._warped = np.empty((B, n), np.float32)
        # The image zero-padded by 1 pixel before and 2 after (clipped coordinates
        # land on zeros, and the +1 neighbour of the last padded pixel exists),
        # stored as vertical pairs (row y low byte, row y + 1 high byte). Read as
        # uint32 at any uint16 offset, they hold a whole 2x2 bilinear neighbourhood,
        # so one gather fetches all four taps. A spare element keeps reads inside.
        self._pair_stride = (H + 2) * (W + 3)
        pair_buffer = np.zeros(B * self._pair_stride + 1, np.uint16)
        # The same pairs as bytes (B, H + 2, W + 3, 2): [..., 0] low, [..., 1] high.
        self._pair_bytes = pair_buffer[:-1].view(np.uint8).reshape(B, H + 2, W + 3, 2)
        self._quads = np.ndarray(
            shape=(pair_buffer.size - 1,),
            dtype=np.uint32,
            buffer=pair_buffer.view(np.uint8),
            strides=(2,),
        )
        self._row_base = np.repeat(
            np.arange(B, dtype=np.intp) * self._pair_stride, n
        ).reshape(B, n)
        self._taps = np.empty((B, n), np.uint32)
        self._low = np.empty((B, n), np.uint32)
        # Buffers of the float-input path and of thickness, made when first needed.
        self._float_buffers: tuple[np.ndarray, np.ndarray] | None = None
        self._morph_buffers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(
        self,
        images: np.ndarray,
        config: AugmentConfig,
        rng: np.random.Generator,
        max_value: float,
        out: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> np.ndarray:
        """Augment one minibatch in this thread; see `augment_batch`."""
        if images.shape != self.shape:
            raise AugmentError(
                f"this augmenter serves batches of shape {self.shape}, "
                f"got {images.shape}"
            )
        if out is None:
            out = np.empty(self.shape, np.float32)
        draws = _draw(config, rng, self.shape, max_value, labels)
        self._params = draws.params
        self.run(images, draws, config, max_value, out)
        return out

    def run(
        self,
        images: np.ndarray,
        draws: _Draws,
        config: AugmentConfig,
        max_value: float,
        out: np.ndarray,
    ) -> None:
        """Apply already drawn random transforms to ``images``, writing ``out``."""
        B, H, W = self.shape
        flat_out = out.reshape(B, H * W)
        images = _redrawn(images, draws, max_value)
        chosen = np.flatnonzero(draws.chosen)
        k = chosen.shape[0]
        if not config.is_geometric or k == 0:
            np.copyto(out, images, casting="unsafe")
        elif self._compiled_warp(images, draws, flat_out):
            pass  # warped the chosen images and copied the others
        elif k == B:
            self._warp(images, draws.params, draws.coarse, flat_out)
        else:
            # Only the chosen images are warped; the others are copied.
            np.copyto(out, images, casting="unsafe")
            coarse = None if draws.coarse is None else draws.coarse[:, chosen]
            warped = self._warped[:k]
            self._warp(images[chosen], draws.params[:, chosen], coarse, warped)
            flat_out[chosen] = warped
        if draws.thickness is not None:
            self._thicken(out, draws.thickness)
        if draws.noise is not None:
            flat_out += draws.noise
        if draws.thickness is not None or draws.noise is not None:
            np.clip(out, 0.0, float(max_value), out=out)

    def _warp(
        self,
        images: np.ndarray,
        params: np.ndarray,
        coarse: np.ndarray | None,
        out: np.ndarray,
    ) -> None:
        """Bilinear warp of ``images`` (k, H, W) into ``out`` (k, H*W) float32."""
        k = images.shape[0]
        self._split(self._source_coordinates(params, coarse, k).reshape(2 * k, -1))
        if images.dtype == np.uint8:
            self._gather_uint8(images, out)
        else:
            self._gather_float(images, out)

    def _compiled_warp(
        self, images: np.ndarray, draws: _Draws, out: np.ndarray
    ) -> bool:
        """Warp uint8 images with the compiled kernel (same result), if it runs."""
        if images.dtype != np.uint8 or not fast.compiled():
            return False
        maps = draws.params * np.float32(256.0)
        elastic = self._no_elastic
        if draws.coarse is not None:
            elastic = (draws.coarse, self._elastic_rows, self._elastic_columns)
        return fast.warp_uint8(images, draws.chosen, maps, *elastic, out)

    def _source_coordinates(
        self, params: np.ndarray, coarse: np.ndarray | None, k: int
    ) -> np.ndarray:
        """Return padded source positions of k images in 1/256 pixel, (2, k, H, W).

        Elementwise, in a fixed order that the compiled warp repeats exactly (a
        matrix product would sum in whatever order BLAS picks).
        """
        _, H, W = self.shape
        n = H * W
        g = self.elastic_grid
        # Fixed point with 8 fractional bits: exact integer bilinear weights later;
        # +256.5 is the one-pixel zero padding before the image plus half a step.
        m = params * np.float32(256.0)
        shift = np.multiply(m[:, :, 1, None], self._rows)  # (2, k, H)
        shift += m[:, :, 2, None] + np.float32(256.5)
        across = np.multiply(m[:, :, 0, None], self._columns)  # (2, k, W)
        coords = self._coords_buffer[: 2 * k * n].reshape(2, k, H, W)
        if coarse is None:
            np.add(across[:, :, None, :], shift[..., None], out=coords)
            return coords
        # The elastic field, Wy @ coarse @ Wx.T, as sums in order of the terms.
        wy, wx = self._elastic_rows, self._elastic_columns
        rows = self._elastic_buffer[: 2 * k * H * g].reshape(2, k, H, g)
        np.multiply(wy[0, :, None], coarse[:, :, None, 0, :], out=rows)
        for i in range(1, g):
            rows += wy[i, :, None] * coarse[:, :, None, i, :]
        term = self._term_buffer[: 2 * k * n].reshape(2, k, H, W)
        np.multiply(rows[..., 0, None], wx[0], out=coords)
        for j in range(1, g):
            np.multiply(rows[..., j, None], wx[j], out=term)
            coords += term
        coords += across[:, :, None, :]
        coords += shift[..., None]
        return coords

    def _split(self, coords: np.ndarray) -> None:
        """Clip positions (2k, H*W) to the padded image; split into pixel and 1/256."""
        _, H, W = self.shape
        k, n = coords.shape[0] // 2, H * W
        np.clip(coords[:k], 0.0, (W + 1) * 256.0, out=coords[:k])
        np.clip(coords[k:], 0.0, (H + 1) * 256.0, out=coords[k:])
        fixed = self._fixed_buffer[: 2 * k * n].reshape(2 * k, n)
        frac = self._frac_buffer[: 2 * k * n].reshape(2 * k, n)
        np.copyto(fixed, coords, casting="unsafe")
        np.bitwise_and(fixed, 255, out=frac.view(np.int32))
        np.subtract(256, frac, out=self._cofrac_buffer[: 2 * k * n].reshape(2 * k, n))
        np.right_shift(fixed, 8, out=fixed)

    def _split_coordinates(self, k: int) -> tuple[np.ndarray, ...]:
        """Return views ix, iy, fx, fy, 256 - fx, 256 - fy of k images, (k, H*W)."""
        n = self.shape[1] * self.shape[2]
        fixed = self._fixed_buffer[: 2 * k * n].reshape(2 * k, n)
        frac = self._frac_buffer[: 2 * k * n].reshape(2 * k, n)
        cofrac = self._cofrac_buffer[: 2 * k * n].reshape(2 * k, n)
        return fixed[:k], fixed[k:], frac[:k], frac[k:], cofrac[:k], cofrac[k:]

    def _gather_uint8(self, images: np.ndarray, out: np.ndarray) -> None:
        k = images.shape[0]
        _, H, W = self.shape
        # Padded row y (image row y - 1) is the low byte of pair row y and the high
        # byte of pair row y - 1; the zero border of the pairs is never written.
        pair_bytes = self._pair_bytes[:k]
        pair_bytes[:, 1 : H + 1, 1 : W + 1, 0] = images
        pair_bytes[:, 0:H, 1 : W + 1, 1] = images
        ix, iy, fx, fy, cx, cy = self._split_coordinates(k)
        np.multiply(iy, W + 3, out=iy)
        iy += ix
        index = self._index[:k]
        np.add(iy, self._row_base[:k], out=index)
        taps, low = self._taps[:k], self._low[:k]
        np.take(self._quads, index.ravel(), out=taps.ravel(), mode="wrap")
        # Bytes of each tap word: (y, x), (y+1, x), (y, x+1), (y+1, x+1). Interpolate
        # in two 16-bit lanes at once (left and right column), then across them;
        # weights are in 1/256, so every partial sum stays below 2**16 per lane.
        np.bitwise_and(taps, 0x00FF00FF, out=low)
        np.right_shift(taps, 8, out=taps)
        np.bitwise_and(taps, 0x00FF00FF, out=taps)
        low *= cy
        taps *= fy
        low += taps
        right = taps
        np.right_shift(low, 16, out=right)
        np.bitwise_and(low, 0xFFFF, out=low)
        low *= cx
        right *= fx
        low += right
        np.copyto(out, low.view(np.int32))
        out *= np.float32(1.0 / 65536.0)

    def _gather_float(self, images: np.ndarray, out: np.ndarray) -> None:
        k = images.shape[0]
        _, H, W = self.shape
        if self._float_buffers is None:
            self._float_buffers = (
                np.zeros((self.shape[0], H + 3, W + 3), np.float32),
                np.empty((4, self.shape[0], H * W), np.float32),
            )
        padded = self._float_buffers[0][:k]
        padded[:, 1 : H + 1, 1 : W + 1] = images
        flat = padded.ravel()
        ix, iy, fx, fy, _, _ = self._split_coordinates(k)
        np.multiply(iy, W + 3, out=iy)
        iy += ix
        index = self._index[:k]
        np.add(iy, (np.arange(k) * ((H + 3) * (W + 3)))[:, None], out=index)
        idx = index.ravel()
        t = self._float_buffers[1][:, :k]
        for tap, offset in enumerate((0, 1, W + 3, W + 4)):
            np.take(flat[offset:], idx, out=t[tap].ravel(), mode="wrap")
        weights = self._coords_buffer[: 2 * k * H * W].reshape(2, k, H * W)
        np.multiply(fx, np.float32(1.0 / 256.0), out=weights[0])
        np.multiply(fy, np.float32(1.0 / 256.0), out=weights[1])
        t[1] -= t[0]
        t[1] *= weights[0]
        t[1] += t[0]
        t[3] -= t[2]
        t[3] *= weights[0]
        t[3] += t[2]
        np.subtract(t[3], t[1], out=out)
        out *= weights[1]
        out += t[1]

    def _thicken(self, out: np.ndarray, amounts: np.ndarray) -> None:
        B, H, W = self.shape
        if self._morph_buffers is None:
            self._morph_buffers = (
                np.zeros((B, H + 2, W + 2), np.float32),
                np.empty((B, H, W), np.float32),
                np.empty((B, H, W), np.float32),
            )
        m = self._morph_buffers[0]
        m[:, 1:-1, 1:-1] = out
        centre = m[:, 1:-1, 1:-1]
        neighbours = (m[:, :-2, 1:-1], m[:, 2:, 1:-1], m[:, 1:-1, :-2], m[:, 1:-1, 2:])
        dil, ero = self._morph_buffers[1:]
        np.maximum(centre, neighbours[0], out=dil)
        np.minimum(centre, neighbours[0], out=ero)
        for n in neighbours[1:]:
            np.maximum(dil, n, out=dil)
            np.minimum(ero, n, out=ero)
        grow = np.maximum(amounts, 0.0)[:, None, None]
        shrink = np.maximum(-amounts, 0.0)[:, None, None]
        dil -= out
        dil *= grow
        ero -= out
        ero *= shrink
        out += dil
        out += ero


@dataclass(frozen=True)
class _Draws:
    """Every random number one minibatch needs, drawn in a fixed order."""

    chosen: np.ndarray  # float32 (B,): 1 augment, 0 keep
    params: np.ndarray  # float32 (2, B, 3): output -> source pixel maps
    coarse: np.ndarray | None  # float32 (2, B, g, g): elastic control values
    thickness: np.ndarray | None  # float32 (B,): + dilate, - erode
    noise: np.ndarray | None  # float32 (B, H*W), pixel units
    # Images redrawn first: those given style strokes (their labels, and a
    # generator for the strokes), and the pen width of those restroked (NaN: not).
    styled: np.ndarray | None = None  # intp (k,)
    styled_labels: np.ndarray | None = None  # (k,)
    style_rng: np.random.Generator | None = None
    pens: np.ndarray | None = None  # float (B,)
    # Images replaced by another of the batch turned upside down (a 9 for a 6...).
    turned: np.ndarray | None = None  # intp (m,)
    partners: np.ndarray | None = None  # intp (m,)


def _redrawn(images: np.ndarray, draws: _Draws, max_value: float) -> np.ndarray:
    """Return the batch with style strokes and new pens (the input if neither)."""
    if draws.styled is None and draws.pens is None:
        return images
    redrawn = images.copy()

    def stored(values: np.ndarray) -> np.ndarray:
        return np.rint(values) if images.dtype == np.uint8 else values

    if draws.turned is not None and len(draws.turned):
        redrawn[draws.turned] = images[draws.partners, ::-1, ::-1]
    if draws.styled is not None and len(draws.styled):
        styled = add_style_strokes(
            redrawn[draws.styled], draws.styled_labels, draws.style_rng, max_value
        )
        redrawn[draws.styled] = stored(styled)
    if draws.pens is not None:
        picked = np.flatnonzero(~np.isnan(draws.pens))
        if len(picked):
            pens = restroke(redrawn[picked], draws.pens[picked], max_value)
            redrawn[picked] = stored(pens)
    return redrawn


def _draw(
    config: AugmentConfig,
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    max_value: float,
    labels: np.ndarray | None = None,
) -> _Draws:
    """Draw a minibatch's random transforms (the same however the work is split)."""
    B, H, W = shape
    if config.probability >= 1.0:
        chosen = np.ones(B, np.float32)
    else:
        chosen = (rng.random(B) < config.probability).astype(np.float32)
    picked = np.flatnonzero(chosen)
    params = _affine_params(config, rng, picked, B, H, W)
    coarse = thickness = noise = None
    if config.elastic > 0:
        # Uniform control values with unit variance (sqrt(3) * U(-1, 1)): after the
        # smoothing sum the field is close to Gaussian, and they draw much faster.
        g = int(config.elastic_grid)
        coarse = np.zeros((2, B, g, g), np.float32)
        values = rng.random((2, picked.size, g, g), dtype=np.float32)
        values -= np.float32(0.5)
        values *= np.float32(2.0 * math.sqrt(3.0) * config.elastic * 256.0)
        coarse[:, picked] = values
    if config.thickness > 0:
        amount = config.thickness
        thickness = rng.uniform(-amount, amount, B).astype(np.float32) * chosen
    if config.noise > 0:
        noise = rng.standard_normal((B, H * W), dtype=np.float32)
        noise *= (chosen * np.float32(config.noise * max_value))[:, None]
    # Drawn after every older transform, so that configs without these keep their
    # random streams (and results) unchanged. Pens and style strokes are sized for
    # MNIST's 28x28 frame, not for small images such as the 8x8 digits.
    styled = styled_labels = style_rng = pens = turned = partners = None
    drawn_like = min(H, W) >= _MIN_DRAWN_SIDE
    if config.styles > 0 and labels is not None and drawn_like:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != (B,):
            raise AugmentError(f"expected {B} labels, got shape {labels.shape}")
        wanted = (rng.random(B) < config.styles) & (chosen > 0)
        styled = np.flatnonzero(wanted & styled_mask(labels))
        styled_labels = labels[styled]
        style_rng = np.random.default_rng(rng.integers(0, 2**63))
        turned, partners = half_turns(labels, styled, style_rng)
    if config.restroke > 0 and drawn_like:
        low, high = _RESTROKE_WIDTHS
        widths = rng.uniform(low, high, B) * MNIST_STROKE_WIDTH
        pens = np.where(
            (rng.random(B) < config.restroke) & (chosen > 0), widths, np.nan
        )
    if config.aspect > 0:
        # Stretch the output's width by a: the map's x column shrinks by 1 / a,
        # about the image centre.
        a = 1.0 + rng.uniform(-config.aspect, config.aspect, B) * chosen
        inverse = (1.0 / a).astype(np.float32)
        cx = np.float32((W - 1) / 2.0)
        params[:, :, 2] += params[:, :, 0] * cx * (1 - inverse)
        params[:, :, 0] *= inverse
    return _Draws(
        chosen,
        params,
        coarse,
        thickness,
        noise,
        styled,
        styled_labels,
        style_rng,
        pens,
        turned,
        partners,
    )


def _affine_params(
    config: AugmentConfig,
    rng: np.random.Generator,
    picked: np.ndarray,
    B: int,
    H: int,
    W: int,
) -> np.ndarray:
    """Return maps from output to source pixel coordinates, float32 (2, B, 3).

    The images ``picked`` get random maps, the others the identity.
    """
    # One draw for every picked image's rotation, shear, scale and shift (x, y),
    # each in [-1, 1] times its amount.
    amounts = np.array(
        [config.rotation, config.shear, config.scale, config.shift, config.shift]
    )
    u = np.zeros((5, B))
    u[:, picked] = rng.uniform(-1.0, 1.0, (5, picked.size)) * amounts[:, None]
    angle = np.radians(u[0])
    shear = np.tan(np.radians(u[1]))
    scale = 1.0 + u[2]
    shift = u[3:]
    cos, sin = np.cos(angle), np.sin(angle)
    # Source = M (output - centre) + centre - shift, with M = Shear @ Rotation / scale,
    # the inverse of a random forward map (all draws are symmetric about identity).
    m00 = (cos + shear * sin) / scale
    m01 = (-sin + shear * cos) / scale
    m10 = sin / scale
    m11 = cos / scale
    cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
    params = np.empty((2, B, 3), np.float32)
    params[0, :, 0] = m00
    params[0, :, 1] = m01
    params[0, :, 2] = cx - m00 * cx - m01 * cy - shift[0]
    params[1, :, 0] = m10
    params[1, :, 1] = m11
    params[1, :, 2] = cy - m10 * cx - m11 * cy - shift[1]
    return params


def _elastic_axis(size: int, points: int) -> np.ndarray:
    """Smooth interpolation weights (size, points) from control points to pixels.

    Gaussian weights around control points spread evenly along the axis, each row
    scaled to unit norm, so unit-variance control values give unit-variance
    displacement at every pixel (the 2-D basis is the outer product of two axes).
    """
    centres = np.linspace(0.0, size - 1.0, points)
    spacing = (size - 1.0) / max(points - 1, 1) or 1.0
    d = np.arange(size)[:, None] - centres[None, :]
    weights = np.exp(-0.5 * (d / spacing) ** 2)
    weights /= np.sqrt((weights**2).sum(axis=1, keepdims=True))
    return weights.astype(np.float32)


_local = threading.local()


def augment_batch(
    images: np.ndarray,
    config: AugmentConfig,
    rng: np.random.Generator,
    max_value: float = 255.0,
    out: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Randomly transform a minibatch of images, all at once.

    Geometric parts (shift, rotation, scale, shear, elastic) are composed into one
    source coordinate per output pixel and sampled with a single bilinear gather;
    pixels that come from outside the image are 0 (background). Then stroke thickness
    and noise are applied, and the result is clipped to ``[0, max_value]``.

    Parameters
    ----------
    images : np.ndarray
        uint8 (fastest) or float, shape (B, H, W), in pixel units ``0..max_value``
        with bright ink on a 0 background.
    config : AugmentConfig
        Amounts; an inactive config returns a float32 copy.
    rng : np.random.Generator
        Source of all randomness: the same generator state gives the same output.
    max_value : float
        Brightest pixel value (255 for MNIST, 16 for the 8x8 digits).
    out : np.ndarray, optional
        float32 (B, H, W) array to write into.
    labels : np.ndarray, optional
        int (B,) digit labels: ``styles`` gives strokes to the 1s, 6s, 7s and 9s
        (without labels it does nothing).

    Returns
    -------
    np.ndarray
        float32 (B, H, W) augmented images in pixel units.

    Raises
    ------
    AugmentError
        If ``images`` is not a (B, H, W) array or ``out`` does not match it.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.size == 0:
        raise AugmentError(
            f"augment_batch expects images of shape (batch, height, width), "
            f"got {images.shape}"
        )
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise AugmentError(f"images must be uint8 or float, got {images.dtype}")
    if out is not None and (
        out.shape != images.shape
        or out.dtype != np.float32
        or not out.flags.c_contiguous  # written through a flat view
    ):
        raise AugmentError(
            f"out must be a contiguous float32 array of shape {images.shape}, "
            f"got {out.dtype} {out.shape}"
        )
    if out is None:
        out = np.empty(images.shape, np.float32)
    if not config.is_active:
        np.copyto(out, images, casting="unsafe")
        return out
    B, H, W = images.shape
    draws = _draw(config, rng, images.shape, float(max_value), labels)
    # One thread: a second one splitting the batch measured slower beside the
    # training's BLAS threads on 2 cores (many short NumPy calls contend for the GIL).
    _augmenter((B, H, W), config).run(images, draws, config, max_value, out)
    return out


def _augmenter(shape: tuple[int, int, int], config: AugmentConfig) -> Augmenter:
    """Return the calling thread's augmenter for one batch shape (reused buffers)."""
    key = (shape, int(config.elastic_grid))
    cache = getattr(_local, "augmenters", None)
    if cache is None:
        cache = _local.augmenters = {}
    augmenter = cache.get(key)
    if augmenter is None:
        if len(cache) >= 8:
            cache.clear()
        augmenter = cache[key] = Augmenter(*shape, int(config.elastic_grid))
    return augmenter
