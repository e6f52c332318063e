"""The multilayer perceptron: parameters, forward pass and backpropagation.

Owns ``MLP`` and ``NetworkError``. Samples are rows, weights are
``(fan_in, fan_out)``. Holds no optimizer state and does no I/O; imports NumPy,
the activation, loss and initialiser registries, and ``core.fast``, behind which
the speed machinery (compiled kernels, work buffers, skipped inputs) sits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from core import fast
from core.activations import ACTIVATIONS
from core.initializers import INITIALIZERS
from core.losses import OUTPUTS


class NetworkError(ValueError):
    """A network was built or called with invalid arguments."""


class Gradients(NamedTuple):
    """What ``MLP.loss_and_gradients`` returns.

    The arrays are the network's own buffers: they are overwritten by the next
    call, so copy them to keep them.

    Attributes
    ----------
    loss : float
        Mean data loss over the batch, or its rows' weighted sum with ``weights``
        (the L2 penalty is not included).
    gradients : list of ndarray
        Gradients in ``parameters()`` order: dW0 ``(n0, n1)``, db0 ``(n1,)``, ...
    probabilities : ndarray, shape (B, K)
        Output activations of the batch (with dropout applied, if any).
    """

    loss: float
    gradients: list[np.ndarray]
    probabilities: np.ndarray


class MLP:
    """A fully connected feed-forward network.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first and output last, e.g. ``(784, 256, 10)``.
    activation : str
        Hidden activation, a key of ``core.activations.ACTIVATIONS``.
    output : str
        Output layer and cost, a key of ``core.losses.OUTPUTS``.
    init : str
        Initialiser, a key of ``core.initializers.INITIALIZERS``.
    seed : int
        Seed of the initialiser's generator.
    dtype : numpy dtype
        ``float32`` (the default, for training) or ``float64`` (gradient checks).

    Attributes
    ----------
    weights : list of ndarray
        ``weights[i]`` has shape ``(layer_sizes[i], layer_sizes[i + 1])``.
    biases : list of ndarray
        ``biases[i]`` has shape ``(layer_sizes[i + 1],)``.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        output: str = "softmax_cross_entropy",
        init: str = "he",
        seed: int = 0,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        sizes = tuple(layer_sizes)
        if len(sizes) < 2:
            raise NetworkError(
                "A network needs at least an input and an output layer, "
                f"got layer sizes {list(sizes)}."
            )
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int | np.integer):
                raise NetworkError(f"Layer sizes must be integers, got {size!r}.")
            if size < 1:
                raise NetworkError(f"Every layer needs at least one unit, got {size}.")
        _check_name("activation", activation, ACTIVATIONS)
        _check_name("output", output, OUTPUTS)
        _check_name("initialiser", init, INITIALIZERS)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise NetworkError(f"dtype must be float32 or float64, got {self.dtype}.")
        self.layer_sizes = tuple(int(n) for n in sizes)
        self.activation = activation
        self.output = output
        self.init = init
        self.seed = seed
        self._activation = ACTIVATIONS[activation]
        self._output = OUTPUTS[output]
        rng = np.random.default_rng(seed)
        drawn = [
            INITIALIZERS[init](fan_in, fan_out, rng)
            for fan_in, fan_out in zip(
                self.layer_sizes[:-1], self.layer_sizes[1:], strict=True
            )
        ]
        # All parameters live in one flat array (W0, b0, W1, b1, ...) so the
        # optimizer can update them with a few whole-array operations.
        self._flat = np.empty(sum(w.size + b.size for w, b in drawn), dtype=self.dtype)
        self.weights, self.biases = _views(self._flat, self.layer_sizes)
        for i, (weights, biases) in enumerate(drawn):
            self.weights[i][...] = weights
            self.biases[i][...] = biases
        self._workspaces = fast.Workspaces(self.layer_sizes, self.dtype)
        self._grads: list[np.ndarray] | None = None
        self._l2_scratch: list[np.ndarray] | None = None
        self._trained_rows: int | None = None  # of the latest training step

    # ----------------------------------------------------------------- info

    @property
    def parameter_count(self) -> int:
        """Total number of weights and biases."""
        return sum(
            w.size + b.size for w, b in zip(self.weights, self.biases, strict=True)
        )

    @property
    def input_size(self) -> int:
        """Number of inputs (pixels of a flattened image)."""
        return self.layer_sizes[0]

    @property
    def num_classes(self) -> int:
        """Number of outputs."""
        return self.layer_sizes[-1]

    def parameters(self) -> list[np.ndarray]:
        """Return the parameter arrays in stable order ``[W0, b0, W1, b1, ...]``.

        The arrays are the network's own: updating them in place trains it.
        """
        params: list[np.ndarray] = []
        for weights, biases in zip(self.weights, self.biases, strict=True):
            params.extend((weights, biases))
        return params

    def copy(self) -> MLP:
        """Return an independent deep copy (parameters copied, no shared buffers)."""
        clone = MLP.__new__(MLP)
        clone.__dict__.update(self.__dict__)
        clone._flat = self._flat.copy()
        clone.weights, clone.biases = _views(clone._flat, self.layer_sizes)
        clone._workspaces = fast.Workspaces(self.layer_sizes, self.dtype)
        clone._grads = None
        clone._l2_scratch = None
        clone._trained_rows = None
        return clone

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return (
            f"MLP({sizes}, activation={self.activation!r}, output={self.output!r}, "
            f"init={self.init!r}, parameters={self.parameter_count:,}, "
            f"dtype={self.dtype.name})"
        )

    # -------------------------------------------------------------- forward

    def _workspace(self, batch: int) -> fast.Workspace:
        return self._workspaces.get(batch)

    def _as_batch(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise NetworkError(
                f"Expected inputs of shape (batch, {self.layer_sizes[0]}), "
                f"got {X.shape}."
            )
        if X.dtype != self.dtype or not X.flags.c_contiguous:
            X = np.ascontiguousarray(X, dtype=self.dtype)
        return X

    def _forward_into(
        self,
        X: np.ndarray,
        outputs: list[np.ndarray],
        labels: np.ndarray | None = None,
    ) -> float:
        """Fill ``outputs`` layer by layer; return the mean loss when given labels."""
        last = len(self.weights) - 1
        inputs = X
        loss = 0.0
        for i, (weights, biases) in enumerate(
            zip(self.weights, self.biases, strict=True)
        ):
            z = outputs[i]
            fast.layer_product(inputs, weights, z)  # z = a @ W
            z += biases
            if i < last:
                self._activation.forward(z, z)
            elif labels is None:
                self._output.forward(z, z)
            else:
                loss = self._output.forward_loss(z, labels, z)
            inputs = z
        return loss

    def forward(self, X: np.ndarray, *, copy: bool = True) -> np.ndarray:
        """Run a batch through the network.

        Parameters
        ----------
        X : ndarray, shape (B, n_in)
            Normalised inputs, one sample per row.
        copy : bool
            With ``False`` the result is an internal buffer that the next call
            overwrites (no allocation: for loops over batches).

        Returns
        -------
        ndarray, shape (B, n_out)
            Output activations (class probabilities for softmax).
        """
        X = self._as_batch(X)
        if copy:
            sizes = self.layer_sizes[1:]
            outputs = [np.empty((X.shape[0], n), self.dtype) for n in sizes]
        else:
            outputs = self._workspace(X.shape[0]).activations
        self._forward_into(X, outputs)
        return outputs[-1]

    def loss_and_probabilities(
        self, X: np.ndarray, labels: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Mean loss and output activations of a batch, without gradients.

        Parameters
        ----------
        X : ndarray, shape (B, n_in)
            Normalised inputs.
        labels : ndarray of int, shape (B,)
            Class indices.

        Returns
        -------
        loss : float
            Mean loss over the batch (exact log-sum-exp for softmax).
        probabilities : ndarray, shape (B, n_out)
            An internal buffer, overwritten by the next call on this batch size.
        """
        X = self._as_batch(X)
        if np.shape(labels) != (X.shape[0],):
            raise NetworkError(
                f"Expected {X.shape[0]} labels, got shape {np.shape(labels)}."
            )
        outputs = self._workspace(X.shape[0]).activations
        loss = self._forward_into(X, outputs, labels)
        return loss, outputs[-1]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return the output activations for one sample or any batch of samples.

        Parameters
        ----------
        x : ndarray, shape (..., n_in)
            Normalised inputs; one sample ``(n_in,)`` or any leading shape.

        Returns
        -------
        ndarray, shape (..., n_out)
            One row of class scores (probabilities for softmax) per sample.
        """
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.layer_sizes[0]:
            raise NetworkError(
                f"Expected inputs whose last axis has {self.layer_sizes[0]} values, "
                f"got shape {x.shape}."
            )
        lead = x.shape[:-1]
        flat = x.reshape(-1, self.layer_sizes[0])
        return self.forward(flat).reshape(*lead, self.layer_sizes[-1])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the predicted class index for one sample ``(n_in,)`` or a batch."""
        return np.argmax(self.predict_proba(x), axis=-1)

    # ------------------------------------------------------------- backward

    def _gradient_buffers(self) -> list[np.ndarray]:
        if self._grads is None:
            weights, biases = _views(np.empty_like(self._flat), self.layer_sizes)
            self._grads = [
                g for pair in zip(weights, biases, strict=True) for g in pair
            ]
        return self._grads

    def loss_and_gradients(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        dropout: float = 0.0,
        l2: float = 0.0,
        rng: np.random.Generator | None = None,
        targets: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> Gradients:
        """Forward and backward pass over one minibatch, averaged over its rows.

        No gradient is computed for the inputs themselves. All work arrays are
        preallocated per batch size and reused, and inputs that are 0 in every
        row of the batch are left out of the first layer's products
        (``core.fast``). ``core.reference`` computes the same, plainly.

        Parameters
        ----------
        X : ndarray, shape (B, n_in)
            Normalised inputs in the network's dtype.
        labels : ndarray of int, shape (B,)
            Class indices.
        dropout : float
            Probability of dropping each hidden unit (inverted dropout: kept
            units are scaled by ``1 / (1 - dropout)``); 0 turns it off.
        l2 : float
            Weight decay: adds ``l2 * W`` to every weight gradient, the gradient
            of ``0.5 * l2 * sum(W ** 2)``. Biases are not decayed.
        rng : numpy.random.Generator, optional
            Draws the dropout masks; required when ``dropout > 0``.
        targets : ndarray, shape (B, n_out), optional
            Probabilities to learn instead of ``labels``' classes (a softmax
            output only): the cost is the cross-entropy against them, e.g. another
            network's answers (`core.distillation`). ``labels`` still
            name a class per row (any).
        weights : ndarray, shape (B,), optional
            Each row's share of the cost, with ``targets`` (1 / B each when not
            given): the cost is ``sum_i weights[i] * cross_entropy_i``. Lets one
            pass train rows of different standing (`core.distillation`).

        Returns
        -------
        Gradients
            ``(loss, gradients, probabilities)``; the arrays are reused buffers.
        """
        X = self._as_batch(X)
        batch = X.shape[0]
        if np.shape(labels) != (batch,):
            raise NetworkError(
                f"Expected {batch} labels for {batch} samples, "
                f"got shape {np.shape(labels)}."
            )
        if targets is not None:
            if self.output != "softmax_cross_entropy":
                raise NetworkError("targets need a softmax output.")
            if np.shape(targets) != (batch, self.num_classes):
                raise NetworkError(
                    f"Expected targets of shape {(batch, self.num_classes)}, "
                    f"got {np.shape(targets)}."
                )
        if weights is not None and (targets is None or np.shape(weights) != (batch,)):
            raise NetworkError(
                f"weights need targets and the shape {(batch,)}, "
                f"got {np.shape(weights)}."
            )
        if not 0.0 <= dropout < 1.0:
            raise NetworkError(f"dropout must be in [0, 1), got {dropout}.")
        if dropout > 0.0 and rng is None:
            raise NetworkError("dropout needs a random generator (rng).")
        ws = self._workspace(batch)
        self._trained_rows = batch
        if dropout > 0.0:
            ws.enable_dropout()
        f, output = self._activation, self._output
        last = len(self.weights) - 1
        zs, derivatives, deltas = ws.activations, ws.derivatives, ws.deltas

        # Forward pass, layer by layer: z = a @ W + b, then a = f(z). Each z is
        # overwritten by its activations; f'(z) is kept for equation (2).
        inputs = [X]  # each layer's input a_{l-1}, for equation (3)
        for layer, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = ws.product(layer, inputs[layer], W)  # a @ W
            if layer == last:
                # The output activations of z + b, the mean loss, and equation (1).
                loss = fast.add_bias_and_output(z, b, output, labels, deltas[layer])
                if targets is not None:
                    if weights is None:
                        weights = np.full(batch, 1.0 / batch, z.dtype)
                    loss = _towards_targets(z, targets, weights, deltas[layer])
                break
            fast.add_bias_and_activate(z, b, f, derivatives[layer])  # f(z + b)
            a = z  # the activations, written over z
            if dropout > 0.0:
                # Inverted dropout: keep each unit with probability 1 - p and
                # scale the kept ones by 1 / (1 - p), so predictions need no change.
                mask = ws.masks[layer]
                rng.random(out=mask, dtype=mask.dtype)
                np.greater_equal(mask, dropout, out=mask)
                mask *= 1.0 / (1.0 - dropout)
                a = np.multiply(a, mask, out=ws.dropped[layer])
            inputs.append(a)

        # Backward pass: the four equations of backpropagation, for layers l.
        # (1) The output error delta_L = dC/dz_L, written by the output step above.
        # (2) delta_l = (delta_{l+1} @ W_{l+1}.T) * f'(z_l), from the top down;
        #     a unit dropped in the forward pass passes no error back.
        for layer in range(last - 1, -1, -1):
            delta = np.matmul(
                deltas[layer + 1], self.weights[layer + 1].T, out=deltas[layer]
            )
            if dropout > 0.0:
                delta *= ws.masks[layer]
            delta *= derivatives[layer]
        # (3) dC/dW_l = a_{l-1}.T @ delta_l, plus l2 * W_l, the gradient of the
        #     L2 penalty 0.5 * l2 * sum(W_l ** 2);
        # (4) dC/db_l = delta_l summed over the batch (ones @ delta_l).
        grads = self._gradient_buffers()
        if l2 > 0.0 and self._l2_scratch is None:
            self._l2_scratch = [np.empty_like(W) for W in self.weights]
        for layer, W in enumerate(self.weights):
            dW, db = grads[2 * layer], grads[2 * layer + 1]
            ws.weight_gradient(layer, inputs[layer], deltas[layer], out=dW)
            if l2 > 0.0:
                fast.add_l2(dW, W, l2, self._l2_scratch[layer])
            np.matmul(ws.ones, deltas[layer], out=db)
        return Gradients(loss, grads, zs[last])

    def hidden_slopes(self) -> list[np.ndarray]:
        """Return ``f'(z_l)`` of each hidden layer from the latest training step.

        The buffers equation (2) used (before dropout), one ``(B, n_l)`` array per
        hidden layer for that step's ``B`` rows, valid until the next step.
        """
        if self._trained_rows is None:
            raise NetworkError("No training step has run yet.")
        return self._workspace(self._trained_rows).derivatives

    def input_gradient(
        self, x: np.ndarray, class_index: int | np.ndarray
    ) -> np.ndarray:
        """Gradient of a class's log-output with respect to the input.

        Shows which input values push the network toward ``class_index``
        (positive) or away from it (negative). The input is the normalised one
        the network sees.

        Parameters
        ----------
        x : ndarray, shape (n_in,) or (B, n_in)
            One normalised sample or a batch.
        class_index : int or ndarray of int, shape (B,)
            The class whose log-probability (softmax) or log-output (sigmoid)
            is differentiated; one per sample for a batch.

        Returns
        -------
        ndarray, same shape as ``x``
            d log(output[class_index]) / d x.
        """
        x = np.asarray(x)
        single = x.ndim == 1
        X = self._as_batch(x[None, :] if single else x)
        classes = np.broadcast_to(np.asarray(class_index), (X.shape[0],))
        if not np.issubdtype(classes.dtype, np.integer) or (
            classes.size and (classes.min() < 0 or classes.max() >= self.num_classes)
        ):
            raise NetworkError(
                f"class_index must be an integer in [0, {self.num_classes}), "
                f"got {class_index!r}."
            )
        outputs = [np.empty((X.shape[0], n), self.dtype) for n in self.layer_sizes[1:]]
        self._forward_into(X, outputs)
        probs = outputs[-1]
        grad = self._output.log_probability_gradient(probs, classes)
        for i in range(len(self.weights) - 1, -1, -1):
            grad = grad @ self.weights[i].T
            if i > 0:
                self._activation.backward(outputs[i - 1], grad, np.empty_like(grad))
        return grad[0] if single else grad


def _views(
    flat: np.ndarray, sizes: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split a flat parameter array into weight and bias views, in order."""
    weights, biases = [], []
    offset = 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(
            flat[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        )
        offset += fan_in * fan_out
        biases.append(flat[offset : offset + fan_out])
        offset += fan_out
    return weights, biases


def _check_name(kind: str, name: str, registry: dict) -> None:
    if name not in registry:
        choices = ", ".join(repr(key) for key in registry)
        raise NetworkError(f"Unknown {kind} {name!r}; choose one of {choices}.")


def _towards_targets(
    probabilities: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    delta: np.ndarray,
) -> float:
    """Write a softmax output's error for ``targets`` into ``delta``; return the cost.

    The cost is each row's cross-entropy against its targets, weighted by
    ``weights``; its gradient with respect to the logits is ``weights * (p - t)``.
    """
    np.subtract(probabilities, targets, out=delta, casting="same_kind")
    delta *= weights[:, None]
    tiny = np.finfo(probabilities.dtype).tiny
    costs = -np.sum(targets * np.log(np.maximum(probabilities, tiny)), axis=1)
    return float(costs @ weights)
