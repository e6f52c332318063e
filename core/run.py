"""One way to prepare, train and save a run, for the command line and the app alike.

Owns the split (subset, validation part, personal drawings in the training part only),
the fine-tune policy, and what a model file records about training: its phases, one
history row per epoch with the phase index, and one metrics schema. Never imports Qt,
never prints.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.datasets import (
    Dataset,
    DatasetError,
    DatasetPart,
    Normalization,
    as_part,
    split_parts,
)
from core.model_io import (
    METRICS,
    SavedModel,
    app_version,
    json_ready,
    utc_now_iso,
)
from core.network import MLP
from core.personal_set import load_personal_dataset
from core.preprocess import PreprocessError, target_for_shape
from core.training import (
    EpochEvent,
    Event,
    SettingsEvent,
    TrainingConfig,
    TrainingControl,
    TrainingResult,
    train,
)

# Fine-tuning: a few gentle epochs on the user's drawings mixed with a sample of the
# training images, so that the drawings count without the digits being forgotten.
FINE_TUNE_EPOCHS = 3
FINE_TUNE_LEARNING_RATE_FACTOR = 0.3
FINE_TUNE_LIMIT = 10_000  # training images kept: no full epoch of 60,000 needed
# Each personal drawing is added this many times, so that a few dozen of them weigh
# against thousands of training images (new runs and fine-tunes alike).
PERSONAL_REPEAT = 5
# ``stopped`` of a model taken while its run was still going: if it is what remains
# (the run was stopped or failed afterwards), the run did not finish.
SNAPSHOT_STOPPED = "interrupted"

PersonalSource = Dataset | Callable[[], Dataset | None]


class RunError(Exception):
    """A run cannot be prepared as asked; the message is for the user."""


@dataclass(frozen=True)
class PersonalDrawings:
    """The user's drawings for images of one shape, read when the run is prepared.

    A callable for `RunRequest.personal`, so that the files are read in the thread
    that prepares the run, not in the one that asks for it.
    """

    data_dir: Path | str | os.PathLike
    image_shape: tuple[int, int]

    def __call__(self) -> Dataset | None:
        """Return the drawings as a dataset, or None when there are none."""
        try:
            target = target_for_shape(self.image_shape)
        except PreprocessError:
            return None  # no drawing can be made for these images
        return load_personal_dataset(self.data_dir, target)


@dataclass(frozen=True)
class RunRequest:
    """What to train: frozen, handed from the caller's thread to the training one.

    Attributes
    ----------
    dataset : Dataset
        The training images (the train split); the validation part comes out of it.
    config : TrainingConfig
        The settings of this run.
    personal : Dataset, callable or None
        The user's drawings (or a callable returning them, e.g. `PersonalDrawings`),
        added to the training part only, ``personal_repeat`` times each.
    personal_repeat : int
        Copies of each drawing in the training part.
    require_personal : bool
        Refuse to run without drawings (a fine-tune on them).
    base : SavedModel or None
        Fine-tune a copy of this model's network, with its input normalisation; the
        base model itself is never changed. None builds a new network from
        ``config``.
    subset : int or None
        Use only this many images of ``dataset`` (stratified), before the split.
    limit : int or None
        Keep at most this many images of the training part (random, seeded), before
        the drawings are added.
    phase_kind : str or None
        The kind of phase the run adds (`PHASE_KINDS`); by default ``"train"``
        without a base model and ``"fine_tune"`` with one (`continue_request` asks
        for ``"continue"``).
    """

    dataset: Dataset
    config: TrainingConfig
    personal: PersonalSource | None = None
    personal_repeat: int = PERSONAL_REPEAT
    require_personal: bool = False
    base: SavedModel | None = None
    subset: int | None = None
    limit: int | None = None
    phase_kind: str | None = None

    @property
    def kind(self) -> str:
        """The kind of phase this run adds to the model's history (`PHASE_KINDS`)."""
        if self.phase_kind is not None:
            return self.phase_kind
        return "train" if self.base is None else "fine_tune"


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to train: the data parts, normalisation and the network to train.

    Attributes
    ----------
    request : RunRequest
        What was asked.
    train_set : DatasetPart
        The training part, personal drawings (repeated) included: rows of the
        dataset's images, which are not copied (`core.datasets.DatasetPart`).
    validation_set : DatasetPart or None
        The validation part (never holds a drawing); None without validation.
    normalization : Normalization
        Fitted on ``train_set``, or the base model's when fine-tuning.
    network : MLP
        The network training changes: a new one, or a copy of the base model's.
    personal_images : int
        Distinct personal drawings in ``train_set``.
    """

    request: RunRequest
    train_set: DatasetPart
    validation_set: DatasetPart | None
    normalization: Normalization
    network: MLP
    personal_images: int

    @property
    def config(self) -> TrainingConfig:
        """The run's settings."""
        return self.request.config

    def describe(self) -> str:
        """E.g. ``mnist-sample: 4,500 training / 500 validation images``."""
        validation = 0 if self.validation_set is None else len(self.validation_set)
        text = f"{self.request.dataset.name}: {len(self.train_set):,} training"
        if self.personal_images:
            text += f" (with {self.personal_images:,} personal drawings)"
        return text + f" / {validation:,} validation images"


@dataclass(frozen=True)
class HeldOutSplit:
    """How to recompute the images a model never trained on (see `held_out_split`)."""

    dataset_name: str
    validation_fraction: float
    seed: int
    subset: int | None


@dataclass(frozen=True)
class HistoryTimeline:
    """A history laid end to end over its phases, for plotting.

    Attributes
    ----------
    epochs : np.ndarray
        float64 ``(R,)``: each row's epoch counted from the start of the first phase.
    phases : np.ndarray
        int64 ``(R,)``: each row's phase index.
    starts : tuple of float
        Per phase, the epochs before it (``starts[0] == 0``): a later phase begins
        right after ``starts[p]``.
    """

    epochs: np.ndarray
    phases: np.ndarray
    starts: tuple[float, ...]


# --- the split -------------------------------------------------------------------


def take_subset(
    dataset: Dataset | DatasetPart, size: int | None, seed: int
) -> DatasetPart:
    """Draw a stratified random subset of ``size`` images (all when None).

    Raises
    ------
    DatasetError
        When ``size`` cannot hold one image of each class.
    """
    if size is None or size >= len(dataset):
        return as_part(dataset)
    if size < dataset.num_classes:
        raise DatasetError(
            f"a subset of {size} images cannot hold all {dataset.num_classes} classes"
        )
    _, subset = split_parts(dataset, size / len(dataset), seed)
    return subset


def split(
    dataset: Dataset,
    validation_fraction: float,
    seed: int,
    subset: int | None = None,
) -> tuple[DatasetPart, DatasetPart | None]:
    """Return the training and validation parts of ``dataset`` (the one rule).

    The subset (when given) is drawn first, then the stratified validation part;
    the same arguments always give the same images, so a model's held-out part can
    be recomputed from what its file records. The parts name rows of the dataset's
    images and copy none (`core.datasets.split_parts`).
    """
    return split_parts(take_subset(dataset, subset, seed), validation_fraction, seed)


def held_out_split(model: SavedModel) -> HeldOutSplit:
    """Return how ``model``'s validation part was drawn, to recompute it.

    Raises
    ------
    RunError
        When the model records no validation part, or its phases trained on
        different data or splits (so no single part was held out of all of them).
    """
    specs = set()
    for phase in model.phases:
        config = phase["config"]
        specs.add(
            HeldOutSplit(
                phase["dataset_name"],
                float(config.get("validation_fraction", 0.0) or 0.0),
                int(config.get("seed", 0)),
                phase["metrics"].get("subset"),
            )
        )
    if len(specs) != 1:
        raise RunError(
            "the model's training phases used different data or splits, so no "
            "image was held out of all of them"
        )
    (spec,) = specs
    if spec.validation_fraction <= 0.0:
        raise RunError(
            f"the model trained on all of {spec.dataset_name!r}, so nothing is held out"
        )
    return spec


# --- preparing and running ---------------------------------------------------------


def prepare_run(request: RunRequest) -> PreparedRun:
    """Split the data, add the drawings, fit the normalisation, build the network.

    Reads the personal drawings when ``request.personal`` is a callable: call it in
    the thread that will train.

    Raises
    ------
    RunError
        When the data does not fit the base model or required drawings are missing.
    ConfigError
        For an invalid config.
    DatasetError
        For a subset or validation share the dataset cannot give.
    """
    config = request.config
    config.validate()
    dataset, base = request.dataset, request.base
    if base is not None:
        _check_base(base, dataset)
    train_set, validation_set = split(
        dataset, config.validation_fraction, config.seed, request.subset
    )
    if request.limit is not None and len(train_set) > request.limit:
        keep = np.random.default_rng(config.seed).permutation(len(train_set))
        train_set = train_set.subset(np.sort(keep[: request.limit]))
    personal = request.personal
    if callable(personal):
        personal = personal()
    if request.require_personal and (personal is None or len(personal) == 0):
        raise RunError(
            "There are no drawings in your personal set for this image size yet: "
            "correct a few predictions on the Draw tab first."
        )
    personal_images = 0 if personal is None else len(personal)
    if personal_images:
        train_set = _with_drawings(train_set, personal, request.personal_repeat)
    if base is not None:
        normalization = base.normalization
        network = base.network.copy()
    else:
        normalization = Normalization.fit(
            config.normalization, train_set, train_set.max_value
        )
        network = config.build_network(train_set.input_size, train_set.num_classes)
    return PreparedRun(
        request, train_set, validation_set, normalization, network, personal_images
    )


def run_training(
    prepared: PreparedRun,
    on_event: Callable[[Event], None] | None = None,
    control: TrainingControl | None = None,
    threads: int | str | None = None,
) -> TrainingResult:
    """Train ``prepared.network`` in place with ``core.training.train``.

    ``on_event``, ``control`` and ``threads`` (BLAS threads) are passed on; see
    `core.training.train`.
    """
    return train(
        prepared.network,
        prepared.train_set,
        prepared.validation_set,
        prepared.config,
        on_event=on_event,
        control=control,
        normalization=prepared.normalization,
        threads=threads,
    )


# --- the model file's contents -------------------------------------------------------


def build_model(
    prepared: PreparedRun,
    network: MLP,
    result: TrainingResult | None = None,
    rows: list[dict[str, Any]] | None = None,
    changes: list[SettingsEvent] | None = None,
) -> SavedModel:
    """Return the model a run has made so far, as a model file stores it.

    The same function makes the live snapshot after each epoch (``result`` None)
    and the final model, so both carry the same fields: the base model's phases and
    history (when fine-tuning) followed by this run's phase and rows.

    Parameters
    ----------
    prepared : PreparedRun
        The run.
    network : MLP
        The weights to store (kept, not copied: pass a copy while training goes on).
    result : TrainingResult or None
        The finished run; None for a snapshot (``stopped`` is then
        `SNAPSHOT_STOPPED`). A cancelled run's weights are mid-epoch: keep its last
        snapshot instead.
    rows : list of dict or None
        This run's history so far, one `epoch_row` per finished epoch; by default
        made from ``result.history``. Snapshots pass the rows collected as epochs
        ended, so that each costs the same at epoch 3,000 as at epoch 3.

    Returns
    -------
    SavedModel
        ``metrics`` follows `core.model_io.METRICS` with every key present.
    """
    if rows is None:
        if result is None:
            raise TypeError("build_model needs the run's rows or its result")
        rows = [epoch_row(prepared, epoch) for epoch in result.history]
    request = prepared.request
    base = request.base
    earlier_phases = [] if base is None else list(base.phases)
    earlier_rows = [] if base is None else [_with_phase(row) for row in base.history]
    metrics = _phase_metrics(prepared, rows, result)
    phase = {
        "kind": request.kind,
        "dataset_name": request.dataset.name,
        "config": prepared.config.to_dict(),
        "metrics": metrics,
    }
    if changes is None:
        changes = [] if result is None else result.changes
    if changes:
        phase["changes"] = [change_record(event) for event in changes]
    phases = [*earlier_phases, phase]
    dataset = request.dataset
    return SavedModel(
        network=network,
        normalization=prepared.normalization,
        image_shape=dataset.image_shape,
        class_names=dataset.class_names,
        dataset_name=phases[0]["dataset_name"],
        config=phases[0]["config"],
        history=earlier_rows + rows,
        metrics=metrics,
        created=utc_now_iso(),
        app_version=app_version(),
        phases=phases,
        edits=[] if base is None else list(base.edits),  # still in the weights
    )


def epoch_row(prepared: PreparedRun, epoch: EpochEvent | Mapping[str, Any]) -> dict:
    """Return one history row of this run for `build_model`.

    The epoch's fields (an ``EpochEvent`` or its dict), JSON-ready, with ``phase``,
    the index of the run's phase (after the base model's phases).
    """
    base = prepared.request.base
    values = dataclasses.asdict(epoch) if isinstance(epoch, EpochEvent) else epoch
    values = {key: value for key, value in values.items() if key != "phase"}
    return {"phase": 0 if base is None else len(base.phases), **json_ready(values)}


def change_record(event: SettingsEvent) -> dict[str, Any]:
    """Return how a phase's ``changes`` list records a change of settings.

    ``at_epoch`` is where it applied in epochs of the phase (2.25: a quarter into
    epoch 3), ``at_batch`` the minibatches of the phase trained before it; then the
    new ``learning_rate`` and, with the momentum optimizer, ``momentum``.
    """
    before = (event.epoch - 1) * event.batches_per_epoch + event.batch_index
    record = {
        "at_epoch": before / event.batches_per_epoch,
        "at_batch": before,
        "learning_rate": event.learning_rate,
    }
    if event.momentum is not None:
        record["momentum"] = event.momentum
    return json_ready(record)


def _phase_metrics(
    prepared: PreparedRun, rows: list[dict[str, Any]], result: TrainingResult | None
) -> dict[str, Any]:
    # The figures of the stored weights: with early stopping, the best epoch's.
    best = None if result is None else result.best_epoch
    kept = rows[best - 1] if best and best <= len(rows) else (rows[-1] if rows else {})
    if result is None:
        seconds = sum(row.get("seconds") or 0.0 for row in rows)
    else:
        seconds = result.seconds
    validation = prepared.validation_set
    values = {
        "epochs_completed": len(rows) if result is None else result.epochs_completed,
        "stopped": SNAPSHOT_STOPPED if result is None else result.reason,
        "best_epoch": best,
        "training_seconds": round(float(seconds), 3),
        "training_images": len(prepared.train_set),
        "personal_images": prepared.personal_images,
        "validation_images": 0 if validation is None else len(validation),
        "subset": prepared.request.subset,
    }
    return {key: values[key] if key in values else kept.get(key) for key in METRICS}


def history_timeline(history: list[dict[str, Any]]) -> HistoryTimeline:
    """Lay the phases of a history end to end: 50 epochs, then a fine-tune's 51..53.

    Parameters
    ----------
    history : list of dict
        A model's history (``phase`` missing means 0; rows of a phase in order).

    Returns
    -------
    HistoryTimeline
    """
    phases = np.array([int(row.get("phase", 0)) for row in history], dtype=np.int64)
    count = int(phases.max()) + 1 if len(phases) else 1
    within = np.zeros(len(history))
    lengths = np.zeros(count)
    for index, (row, phase) in enumerate(zip(history, phases, strict=True)):
        # A row without its epoch number comes right after the one before it.
        epoch = row.get("epoch")
        within[index] = epoch if epoch is not None else lengths[phase] + 1
        lengths[phase] = max(lengths[phase], within[index])
    starts = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
    return HistoryTimeline(
        epochs=within + starts[phases],
        phases=phases,
        starts=tuple(float(start) for start in starts),
    )


# --- fine-tuning -------------------------------------------------------------------


def fine_tune_config(config: TrainingConfig) -> TrainingConfig:
    """Return the fine-tune settings derived from a model's original ones.

    `FINE_TUNE_EPOCHS` epochs at `FINE_TUNE_LEARNING_RATE_FACTOR` times the original
    learning rate, constant, without early stopping; everything else is kept.
    """
    rate = config.learning_rate * FINE_TUNE_LEARNING_RATE_FACTOR
    return config.replace(
        epochs=FINE_TUNE_EPOCHS,
        learning_rate=rate,
        min_learning_rate=min(config.min_learning_rate, rate),
        schedule="constant",
        early_stopping_patience=0,
    )


def fine_tune_request(
    base: SavedModel,
    dataset: Dataset,
    personal: PersonalSource | None,
    fallback_config: TrainingConfig | None = None,
) -> RunRequest:
    """Return the request that fine-tunes ``base`` on the personal drawings.

    The drawings (required, `PERSONAL_REPEAT` copies each) are mixed with at most
    `FINE_TUNE_LIMIT` images of the training part, split as the original run split
    ``dataset`` (same seed, share and subset), so the validation images stay unseen.

    Parameters
    ----------
    base : SavedModel
        The model to start from; never changed.
    dataset : Dataset
        Training images of the model's image size and classes.
    personal : Dataset, callable or None
        The drawings, e.g. `PersonalDrawings`.
    fallback_config : TrainingConfig or None
        Settings to derive from when the model records none.

    Raises
    ------
    RunError
        When the dataset does not fit the model or no settings are known.
    """
    _check_base(base, dataset)
    if base.config:
        config = TrainingConfig.from_dict(base.config)
    elif fallback_config is not None:
        config = fallback_config
    else:
        raise RunError("The model records no training settings to fine-tune with.")
    subset = _base_subset(base, dataset)
    return RunRequest(
        dataset=dataset,
        config=fine_tune_config(config),
        personal=personal,
        personal_repeat=PERSONAL_REPEAT,
        require_personal=True,
        base=base,
        subset=subset,
        limit=FINE_TUNE_LIMIT,
    )


# --- continuing ----------------------------------------------------------------------

# What a continuation takes from the model rather than from the settings asked for:
# its architecture (the network exists) and what drew its validation part and fitted
# its input normalisation, so that the validation images stay unseen.
CONTINUE_KEEPS = (
    "hidden_sizes",
    "activation",
    "output",
    "init",
    "normalization",
    "seed",
    "validation_fraction",
)


def continue_request(
    base: SavedModel,
    dataset: Dataset,
    config: TrainingConfig,
    personal: PersonalSource | None = None,
) -> RunRequest:
    """Return the request that trains ``base`` on, as a new ``"continue"`` phase.

    The weights go on from the model's; the optimizer starts afresh (a model file
    keeps no optimizer state: docs/model_format.md). ``config`` gives this phase's
    settings (learning rate, optimizer, epochs...), except `CONTINUE_KEEPS`, which
    come from the model's first phase when it records them, with its subset when
    ``dataset`` is the one it was trained on: the same images are held out.

    Parameters
    ----------
    base : SavedModel
        The model to continue; never changed (its network is copied).
    dataset : Dataset
        Training images of the model's image size and classes.
    config : TrainingConfig
        The settings for the new phase.
    personal : Dataset, callable or None
        The user's drawings, added to the training part as for a new run.

    Raises
    ------
    RunError
        When the dataset does not fit the model.
    ConfigError
        When the settings are invalid.
    """
    _check_base(base, dataset)
    network = base.network
    first = base.phases[0]
    recorded = {
        **(first["config"] or base.config),
        "hidden_sizes": tuple(network.layer_sizes[1:-1]),
        "activation": network.activation,
        "output": network.output,
        "init": network.init,
        "normalization": base.normalization.kind,
    }
    kept = {key: recorded[key] for key in CONTINUE_KEEPS if key in recorded}
    subset = _base_subset(base, dataset)
    return RunRequest(
        dataset=dataset,
        config=config.replace(**kept),
        personal=personal,
        base=base,
        subset=subset,
        phase_kind="continue",
    )


# --- helpers -------------------------------------------------------------------------


def _check_base(base: SavedModel, dataset: Dataset) -> None:
    if tuple(base.image_shape) != tuple(dataset.image_shape):
        height, width = base.image_shape
        raise RunError(
            f"The model reads {height}x{width} images but {dataset.name} has "
            f"{dataset.image_shape[0]}x{dataset.image_shape[1]}: select the dataset "
            f"the model was trained on ({base.dataset_name or 'same image size'})."
        )
    if len(base.class_names) != dataset.num_classes:
        raise RunError(
            f"The model has {len(base.class_names)} classes but {dataset.name} has "
            f"{dataset.num_classes}: select the dataset the model was trained on "
            f"({base.dataset_name or 'same classes'})."
        )


def _base_subset(base: SavedModel, dataset: Dataset) -> int | None:
    # The subset of the model's first phase, when this is the dataset it was drawn
    # from: a later phase then holds out the same validation images.
    first = base.phases[0]
    if first["dataset_name"] != dataset.name:
        return None
    return first["metrics"].get("subset")


def _with_drawings(
    train_set: DatasetPart, drawings: Dataset, repeat: int
) -> DatasetPart:
    if drawings.image_shape != train_set.image_shape:
        raise RunError(
            f"The personal drawings are {drawings.image_shape[0]}x"
            f"{drawings.image_shape[1]} but the training images are "
            f"{train_set.image_shape[0]}x{train_set.image_shape[1]}."
        )
    if int(drawings.labels.max()) >= train_set.num_classes:
        raise RunError(
            f"A personal drawing is labelled {int(drawings.labels.max())} but "
            f"{train_set.name} has only {train_set.num_classes} classes."
        )
    images = drawings.images
    if drawings.max_value != train_set.max_value:
        scaled = images.astype(np.float32) * (train_set.max_value / drawings.max_value)
        images = np.clip(np.rint(scaled), 0, train_set.max_value).astype(np.uint8)
    repeat = max(1, int(repeat))
    source = train_set.source
    extra = Dataset(
        drawings.name, images, drawings.labels, source.class_names, source.max_value
    )
    # The drawings follow the training images, ``repeat`` times over.
    drawn = len(source) + np.tile(np.arange(len(extra), dtype=np.intp), repeat)
    return DatasetPart(source, np.concatenate([train_set.rows, drawn]), extra)


def _with_phase(row: dict[str, Any]) -> dict[str, Any]:
    # Rows of format 1 files have no phase: they belong to the first one.
    return row if "phase" in row else {"phase": 0, **row}
