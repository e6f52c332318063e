"""The engine's speed machinery behind one seam: kernels or NumPy, buffers, skips.

Each operation runs its compiled kernel (``core.kernels``, numba) when it can and
otherwise NumPy passes doing the same arithmetic in the same order, so both give
the same bits; no other engine module looks at the kernels (but
``core.packed_images``, to unpack rows with one). Also owns products
that never wait for BLAS threads (``product_here``), the work buffers of a
training step (``Workspace``) and the first layer's skip of inputs
blank in a whole minibatch (``BlankInputs``). Imports NumPy, ``core.kernels`` and
one helper each of ``core.losses`` and ``core.datasets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core import kernels
from core.datasets import take_rows
from core.losses import cross_entropy_from_sums
from core.packed_images import PackedImages

# Whether the kernels run, why not, and loading them early (``core.kernels``).
compiled = kernels.available
status = kernels.status
warm_up = kernels.warm_up
compile_elsewhere = kernels.compile_elsewhere

# Work buffers are kept for this many distinct batch sizes (training batch, the
# last partial batch, validation batches and their remainder, spares); buffers
# never written (e.g. deltas during evaluation) cost address space, not memory.
_MAX_WORKSPACES = 6

# The first layer skips blank inputs only when at most this share of them is
# live. The copies cost about a tenth of the first layer's products (784-512,
# batch 128), so a batch with fewer blank columns than this is faster in full.
# Plain MNIST batches of 128 have 67% live (at most 70% in 95 of 100); augmented
# ones 79% (batches of 64) to 86% (batches of 128).
MAX_LIVE_SHARE = 0.85

_BIAS_ACTIVATION_KERNELS = {"relu": kernels.bias_relu}


def product_here(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Return ``a @ b`` (2-D) computed on the calling thread, never by BLAS threads.

    For the small products of one drawing (its conversion, one sample's forward
    pass). BLAS libraries split even these across their threads, a count that is
    the same for the whole process (training may want all of them); on a busy
    machine, waiting for the other threads then costs tens of milliseconds for a
    product worth a fraction of one. NumPy's einsum, unoptimised, never calls
    BLAS. A few times slower than one-thread BLAS: for small products only.
    """
    return np.einsum("ij,jk->ik", a, b, out=out)


def layer_product(a: np.ndarray, W: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ W`` for a forward pass: one sample on the calling thread.

    A batch goes to BLAS; a single row (a drawing being predicted) is
    `row_product`'s, so that predicting one drawing never waits for BLAS threads.
    """
    if a.shape[0] == 1:
        return row_product(a, W, out=out)
    return np.matmul(a, W, out=out)


def row_product(
    a: np.ndarray, W: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Return ``a @ W`` for one row ``a`` (1, n), on the calling thread, skipping zeros.

    A drawing's input is mostly blank margin and a ReLU layer's output mostly 0:
    only W's rows facing nonzero inputs are read, a third or less of a layer that
    is read from memory for every drawing. `product_here` adds each row's terms
    one after the other, so the zeros' exact ``+0`` terms left out change no bit
    of the result; so does the compiled kernel, without copying those rows.
    """
    if out is None:
        out = np.empty((1, W.shape[1]), W.dtype)
    if kernels.row_product(a, W, out):
        return out
    live = np.flatnonzero(a[0])
    if live.size > MAX_LIVE_SHARE * a.shape[1]:
        return product_here(a, W, out=out)
    return product_here(a[:, live], W[live], out=out)


def add_bias_and_activate(
    z: np.ndarray, bias: np.ndarray, activation: Any, derivative: np.ndarray
) -> None:
    """Replace ``z`` by ``f(z + bias)``; write ``f'(z + bias)`` into ``derivative``.

    Parameters
    ----------
    z : ndarray, shape (B, n)
        A hidden layer's ``a_prev @ W``; overwritten with its activations.
    bias : ndarray, shape (n,)
        The layer's biases.
    activation : core.activations.Activation
        The hidden activation ``f``.
    derivative : ndarray, shape (B, n)
        Receives ``f'`` at the biased pre-activations, for backpropagation.
    """
    kernel = _BIAS_ACTIVATION_KERNELS.get(activation.name)
    if kernel is not None and kernel(z, bias, derivative):
        return
    z += bias
    activation.forward_and_derivative(z, derivative)


def add_bias_and_output(
    z: np.ndarray,
    bias: np.ndarray,
    output: Any,
    labels: np.ndarray,
    delta: np.ndarray,
) -> float:
    """Run a training step's output layer: activations, mean loss and delta.

    Parameters
    ----------
    z : ndarray, shape (B, K)
        The last layer's ``a_prev @ W``; overwritten with the output activations
        of ``z + bias``.
    bias : ndarray, shape (K,)
        The output layer's biases.
    output : core.losses.OutputLayer
        The output non-linearity and its cost.
    labels : ndarray of intp, shape (B,)
        Class indices.
    delta : ndarray, shape (B, K)
        Receives dC/dz of the mean cost: backpropagation's output error.

    Returns
    -------
    float
        The mean loss over the batch.
    """
    if output.name == "softmax_cross_entropy":
        batch = labels.shape[0]
        picked = np.empty(batch, z.dtype)
        if kernels.softmax_shift(z, bias, labels, picked):
            # The kernels copy NumPy's passes before and after the exponential
            # (``SoftmaxCrossEntropy.forward_loss`` and ``delta``).
            np.exp(z, out=z)
            sums = np.empty(batch, z.dtype)
            if not kernels.softmax_normalize(z, labels, 1.0 / batch, sums, delta):
                z.sum(axis=1, out=sums)
                z /= sums[:, None]
                output.delta(z, labels, delta)
            return cross_entropy_from_sums(sums, picked)
    z += bias
    loss = output.forward_loss(z, labels, z)
    output.delta(z, labels, delta)
    return loss


def adam_update(
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    beta1: float,
    beta2: float,
    eps: float,
    scale: float,
    scratch: np.ndarray,
) -> None:
    """Adam's update with folded constants, in place (``core.optimizers.Adam``).

    ``m = beta1 m + g``, ``v = beta2 v + g^2``, ``w -= m / (sqrt(v) + eps) * scale``;
    ``scratch`` (same shape, may be ``g``) holds the intermediate values.
    """
    if kernels.adam_update(w, g, m, v, beta1, beta2, eps, scale):
        return
    m *= beta1
    m += g
    np.multiply(g, g, out=scratch)
    v *= beta2
    v += scratch
    np.sqrt(v, out=scratch)
    scratch += eps
    np.divide(m, scratch, out=scratch)
    scratch *= scale
    w -= scratch


def add_l2(dW: np.ndarray, W: np.ndarray, l2: float, scratch: np.ndarray) -> None:
    """``dW += l2 * W``, the L2 penalty's gradient, in place.

    One compiled pass, or NumPy's product into ``scratch`` (W's shape) and a sum:
    the same bits.
    """
    if kernels.add_scaled(dW, W, l2):
        return
    dW += np.multiply(W, l2, out=scratch)


def gather_normalized(
    images: np.ndarray,
    indices: np.ndarray,
    normalization: Any,
    out: np.ndarray,
    scratch: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``normalization.apply(images[indices], out)``.

    Parameters
    ----------
    images : ndarray or PackedImages
        uint8 ``(N, P)`` images.
    indices : ndarray
        intp ``(B,)`` rows to take.
    normalization : core.datasets.Normalization
        Turns pixels into network inputs.
    out : ndarray
        float32 C-contiguous ``(B, P)`` buffer, written and returned.
    scratch : ndarray, optional
        uint8 ``(B, P)`` buffer for the rows when NumPy does the work.
    extra : ndarray, optional
        uint8 ``(M, P)`` images that rows ``N..N+M-1`` stand for
        (`core.datasets.DatasetPart`); batches holding any take the NumPy path.
    """
    if isinstance(images, PackedImages):
        # Unpacked into the scratch rows first; the kernel then reads those.
        images = take_rows(images, indices, extra, out=scratch)
        indices, extra = np.arange(len(indices)), None
    if (extra is None or indices.size == 0 or indices.max() < images.shape[0]) and (
        kernels.gather_normalized(
            images,
            indices,
            np.float32(1.0 / normalization.max_value),
            normalization.mean,
            normalization.inv_std,
            out,
        )
    ):
        return out
    rows = take_rows(images, indices, extra, out=scratch)
    return normalization.apply(rows, out=out)


def blur_rows(
    padded: np.ndarray, kernel: np.ndarray, out: np.ndarray, first: int, last: int
) -> bool:
    """Run the drawing conversion's compiled blur pass (``core.kernels.blur_rows``).

    False means nothing was written and the caller blurs with NumPy
    (``core.preprocess``'s own passes, which give the same bits).
    """
    return kernels.blur_rows(padded, kernel, out, first, last)


def erode_layers(depth: np.ndarray) -> int | None:
    """Peel a drawing's strokes compiled (``core.kernels.erode_layers``).

    None means nothing was written and the caller peels with NumPy
    (``core.stroke_depth``'s own passes, which give the same bits).
    """
    return kernels.erode_layers(depth)


def spread_ridges(depth: np.ndarray, ridge: np.ndarray, deepest: int) -> bool:
    """Spread ridge depths downhill compiled (``core.kernels.spread_ridges``).

    False means nothing was written and the caller spreads with NumPy
    (``core.stroke_depth``'s own passes, which give the same bits).
    """
    return kernels.spread_ridges(depth, ridge, deepest)


def absorb_bumps(ridge: np.ndarray, rounds: int) -> bool:
    """Give bumps their stroke's ridge compiled (``core.kernels.absorb_bumps``).

    False means nothing was written and the caller runs NumPy
    (``core.stroke_depth``'s own passes, which give the same bits).
    """
    return kernels.absorb_bumps(ridge, rounds)


def grow_into_paper(ridge: np.ndarray, steps: int) -> bool:
    """Grow ridge depths into the paper compiled (``core.kernels.grow_into_paper``).

    False means nothing was written and the caller runs NumPy
    (``core.stroke_depth``'s own passes, which give the same bits).
    """
    return kernels.grow_into_paper(ridge, steps)


def cut_each(
    work: np.ndarray, index: np.ndarray, levels: np.ndarray, slopes: np.ndarray
) -> bool:
    """Cut strokes each at its own level compiled (``core.kernels.cut_each``).

    False means nothing was written and the caller runs NumPy
    (``core.preprocess``'s own passes, which give the same bits).
    """
    return kernels.cut_each(work, index, levels, slopes)


def block_sums(crop: np.ndarray, q: int, out: np.ndarray) -> bool:
    """Sum q x q blocks compiled (``core.kernels.block_sums``).

    False means nothing was written and the caller runs NumPy
    (``core.preprocess``'s own passes, which give the same bits).
    """
    return kernels.block_sums(crop, q, out)


def euler_numbers(images: np.ndarray, level: float) -> np.ndarray | None:
    """Pieces minus holes of each ``images >= level``, compiled.

    ``core.kernels.euler_numbers``; None means nothing was computed and the
    caller counts with NumPy (``core.strokes``' own passes, the same integers).
    """
    return kernels.euler_numbers(images, level)


def box_weights(offset: float, scale: float, out: np.ndarray) -> bool:
    """Compute a drawing's box-filter weights (``core.kernels.box_weights``).

    False means nothing was written and the caller runs NumPy
    (``core.preprocess``'s own passes, which give the same bits).
    """
    return kernels.box_weights(offset, scale, out)


def warp_uint8(*arrays: np.ndarray) -> bool:
    """Augmentation's compiled warp (``core.kernels.warp_uint8``, same arguments).

    The NumPy warp it replaces is ``core.augment``'s own: False means nothing was
    written and the caller warps with NumPy.
    """
    return kernels.warp_uint8(*arrays)


def draw_segments(*arguments) -> bool:
    """Draw pen segments compiled (``core.kernels.draw_segments``, same arguments).

    The NumPy passes it replaces are ``core.drawing_styles``' and
    ``core.strokes.render_segments``' own: False means nothing was written and the
    caller draws with NumPy.
    """
    return kernels.draw_segments(*arguments)


class BlankInputs:
    """The first layer's products over only the inputs a minibatch uses.

    Handwritten digits leave about a third of the 784 pixels 0 in every image of
    a 128-image minibatch (the margins). Those columns of X add nothing to
    ``X @ W0`` and give rows of exact zeros in ``dW0 = X.T @ delta``. When enough
    columns are blank, both products run on the live columns only: X's live
    columns and W0's matching rows are copied into compact arrays, and the
    compact gradient is spread back with zeros in the blank rows. The copies are
    exact, so against the full products only the rounding differs (BLAS splits
    a shorter sum into other blocks).

    Parameters
    ----------
    batch, inputs, outputs : int
        The minibatch size and the first layer's fan-in and fan-out.
    dtype : numpy dtype
        The network's dtype.
    """

    def __init__(self, batch: int, inputs: int, outputs: int, dtype: np.dtype) -> None:
        self.limit = int(MAX_LIVE_SHARE * inputs)
        self._index = np.empty(inputs, np.intp)
        self._count = np.zeros(1, np.intp)
        self._compact = np.empty(batch * inputs, dtype)
        # W0's live rows for the forward pass, then dW0's for the backward one.
        self._rows = np.empty(inputs * outputs, dtype)
        self._outputs = outputs
        self.live: np.ndarray | None = None
        self.inputs: np.ndarray | None = None

    def select(self, X: np.ndarray) -> bool:
        """Find the live columns of ``X``; True (and copied) if few enough to skip."""
        batch = X.shape[0]
        found = None  # the kernel copies the live columns itself; NumPy below
        if kernels.live_columns(X, self.limit, self._index, self._count, self._compact):
            count = int(self._count[0])
        else:
            found = np.flatnonzero(X.any(axis=0))
            count = found.size
            self._index[:count] = found
        if count > self.limit:
            self.live = self.inputs = None
            return False
        self.live = self._index[:count]
        self.inputs = self._compact[: batch * count].reshape(batch, count)
        if found is not None:
            np.take(X, found, axis=1, out=self.inputs)
        return True

    def forward(self, weights: np.ndarray, out: np.ndarray) -> None:
        """``out = X @ weights`` over the live columns (after ``select``)."""
        rows = self._live_rows()
        if not kernels.take_rows(weights, self.live, rows):
            np.take(weights, self.live, axis=0, out=rows)
        np.matmul(self.inputs, rows, out=out)

    def weight_gradient(self, delta: np.ndarray, out: np.ndarray) -> None:
        """``out = X.T @ delta``: the live rows computed, the others 0."""
        rows = self._live_rows()
        np.matmul(self.inputs.T, delta, out=rows)
        if not kernels.spread_rows(rows, self.live, out):
            out[...] = 0
            out[self.live] = rows

    def _live_rows(self) -> np.ndarray:
        count = self.live.size
        return self._rows[: count * self._outputs].reshape(count, self._outputs)


class Workspace:
    """Buffers of one batch size, reused so that a training step allocates nothing big.

    Attributes
    ----------
    activations : list of ndarray
        ``(B, n_l)`` per layer: ``z_l``, overwritten in place by ``a_l``.
    derivatives : list of ndarray
        ``(B, n_l)`` per hidden layer: ``f'(z_l)``.
    deltas : list of ndarray
        ``(B, n_l)`` per layer: ``delta_l = dC/dz_l``.
    masks, dropped : list of ndarray or None
        Per hidden layer, the scaled dropout mask and ``a_l * mask``, once
        ``enable_dropout`` was called.
    ones : ndarray, shape (B,)
        ``ones @ delta`` sums ``delta`` over the batch with one BLAS call.
    blank_inputs : BlankInputs
        The first layer's skip of inputs blank in the whole batch.
    """

    def __init__(self, sizes: Sequence[int], batch: int, dtype: np.dtype) -> None:
        self.activations = [np.empty((batch, n), dtype) for n in sizes[1:]]
        self.deltas = [np.empty((batch, n), dtype) for n in sizes[1:]]
        self.derivatives = [np.empty((batch, n), dtype) for n in sizes[1:-1]]
        self.ones = np.ones(batch, dtype)
        self.masks: list[np.ndarray] | None = None
        self.dropped: list[np.ndarray] | None = None
        self.blank_inputs = BlankInputs(batch, sizes[0], sizes[1], dtype)
        self._skipping = False

    def enable_dropout(self) -> None:
        """Allocate the dropout masks (once)."""
        if self.masks is None:
            self.masks = [np.empty_like(d) for d in self.derivatives]
            self.dropped = [np.empty_like(d) for d in self.derivatives]

    def product(self, layer: int, a: np.ndarray, W: np.ndarray) -> np.ndarray:
        """Return ``a @ W`` in the layer's activation buffer.

        The first layer (``a`` is the batch) runs on the batch's live inputs
        when enough are blank in every row.
        """
        z = self.activations[layer]
        if layer == 0:
            self._skipping = self.blank_inputs.select(a)
            if self._skipping:
                self.blank_inputs.forward(W, z)
                return z
        return np.matmul(a, W, out=z)

    def weight_gradient(
        self, layer: int, a: np.ndarray, delta: np.ndarray, out: np.ndarray
    ) -> None:
        """``out = a.T @ delta``, skipping what ``product`` skipped."""
        if layer == 0 and self._skipping:
            self.blank_inputs.weight_gradient(delta, out)
        else:
            np.matmul(a.T, delta, out=out)


class Workspaces:
    """The workspaces of one network, one per recent batch size.

    Parameters
    ----------
    sizes : sequence of int
        The network's layer sizes.
    dtype : numpy dtype
        The network's dtype.
    """

    def __init__(self, sizes: Sequence[int], dtype: np.dtype) -> None:
        self._sizes = tuple(sizes)
        self._dtype = dtype
        self._by_batch: dict[int, Workspace] = {}

    def get(self, batch: int) -> Workspace:
        """Return the workspace for ``batch`` rows, made on first use."""
        workspace = self._by_batch.get(batch)
        if workspace is None:
            if len(self._by_batch) >= _MAX_WORKSPACES:
                self._by_batch.pop(next(iter(self._by_batch)))
            workspace = Workspace(self._sizes, batch, self._dtype)
            self._by_batch[batch] = workspace
        return workspace
