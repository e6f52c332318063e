"""Optional compiled kernels, used when numba is installed (the ``fast`` extra).

Five hot loops take several NumPy passes over their data, each a separate call: the
Adam update (ten passes over every parameter), the batch gather and normalisation,
bias + ReLU with its derivative mask, the softmax output with its loss and delta
(a dozen calls on a tiny array, costing more than their arithmetic), and
augmentation's warp (source positions, then bilinear sampling: about thirty passes
over every pixel). Three more move data for ``core.blank_inputs``: the columns of a
batch that hold any nonzero value, W0's matching rows, and the compact gradient
spread back. One draws the style strokes of ``core.drawing_styles`` (a pen's
distance to a segment, over the pixels it reaches). Ten serve a drawing's
conversion and prediction, where a wide pen makes NumPy's passes over a large
crop add up: its block sums, blur (three passes per blur tap), per-stroke cut and
box filter's weights (``core.preprocess``); peeling its strokes layer by layer,
spreading their ridges' depth downhill, evening out bumps and growing depths into
the paper (``core.stroke_depth``: a dozen passes per layer); the Euler number of
the pen estimate (``core.strokes``); and one row's product with a layer's weights
without copying the rows it skips (``core.fast.row_product``). Each kernel does the
same arithmetic in compiled loops, in the same order and precision (or counts the
same integers), so the results are bit for bit those of the NumPy path. Every public
function returns False (or None) when its kernel cannot run (no numba,
``DIGIT_STUDIO_NO_KERNELS=1``, arrays it does not take); ``core.fast``, the only
engine module that calls them, then runs the NumPy passes.

numba is imported on first use, not at import time: importing it and loading the
kernels takes a few tenths of a second, which the app's start should not pay
(``warm_up`` does it in the app's background thread).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import resident_pages

DISABLE_VARIABLE = "DIGIT_STUDIO_NO_KERNELS"

# The wrappers check the arrays of every call: comparing with dtype objects is
# faster than with the scalar types, which NumPy would convert each time.
_F32, _U8, _INTP = np.dtype(np.float32), np.dtype(np.uint8), np.dtype(np.intp)
# Segment ends and pen reaches the segment kernel takes: its pixel bounds are whole
# numbers, which a float32 this large (or NaN) would not convert to.
_MAX_COORDINATE = 2.0**24

# Where the one set bit of a 64-bit word is, by de Bruijn's multiply and shift:
# _BIT_OF[(bit * 0x03F79D71B4CB0A89) >> 58] (``erode_layers``).
_BIT_OF = np.zeros(64, np.int64)
for _bit in range(64):
    _BIT_OF[((1 << _bit) * 0x03F79D71B4CB0A89 % 2**64) >> 58] = _bit
del _bit

# For each byte value: the positions of its set bits, high bit first (0 = 128),
# then in column 8 how many there are (``unpack_rows``; passed as an argument, a
# uint8 table reads faster than a global int64 one: 0.50 against 0.69 us an image).
_SET_BITS = np.zeros((256, 9), np.uint8)
for _byte in range(256):
    _positions = [bit for bit in range(8) if _byte & (128 >> bit)]
    _SET_BITS[_byte, : len(_positions)] = _positions
    _SET_BITS[_byte, 8] = len(_positions)
del _byte, _positions

# The compiled kernels by name; empty while they are not loaded or cannot run.
_kernels: dict[str, Callable] = {}
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
    def add_scaled(g, w, scale):  # pragma: no cover - compiled
        # ``core.fast.add_l2``'s NumPy passes element by element: ``w * scale``
        # rounded to float32, then added.
        for i in range(g.size):
            g[i] += w[i] * scale

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
    def gather(images, indices, scale, mean, inv_std, out, sink):  # pragma: no cover
        # ``Normalization.apply`` on images[indices], step for step: the uint8
        # value times the scale, then (standardising) minus mean, times 1/std.
        # Returns False, having written nothing, for an index out of range.
        count, width = images.shape
        for r in range(indices.size):
            if indices[r] < 0 or indices[r] >= count:
                return False
        # Touch every cache line of every row first: the loads of rows scattered
        # over a large array then overlap instead of waiting one row at a time
        # (1.4x faster). The sink keeps the compiler from dropping the loads.
        touched = np.uint8(0)
        for r in range(indices.size):
            row = images[indices[r]]
            for j in range(0, width, 64):
                touched |= row[j]
            touched |= row[width - 1]
        sink[0] = touched
        for r in range(indices.size):
            row, values = images[indices[r]], out[r]
            if mean.size > 0:
                for j in range(width):
                    values[j] = (np.float32(row[j]) * scale - mean[j]) * inv_std[j]
            else:
                for j in range(width):
                    values[j] = np.float32(row[j]) * scale
        return True

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

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def softmax_shift(z, bias, labels, picked):  # pragma: no cover - compiled
        # ``SoftmaxCrossEntropy``'s NumPy passes before the exponential, row by
        # row: z += bias, minus the row's maximum (NaN for a row holding a NaN,
        # as np.max gives), and each row's shifted logit at its label. Returns
        # False, having written nothing, for a label out of range.
        batch, classes = z.shape
        for r in range(batch):
            if labels[r] < 0 or labels[r] >= classes:
                return False
        for r in range(batch):
            row = z[r]
            for j in range(classes):
                row[j] += bias[j]
            top = row[0]
            for j in range(1, classes):
                if top == top and not row[j] <= top:
                    top = row[j]
            for j in range(classes):
                row[j] -= top
            picked[r] = row[labels[r]]
        return True

    # error_model="numpy": a zero or NaN sum gives inf or NaN, as in NumPy,
    # instead of raising ZeroDivisionError.
    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
    def softmax_normalize(z, labels, scale, sums, delta):  # pragma: no cover
        # After the exponential: each row's sum, summed as NumPy's pairwise sum
        # does for rows of up to 128 values (eight running sums, combined in a
        # tree, then the rest), the probabilities z / sum, and the delta
        # (p - onehot) * scale. Returns False, having written nothing, for a
        # label out of range.
        batch, classes = z.shape
        f32 = np.float32
        for r in range(batch):
            if labels[r] < 0 or labels[r] >= classes:
                return False
        for r in range(batch):
            row = z[r]
            if classes < 8:
                total = f32(-0.0)
                for j in range(classes):
                    total += row[j]
            else:
                s0, s1, s2, s3 = row[0], row[1], row[2], row[3]
                s4, s5, s6, s7 = row[4], row[5], row[6], row[7]
                whole = classes - classes % 8
                for j in range(8, whole, 8):
                    s0, s1, s2, s3 = (
                        s0 + row[j],
                        s1 + row[j + 1],
                        s2 + row[j + 2],
                        s3 + row[j + 3],
                    )
                    s4, s5, s6, s7 = (
                        s4 + row[j + 4],
                        s5 + row[j + 5],
                        s6 + row[j + 6],
                        s7 + row[j + 7],
                    )
                total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
                for j in range(whole, classes):
                    total += row[j]
            sums[r] = total
            label = labels[r]
            for j in range(classes):
                p = row[j] / total
                row[j] = p
                delta[r, j] = ((p - f32(1.0)) if j == label else p) * scale
        return True

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def live_columns(x, limit, index, count, compact):  # pragma: no cover
        # The columns of x holding any nonzero value (NaN counts, -0.0 does
        # not, as in ``x.any(axis=0)``), in order, into index and their number
        # into count; then, when there are at most ``limit``, those columns as
        # a C-contiguous (batch, live) array at the start of the flat compact.
        batch, width = x.shape
        seen = np.zeros(width, np.bool_)
        for r in range(batch):
            row = x[r]
            for j in range(width):
                seen[j] |= row[j] != 0
        live = 0
        for j in range(width):
            if seen[j]:
                index[live] = j
                live += 1
        count[0] = live
        if live <= limit:
            for r in range(batch):
                row, start = x[r], r * live
                for t in range(live):
                    compact[start + t] = row[index[t]]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def take_rows(a, index, out):  # pragma: no cover - compiled
        # ``np.take(a, index, axis=0, out=out)``, element by element so that
        # each row copy vectorises (3x faster than np.take). Returns False,
        # having written nothing, for an index out of range.
        for t in range(index.size):
            if index[t] < 0 or index[t] >= a.shape[0]:
                return False
        for t in range(index.size):
            source, target = a[index[t]], out[t]
            for j in range(a.shape[1]):
                target[j] = source[j]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def unpack_rows(bitmaps, values, starts, index, out, set_bits):  # pragma: no cover
        # ``core.packed_images.PackedImages.take``: each row cleared, then the
        # next of its values put where its bitmap has a 1 (bits high first, as
        # np.packbits sets them; ``set_bits`` lists a byte's, `_SET_BITS`).
        # Returns False, having written nothing, for an index out of range.
        for t in range(index.size):
            if index[t] < 0 or index[t] >= bitmaps.shape[0]:
                return False
        for t in range(index.size):
            row, target = index[t], out[t]
            target[:] = 0
            at = starts[row]
            for k in range(bitmaps.shape[1]):
                bits = bitmaps[row, k]
                if bits:
                    first, count = k << 3, set_bits[bits, 8]
                    for q in range(count):
                        target[first + set_bits[bits, q]] = values[at + q]
                    at += count

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def spread_rows(rows, index, out):  # pragma: no cover - compiled
        # out[index] = rows and 0 in every other row of out, in one pass over
        # out. Returns False, having written nothing, unless index is strictly
        # increasing and in range.
        for t in range(index.size):
            if index[t] >= out.shape[0] or index[t] < (index[t - 1] + 1 if t else 0):
                return False
        t = 0
        for r in range(out.shape[0]):
            target = out[r]
            if t < index.size and index[t] == r:
                source = rows[t]
                for j in range(out.shape[1]):
                    target[j] = source[j]
                t += 1
            else:
                for j in range(out.shape[1]):
                    target[j] = 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def segments(ends, image, reach, centre, out):  # pragma: no cover - compiled
        # The NumPy passes of ``core.drawing_styles._draw_segments`` (pixel centres
        # whole, ``centre`` 0) and of ``core.strokes.render_segments`` (centres at
        # +0.5), pixel by pixel: the same float32 operations in the same order,
        # combined with max, over only the pixels within a segment's reach plus
        # one (farther ones get exactly 0 from the NumPy passes too). Returns
        # False, having written nothing, for an image index out of range.
        count, rows, cols = out.shape
        for s in range(image.size):
            if image[s] < 0 or image[s] >= count:
                return False
        f32 = np.float32
        zero, one = f32(0.0), f32(1.0)
        for s in range(image.size):
            x0, y0, x1, y1 = ends[0, s], ends[1, s], ends[2, s], ends[3, s]
            dx, dy, r = x1 - x0, y1 - y0, reach[s]
            length2 = max(dx * dx + dy * dy, f32(1e-12))
            left = max(int(np.floor(min(x0, x1) - r)) - 1, 0)
            right = min(int(np.ceil(max(x0, x1) + r)) + 2, cols)
            first = max(int(np.floor(min(y0, y1) - r)) - 1, 0)
            last = min(int(np.ceil(max(y0, y1) + r)) + 2, rows)
            target = out[image[s]]
            for y in range(first, last):
                ry = (f32(y) + centre) - y0
                for x in range(left, right):
                    rx = (f32(x) + centre) - x0
                    t = rx * dx + ry * dy
                    t = min(max(t / length2, zero), one)
                    gx = rx - t * dx
                    gy = ry - t * dy
                    c = min(max(r - np.sqrt(gx * gx + gy * gy), zero), one)
                    if c > target[y, x]:
                        target[y, x] = c
        return True

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def blur_rows(padded, kernel, out, first, last):  # pragma: no cover
        # ``core.preprocess._symmetric_sum``: out[i] = kernel[0] padded[r + i],
        # plus (padded[r + i - k] + padded[r + i + k]) kernel[k] for k = 1..r
        # where either row can hold ink, one row of out at a time.
        radius = kernel.shape[0] - 1
        size, width = out.shape
        for i in range(size):
            target, centre = out[i], padded[radius + i]
            for c in range(width):
                target[c] = centre[c] * kernel[0]
            for k in range(1, radius + 1):
                if first - k <= i < last + k:
                    above, below, weight = (
                        padded[radius + i - k],
                        padded[radius + i + k],
                        kernel[k],
                    )
                    for c in range(width):
                        target[c] += (above[c] + below[c]) * weight

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def erode_layers(depth, count, bit_of):  # pragma: no cover
        # ``core.stroke_depth.stroke_depths``: peel the ink (``depth``, uint8 0/1)
        # one layer at a time, square and cross erosions in turn (paper beyond
        # the edges); count[0] = how many erosions left ink. Each row is held as
        # 64-pixel words, so an erosion is a few word operations per row. Layers
        # nest: a pixel left by erosion k and not by k + 1 is k + 1 deep, so each
        # deeper pixel is written once (``bit_of`` finds a lowest set bit).
        height, width = depth.shape
        words = (width + 63) // 64
        one, zero, top = np.uint64(1), np.uint64(0), np.uint64(63)
        debruijn = np.uint64(0x03F79D71B4CB0A89)
        ink = np.zeros((height + 2, words), np.uint64)  # rows framed by paper
        for i in range(height):
            for j in range(width):
                if depth[i, j]:
                    ink[i + 1, j >> 6] |= one << np.uint64(j & 63)
        rows = np.zeros((height + 2, words), np.uint64)
        eroded = np.zeros((height + 2, words), np.uint64)
        layer = 0
        while True:
            left = zero
            for i in range(1, height + 1):
                for w in range(words):
                    rows[i, w] = ink[i - 1, w] & ink[i, w] & ink[i + 1, w]
            for i in range(1, height + 1):
                across = rows[i] if layer % 2 == 0 else ink[i]
                for w in range(words):
                    # Pixel j's left neighbour is bit j - 1 (carried from the
                    # word before), its right one bit j + 1.
                    before = across[w - 1] >> top if w > 0 else zero
                    after = across[w + 1] << top if w + 1 < words else zero
                    west = (across[w] << one) | before
                    east = (across[w] >> one) | after
                    kept = rows[i, w] & west & east
                    eroded[i, w] = kept
                    left |= kept
                    gone = ink[i, w] & ~kept
                    while layer > 0 and gone:
                        low = gone & (~gone + one)
                        slot = (low * debruijn) >> np.uint64(58)
                        depth[i - 1, (w << 6) + bit_of[slot]] = layer + 1
                        gone ^= low
            if left == zero:
                count[0] = layer
                return
            ink, eroded = eroded, ink
            layer += 1

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def spread_ridges(depth, ridge, deepest):  # pragma: no cover
        # ``core.stroke_depth.ridge_depths``: from the deepest layer down, each
        # pixel one layer shallower than a 3x3 neighbour takes the largest ridge
        # value of those neighbours. Pixels are visited by layer (a counting
        # sort), in copies framed by paper and flattened: a neighbour is a fixed
        # offset away.
        height, width = depth.shape
        stride = width + 2
        levels = np.zeros((height + 2) * stride, np.uint8)
        ridges = np.zeros((height + 2) * stride, np.uint8)
        starts = np.zeros(deepest + 2, np.int64)
        for i in range(height):
            for j in range(width):
                at = (i + 1) * stride + j + 1
                levels[at], ridges[at] = depth[i, j], ridge[i, j]
                starts[depth[i, j] + 1] += 1
        for level in range(1, deepest + 2):
            starts[level] += starts[level - 1]
        order = np.empty(height * width, np.int64)
        fill = starts.copy()
        for i in range(height):
            for at in range((i + 1) * stride + 1, (i + 1) * stride + width + 1):
                order[fill[levels[at]]] = at
                fill[levels[at]] += 1
        up, down = -stride, stride
        near = (up - 1, up, up + 1, -1, 1, down - 1, down, down + 1)
        for level in range(deepest, 1, -1):
            for k in range(starts[level - 1], starts[level]):
                at = order[k]
                best = ridges[at]
                for offset in near:
                    # Branch-free: which neighbours are this deep is random.
                    here = ridges[at + offset] * np.uint8(levels[at + offset] == level)
                    best = max(best, here)
                ridges[at] = best
        for i in range(height):
            for j in range(width):
                ridge[i, j] = ridges[(i + 1) * stride + j + 1]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def absorb_bumps(ridge, rounds):  # pragma: no cover - compiled
        # ``core.stroke_depth._absorb_bumps``: each round, from a snapshot framed
        # by paper, a ridge pixel with fewer than two 8-neighbours of its own
        # value and a deeper one takes the deepest.
        height, width = ridge.shape
        framed = np.zeros((height + 2, width + 2), np.uint8)
        for _ in range(rounds):
            framed[1:-1, 1:-1] = ridge
            changed = False
            for i in range(height):
                above, row, below = framed[i], framed[i + 1], framed[i + 2]
                for j in range(width):
                    here = row[j + 1]
                    if here == 0:
                        continue
                    near = (
                        above[j], above[j + 1], above[j + 2], row[j],
                        row[j + 2], below[j], below[j + 1], below[j + 2],
                    )  # fmt: skip
                    same, deeper = 0, 0
                    for value in near:
                        same += value == here
                        deeper = max(deeper, value)
                    if same < 2 and deeper > here:
                        ridge[i, j] = deeper
                        changed = True
            if not changed:
                return

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def grow_into_paper(ridge, steps):  # pragma: no cover - compiled
        # ``core.stroke_depth.grow_into_paper``: each step, every 0 takes the
        # largest value of its 3x3 square (a column's three, then a row's three:
        # the square clamped at the edges has the same maximum).
        height, width = ridge.shape
        down = np.empty((height, width), np.uint8)
        for _ in range(steps):
            for i in range(height):
                above, row = ridge[max(i - 1, 0)], ridge[i]
                below, out = ridge[min(i + 1, height - 1)], down[i]
                for j in range(width):
                    out[j] = max(max(above[j], row[j]), below[j])
            for i in range(height):
                column, row = down[i], ridge[i]
                # The ends on their own, so the loop between needs no clamping.
                first = max(column[0], column[min(1, width - 1)])
                last = max(column[max(width - 2, 0)], column[width - 1])
                for j in range(1, width - 1):
                    near = max(max(column[j - 1], column[j]), column[j + 1])
                    row[j] = near if row[j] == 0 else row[j]
                if row[0] == 0:
                    row[0] = first
                if width > 1 and row[width - 1] == 0:
                    row[width - 1] = last

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def cut_each(work, index, levels, slopes):  # pragma: no cover - compiled
        # ``core.preprocess._cut_each``'s NumPy passes pixel by pixel, in float32:
        # minus its stroke's level, over its slope, plus a half, clipped to [0, 1].
        half, zero, one = np.float32(0.5), np.float32(0.0), np.float32(1.0)
        height, width = work.shape
        for i in range(height):
            for j in range(width):
                k = index[i, j]
                value = (work[i, j] - levels[k]) / slopes[k] + half
                if value < zero:
                    value = zero
                elif value > one:
                    value = one
                work[i, j] = value

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def block_sums(crop, q, out):  # pragma: no cover - compiled
        # ``core.preprocess._block_sums``: each block's rows summed left to right,
        # then those sums top to bottom (paper beyond the crop adds nothing).
        height, width = crop.shape
        whole = width // q
        rows = np.zeros(out.shape[1], np.float32)
        for y in range(height):
            line = crop[y]
            for block in range(whole):
                start = block * q
                total = line[start]
                for x in range(start + 1, start + q):
                    total += line[x]
                rows[block] = total
            if whole < out.shape[1]:
                total = line[whole * q]
                for x in range(whole * q + 1, width):
                    total += line[x]
                rows[whole] = total
            target = out[y // q]
            if y % q == 0:
                target[:] = rows
            else:
                for block in range(rows.shape[0]):
                    target[block] += rows[block]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def euler_numbers(images, level, out):  # pragma: no cover - compiled
        # ``core.strokes._euler_numbers`` of ``images >= level``: Gray's bit quads
        # counted over each image's 2x2 squares (exact integers, any order).
        count, height, width = images.shape
        for k in range(count):
            total = 0
            for i in range(height - 1):
                top, bottom = images[k, i], images[k, i + 1]
                for j in range(width - 1):
                    a, b = top[j] >= level, top[j + 1] >= level
                    c, d = bottom[j] >= level, bottom[j + 1] >= level
                    inked = np.int64(a) + np.int64(b) + np.int64(c) + np.int64(d)
                    if inked == 1:
                        total += 1
                    elif inked == 3:
                        total -= 1
                    elif inked == 2 and a == d:
                        total -= 2
            out[k] = total // 4

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def row_product(a, W, out):  # pragma: no cover - compiled
        # ``core.fast.row_product``: out = a @ W for one row, W's rows facing
        # zeros skipped, each row's terms added in turn (einsum's order).
        out[:] = 0.0
        for j in range(a.shape[0]):
            weight = a[j]
            if weight != 0.0:
                row = W[j]
                for k in range(out.shape[0]):
                    out[k] += weight * row[k]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def box_weights(offset, scale, out):  # pragma: no cover - compiled
        # ``core.preprocess._box_weights``: each output pixel's overlap with each
        # input pixel over the scale, in float64, then float32 (the same steps).
        for j in range(out.shape[0]):
            start = (j - offset) * scale
            stop = start + scale
            for i in range(out.shape[1]):
                overlap = min(stop, i + 1.0) - max(start, float(i))
                out[j, i] = max(overlap, 0.0) / scale

    return {
        "adam": adam,
        "add_scaled": add_scaled,
        "warp": warp,
        "gather": gather,
        "bias_relu": bias_relu,
        "softmax_shift": softmax_shift,
        "softmax_normalize": softmax_normalize,
        "live_columns": live_columns,
        "take_rows": take_rows,
        "unpack_rows": unpack_rows,
        "spread_rows": spread_rows,
        "segments": segments,
        "blur_rows": blur_rows,
        "erode_layers": erode_layers,
        "spread_ridges": spread_ridges,
        "absorb_bumps": absorb_bumps,
        "grow_into_paper": grow_into_paper,
        "cut_each": cut_each,
        "block_sums": block_sums,
        "euler_numbers": euler_numbers,
        "row_product": row_product,
        "box_weights": box_weights,
    }


def _install(found: dict[str, Callable]) -> None:
    global _kernels
    _kernels = found


def _call(name: str, *arguments) -> bool:
    """Run a kernel; if it fails (numba cannot compile it here), use NumPy from now.

    Returns False when the kernel is not loaded, failed, or itself returned False
    (arguments it refuses, having written nothing).
    """
    global _status
    kernel = _kernels.get(name)
    if kernel is None:
        return False
    try:
        result = kernel(*arguments)
    except Exception as exc:  # noqa: BLE001 - compilation fails before any write
        _install({})
        _status = f"NumPy (a compiled kernel failed: {exc})"
        return False
    return result is not False


def available() -> bool:
    """Return True when the compiled kernels run (numba installed, not disabled)."""
    if not _loaded:
        _ensure_loaded()
    return bool(_kernels)


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
    add_scaled(one.copy(), one, 0.0)
    bias_relu(row, one, row.copy())
    # numba types a read-only array apart: a stored dataset's images (a mapped file).
    read_only = np.zeros((1, 1), np.uint8)
    read_only.flags.writeable = False
    for images in (read_only.copy(), read_only):
        gather_normalized(images, np.zeros(1, np.intp), 1.0, None, None, row)
    labels = np.zeros(1, np.intp)
    softmax_shift(row, one, labels, one.copy())
    softmax_normalize(row, labels, 1.0, one.copy(), row.copy())
    index, count = np.zeros(1, np.intp), np.zeros(1, np.intp)
    live_columns(row, 1, index, count, one.copy())
    take_rows(row, index, row.copy())
    spread_rows(row, index, row.copy())
    byte = np.zeros((1, 1), np.uint8)
    unpack_rows(byte, byte[0], np.zeros(2, np.int64), index, byte.copy())
    f32 = np.float32
    draw_segments(np.zeros((4, 1), f32), index, one, np.zeros((1, 1, 1), f32))
    _call("blur_rows", np.zeros((3, 1), f32), np.ones(2, f32), row, 0, 1)
    square = np.zeros((3, 3), np.uint8)
    _call("erode_layers", square.copy(), np.zeros(1, np.intp), _BIT_OF)
    _call("spread_ridges", square, square.copy(), 1)
    _call("absorb_bumps", square.copy(), 1)
    _call("grow_into_paper", square.copy(), 1)
    table = np.ones(256, f32)
    _call("cut_each", np.zeros((1, 1), f32), square[:1, :1].copy(), table, table)
    _call("block_sums", row, 1, row.copy())
    _call("euler_numbers", row[None], f32(0.5), np.zeros(1, np.int64))
    _call("row_product", one, row, one.copy())
    _call("box_weights", 0.0, 1.0, row.copy())
    warp_uint8(
        np.zeros((1, 1, 1), np.uint8),
        np.ones(1, f32),
        np.zeros((2, 1, 3), f32),
        np.zeros((2, 1, 0, 0), f32),
        np.zeros((0, 1), f32),
        np.zeros((0, 1), f32),
        row,
    )
    global _compiler_released
    if not _compiler_released:
        _compiler_released = True
        release_compiler()


# Set once `warm_up` has given the compiler's pages back: the training thread warms
# up again at the start of every run, and the pages stay out until a compile.
_compiler_released = False


def release_compiler() -> int:
    """Give back the resident pages of numba's compiler library.

    Loading the kernels runs through LLVM, whose library then holds some 68 MiB of
    code resident that nothing reads once every kernel is loaded: the kernels are
    machine code of their own. Reclaiming its read-only maps (the kernel reads them
    from the file again if a later compile needs them) keeps a big dataset's training
    that much lower (``bench.big_dataset``). Returns the bytes of the maps given
    back: 0 where this cannot be done (not Linux, an older kernel).
    """
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            ranges = [_compiler_range(line) for line in maps]
    except OSError:
        return 0
    released = 0
    for start, stop in filter(None, ranges):
        if resident_pages.advise(start, stop, resident_pages.PAGEOUT):
            released += stop - start
    return released


def _compiler_range(line: str) -> tuple[int, int] | None:
    """Return a /proc/self/maps line's range when it maps LLVM's code read-only."""
    fields = line.split(maxsplit=5)  # the path last, spaces and all
    if len(fields) < 6 or "w" in fields[1]:
        return None
    if "llvm" not in fields[5].rstrip().rsplit("/", 1)[-1].lower():
        return None
    start, _, stop = fields[0].partition("-")
    return int(start, 16), int(stop, 16)


def compile_elsewhere(timeout: float = 600.0) -> bool:
    """Compile the kernels numba's disk cache lacks in a child process, and wait.

    Compiling takes 14-16 s the first time after an install or an update; in the
    app's process it stalls the window up to about 50 ms at a time (the compiler's
    garbage is collected on the GUI thread) and keeps other threads from the GIL up
    to about 100 ms. The child fills the cache, from which `warm_up` then only
    loads. Returns True when a child compiled them, False when nothing was
    missing (or no kernels run here) or the child failed (`warm_up` then
    compiles as before).
    """
    if not _missing_from_cache():
        return False
    code = "from core import kernels; kernels.warm_up()"
    root = Path(__file__).resolve().parent.parent  # where ``import core`` finds this
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _missing_from_cache() -> bool:
    """Say whether a kernel has no machine code in numba's disk cache for its source.

    Read from numba's index files (numba drops an index whose source changed); when
    numba's internals do not say, the cache counts as missing.
    """
    if not available():
        return False
    try:
        return any(
            not kernel._cache._cache_file._load_index() for kernel in _kernels.values()
        )
    except Exception:  # noqa: BLE001 - numba's internals moved: compile elsewhere
        return True


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
    if not available():
        return False
    shape = w.shape
    for a in (w, g, m, v):
        if a.dtype != _F32 or not a.flags.c_contiguous or a.shape != shape:
            return False
    if len(shape) != 1:
        w, g, m, v = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    f32 = np.float32
    return _call("adam", w, g, m, v, f32(beta1), f32(beta2), f32(eps), f32(scale))


def add_scaled(g: np.ndarray, w: np.ndarray, scale: float) -> bool:
    """Add ``scale * w`` to ``g`` in place, in one compiled pass, if possible.

    ``g`` and ``w`` are float32 arrays of one shape, C-contiguous; ``scale`` is
    rounded to float32. Returns False (nothing written) when the kernel is not
    loaded or the arrays do not suit it.
    """
    if not available():
        return False
    if not _suit([(g, _F32, g.shape), (w, _F32, g.shape)]):
        return False
    return _call("add_scaled", g.reshape(-1), w.reshape(-1), np.float32(scale))


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
    if not available():
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
    if padded_g % 4 or not g <= padded_g < g + 4 or not _suit(expected):
        return False
    return _call(
        "warp", images, chosen, maps, coarse, elastic_rows, elastic_columns, out
    )


def draw_segments(
    ends: np.ndarray,
    image: np.ndarray,
    reach: np.ndarray,
    out: np.ndarray,
    centre: float = 0.0,
) -> bool:
    """Draw pen segments onto images, combined with max, in one compiled pass.

    Parameters
    ----------
    ends : ndarray
        float32 (4, n): each segment's x0, y0, x1, y1, in pixels whose centres
        are at whole coordinates plus ``centre``.
    image : ndarray
        intp (n,): the image each segment is drawn on.
    reach : ndarray
        float32 (n,): half the pen width plus half a pixel; a pixel's ink is
        ``clip(reach - distance to the segment, 0, 1)``.
    out : ndarray
        float32 (k, H, W), raised to the segments' ink where it is higher.
    centre : float
        Where a pixel's centre lies within it: 0 for the style strokes'
        coordinates, 0.5 for `core.strokes.render_segments`'.

    Returns
    -------
    bool
        False when the kernel is unavailable or the arrays do not suit it; nothing
        was written then and the caller draws with NumPy.
    """
    if not available():
        return False
    n = image.shape[0]
    expected = ((ends, _F32, (4, n)), (image, _INTP, (n,)), (reach, _F32, (n,)))
    if not _suit(expected) or out.ndim != 3 or not _suit([(out, _F32, out.shape)]):
        return False
    farthest = np.maximum(np.abs(ends).max(initial=0), reach.max(initial=0))
    if not farthest < _MAX_COORDINATE:  # NaN too
        return False
    return _call("segments", ends, image, reach, np.float32(centre), out)


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
    if not available():
        return False
    standardize = mean is not None and inv_std is not None
    if (
        images.dtype != _U8
        or images.ndim != 2
        or out.dtype != _F32
        or out.shape != (indices.shape[0], images.shape[1])
        or not out.flags.c_contiguous
        or indices.dtype != _INTP
        or (
            standardize
            and (
                mean.dtype != _F32
                or inv_std.dtype != _F32
                or mean.shape != (images.shape[1],)
                or inv_std.shape != mean.shape
            )
        )
    ):
        return False
    statistics = (mean, inv_std) if standardize else (_NO_STATISTICS,) * 2
    sink = np.empty(1, np.uint8)
    return _call("gather", images, indices, np.float32(scale), *statistics, out, sink)


def bias_relu(z: np.ndarray, bias: np.ndarray, derivative: np.ndarray) -> bool:
    """Add ``bias`` to every row of ``z``, apply ReLU in place, write its 0/1 slope.

    Returns False (nothing changed) when the kernel is unavailable or the arrays
    are not float32 C-contiguous (B, n), (n,) and (B, n).
    """
    if not available():
        return False
    if (
        z.dtype != _F32
        or bias.dtype != _F32
        or derivative.dtype != _F32
        or z.ndim != 2
        or bias.shape != (z.shape[1],)
        or derivative.shape != z.shape
        or not z.flags.c_contiguous
        or not derivative.flags.c_contiguous
    ):
        return False
    return _call("bias_relu", z, bias, derivative)


# NumPy sums rows of up to 128 values with one fixed pattern; the kernel copies it.
_MAX_SOFTMAX_CLASSES = 128


def softmax_shift(
    z: np.ndarray, bias: np.ndarray, labels: np.ndarray, picked: np.ndarray
) -> bool:
    """Add ``bias`` to the logits, subtract each row's maximum, pick each label's.

    ``z`` is float32 (B, K) and changed in place; ``picked`` (B,) receives
    ``z[r, labels[r]]`` after the shift. Returns False (nothing written) when the
    kernel is unavailable, a label is out of range or the arrays do not suit it.
    """
    if not available() or not _softmax_arrays(z, labels, picked):
        return False
    if bias.dtype != _F32 or bias.shape != z.shape[1:]:
        return False
    if not bias.flags.c_contiguous:
        return False
    return _call("softmax_shift", z, bias, labels, picked)


def softmax_normalize(
    z: np.ndarray,
    labels: np.ndarray,
    scale: float,
    sums: np.ndarray,
    delta: np.ndarray,
) -> bool:
    """Turn exponentials into probabilities and write the cross-entropy delta.

    ``z`` float32 (B, K) holds exp(shifted logits) and becomes the probabilities
    (each row over its sum, written into ``sums``); ``delta`` (B, K) receives
    ``(p - onehot(labels)) * scale``. Returns False (nothing written) when the
    kernel is unavailable, a label is out of range or the arrays do not suit it.
    """
    if not available() or not _softmax_arrays(z, labels, sums):
        return False
    if delta.dtype != _F32 or delta.shape != z.shape:
        return False
    if not delta.flags.c_contiguous:
        return False
    return _call("softmax_normalize", z, labels, np.float32(scale), sums, delta)


def live_columns(
    x: np.ndarray, limit: int, index: np.ndarray, count: np.ndarray, compact: np.ndarray
) -> bool:
    """Find the columns of ``x`` that hold a nonzero value; copy them if few.

    ``x`` is float32 (B, P). Writes the live columns' indices, in order, into
    ``index`` (P,) and their number into ``count`` (1,); when that number is at
    most ``limit``, also writes ``x[:, index[:count]]`` C-contiguous into the
    first B * count values of the flat ``compact``. Returns False (nothing
    written) when the kernel is unavailable or the arrays do not suit it.
    """
    if not available():
        return False
    if (
        x.dtype != _F32
        or x.ndim != 2
        or not x.flags.c_contiguous
        or not _int_vector(index, x.shape[1])
        or not _int_vector(count, 1)
        or compact.dtype != _F32
        or compact.ndim != 1
        or compact.size < x.size
        or not compact.flags.c_contiguous
    ):
        return False
    return _call("live_columns", x, int(limit), index, count, compact)


def take_rows(a: np.ndarray, index: np.ndarray, out: np.ndarray) -> bool:
    """``np.take(a, index, axis=0, out=out)`` for float32 C-contiguous arrays.

    Returns False (nothing written) when the kernel is unavailable, an index is
    out of range or the arrays do not suit it.
    """
    if not available() or not _row_arrays(a, index, out):
        return False
    return _call("take_rows", a, index, out)


def unpack_rows(
    bitmaps: np.ndarray,
    values: np.ndarray,
    starts: np.ndarray,
    index: np.ndarray,
    out: np.ndarray,
) -> bool:
    """Unpack packed images' rows ``index`` into uint8 ``out`` (K, P).

    ``bitmaps``, ``values`` and ``starts`` as `core.packed_images.PackedImages`
    keeps them. Returns False (nothing written) when the kernel is unavailable, an
    index is out of range or the arrays do not suit it.
    """
    if not available():
        return False
    if not (
        bitmaps.dtype == _U8
        and values.dtype == _U8
        and starts.dtype == np.int64
        and out.dtype == _U8
        and bitmaps.ndim == 2
        and out.ndim == 2
        and out.shape[0] == index.shape[0]
        and bitmaps.shape[1] * 8 >= out.shape[1]
        and bitmaps.flags.c_contiguous
        and out.flags.c_contiguous
        and starts.shape == (bitmaps.shape[0] + 1,)
        and index.ndim == 1
        and _int_vector(index, index.shape[0])
    ):
        return False
    return _call("unpack_rows", bitmaps, values, starts, index, out, _SET_BITS)


def spread_rows(rows: np.ndarray, index: np.ndarray, out: np.ndarray) -> bool:
    """``out[...] = 0; out[index] = rows`` in one pass, for increasing ``index``.

    Returns False (nothing written) when the kernel is unavailable, ``index`` is
    not strictly increasing and in range, or the arrays do not suit it.
    """
    if not available() or not _row_arrays(out, index, rows):
        return False
    return _call("spread_rows", rows, index, out)


def blur_rows(
    padded: np.ndarray, kernel: np.ndarray, out: np.ndarray, first: int, last: int
) -> bool:
    """Blur along rows with ``core.preprocess._symmetric_sum``'s arithmetic.

    ``padded`` float32 (S + 2r, W), ``kernel`` float32 (r + 1,), ``out`` float32
    (S, W), all C-contiguous; rows ``r + first`` to ``r + last - 1`` of ``padded``
    hold its ink. Runs only once `warm_up` has loaded the kernel: the app converts
    drawings on its GUI thread, which must not wait for numba to load or compile.
    Returns False (nothing written) when the kernel is not loaded or the arrays
    do not suit it.
    """
    if not _loaded_for_drawings("blur_rows"):
        return False
    if (
        any(a.dtype != _F32 or not a.flags.c_contiguous for a in (padded, kernel, out))
        # Read-only arrays are another type: numba would compile for them here.
        or not (padded.flags.writeable and kernel.flags.writeable)
        or kernel.ndim != 1
        or out.ndim != 2
        or padded.shape != (out.shape[0] + 2 * (kernel.size - 1), out.shape[1])
    ):
        return False
    return _call("blur_rows", padded, kernel, out, int(first), int(last))


def erode_layers(depth: np.ndarray) -> int | None:
    """Peel ink layer by layer as ``core.stroke_depth.stroke_depths`` does.

    ``depth`` uint8 (H, W), C-contiguous: the ink (0 or 1), turned in place into
    each pixel's depth. Returns how many erosions left ink, or None (nothing
    written) when the kernel is not loaded (as `blur_rows`, never compiled on the
    GUI thread) or the array does not suit it.
    """
    if not _loaded_for_drawings("erode_layers") or not _uint8_image(depth):
        return None
    count = np.zeros(1, np.intp)
    called = _call("erode_layers", depth, count, _BIT_OF)
    return int(count[0]) if called else None


def spread_ridges(depth: np.ndarray, ridge: np.ndarray, deepest: int) -> bool:
    """Spread ridge depths downhill as ``core.stroke_depth.ridge_depths`` does.

    ``depth`` and ``ridge`` (a copy of depth, updated in place) are uint8 (H, W),
    C-contiguous. False (nothing written) as for `erode_layers`.
    """
    if not _loaded_for_drawings("spread_ridges"):
        return False
    if depth.ndim != 2 or not _suit_writeable(
        [(a, _U8, depth.shape) for a in (depth, ridge)]
    ):
        return False
    return _call("spread_ridges", depth, ridge, int(deepest))


def absorb_bumps(ridge: np.ndarray, rounds: int) -> bool:
    """Give bumps their stroke's ridge as ``core.stroke_depth._absorb_bumps`` does.

    ``ridge`` uint8 (H, W), C-contiguous, updated in place. False (nothing
    written) as for `erode_layers`.
    """
    if not _loaded_for_drawings("absorb_bumps") or not _uint8_image(ridge):
        return False
    return _call("absorb_bumps", ridge, int(rounds))


def grow_into_paper(ridge: np.ndarray, steps: int) -> bool:
    """Grow ridge depths into the paper as ``core.stroke_depth`` does.

    ``ridge`` uint8 (H, W), C-contiguous, updated in place. False (nothing
    written) as for `erode_layers`.
    """
    if not _loaded_for_drawings("grow_into_paper") or not _uint8_image(ridge):
        return False
    return _call("grow_into_paper", ridge, int(steps))


def cut_each(
    work: np.ndarray, index: np.ndarray, levels: np.ndarray, slopes: np.ndarray
) -> bool:
    """Cut blurred strokes each at its own level as ``core.preprocess._cut_each``.

    ``work`` float32 (H, W) updated in place, ``index`` uint8 (H, W) into
    ``levels`` and ``slopes`` (float32, 256 entries, so no index can pass their
    end), all C-contiguous. False (nothing written) as for `erode_layers`.
    """
    if not _loaded_for_drawings("cut_each") or work.ndim != 2:
        return False
    table = (256,)
    arrays = [
        (work, _F32, work.shape),
        (index, _U8, work.shape),
        (levels, _F32, table),
        (slopes, _F32, table),
    ]
    if not _suit_writeable(arrays):
        return False
    return _call("cut_each", work, index, levels, slopes)


def block_sums(crop: np.ndarray, q: int, out: np.ndarray) -> bool:
    """Sum q x q blocks as ``core.preprocess._block_sums`` does.

    ``crop`` float32 (H, W) and ``out`` float32 (ceil(H / q), ceil(W / q)),
    C-contiguous, q >= 1. False (nothing written) as for `erode_layers`.
    """
    if not _loaded_for_drawings("block_sums") or crop.ndim != 2 or q < 1:
        return False
    blocks = (-(-crop.shape[0] // q), -(-crop.shape[1] // q))
    if not _suit_writeable([(crop, _F32, crop.shape), (out, _F32, blocks)]):
        return False
    return _call("block_sums", crop, int(q), out)


def euler_numbers(images: np.ndarray, level: float) -> np.ndarray | None:
    """Pieces minus holes of each ``images >= level`` (``core.strokes``).

    ``images`` float32 (B, H, W), C-contiguous, writeable. Returns int64 (B,), or
    None (nothing computed) as `erode_layers` does.
    """
    if (
        not _loaded_for_drawings("euler_numbers")
        or images.ndim != 3
        or not _suit_writeable([(images, _F32, images.shape)])
    ):
        return None
    out = np.empty(images.shape[0], np.int64)
    return out if _call("euler_numbers", images, np.float32(level), out) else None


def row_product(a: np.ndarray, W: np.ndarray, out: np.ndarray) -> bool:
    """``out = a @ W`` for one row as ``core.fast.row_product`` computes it.

    ``a`` float32 (1, n), ``W`` float32 (n, m) and ``out`` float32 (1, m), all
    C-contiguous and writeable. False (nothing written) as for `erode_layers`:
    one drawing's prediction runs on the GUI thread.
    """
    if not _loaded_for_drawings("row_product") or a.ndim != 2 or W.ndim != 2:
        return False
    arrays = [
        (a, _F32, (1, W.shape[0])),
        (W, _F32, W.shape),
        (out, _F32, (1, W.shape[1])),
    ]
    if not _suit_writeable(arrays):
        return False
    return _call("row_product", a[0], W, out[0])


def box_weights(offset: float, scale: float, out: np.ndarray) -> bool:
    """Fill ``out`` as ``core.preprocess._box_weights`` computes its weights.

    ``out`` float32 (size_out, size_in), C-contiguous. False (nothing written) as
    for `erode_layers`.
    """
    if (
        not _loaded_for_drawings("box_weights")
        or out.ndim != 2
        or not _suit_writeable([(out, _F32, out.shape)])
    ):
        return False
    return _call("box_weights", float(offset), float(scale), out)


def _uint8_image(image: np.ndarray) -> bool:
    return image.ndim == 2 and _suit_writeable([(image, _U8, image.shape)])


def _loaded_for_drawings(name: str) -> bool:
    """Say whether kernel ``name`` is loaded, without loading or compiling it.

    Drawings are converted on the GUI thread, which must never wait for numba.
    """
    compiled = _kernels.get(name)
    return compiled is not None and bool(compiled.signatures)


def _suit_writeable(expected) -> bool:
    """Check as `_suit` does, and that every array is writeable.

    numba types a read-only array apart: it would compile for it, on the GUI thread
    for a drawing's kernels.
    """
    return _suit(expected) and all(a.flags.writeable for a, _, _ in expected)


def _suit(expected) -> bool:
    """Check ``(array, dtype, shape)`` triples: each array as given, C-contiguous."""
    return all(
        a.dtype == dtype and a.shape == shape and a.flags.c_contiguous
        for a, dtype, shape in expected
    )


def _int_vector(a: np.ndarray, size: int) -> bool:
    return a.dtype == _INTP and a.shape == (size,) and a.flags.c_contiguous


def _row_arrays(full: np.ndarray, index: np.ndarray, rows: np.ndarray) -> bool:
    """Check float32 C-contiguous (N, H) and (len(index), H), and an intp index."""
    return (
        full.dtype == _F32
        and rows.dtype == _F32
        and full.ndim == 2
        and rows.shape == (index.shape[0], full.shape[1])
        and full.flags.c_contiguous
        and rows.flags.c_contiguous
        and index.ndim == 1
        and _int_vector(index, index.shape[0])
    )


def _softmax_arrays(z: np.ndarray, labels: np.ndarray, per_row: np.ndarray) -> bool:
    """Check for C-contiguous float32 z (B, K <= 128), intp labels, float32 (B,).

    Other layouts would make numba compile another version mid-training.
    """
    return (
        z.dtype == _F32
        and z.ndim == 2
        and 0 < z.shape[1] <= _MAX_SOFTMAX_CLASSES
        and z.flags.c_contiguous
        and labels.dtype == _INTP
        and labels.shape == z.shape[:1]
        and labels.flags.c_contiguous
        and per_row.dtype == _F32
        and per_row.shape == z.shape[:1]
        and per_row.flags.c_contiguous
    )
