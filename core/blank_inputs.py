"""The first layer's matrix products over only the inputs a minibatch uses.

Handwritten digits leave about a third of the 784 pixels 0 in every image of a
128-image minibatch (the margins). Those columns of X add nothing to ``X @ W0``
and give rows of exact zeros in ``dW0 = X.T @ delta``, yet the two largest
matrix products of a training step spend a third of their time on them. When
enough columns are blank, both products run on the live columns only: X's live
columns and W0's matching rows are copied into compact arrays, and the compact
gradient is spread back with zeros in the blank rows.

The copies are exact and both paths (compiled kernels or NumPy) make the same
matrix products, so they give the same bits. Against the full products only the
rounding differs: BLAS splits a shorter sum into other blocks.
"""

from __future__ import annotations

import numpy as np

from core import kernels

# Compact only when at most this share of the inputs is live. The copies cost
# about a tenth of the first layer's products (784-512, batch 128), so a batch
# with fewer blank columns than this is faster in full. Plain MNIST batches of
# 128 have 67% live (at most 70% in 95 of 100); augmented ones 79% (batches
# of 64) to 86% (batches of 128).
MAX_LIVE_SHARE = 0.85


class BlankInputs:
    """Buffers and the live columns of the current minibatch, for one batch size.

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
