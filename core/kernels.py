"""Optional compiled kernels, used when numba is installed (the ``fast`` extra).

Four hot loops take several NumPy passes over their data, each a separate call: the
Adam update (ten passes over every parameter), the batch gather and normalisation,
bias + ReLU with its derivative mask, and augmentation's warp (source positions,
then bilinear sampling: about thirty passes over every pixel). Each kernel does the
same arithmetic in compiled loops, in the same order and precision, so the results
are bit for bit those of the NumPy path. Every public function returns False when
its kernel cannot run (no numba, ``DIGIT_STUDIO_NO_KERNELS=1``, arrays it does not
take) and the caller then does the NumPy passes.

numba is imported on first use, not at import time: importing it and loading the
kernels takes a few tenths of a second, which the app's start should not pay
(``warm_up`` does it in the app's background thread).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np

DISABLE_VARIABLE = "DIGIT_STUDIO_NO_KERNELS"

_adam_kernel: Callable | None = None
_warp_kernel: Callable | None = None
_gather_kernel: Callable | None = None
_bias_relu_kernel: Callable | None = None
_loaded = False
_load_lock = threading.Lock()
_status = ""


def _ensure_loaded() -> None:
    # The app's warm-up thread and a training thread may both ask first.
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            _load()
            _loaded = True


def _load() -> None:
    global _status
    if os.environ.get(DISABLE_VARIABLE, "").strip() not in ("", "0"):
        _status = f"NumPy ({DISABLE_VARIABLE} is set)"
        return
    try:
        import numba
    except ImportError:
        _status = 'NumPy (install ".[fast]" for the compiled kernels)'
        return
    except Exception as exc:  # noqa: BLE001 - a broken install must not stop training
        _status = f"NumPy (numba failed to load: {exc})"
        return

    try:
        _install(_compile(numba))
    except Exception as exc:  # noqa: BLE001 - the NumPy passes do the same work
        _status = f"NumPy (numba could not build the kernels: {exc})"
        return
    _status = f"compiled (numba {numba.__version__})"


def _compile(numba) -> dict[str, Callable]:
    """Define the kernels; numba compiles each on its first call (or loads it)."""

    # cache=True keeps the machine code on disk, so only the first run compiles.
    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
    def adam(w, g, m, v, beta1, beta2, eps, scale):  # pragma: no cover - compiled
        for i in range(w.size):
            # The same operations, in the same order and precision, as
            # ``Adam.step``'s NumPy passes, so both give identical weights.
            mi = m[i] * beta1 + g[i]
            vi = v[i] * beta2 + g[i] * g[i]
            m[i] = mi
            v[i] = vi
            w[i] -= mi / (np.sqrt(vi) + eps) * scale

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def warp(images, chosen, maps, coarse, wy, wx, out):  # pragma: no cover
        # ``Augmenter``'s NumPy warp, image by image: the source positions in
        # 1/256 pixel (``_source_coordinates``: the same sums in the same order),
        # clipped and split into whole and fractional parts (``_split``), and
        # the four taps weighted in exact integers (``_gather_uint8``). The other
        # images are copied. Loops run along whole rows or images so that they
        # vectorise; only the tap loads are scalar. The elastic sums go four
        # terms per loop over weights zero-padded to a multiple of 4 (adding
        # 0 * w changes no bit that survives the clipping). Unsigned indices
        # spare numba's negative-index checks (1.7x faster).
        batch, rows, cols = images.shape
        n, g, padded_g = rows * cols, coarse.shape[2], wy.shape[0]
        u16, u32, u64, f32 = np.uint16, np.uint32, np.uint64, np.float32
        stride = cols + 3
        # The image zero-padded by one pixel before and two after, as vertical
        # pairs (padded row y in the low byte, row y + 1 in the high byte): two
        # neighbouring pairs hold a whole 2x2 neighbourhood. The border stays 0.
        pairs = np.zeros((rows + 2) * stride + 2, np.uint16)
        blank = np.zeros(cols, np.uint8)
        position = np.empty((2, n), np.float32)
        elastic = np.zeros((padded_g, rows), np.float32)
        columns = np.arange(cols).astype(np.float32)
        at = np.empty(n, np.uint64)
        fx = np.empty(n, np.uint32)
        fy = np.empty(n, np.uint32)
        quad = np.empty(n, np.uint32)
        limit_x, limit_y = f32((cols + 1) * 256.0), f32((rows + 1) * 256.0)
        for b in range(batch):
            pixels, values = images[b].ravel(), out[b]
            if chosen[b] == 0:
                for p in range(n):
                    values[p] = f32(pixels[p])
                continue
            for y in range(rows + 1):
                low = images[b, y - 1] if y > 0 else blank
                high = images[b, y] if y < rows else blank
                pair_row = pairs[y * stride + 1 : y * stride + 1 + cols]
                for x in range(cols):
                    pair_row[x] = u16(low[x]) | (u16(high[x]) << u16(8))
            for a in range(2):
                m0, m1 = maps[a, b, 0], maps[a, b, 1]
                m2 = maps[a, b, 2] + f32(256.5)
                # Elastic row weights: elastic[j, y] = sum over i of
                # wy[i, y] * coarse[i, j].
                for j in range(g):
                    e = elastic[j]
                    for i in range(0, padded_g, 4):
                        c0 = coarse[a, b, i, j]
                        c1 = coarse[a, b, i + 1, j] if i + 1 < g else f32(0.0)
                        c2 = coarse[a, b, i + 2, j] if i + 2 < g else f32(0.0)
                        c3 = coarse[a, b, i + 3, j] if i + 3 < g else f32(0.0)
                        w0, w1, w2, w3 = wy[i], wy[i + 1], wy[i + 2], wy[i + 3]
                        first = i == 0
                        for y in range(rows):
                            v = w0[y] * c0 if first else e[y] + w0[y] * c0
                            e[y] = ((v + w1[y] * c1) + w2[y] * c2) + w3[y] * c3
                for y in range(rows):
                    row = position[a, y * cols : (y + 1) * cols]
                    shift = m1 * f32(y) + m2
                    if g == 0:
                        for x in range(cols):
                            row[x] = m0 * columns[x] + shift
                        continue
                    for j in range(0, padded_g, 4):
                        r0, r1 = elastic[j, y], elastic[j + 1, y]
                        r2, r3 = elastic[j + 2, y], elastic[j + 3, y]
                        w0, w1, w2, w3 = wx[j], wx[j + 1], wx[j + 2], wx[j + 3]
                        first, last = j == 0, j + 4 == padded_g
                        for x in range(cols):
                            v = r0 * w0[x] if first else row[x] + r0 * w0[x]
                            v = ((v + r1 * w1[x]) + r2 * w2[x]) + r3 * w3[x]
                            row[x] = (v + m0 * columns[x]) + shift if last else v
            for p in range(n):
                sx, sy = position[0, p], position[1, p]
                sx = sx if sx > 0 else f32(0.0)
                sx = sx if sx < limit_x else limit_x
                sy = sy if sy > 0 else f32(0.0)
                sy = sy if sy < limit_y else limit_y
                xi, yi = u32(sx), u32(sy)
                fx[p], fy[p] = xi & u32(255), yi & u32(255)
                at[p] = u64((yi >> u32(8)) * u32(stride) + (xi >> u32(8)))
            for p in range(n):
                quad[p] = u32(pairs[at[p]]) | (u32(pairs[at[p] + u64(1)]) << u32(16))
            for p in range(n):
                # Bytes (y, x), (y+1, x), (y, x+1), (y+1, x+1): interpolate down
                # both columns at once in two 16-bit lanes, then across them.
                top = quad[p] & u32(0x00FF00FF)
                bottom = (quad[p] >> u32(8)) & u32(0x00FF00FF)
                both = top * (u32(256) - fy[p]) + bottom * fy[p]
                left, right = both & u32(0xFFFF), both >> u32(16)
                total = left * (u32(256) - fx[p]) + right * fx[p]
                values[p] = f32(total) * f32(1.0 / 65536.0)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def gather(images, indices, scale, mean, inv_std, out):  # pragma: no cover
        # ``Normalization.apply`` on images[indices], step for step: the uint8
        # value times the scale, then (standardising) minus mean, times 1/std.
        standardize = mean.size > 0
        for r in range(indices.size):
            row = images[indices[r]]
            for j in range(row.size):
                value = np.float32(row[j]) * scale
                if standardize:
                    value = (value - mean[j]) * inv_std[j]
                out[r, j] = value

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def bias_relu(z, bias, derivative):  # pragma: no cover - compiled
        # ``z += bias`` then ``_relu_fused``: the 0/1 mask, and z times the mask
        # (so a negative z gives -0.0, as in NumPy).
        for r in range(z.shape[0]):
            for j in range(z.shape[1]):
                value = z[r, j] + bias[j]
                mask = np.float32(1.0) if value > 0 else np.float32(0.0)
                derivative[r, j] = mask
                z[r, j] = value * mask

    return {
        "adam": adam,
        "warp": warp,
        "gather": gather,
        "bias_relu": bias_relu,
    }


def _install(found: dict[str, Callable | None]) -> None:
    global _adam_kernel, _warp_kernel, _gather_kernel, _bias_relu_kernel
    _adam_kernel = found["adam"]
    _warp_kernel = found["warp"]
    _gather_kernel = found["gather"]
    _bias_relu_kernel = found["bias_relu"]


def _call(kernel: Callable, *arguments) -> bool:
    """Run a kernel; if it fails (numba cannot compile it here), use NumPy from now."""
    global _status
    try:
        kernel(*arguments)
    except Exception as exc:  # noqa: BLE001 - compilation fails before any write
        _install(dict.fromkeys(("adam", "warp", "gather", "bias_relu")))
        _status = f"NumPy (a compiled kernel failed: {exc})"
        return False
    return True


def available() -> bool:
    """Return True when the compiled kernels run (numba installed, not disabled)."""
    _ensure_loaded()
    return _adam_kernel is not None


def warm_up() -> None:
    """Load every kernel now, from numba's disk cache (or by compiling it once).

    The first call of a kernel loads its machine code, which holds the GIL for
    tens of milliseconds (a second or so the very first time, while it compiles);
    the app does this in a background thread at start, so that a training run
    started later neither pays it nor stalls the window with it.
    """
    if not available():
        return
    one = np.zeros(1, np.float32)
    row = np.zeros((1, 1), np.float32)
    adam_update(one, one.copy(), one.copy(), one.copy(), 0.9, 0.999, 1e-8, 0.0)
    bias_relu(row, one, row.copy())
    gather_normalized(
        np.zeros((1, 1), np.uint8), np.zeros(1, np.intp), 1.0, None, None, row
    )
    f32 = np.float32
    warp_uint8(
        np.zeros((1, 1, 1), np.uint8),
        np.ones(1, f32),
        np.zeros((2, 1, 3), f32),
        np.zeros((2, 1, 0, 0), f32),
        np.zeros((0, 1), f32),
        np.zeros((0, 1), f32),
        row,
    )


def status() -> str:
    """Say whether the kernels run compiled or in NumPy, and why, for benchmarks."""
    _ensure_loaded()
    return _status


def adam_update(
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    beta1: float,
    beta2: float,
    eps: float,
    scale: float,
) -> bool:
    """Run one Adam update in a single compiled pass, if possible.

    Computes ``m = beta1 m + g``, ``v = beta2 v + g^2`` and
    ``w -= m / (sqrt(v) + eps) * scale`` in place, in the arrays' dtype.

    Returns
    -------
    bool
        False when the kernel is unavailable or the arrays do not suit it
        (not float32, not contiguous, different shapes); nothing was changed then
        and the caller runs its NumPy passes.
    """
    _ensure_loaded()
    if _adam_kernel is None:
        return False
    arrays = (w, g, m, v)
    if any(
        a.dtype != np.float32 or not a.flags.c_contiguous or a.shape != w.shape
        for a in arrays
    ):
        return False
    dtype = np.float32
    return _call(
        _adam_kernel,
        w.reshape(-1),
        g.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        dtype(beta1),
        dtype(beta2),
        dtype(eps),
        dtype(scale),
    )


def warp_uint8(
    images: np.ndarray,
    chosen: np.ndarray,
    maps: np.ndarray,
    coarse: np.ndarray,
    elastic_rows: np.ndarray,
    elastic_columns: np.ndarray,
    out: np.ndarray,
) -> bool:
    """Warp the chosen uint8 images and copy the others, in one compiled pass.

    Parameters
    ----------
    images : ndarray
        uint8 (B, H, W).
    chosen : ndarray
        float32 (B,): nonzero for the images to warp.
    maps : ndarray
        float32 (2, B, 3): per axis and image, the output-to-source map in 1/256
        pixel (x coefficient, y coefficient, offset).
    coarse : ndarray
        float32 (2, B, g, g): the elastic control values in 1/256 pixel; g = 0
        for no elastic warp.
    elastic_rows, elastic_columns : ndarray
        float32 (G, H) and (G, W): the elastic field's interpolation weights per
        control point, zero-padded to G rows, the multiple of 4 from g to g + 3.
    out : ndarray
        float32 (B, H*W), written with the images in pixel units.

    Returns
    -------
    bool
        False when the kernel is unavailable or the arrays do not suit it; nothing
        was written then and the caller warps with NumPy.
    """
    _ensure_loaded()
    if _warp_kernel is None:
        return False
    batch, rows, cols = images.shape
    g, padded_g = coarse.shape[-1], elastic_rows.shape[0]
    expected = (
        (images, np.uint8, (batch, rows, cols)),
        (chosen, np.float32, (batch,)),
        (maps, np.float32, (2, batch, 3)),
        (coarse, np.float32, (2, batch, g, g)),
        (elastic_rows, np.float32, (padded_g, rows)),
        (elastic_columns, np.float32, (padded_g, cols)),
        (out, np.float32, (batch, rows * cols)),
    )
    if (
        padded_g % 4
        or not g <= padded_g < g + 4
        or any(
            a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous
            for a, dtype, shape in expected
        )
    ):
        return False
    return _call(
        _warp_kernel, images, chosen, maps, coarse, elastic_rows, elastic_columns, out
    )


_NO_STATISTICS = np.zeros(0, np.float32)


def gather_normalized(
    images: np.ndarray,
    indices: np.ndarray,
    scale: float,
    mean: np.ndarray | None,
    inv_std: np.ndarray | None,
    out: np.ndarray,
) -> bool:
    """Write normalised float32 rows ``images[indices]`` into ``out``, if possible.

    ``images`` is uint8 (N, P); each row becomes ``row * scale`` and, when ``mean``
    is given, ``(that - mean) * inv_std``. Returns False (nothing written) when the
    kernel is unavailable or the arrays do not suit it.
    """
    _ensure_loaded()
    if _gather_kernel is None:
        return False
    standardize = mean is not None and inv_std is not None
    if (
        images.dtype != np.uint8
        or images.ndim != 2
        or out.dtype != np.float32
        or out.shape != (indices.shape[0], images.shape[1])
        or not out.flags.c_contiguous
        or indices.dtype != np.intp
        or (
            standardize
            and (
                mean.dtype != np.float32
                or inv_std.dtype != np.float32
                or mean.shape != (images.shape[1],)
                or inv_std.shape != mean.shape
            )
        )
    ):
        return False
    if indices.size and (indices.min() < 0 or indices.max() >= images.shape[0]):
        return False
    statistics = (mean, inv_std) if standardize else (_NO_STATISTICS,) * 2
    return _call(_gather_kernel, images, indices, np.float32(scale), *statistics, out)


def bias_relu(z: np.ndarray, bias: np.ndarray, derivative: np.ndarray) -> bool:
    """Add ``bias`` to every row of ``z``, apply ReLU in place, write its 0/1 slope.

    Returns False (nothing changed) when the kernel is unavailable or the arrays
    are not float32 C-contiguous (B, n), (n,) and (B, n).
    """
    _ensure_loaded()
    if _bias_relu_kernel is None:
        return False
    if (
        z.dtype != np.float32
        or bias.dtype != np.float32
        or derivative.dtype != np.float32
        or z.ndim != 2
        or bias.shape != (z.shape[1],)
        or derivative.shape != z.shape
        or not z.flags.c_contiguous
        or not derivative.flags.c_contiguous
    ):
        return False
    return _call(_bias_relu_kernel, z, bias, derivative)
