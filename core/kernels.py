"""Optional compiled kernels, used when numba is installed (the ``fast`` extra).

Four hot loops take several NumPy passes over their data, each a separate call: the
Adam update (ten passes over every parameter), the batch gather and normalisation,
bias + ReLU with its derivative mask, and augmentation's bilinear sampling (about
twenty passes over every pixel). Each kernel does the same arithmetic in one compiled
loop, in the same order and precision, so the results are bit for bit those of the
NumPy path. Every public function returns False when its kernel cannot run (no
numba, ``DIGIT_STUDIO_NO_KERNELS=1``, arrays it does not take) and the caller then
does the NumPy passes.

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
_bilinear_kernel: Callable | None = None
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
    def bilinear(padded, stride, image_size, coords, out):  # pragma: no cover
        # The arithmetic of ``Augmenter._gather_uint8``: positions in 1/256 pixel
        # on the zero-padded images, clipped, split into whole and fractional
        # parts, and four taps weighted in exact integers. Unsigned arithmetic
        # throughout: it spares numba's negative-index checks (1.7x faster).
        k, n = out.shape
        u32, u64 = np.uint32, np.uint64
        x_limit = np.float32((stride - 2) * 256.0)
        y_limit = np.float32((image_size // stride - 2) * 256.0)
        positions, values = coords.ravel(), out.ravel()
        down = u64(stride)
        for b in range(k):
            base = u64(b * image_size)
            for p in range(n):
                x, y = positions[b * n + p], positions[(k + b) * n + p]
                x = x if x > 0 else np.float32(0.0)
                x = x if x < x_limit else x_limit
                y = y if y > 0 else np.float32(0.0)
                y = y if y < y_limit else y_limit
                xi, yi = u32(x), u32(y)
                fx, fy = xi & u32(255), yi & u32(255)
                at = base + u64((yi >> u32(8)) * u32(stride) + (xi >> u32(8)))
                keep_y = u32(256) - fy
                left = u32(padded[at]) * keep_y + u32(padded[at + down]) * fy
                right = (
                    u32(padded[at + u64(1)]) * keep_y
                    + u32(padded[at + down + u64(1)]) * fy
                )
                total = left * (u32(256) - fx) + right * fx
                values[b * n + p] = np.float32(total) * np.float32(1.0 / 65536.0)

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
        "bilinear": bilinear,
        "gather": gather,
        "bias_relu": bias_relu,
    }


def _install(found: dict[str, Callable | None]) -> None:
    global _adam_kernel, _bilinear_kernel, _gather_kernel, _bias_relu_kernel
    _adam_kernel = found["adam"]
    _bilinear_kernel = found["bilinear"]
    _gather_kernel = found["gather"]
    _bias_relu_kernel = found["bias_relu"]


def _call(kernel: Callable, *arguments) -> bool:
    """Run a kernel; if it fails (numba cannot compile it here), use NumPy from now."""
    global _status
    try:
        kernel(*arguments)
    except Exception as exc:  # noqa: BLE001 - compilation fails before any write
        _install(dict.fromkeys(("adam", "bilinear", "gather", "bias_relu")))
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
    bilinear_uint8(np.zeros((1, 4, 4), np.uint8), np.zeros((2, 1), np.float32), row)


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


def bilinear_uint8(padded: np.ndarray, coords: np.ndarray, out: np.ndarray) -> bool:
    """Sample uint8 images at source positions in one compiled pass, if possible.

    Parameters
    ----------
    padded : ndarray
        uint8 (k, H + 3, W + 3): the images with one zero row and column before
        and two after.
    coords : ndarray
        float32 (2k, H*W): x positions of the k images, then their y positions, in
        1/256 pixel on the padded images (unclipped).
    out : ndarray
        float32 (k, H*W), written with the interpolated values.

    Returns
    -------
    bool
        False when the kernel is unavailable or the arrays do not suit it; nothing
        was written then and the caller samples with NumPy.
    """
    _ensure_loaded()
    if _bilinear_kernel is None:
        return False
    k, rows, stride = padded.shape
    if (
        padded.dtype != np.uint8
        or coords.dtype != np.float32
        or out.dtype != np.float32
        or not padded.flags.c_contiguous
        or not coords.flags.c_contiguous
        or not out.flags.c_contiguous
        or coords.shape != (2 * k, (rows - 3) * (stride - 3))
        or out.shape != (k, coords.shape[1])
    ):
        return False
    return _call(
        _bilinear_kernel, padded.reshape(-1), stride, rows * stride, coords, out
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
