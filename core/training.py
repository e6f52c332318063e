"""The training loop: validated configuration, progress events, cooperative control.

Owns ``TrainingConfig``, ``ConfigError``, the events, ``TrainingControl``,
``TrainingResult`` and ``train``. Runs in whichever thread calls it and talks
only through the ``on_event`` callback; never imports Qt, never prints.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import fast
from core.activations import ACTIVATIONS
from core.augment import AugmentConfig, AugmentError, augment_batch
from core.blas_threads import ThreadChooser
from core.datasets import (
    NORMALIZATIONS,
    Dataset,
    DatasetPart,
    Normalization,
    as_part,
    take_rows,
)
from core.distillation import Distillation, KeptAnswers
from core.divergence import Divergence, DivergenceWatch, chance_accuracy
from core.health import (
    DEFAULT_SAMPLING,
    HealthMonitor,
    HealthRecord,
    HealthSampling,
)
from core.initializers import INITIALIZERS
from core.losses import OUTPUTS
from core.metrics import EVALUATION_BATCH, loss_and_accuracy
from core.network import MLP
from core.optimizers import OPTIMIZERS, make_optimizer
from core.schedules import SCHEDULES, learning_rate_at

STOP_REASONS = ("completed", "cancelled", "early_stopped", "diverged")
# Images augmented per call (whole minibatches): 512 measured x1.20 against x1.23
# for 256 on 784-256-10 (fewer calls to pay for), 1024 x1.21 (out of cache).
_AUGMENT_BLOCK = 512
# Made-up non-digits a run may add (each costs about 2 ms to draw).
MAX_NEGATIVES = 200_000


class ConfigError(ValueError):
    """A training configuration, or its fit to the network and data, is invalid."""


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of one training run (frozen; check with ``validate``).

    Attributes
    ----------
    hidden_sizes : tuple of int
        Units per hidden layer; ``()`` is a single-layer (linear) classifier.
    activation, output, init : str
        Keys of ``ACTIVATIONS``, ``OUTPUTS`` and ``INITIALIZERS``.
    optimizer : str
        A key of ``OPTIMIZERS``: ``"sgd"``, ``"momentum"`` or ``"adam"``.
    learning_rate : float
        Base step size.
    momentum, nesterov : float, bool
        For the ``"momentum"`` optimizer only.
    beta1, beta2 : float
        Adam's moment decay rates.
    schedule : str
        A key of ``SCHEDULES``: ``"constant"``, ``"step"`` (multiply by
        ``step_gamma`` every ``step_epochs`` epochs) or ``"cosine"`` (down to
        ``min_learning_rate``).
    batch_size : int
        Samples per minibatch; 0 means the whole training set (full-batch
        gradient descent). Larger than the training set also means full batch.
    epochs : int
        Passes over the training set.
    l2 : float
        Weight decay ``lambda``: the cost gains ``0.5 * lambda * sum(W ** 2)``
        (weights only, not biases) and every weight gradient ``lambda * W``.
    dropout : float
        Probability of dropping each hidden unit during training.
    seed : int
        Seeds the weights, the split, the shuffling, dropout and augmentation.
    validation_fraction : float
        Share of the training data held out (stratified) for validation.
    early_stopping_patience : int
        Epochs without a better validation loss before stopping; 0 is off.
    normalization : str
        A key of ``NORMALIZATIONS``: ``"scale"`` (pixels to [0, 1]) or
        ``"standardize"`` (per pixel).
    augment : AugmentConfig
        Random distortions of each training minibatch; all zero is off.
    deskew : bool
        Stand every image upright (`core.slant.deskew`, moment deskewing) before
        training; the model then reads every image deskewed (its file says so).
    negatives : int
        Made-up drawings that are not digits (`core.negatives`) added to the
        training part as one more class, ``"not a digit"``; 0 is off. For digit
        datasets of 28x28 images (`core.run`).
    pen_digits : bool
        Add the bundled ``pen-digits`` (7,494 digits 30 people wrote on a tablet,
        drawn on the app's canvas) to the training part: real handwriting, which
        MNIST alone reads worse. For digit datasets of 28x28 images (`core.run`).
    """

    hidden_sizes: tuple[int, ...] = (256,)
    activation: str = "relu"
    output: str = "softmax_cross_entropy"
    init: str = "he"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    schedule: str = "constant"
    step_epochs: int = 10
    step_gamma: float = 0.5
    min_learning_rate: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    l2: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    validation_fraction: float = 0.1
    early_stopping_patience: int = 0
    normalization: str = "scale"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    deskew: bool = False
    negatives: int = 0
    pen_digits: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.hidden_sizes, list):
            object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))

    def validate(self) -> None:
        """Check every setting.

        Raises
        ------
        ConfigError
            Naming every invalid setting in plain words, separated by "; ".
        """
        problems = _problems(self)
        if problems:
            raise ConfigError("; ".join(problems) + ".")

    def layer_sizes(self, input_size: int, num_classes: int) -> tuple[int, ...]:
        """Return ``(input_size, *hidden_sizes, num_classes)``."""
        return (int(input_size), *self.hidden_sizes, int(num_classes))

    def build_network(self, input_size: int, num_classes: int) -> MLP:
        """Return a freshly initialised network with this architecture and seed."""
        return MLP(
            self.layer_sizes(input_size, num_classes),
            activation=self.activation,
            output=self.output,
            init=self.init,
            seed=self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (``from_dict`` restores it exactly)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["hidden_sizes"] = list(self.hidden_sizes)
        data["augment"] = self.augment.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Build and validate a config; missing settings take their defaults.

        Raises
        ------
        ConfigError
            For a non-mapping, an unknown setting name or an invalid value.
        """
        if not isinstance(data, dict):
            raise ConfigError(
                f"Training settings must be a mapping, got {type(data).__name__}."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown training setting(s): {', '.join(unknown)}.")
        values = dict(data)
        if "hidden_sizes" in values:
            sizes = values["hidden_sizes"]
            if not isinstance(sizes, list | tuple):
                raise ConfigError(
                    f"hidden_sizes must be a list of layer sizes, got {sizes!r}."
                )
            values["hidden_sizes"] = tuple(sizes)
        if "augment" in values and not isinstance(values["augment"], AugmentConfig):
            try:
                values["augment"] = AugmentConfig.from_dict(values["augment"])
            except AugmentError as exc:
                raise ConfigError(str(exc)) from exc
        config = cls(**values)
        config.validate()
        return config

    def replace(self, **changes: Any) -> TrainingConfig:
        """Return a validated copy with some settings changed."""
        config = dataclasses.replace(self, **changes)
        config.validate()
        return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _problems(config: TrainingConfig) -> list[str]:
    problems: list[str] = []

    def choice(name: str, options) -> None:
        value = getattr(config, name)
        if value not in options:
            listed = ", ".join(repr(option) for option in options)
            problems.append(f"{name} must be one of {listed}, got {value!r}")

    def number(name: str, low: float, high: float, *, low_open=False, high_open=False):
        value = getattr(config, name)
        if not _is_number(value):
            problems.append(f"{name} must be a finite number, got {value!r}")
            return
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            problems.append(
                f"{name} must be in {left}{low:g}, {high:g}{right}, got {value:g}"
            )

    def integer(name: str, low: int, high: int | None = None) -> None:
        value = getattr(config, name)
        if not _is_int(value):
            problems.append(f"{name} must be a whole number, got {value!r}")
        elif value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            problems.append(f"{name} must be {bound}, got {value}")

    sizes = config.hidden_sizes
    if not isinstance(sizes, tuple) or not all(_is_int(n) for n in sizes):
        problems.append(f"hidden_sizes must be whole numbers, got {sizes!r}")
    elif any(n < 1 for n in sizes):
        problems.append(f"every hidden layer needs at least one unit, got {sizes}")
    choice("activation", tuple(ACTIVATIONS))
    choice("output", tuple(OUTPUTS))
    choice("init", tuple(INITIALIZERS))
    choice("optimizer", tuple(OPTIMIZERS))
    choice("schedule", tuple(SCHEDULES))
    choice("normalization", tuple(NORMALIZATIONS))
    number("learning_rate", 0.0, math.inf, low_open=True, high_open=True)
    number("momentum", 0.0, 1.0, high_open=True)
    if not isinstance(config.nesterov, bool):
        problems.append(f"nesterov must be true or false, got {config.nesterov!r}")
    elif config.nesterov and "nesterov" not in _optimizer_fields(config):
        problems.append(
            "nesterov applies only to the 'momentum' optimizer, "
            f"not {config.optimizer!r}"
        )
    elif config.nesterov and config.momentum == 0:
        problems.append("nesterov needs a momentum above 0")
    number("beta1", 0.0, 1.0, high_open=True)
    number("beta2", 0.0, 1.0, high_open=True)
    integer("step_epochs", 1)
    number("step_gamma", 0.0, 1.0, low_open=True)
    number("min_learning_rate", 0.0, math.inf, high_open=True)
    if (
        _is_number(config.min_learning_rate)
        and _is_number(config.learning_rate)
        and config.min_learning_rate > config.learning_rate
    ):
        problems.append(
            f"min_learning_rate ({config.min_learning_rate:g}) must not exceed "
            f"learning_rate ({config.learning_rate:g})"
        )
    integer("batch_size", 0)
    integer("epochs", 1)
    number("l2", 0.0, math.inf, high_open=True)
    number("dropout", 0.0, 1.0, high_open=True)
    integer("seed", 0, 2**63 - 1)
    number("validation_fraction", 0.0, 1.0, high_open=True)
    integer("early_stopping_patience", 0)
    if not isinstance(config.deskew, bool):
        problems.append(f"deskew must be true or false, got {config.deskew!r}")
    integer("negatives", 0, MAX_NEGATIVES)
    if not isinstance(config.pen_digits, bool):
        problems.append(f"pen_digits must be true or false, got {config.pen_digits!r}")
    if not isinstance(config.augment, AugmentConfig):
        problems.append(
            f"augment must be an AugmentConfig, got {type(config.augment).__name__}"
        )
    else:
        try:
            config.augment.validate()
        except AugmentError as exc:
            problems.append(str(exc))
    return problems


# ------------------------------------------------------------------- events


@dataclass(frozen=True)
class BatchEvent:
    """One minibatch was trained (``epoch`` counts from 1, ``batch_index`` from 0).

    ``health`` holds the step's health figures when it was sampled, else None.
    """

    epoch: int
    batch_index: int
    batches_per_epoch: int
    loss: float
    learning_rate: float
    blas_threads: int | None = None
    health: HealthRecord | None = None


@dataclass(frozen=True)
class EpochEvent:
    """An epoch ended.

    ``train_loss`` and ``train_accuracy`` are averaged over the epoch's
    minibatches as they were trained; the validation figures (None without a
    validation set) use the weights at the end of the epoch. ``seconds``
    excludes time spent paused; ``samples_per_second`` counts training only.
    ``blas_threads`` (here and in ``BatchEvent``) is the BLAS thread count
    chosen (`core.blas_threads.ThreadChooser.choice`): None while the first
    measurement runs and when ``train`` was not asked to manage it.
    ``gradient_norm``, ``update_ratio`` and ``inactive_share`` are the means of the
    epoch's health samples per layer (``core.health``), None without a sample.
    """

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    validation_loss: float | None
    validation_accuracy: float | None
    learning_rate: float
    seconds: float
    samples_per_second: float
    blas_threads: int | None = None
    gradient_norm: tuple[float, ...] | None = None
    update_ratio: tuple[float, ...] | None = None
    inactive_share: tuple[float, ...] | None = None


@dataclass(frozen=True)
class FinishedEvent:
    """Training ended; ``reason`` is one of ``STOP_REASONS``."""

    reason: str
    message: str
    epochs_completed: int


@dataclass(frozen=True)
class SettingsEvent:
    """Settings were changed during the run (``TrainingControl.change_settings``).

    The new values apply from minibatch ``batch_index`` (from 0) of ``epoch`` (from
    1) on: ``learning_rate`` is the base rate the schedule scales, ``momentum`` the
    momentum optimizer's (None for the others).
    """

    epoch: int
    batch_index: int
    batches_per_epoch: int
    learning_rate: float
    momentum: float | None


Event = BatchEvent | EpochEvent | FinishedEvent | SettingsEvent


@dataclass
class TrainingResult:
    """What ``train`` returns.

    Attributes
    ----------
    network : MLP
        The trained network (the one passed in, updated in place).
    normalization : Normalization
        The input normalisation used (fitted on the training set unless given).
    reason, message : str
        Why training ended (``STOP_REASONS``) and a sentence for the user.
    epochs_completed : int
        Full epochs trained.
    history : list of dict
        One dict of ``EpochEvent`` fields per completed epoch.
    best_epoch : int or None
        The epoch whose weights were kept, with early stopping or when the run
        diverged (None when it diverged before its first epoch ended).
    seconds : float
        Wall time of the run, pauses excluded.
    changes : list of SettingsEvent
        The settings changed during the run, in order (usually none).
    """

    network: MLP
    normalization: Normalization
    reason: str
    message: str
    epochs_completed: int
    history: list[dict[str, Any]]
    best_epoch: int | None
    seconds: float
    changes: list[SettingsEvent] = field(default_factory=list)


class TrainingControl:
    """Pause, resume, step, change settings of and cancel a running ``train``.

    Thread-safe: any thread may call it. ``train`` checks it between minibatches: a
    cancel takes effect before the next batch; a pause blocks the training thread on
    an event (no polling) until ``resume``, ``step``, ``step_to_epoch_end`` or
    ``cancel``. ``step(n)`` trains ``n`` more minibatches and pauses again;
    ``step_to_epoch_end()`` trains to the end of the current epoch (a whole one when
    paused between epochs) and pauses before the next. ``change_settings`` takes
    effect before the next minibatch (``changeable_settings`` names what may change).

    Parameters
    ----------
    on_hold : callable, optional
        Called in the training thread, with no arguments, each time training is
        about to wait while paused (after a step request ran out, or a pause).
    """

    def __init__(self, on_hold: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._on_hold = on_hold
        self._budget: int | None = None  # minibatches left before pausing again
        self._epoch_ends = 0  # requests to train to the end of an epoch
        self._settings: dict[str, Any] = {}

    def pause(self) -> None:
        """Ask training to wait before its next minibatch (drops step requests)."""
        with self._lock:
            if not self._cancel.is_set():
                self._running.clear()
                self._budget, self._epoch_ends = None, 0

    def resume(self) -> None:
        """Let paused training continue freely (drops step requests)."""
        with self._lock:
            self._budget, self._epoch_ends = None, 0
            self._running.set()

    def step(self, batches: int = 1) -> None:
        """Train ``batches`` more minibatches, then pause again.

        Requests add up: two quick calls of ``step(1)`` train two minibatches.
        """
        if batches < 1:
            raise ValueError(f"batches must be at least 1, got {batches}")
        with self._lock:
            if self._cancel.is_set():
                return
            self._budget = (self._budget or 0) + int(batches)
            self._running.set()

    def step_to_epoch_end(self) -> None:
        """Train to the end of the current epoch, then pause before the next one."""
        with self._lock:
            if self._cancel.is_set():
                return
            self._epoch_ends += 1
            self._running.set()

    def change_settings(self, **values: Any) -> None:
        """Use these settings from the next minibatch on (later calls win).

        ``train`` checks them with ``changed_config`` when it applies them.
        """
        with self._lock:
            self._settings.update(values)

    def cancel(self) -> None:
        """Stop training before its next minibatch (also ends a pause)."""
        with self._lock:
            self._cancel.set()
            self._running.set()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel`` was called."""
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        """True while paused (also once a step request has run out)."""
        return not self._running.is_set()

    @property
    def stepping(self) -> bool:
        """True while a step request is being trained."""
        with self._lock:
            return self._budget is not None or self._epoch_ends > 0

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; return False if ``timeout`` expired first.

        Calls ``on_hold`` first when it will wait.
        """
        if not self._running.is_set() and self._on_hold is not None:
            self._on_hold()
        return self._running.wait(timeout)

    def count_batch(self, step: int, steps: int) -> None:
        """Count minibatch ``step`` of ``steps`` (an epoch's) against step requests.

        Called by the trainer right before it trains that minibatch; the last one a
        request asked for pauses training after it.
        """
        with self._lock:
            if self._epoch_ends:
                rest = steps - step + (self._epoch_ends - 1) * steps
                self._budget = max(self._budget or 0, rest)
                self._epoch_ends = 0
            if self._budget is None:
                return
            self._budget -= 1
            if self._budget <= 0:
                self._budget = None
                if not self._cancel.is_set():
                    self._running.clear()

    def take_settings(self) -> dict[str, Any]:
        """Return the settings changed since the last call, and forget them."""
        with self._lock:
            values, self._settings = self._settings, {}
        return values


def changeable_settings(config: TrainingConfig) -> tuple[str, ...]:
    """Return the settings a run with ``config`` can change while it trains.

    The learning rate (the schedule's base rate) always; the momentum with the
    ``"momentum"`` optimizer. The optimizer keeps its state across a change.
    """
    return (
        ("learning_rate", "momentum")
        if config.optimizer == "momentum"
        else ("learning_rate",)
    )


def changed_config(config: TrainingConfig, values: dict[str, Any]) -> TrainingConfig:
    """Return ``config`` with settings changed during a run, validated.

    Raises
    ------
    ConfigError
        For a setting this run cannot change, or an invalid value (e.g. a cosine
        schedule's final rate above the new learning rate).
    """
    allowed = changeable_settings(config)
    fixed = sorted(set(values) - set(allowed))
    if fixed:
        raise ConfigError(
            f"{', '.join(fixed)} cannot change during a run (only "
            f"{' and '.join(allowed)})."
        )
    try:
        return config.replace(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


# --------------------------------------------------------------------- train


def _check_fit(network: MLP, dataset: Dataset | DatasetPart, role: str) -> None:
    if dataset.input_size != network.input_size:
        raise ConfigError(
            f"The network takes {network.input_size} inputs but the {role} images "
            f"have {dataset.input_size} pixels ({dataset.image_shape[0]}x"
            f"{dataset.image_shape[1]})."
        )
    if dataset.num_classes != network.num_classes:
        raise ConfigError(
            f"The network has {network.num_classes} outputs but the {role} data "
            f"has {dataset.num_classes} classes."
        )


def _save(params: list[np.ndarray], into: list[np.ndarray]) -> None:
    for source, target in zip(params, into, strict=True):
        np.copyto(target, source)


def train(
    network: MLP,
    train_set: Dataset | DatasetPart,
    validation_set: Dataset | DatasetPart | None,
    config: TrainingConfig,
    on_event: Callable[[Event], None] | None = None,
    control: TrainingControl | None = None,
    normalization: Normalization | None = None,
    threads: int | str | None = None,
    health: HealthSampling | None = DEFAULT_SAMPLING,
    distillation: Distillation | None = None,
) -> TrainingResult:
    """Train ``network`` in place with minibatch gradient descent.

    Every epoch visits the training set in a fresh seeded random order; the
    same config, data and initial weights give the same weights bit for bit
    at a fixed BLAS thread count (1 and 2 threads round differently).
    The network's architecture is used as is; ``config.hidden_sizes``,
    ``activation``, ``output`` and ``init`` only matter for building it.

    Parameters
    ----------
    network : MLP
        Its input size must equal the images' ``H * W`` and its outputs the
        number of classes.
    train_set : Dataset or DatasetPart
        uint8 images ``(N, H, W)``, converted to float32 one batch at a time; a
        part (`core.datasets.split_parts`) is gathered from its source batch by
        batch and trains exactly as the same images copied into a dataset.
    validation_set : Dataset, DatasetPart or None
        Evaluated after every epoch; drives early stopping when given
        (otherwise the training loss does).
    config : TrainingConfig
        Validated here.
    on_event : callable, optional
        Called in this thread with a ``BatchEvent`` after every minibatch, an
        ``EpochEvent`` after every epoch and one ``FinishedEvent`` at the end.
        Between minibatches it may safely copy the network (``network.copy()``).
    control : TrainingControl, optional
        Checked before every minibatch for pause and cancel.
    normalization : Normalization, optional
        Input normalisation to use (e.g. a loaded model's, for fine-tuning);
        by default ``config.normalization`` is fitted on ``train_set``.
    threads : int, "auto" or None
        BLAS threads for the training steps (`core.blas_threads`): a fixed
        count, ``"auto"`` to keep measuring 1 against all threads and use the
        faster, or None to leave the BLAS library as it is.
    health : HealthSampling or None
        How often to sample the health figures (``core.health``) that the
        ``BatchEvent`` of a sampled step and every ``EpochEvent`` carry; None
        turns sampling off.
    distillation : Distillation or None
        Answers to keep while training (`core.distillation`; a fine-tune's): each
        step also learns them, in the same pass as its own images.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ConfigError
        For an invalid config or a network that does not fit the data.
    ValueError
        For a ``threads`` setting that is not a count or ``"auto"``.
    """
    config.validate()
    _check_fit(network, train_set, "training")
    if validation_set is not None and len(validation_set) == 0:
        validation_set = None
    if validation_set is not None:
        _check_fit(network, validation_set, "validation")
    count = len(train_set)
    if count == 0:
        raise ConfigError("The training set is empty.")
    if normalization is None:
        normalization = Normalization.fit(
            config.normalization, as_part(train_set), train_set.max_value
        )
    emit = on_event if on_event is not None else _ignore
    run = _Run(network, train_set, config, normalization, health, distillation)
    watch = DivergenceWatch(
        network.output,
        network.num_classes,
        chance_accuracy(train_set.labels, network.num_classes),
    )
    # Load the compiled kernels (if any) before the clock starts: the first epoch's
    # time and samples/s then describe training, not a one-off load.
    fast.warm_up()
    chooser = ThreadChooser(threads)
    started = time.perf_counter()
    paused = 0.0
    history: list[dict[str, Any]] = []
    reason, message = "completed", ""
    epochs_done = 0
    best_loss, best_epoch, waited = math.inf, 0, 0
    params = network.parameters()
    # The weights of the epoch with the lowest watched loss (the initial ones until
    # an epoch ends): what a diverged run, or early stopping, puts back.
    best = [p.copy() for p in params]
    divergence: Divergence | None = None
    diverged_step: int | None = None
    rate = learning_rate_at(config, 0, 0, run.steps)

    for epoch in range(config.epochs):
        epoch_started = time.perf_counter()
        epoch_paused = 0.0
        stop = None
        for step in range(run.steps):
            if control is not None:
                if control.paused:
                    wait_started = time.perf_counter()
                    control.wait_while_paused()
                    epoch_paused += time.perf_counter() - wait_started
                if control.cancelled:
                    stop = step
                    break
                _take_requests(control, run, epoch, step, emit)
            with chooser.step():
                loss, rate = run.step(epoch, step)
            divergence = watch.on_batch(loss)
            if divergence is not None:
                diverged_step = step
                break
            emit(
                BatchEvent(
                    epoch + 1,
                    step,
                    run.steps,
                    loss,
                    rate,
                    chooser.choice,
                    run.take_health(),
                )
            )
        if divergence is not None:
            break
        if stop is not None:
            reason = "cancelled"
            message = (
                f"Training was stopped during epoch {epoch + 1} after {stop} of "
                f"{run.steps} minibatches; the weights reached so far are kept."
            )
            paused += epoch_paused
            break
        train_seconds = time.perf_counter() - epoch_started - epoch_paused
        train_loss, train_accuracy = run.epoch_averages()
        validation_loss = validation_accuracy = None
        if validation_set is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                validation_loss, validation_accuracy = loss_and_accuracy(
                    network,
                    validation_set,
                    normalization,
                    EVALUATION_BATCH,
                    run.validation_buffer(validation_set),
                )
        divergence = watch.on_epoch(train_loss, train_accuracy, validation_loss)
        if divergence is not None:
            break
        paused += epoch_paused
        seconds = time.perf_counter() - epoch_started - epoch_paused
        event = EpochEvent(
            epoch=epoch + 1,
            epochs=config.epochs,
            train_loss=train_loss,
            train_accuracy=train_accuracy,
            validation_loss=validation_loss,
            validation_accuracy=validation_accuracy,
            learning_rate=rate,
            seconds=seconds,
            samples_per_second=count / max(train_seconds, 1e-9),
            blas_threads=chooser.choice,
            **run.health.epoch_means(),
        )
        history.append(dataclasses.asdict(event))
        epochs_done = epoch + 1
        emit(event)
        watched = train_loss if validation_loss is None else validation_loss
        if watched < best_loss:
            best_loss, best_epoch, waited = watched, epoch + 1, 0
            _save(params, best)
        elif config.early_stopping_patience:
            waited += 1
            if waited >= config.early_stopping_patience:
                _save(best, params)
                reason = "early_stopped"
                message = (
                    f"Stopped early after epoch {epoch + 1}: the "
                    f"{_watched_name(validation_set)} has not improved for "
                    f"{waited} epoch{'s' if waited != 1 else ''}; kept the "
                    f"weights of epoch {best_epoch} ({best_loss:.4f})."
                )
                break

    if divergence is not None:
        _save(best, params)
        reason = "diverged"
        message = _diverged_message(
            run.config,
            rate,
            epochs_done,
            diverged_step,
            run.steps,
            divergence,
            best_epoch,
            f"{_watched_name(validation_set)} {best_loss:.4f}",
        )
    elif reason == "completed":
        message = f"Finished {epochs_done} epoch{'s' if epochs_done != 1 else ''}."
        if config.early_stopping_patience and best_epoch != epochs_done:
            _save(best, params)
            message += (
                f" Kept the weights of epoch {best_epoch}, which had the lowest "
                f"{_watched_name(validation_set)} ({best_loss:.4f})."
            )
    kept_earlier = reason == "diverged" or config.early_stopping_patience > 0
    emit(FinishedEvent(reason, message, epochs_done))
    return TrainingResult(
        network=network,
        normalization=normalization,
        reason=reason,
        message=message,
        epochs_completed=epochs_done,
        history=history,
        best_epoch=best_epoch if kept_earlier and best_epoch else None,
        seconds=time.perf_counter() - started - paused,
        changes=list(run.changes),
    )


def _ignore(event: Event) -> None:
    return None


def _take_requests(
    control: TrainingControl,
    run: _Run,
    epoch: int,
    step: int,
    emit: Callable[[Event], None],
) -> None:
    """Count this minibatch against step requests; apply settings changed meanwhile."""
    control.count_batch(step, run.steps)
    values = control.take_settings()
    if values:
        event = run.change_settings(values, epoch, step)
        if event is not None:
            emit(event)


def _watched_name(validation_set: Dataset | None) -> str:
    return "training loss" if validation_set is None else "validation loss"


def _diverged_message(
    config: TrainingConfig,
    rate: float,
    epoch: int,
    step: int | None,
    steps: int,
    divergence: Divergence,
    best_epoch: int,
    best_figure: str,
) -> str:
    where = f"epoch {epoch + 1}"
    if step is not None:
        where += f", minibatch {step + 1} of {steps}"
    if best_epoch == 0:
        restored = "the initial weights"
    elif best_epoch == epoch:
        restored = f"the weights after epoch {best_epoch}, the last good ones"
    else:
        restored = (
            f"the weights after epoch {best_epoch}, the best ones ({best_figure})"
        )
    return (
        f"Training diverged at {where}: {divergence.describe()}. The learning "
        f"rate ({rate:g}) is most likely too high for this network and optimizer; "
        f"try a smaller one (for example {config.learning_rate / 10:g}). "
        f"Restored {restored}."
    )


def _order_type(count: int) -> type:
    return np.int32 if count <= np.iinfo(np.int32).max else np.intp


class _Run:
    """Preallocated buffers and generators for one call of ``train``."""

    def __init__(
        self,
        network: MLP,
        dataset: Dataset | DatasetPart,
        config: TrainingConfig,
        normalization: Normalization,
        health: HealthSampling | None = None,
        distillation: Distillation | None = None,
    ) -> None:
        part = as_part(dataset)
        self.network = network
        self.config = config
        self.normalization = normalization
        self.count = len(part)
        batch = config.batch_size if config.batch_size > 0 else self.count
        self.batch = min(batch, self.count)
        self.steps = math.ceil(self.count / self.batch)
        # The images stay in the source (maybe memory-mapped); ``rows`` names the
        # part's, and each batch's positions in the order become source rows.
        self.images, self.extra = part.flat_sources()
        self.rows = part.rows
        self.image_shape = part.image_shape
        self.max_value = part.max_value
        # Per-image arrays stay small (uint8 labels, int32 order) and the order is
        # turned into source rows a batch at a time: with 700,000 images, int64
        # copies would cost 5 MiB each.
        self.labels = part.labels
        # Augmentation's style strokes (flags on 1s...) need to know the digits.
        self.digits = tuple(part.class_names[:10]) == tuple("0123456789")
        # Independent streams, so that e.g. turning dropout on does not change
        # the order in which samples are visited.
        shuffle, dropout, augment, kept = np.random.SeedSequence(config.seed).spawn(4)
        self.shuffle_rng = np.random.default_rng(shuffle)
        self.dropout_rng = np.random.default_rng(dropout)
        self.augment_rng = np.random.default_rng(augment)
        self.kept_answers = None
        if distillation is not None:
            self.kept_answers = KeptAnswers(
                distillation,
                network,
                normalization,
                np.random.default_rng(kept),
                self.digits,
                self.batch,
            )
        self.optimizer = make_optimizer(config.optimizer, **_optimizer_settings(config))
        self.params = network.parameters()
        pixels = self.images.shape[1]
        self.batch_labels = np.empty(self.batch, np.intp)
        self.batch_rows = np.empty(self.batch, np.intp)
        # Augmentation runs on blocks of whole minibatches: each call has a fixed
        # cost of many small NumPy calls, which small batches would pay again and
        # again (batch 64 costs twice as much per image as 128 or more).
        self.augmenting = config.augment.is_active
        self.block_steps = 1
        if self.augmenting:
            self.block_steps = max(1, _AUGMENT_BLOCK // self.batch)
        block = self.block_steps * self.batch
        self.raw = np.empty((block, pixels), np.uint8)
        # The network's inputs: one minibatch, or a whole augmented block that is
        # normalised in place and fed to the network row range by row range.
        self.inputs = np.empty((block, pixels), np.float32)
        self._validation_buffer: np.ndarray | None = None
        self.health = HealthMonitor(network, health)
        self._health_record: HealthRecord | None = None
        self.order = np.empty(0, np.intp)  # each epoch's, drawn at its first step
        self.changes: list[SettingsEvent] = []
        self.loss_sum = 0.0
        self.correct = 0
        self.seen = 0

    def change_settings(
        self, values: dict[str, Any], epoch: int, step: int
    ) -> SettingsEvent | None:
        """Use changed settings from minibatch ``step`` of ``epoch`` on.

        The schedule reads the new base rate from the config; the optimizer keeps
        its state (velocities, moments). Returns the change, or None when nothing
        differs. Raises ``ConfigError`` (see ``changed_config``).
        """
        config = changed_config(self.config, values)
        if config == self.config:
            return None
        self.config = config
        momentum = None
        if config.optimizer == "momentum":
            momentum = config.momentum
            self.optimizer.set_momentum(momentum)
        event = SettingsEvent(
            epoch + 1, step, self.steps, config.learning_rate, momentum
        )
        self.changes.append(event)
        return event

    def validation_buffer(self, dataset: Dataset | DatasetPart) -> np.ndarray:
        """Return a float32 work array for validation batches, allocated once."""
        if self._validation_buffer is None:
            rows = min(EVALUATION_BATCH, len(dataset))
            self._validation_buffer = np.empty((rows, dataset.input_size), np.float32)
        return self._validation_buffer

    def step(self, epoch: int, step: int) -> tuple[float, float]:
        """Train one minibatch; return its loss and learning rate."""
        if step == 0:
            # The same order as ``permutation(count)`` gives, in half the memory.
            self.order = np.arange(self.count, dtype=_order_type(self.count))
            self.shuffle_rng.shuffle(self.order)
            self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        start = step * self.batch
        indices = self.order[start : start + self.batch]
        size = indices.shape[0]
        labels = self.batch_labels[:size]
        labels[:] = self.labels[indices]
        if not self.augmenting:
            inputs = fast.gather_normalized(
                self.images,
                np.take(self.rows, indices, out=self.batch_rows[:size]),
                self.normalization,
                self.inputs[:size],
                scratch=self.raw[:size],
                extra=self.extra,
            )
        else:
            offset = (step % self.block_steps) * self.batch
            if offset == 0:
                self._augment_block(start)
            inputs = self.inputs[offset : offset + size]
        if self.network.dtype != np.float32:
            inputs = inputs.astype(self.network.dtype)
        rate = learning_rate_at(self.config, epoch, step, self.steps)
        # Overflow is not an error here: a non-finite loss ends the run cleanly.
        with np.errstate(over="ignore", invalid="ignore"):
            learn = self.network.loss_and_gradients
            if self.kept_answers is not None:
                learn = self.kept_answers.loss_and_gradients
            loss, grads, probs = learn(
                inputs, labels, self.config.dropout, self.config.l2, self.dropout_rng
            )
            if math.isfinite(loss):
                sampled = self.health.before_update(grads)
                self.optimizer.step(self.params, grads, rate, overwrite_gradients=True)
                if sampled:
                    self._health_record = self.health.after_update()
        if math.isfinite(loss):
            self.loss_sum += loss * size
            self.correct += int(np.count_nonzero(probs.argmax(axis=1) == labels))
            self.seen += size
        return loss, rate

    def take_health(self) -> HealthRecord | None:
        """Return the health sample of the last step, if it was sampled, once."""
        record, self._health_record = self._health_record, None
        return record

    def _augment_block(self, start: int) -> None:
        """Augment the images of the block of minibatches that begins at ``start``."""
        indices = self.order[start : start + self.raw.shape[0]]
        size = indices.shape[0]
        raw = self.raw[:size]
        rows = self.rows[indices]
        take_rows(self.images, rows, self.extra, out=raw)
        block = self.inputs[:size]
        augment_batch(
            raw.reshape(size, *self.image_shape),
            self.config.augment,
            self.augment_rng,
            self.max_value,
            out=block.reshape(size, *self.image_shape),
            labels=self.labels[indices].astype(np.intp) if self.digits else None,
        )
        self.normalization.apply(block, out=block)

    def epoch_averages(self) -> tuple[float, float]:
        """Mean training loss and accuracy over the epoch's minibatches."""
        return self.loss_sum / self.seen, self.correct / self.seen


def _optimizer_fields(config: TrainingConfig) -> tuple[str, ...]:
    name = config.optimizer
    return OPTIMIZERS[name].settings if name in tuple(OPTIMIZERS) else ()


def _optimizer_settings(config: TrainingConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in _optimizer_fields(config)}
