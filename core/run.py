"""One way to prepare, train and save a run, for the command line and the app alike.

Owns the split (subset, validation part, personal drawings in the training part only),
the made-up "not a digit" class and deskewing of a run's images, the fine-tune policy,
and what a model file records about training: its phases, one history row per epoch
with the phase index, one metrics schema, and the "not sure" thresholds set on the
validation part. Never imports Qt, never prints.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import fast
from core.augment import AugmentConfig, augment_batch
from core.datasets import (
    DIGIT_CLASS_NAMES,
    Dataset,
    DatasetError,
    DatasetPart,
    Normalization,
    as_part,
    load_bundled,
    split_parts,
)
from core.distillation import Distillation
from core.drawing_variants import VARIANTS, drawing_variants
from core.hand_reading import hand_reading, reading_phrase
from core.judgement import (
    NOT_A_DIGIT,
    Judge,
    JudgementError,
    digit_class_names,
    not_a_digit_output,
)
from core.metrics import evaluate
from core.model_io import (
    METRICS,
    SavedModel,
    app_version,
    json_ready,
    utc_now_iso,
)
from core.negatives import make_negatives
from core.negatives_store import NegativesStore
from core.network import MLP
from core.packed_images import PackedImages
from core.personal_set import DrawnDataset, load_personal_dataset
from core.preprocess import PreprocessError, target_for_shape
from core.slant import deskew
from core.training import (
    EpochEvent,
    Event,
    SettingsEvent,
    TrainingConfig,
    TrainingControl,
    TrainingResult,
    train,
)

# Fine-tuning: gentle epochs on the user's drawings mixed with a sample of the
# training images, so that the drawings count without the digits being forgotten.
# Many small steps move the weights less at random than a few large ones, and the
# images are not augmented (see `fine_tune_config`). bench.drawings' teach-it figure
# (20 corrections of a misread hand, in bench/RESULTS.md) chose these.
FINE_TUNE_EPOCHS = 10
FINE_TUNE_LEARNING_RATE_FACTOR = 0.05
FINE_TUNE_LIMIT = 20_000  # training images kept: no full epoch of 60,000 needed
# Each personal drawing is added this many times, so that a few dozen of them weigh
# against thousands of training images: in new runs, and in fine-tunes, where a
# drawing kept with its canvas comes as its variants (`core.drawing_variants`: the
# hand read 1.5-3 points better than with 40 copies or 15) and one without as
# copies.
PERSONAL_REPEAT = 20
FINE_TUNE_REPEAT = len(VARIANTS)
# A fine-tune keeps the base model's answers on that many of its training images a
# step, augmented as it was trained, at that weight (`core.distillation`): the
# MNIST test set lost up to 0.45 points to a taught hand without, 0.26 with; weight
# 1 read two hands 1-2 points worse (bench/RESULTS.md, eleventh session). Taught as
# variants, a hand took up to 0.33 points at 0.5, 0.26 at 0.75, for the same hands
# read within half a point (eighteenth session).
FINE_TUNE_KEPT_BATCH = 32
FINE_TUNE_KEPT_WEIGHT = 0.75
# ``stopped`` of a model taken while its run was still going: if it is what remains
# (the run was stopped or failed afterwards), the run did not finish.
SNAPSHOT_STOPPED = "interrupted"
# A model's "not sure" thresholds: the share of real digits it may turn away,
# counted on CALIBRATION_COPIES moved copies of them (shifted, turned, scaled,
# sheared and bent by CALIBRATION_AUGMENT, in pixels of 28x28 images), not on the
# digits alone: the 1% point of `recommended`'s 500 validation digits rests on five
# of them, and put the official MNIST test set's "not sure" anywhere in 1.0-2.7%
# (above the 2% allowed for about half of retrained models). A run sets them on
# copies of its training digits: 4,500 distinct ones for `recommended`, not 500,
# and the copies' difficulty about makes up for the network having seen those
# digits. Over `recommended` with seeds 0-7 the test set's share then spread
# 1.62-1.96% at 1.7% (on copies of the validation digits: 1.37-1.93% at 1.9%), and
# 0.7 points more of the non-digits were turned away on average; over seven later
# runs (four of seed 0: a run's thread counts change its sums) 1.64-2.00% at 1.7%,
# 1.52-1.75% at 1.5%, for 0-0.2 points fewer of the non-digits turned away
# (bench/RESULTS.md, sixth and twentieth sessions). A model
# without stored thresholds gets them when loaded, on copies of held-out digits
# (`core.calibration`), at HELD_OUT_FALSE_REJECTION. Snapshots taken during a run
# (the window's model after each epoch) skip the copies, whose pass costs about a
# fifth of a `recommended` epoch: the validation digits alone, at
# SNAPSHOT_FALSE_REJECTION, are about as strict.
JUDGEMENT_FALSE_REJECTION = 0.015
HELD_OUT_FALSE_REJECTION = 0.019
SNAPSHOT_FALSE_REJECTION = 0.01
CALIBRATION_COPIES = 4000
_COPY_BLOCK = 256
CALIBRATION_AUGMENT = AugmentConfig(
    shift=1.5, rotation=10.0, scale=0.08, shear=8.0, elastic=1.5
)
# A run's training images of this many bytes or more are copied packed
# (`core.packed_images`: 0.36 of the bytes, deskewed or not), and the run reads the
# copy; a smaller part is read from the dataset (or, deskewed, from a plain copy).
# Packed, 700,000 images train in the window at 0.99-1.10x their size, not
# 1.42-1.44x (a part read from the set keeps most of its pages resident); copying
# takes about 1.2 s, and unpacking, 0.5 us an image a read, adds about 9% to a plain
# 784-256-10 epoch (bench/RESULTS.md): only where memory counts. 128 MiB: 170,000
# images of 28x28; MNIST's stay as they are.
PACK_COPIES_FROM = 128 * 2**20
# A fine-tune that gives a model its first "not a digit" output (the user marked
# drawings as not digits) adds this many made-up non-digits, so that the new output
# learns what non-digits look like, not just the user's few.
FINE_TUNE_NEGATIVES = 3000
# The bundled real handwriting `TrainingConfig.pen_digits` adds (`core.datasets`).
PEN_DIGITS = "pen-digits"
# Images whose shape the made-up non-digits have (`core.negatives`).
NEGATIVES_SHAPE = (28, 28)
# The bias a new "not a digit" output starts with: sigmoid(-4) = 0.018, and still
# steep enough for the quadratic cost's gradient to move it.
_NEW_OUTPUT_BIAS = -4.0
# The training images the made-up non-digits are compared with and made from, at
# most: as varied as all of a big dataset's.
_NEGATIVES_DIGITS = 60_000

PersonalSource = Dataset | Callable[[], Dataset | None]


class RunError(Exception):
    """A run cannot be prepared as asked; the message is for the user."""


@dataclass(frozen=True)
class PersonalDrawings:
    """The user's drawings for images of one shape, read when the run is prepared.

    A callable for `RunRequest.personal`, so that the files are read in the thread
    that prepares the run, not in the one that asks for it. ``read_right`` and
    ``misread_share``: the drawings the model read right that the user left
    uncorrected, and the share the user corrected
    (`core.personal_set.DrawnDataset`).
    """

    data_dir: Path | str | os.PathLike
    image_shape: tuple[int, int]
    read_right: tuple[tuple[np.ndarray, int], ...] = ()
    misread_share: float | None = None

    def __call__(self) -> Dataset | None:
        """Return the drawings as a dataset, or None when there are none."""
        try:
            target = target_for_shape(self.image_shape)
        except PreprocessError:
            return None  # no drawing can be made for these images
        drawings = load_personal_dataset(self.data_dir, target)
        if drawings is None or not self.read_right:
            return drawings
        return dataclasses.replace(
            drawings, read_right=self.read_right, misread_share=self.misread_share
        )


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
        Rows of each drawing in the training part: copies, or in a fine-tune the
        variants of a drawing kept with its canvas.
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
    negatives_folder: Path | None = None

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
        dataset's images, which are not copied (`core.datasets.DatasetPart`),
        unless ``config.deskew`` made new ones.
    validation_set : DatasetPart or None
        The validation part (never holds a drawing); None without validation.
        With ``config.deskew``, `DatasetPart.deskewed`: deskewed as it is read.
    normalization : Normalization
        Fitted on ``train_set``, or the base model's when fine-tuning.
    network : MLP
        The network training changes: a new one, or a copy of the base model's
        (with a new "not a digit" output when the fine-tune brings the first one).
    personal_images : int
        Distinct personal drawings in ``train_set``.
    config : TrainingConfig
        The settings the run uses: the request's, with ``negatives`` as many
        made-up non-digits as were added.
    left_out : int
        Personal drawings marked "not a digit" that this run cannot use (its
        network has no such output and cannot get one).
    validation_source : DatasetPart or None
        The validation part as the dataset holds it: ``validation_set`` before
        ``config.deskew``, for views that read images as the model does
        (`core.model_io.SavedModel.prepare`), so never deskew them twice.
    training_source : DatasetPart or None
        The training part's digits as the dataset holds them (no made-up
        non-digits, no drawings, before ``config.deskew``): what the model's "not
        sure" thresholds are set on (`calibration_set`).
    hand_turn : float
        Degrees clockwise the run's model turns drawings back before it reads them
        (`core.hand_reading`): what a fine-tune found its drawings read best at,
        else the base model's; 0 for a new network.
    hand_width : float
        How much wider than drawn the run's model reads drawings, likewise; 1 for
        a new network.
    distillation : Distillation or None
        A fine-tune's: the base model's answers on the training part's own
        images (not the drawings), kept while it trains.
    """

    request: RunRequest
    train_set: DatasetPart
    validation_set: DatasetPart | None
    normalization: Normalization
    network: MLP
    personal_images: int
    config: TrainingConfig
    left_out: int = 0
    validation_source: DatasetPart | None = None
    training_source: DatasetPart | None = None
    hand_turn: float = 0.0
    hand_width: float = 1.0
    distillation: Distillation | None = None
    pen_digit_images: int = 0

    def describe(self) -> str:
        """E.g. ``mnist-sample: 4,500 training / 500 validation images``."""
        validation = 0 if self.validation_set is None else len(self.validation_set)
        text = f"{self.request.dataset.name}: {len(self.train_set):,} training"
        extras = []
        if self.pen_digit_images:
            extras.append(f"{self.pen_digit_images:,} digits people wrote")
        if self.config.negatives:
            extras.append(f"{self.config.negatives:,} made-up non-digits")
        if self.personal_images:
            extras.append(f"{self.personal_images:,} personal drawings")
        reading = reading_phrase(self.hand_turn, self.hand_width)
        if reading:
            extras.append(f"drawings read {reading}")
        if extras:
            text += f" (with {' and '.join(extras)})"
        text += f" / {validation:,} validation images"
        if self.config.deskew:
            text += ", deskewed"
        if self.left_out:
            text += (
                f"; {self.left_out:,} drawings marked not a digit left out (this "
                "model has no 'not a digit' output)"
            )
        return text


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


def prepare_run(
    request: RunRequest, on_stage: Callable[[str], None] | None = None
) -> PreparedRun:
    """Split the data, add the drawings, fit the normalisation, build the network.

    With ``config.negatives`` (or a base model that has a "not a digit" output, or
    drawings marked "not a digit" for a base model without one) made-up non-digits
    join the training part as the class `core.judgement.NOT_A_DIGIT`; with
    ``config.deskew`` the training part's images are deskewed once, here, and the
    validation part's each time they are read (`DatasetPart.deskewed`). A
    fine-tune teaches each drawing kept with its canvas as its variants
    (`core.drawing_variants`), at the width its model will read. Reads the
    personal drawings when ``request.personal`` is a callable: call it in the thread
    that will train. ``on_stage`` is told each step that takes seconds as it begins,
    in words for people ("making 12,000 made-up non-digits").

    Raises
    ------
    RunError
        When the data does not fit the base model, required drawings are missing,
        or made-up non-digits are asked for data that is not 28x28 digits.
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
    training_source = train_set
    personal = request.personal
    if callable(personal):
        personal = personal()
    turn, width = (0.0, 1.0) if base is None else (base.hand_turn, base.hand_width)
    if base is not None and request.kind == "fine_tune" and personal is not None:
        _tell(on_stage, "finding your hand's turn and width")
        turn, width = _read_like_hand(base, personal, turn, width)
    if request.require_personal and (personal is None or len(personal) == 0):
        raise RunError(
            "There are no drawings in your personal set for this image size yet: "
            "correct a few predictions on the Draw tab first."
        )
    negatives = _negatives_count(config, dataset, base, personal)
    _check_digit_drawings(dataset, negatives, config.pen_digits)
    pen_digit_images = 0
    if config.pen_digits and dataset.name != PEN_DIGITS:  # not twice over
        before = len(train_set)
        train_set = _with_pen_digits(train_set, request.subset, config.seed, on_stage)
        pen_digit_images = len(train_set) - before
    if negatives and request.subset is not None and request.subset < len(dataset):
        # A quick try on a subset gets as many made-up non-digits per digit.
        negatives = max(1, round(negatives * request.subset / len(dataset)))
    if negatives and request.limit is not None:
        # The limit keeps a random share of the images: draw only that share.
        total = len(train_set) + negatives
        negatives = max(1, round(negatives * min(1.0, request.limit / total)))
    if negatives:
        train_set = _with_negatives(
            train_set, negatives, config.seed, request.negatives_folder, on_stage
        )
        if validation_set is not None:
            validation_set = _with_class_names(validation_set, train_set.class_names)
        config = config.replace(negatives=negatives)
    if request.limit is not None and len(train_set) > request.limit:
        keep = np.random.default_rng(config.seed).permutation(len(train_set))
        train_set = train_set.subset(np.sort(keep[: request.limit]))
    own_images = len(train_set)  # the drawings come after
    personal_images = left_out = 0
    if personal is not None and len(personal):
        personal, left_out = _usable_drawings(personal, train_set.class_names)
        personal_images = len(personal)
    if personal_images and base is not None and request.kind == "fine_tune":
        _tell(on_stage, "making variants of your drawings")
        varied = _varied_drawings(personal, turn, width, request.personal_repeat)
        train_set = _with_drawings(train_set, varied, 1)
    elif personal_images:
        train_set = _with_drawings(train_set, personal, request.personal_repeat)
    validation_source = validation_set
    packed = len(train_set) * train_set.input_size >= PACK_COPIES_FROM
    if config.deskew or packed:
        doing = "deskewing" if config.deskew else "packing"
        _tell(on_stage, f"{doing} {len(train_set):,} training images")
        train_set = _own_copy(train_set, config.deskew, packed)
    if packed and validation_set is not None:
        # Read every epoch: a part spread over the set would keep most of its
        # pages resident; packed like the training part, it keeps a third.
        validation_set = _own_copy(validation_set, config.deskew, True)
    elif config.deskew and validation_set is not None:
        # Read once an epoch: deskewed as read, not copied.
        validation_set = dataclasses.replace(validation_set, deskewed=True)
    classes = train_set.num_classes
    distillation = None
    if base is not None:
        normalization = base.normalization
        network = _with_outputs(base.network, classes)
        if request.kind == "fine_tune":
            own = train_set.subset(np.arange(own_images))
            distillation = _keeping_answers(base, network, own)
    else:
        normalization = Normalization.fit(
            config.normalization, train_set, train_set.max_value
        )
        network = config.build_network(train_set.input_size, classes)
    return PreparedRun(
        request,
        train_set,
        validation_set,
        normalization,
        network,
        personal_images,
        config,
        left_out,
        validation_source,
        training_source,
        turn,
        width,
        distillation,
        pen_digit_images,
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
        distillation=prepared.distillation,
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
        class_names=prepared.train_set.class_names,
        dataset_name=phases[0]["dataset_name"],
        config=phases[0]["config"],
        history=earlier_rows + rows,
        metrics=metrics,
        created=utc_now_iso(),
        app_version=app_version(),
        phases=phases,
        edits=[] if base is None else list(base.edits),  # still in the weights
        judgement=validation_judgement(prepared, network, snapshot=result is None),
        hand_turn=prepared.hand_turn,
        hand_width=prepared.hand_width,
    )


def validation_judgement(
    prepared: PreparedRun, network: MLP, snapshot: bool = False
) -> dict | None:
    """Return the run's "not sure" thresholds for its model file.

    `core.judgement.Judge.calibrate` at `JUDGEMENT_FALSE_REJECTION` on the
    network's output for `calibration_set` (moved copies of the training digits,
    made here: the final model only); for a ``snapshot`` during the run,
    at `SNAPSHOT_FALSE_REJECTION` on the validation digits alone (one short pass).
    As `Judge.to_dict` stores them; None without a validation part of at least 20
    digits, or for a model whose classes are not digits (the app then sets the
    thresholds when the model is loaded).
    """
    validation = prepared.validation_set
    names = prepared.train_set.class_names
    if validation is None or digit_class_names(names) != DIGIT_CLASS_NAMES:
        return None
    digits, share = validation, SNAPSHOT_FALSE_REJECTION
    if not snapshot:
        digits, share = calibration_set(prepared), JUDGEMENT_FALSE_REJECTION
    # Batch by batch: a 70,000-image part at once would need 0.2 GB of float inputs.
    # Batches of 1,000 divide the copies evenly (one set of work buffers, not two).
    with np.errstate(over="ignore", invalid="ignore"):
        probabilities = evaluate(
            network, digits, batch_size=1000, normalization=prepared.normalization
        ).probabilities
    try:
        judge = Judge.calibrate(probabilities, names, share)
    except JudgementError:
        return None  # too few digits, or non-finite outputs
    return judge.to_dict()


def calibration_copies(
    digits: np.ndarray | DatasetPart, max_value: float, seed: int = 0
) -> np.ndarray:
    """Return `CALIBRATION_COPIES` moved copies of real digits, to set thresholds on.

    Each digit in turn (a random choice of them when there are more), moved by
    `CALIBRATION_AUGMENT` (its shifts and bends scaled to the image size); the
    same digits and ``seed`` give the same copies.

    Parameters
    ----------
    digits : np.ndarray or DatasetPart
        uint8 ``(N, H, W)`` real digits, N >= 1, bright ink on 0, or a part
        holding them.
    max_value : float
        Their brightest pixel value.

    Returns
    -------
    np.ndarray
        uint8 ``(CALIBRATION_COPIES, H, W)``.
    """
    rng = np.random.default_rng(seed)
    count = len(digits)
    if count >= CALIBRATION_COPIES:
        chosen = np.sort(rng.choice(count, CALIBRATION_COPIES, replace=False))
    else:
        chosen = np.arange(CALIBRATION_COPIES) % count
    if isinstance(digits, DatasetPart):
        picked = np.empty((len(chosen), *digits.image_shape), np.uint8)
        for block, images in digits.read_once(chosen):
            picked[block] = images
    else:
        picked = np.asarray(digits)[chosen]
    size = min(picked.shape[1:]) / 28
    config = dataclasses.replace(
        CALIBRATION_AUGMENT,
        shift=CALIBRATION_AUGMENT.shift * size,
        elastic=CALIBRATION_AUGMENT.elastic * size,
    )
    copies = np.empty_like(picked)
    # In blocks: augmenting all 4,000 at once would take 40 MB of float temporaries.
    for start in range(0, CALIBRATION_COPIES, _COPY_BLOCK):
        stop = start + _COPY_BLOCK
        moved = augment_batch(picked[start:stop], config, rng, max_value)
        copies[start:stop] = np.rint(moved, out=moved)
    return copies


def calibration_set(prepared: PreparedRun) -> Dataset:
    """Return moved copies of a run's training digits, as its network reads them.

    `calibration_copies` of them as the dataset holds them, then deskewed with
    ``config.deskew``; with the training part's class names.
    """
    source, config = prepared.training_source, prepared.config
    copies = calibration_copies(source, source.max_value, config.seed)
    if config.deskew:
        copies = deskew(copies)
    labels = np.zeros(len(copies), source.labels.dtype)  # unused: thresholds only
    names = prepared.train_set.class_names
    return Dataset(source.name, copies, labels, names, source.max_value)


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
    learning rate, constant, without early stopping or augmentation; everything
    else is kept.
    """
    rate = config.learning_rate * FINE_TUNE_LEARNING_RATE_FACTOR
    # No augmentation: the model has learnt the augmented variety already, and
    # the drawings are taught as the user drew them. Augmenting (the run's own
    # transforms, or gentler copies of the drawings) read the hand worse and lost
    # more of the digits in bench.drawings' teach-it.
    return config.replace(
        epochs=FINE_TUNE_EPOCHS,
        learning_rate=rate,
        min_learning_rate=min(config.min_learning_rate, rate),
        schedule="constant",
        early_stopping_patience=0,
        augment=AugmentConfig(),
    )


def fine_tune_request(
    base: SavedModel,
    dataset: Dataset,
    personal: PersonalSource | None,
    fallback_config: TrainingConfig | None = None,
) -> RunRequest:
    """Return the request that fine-tunes ``base`` on the personal drawings.

    The drawings (required, `FINE_TUNE_REPEAT` rows each: their variants when their
    canvases are kept, see `prepare_run`) are mixed with at most
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
        personal_repeat=FINE_TUNE_REPEAT,
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
    names = tuple(base.class_names)
    if not_a_digit_output(names) is not None:
        names = names[:-1]  # the made-up class comes with the run, not the data
    if len(names) != dataset.num_classes:
        raise RunError(
            f"The model has {len(base.class_names)} classes but {dataset.name} has "
            f"{dataset.num_classes}: select the dataset the model was trained on "
            f"({base.dataset_name or 'same classes'})."
        )


def makes_negatives(image_shape: tuple[int, int], class_names: tuple[str, ...]) -> bool:
    """Return True when made-up non-digits (and the pen digits) fit such data.

    That is 28x28 images of the digits 0-9.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the images.
    class_names : tuple of str
        The data's classes (without a "not a digit" class).
    """
    return (
        tuple(image_shape) == NEGATIVES_SHAPE
        and tuple(class_names) == DIGIT_CLASS_NAMES
    )


def _negatives_count(
    config: TrainingConfig,
    dataset: Dataset,
    base: SavedModel | None,
    personal: Dataset | None,
) -> int:
    """How many made-up non-digits the run adds (0: no "not a digit" class)."""
    if base is None:
        wanted = config.negatives > 0
    elif not_a_digit_output(tuple(base.class_names)) is not None:
        wanted = True
    else:
        # The user's "not a digit" drawings give the model that output now.
        wanted = (
            personal is not None
            and not_a_digit_output(personal.class_names) is not None
            and makes_negatives(dataset.image_shape, dataset.class_names)
        )
    if not wanted:
        return 0
    return config.negatives or FINE_TUNE_NEGATIVES


def _check_digit_drawings(dataset: Dataset, negatives: int, pen_digits: bool) -> None:
    """Refuse, in one message, the drawings only 28x28 digit data can take."""
    if makes_negatives(dataset.image_shape, dataset.class_names):
        return
    asked = [
        (what, fix)
        for what, fix, wanted in (
            ("made-up non-digits", "set them to 0", negatives > 0),
            ("the pen digits", "leave them out", pen_digits),
        )
        if wanted
    ]
    if not asked:
        return
    if len(asked) == 1:
        ((what, fix),) = asked
    else:
        what = "made-up non-digits and the pen digits"
        fix = "set the non-digits to 0 and leave the pen digits out"
    raise RunError(
        f"{what[0].upper()}{what[1:]} are 28x28 drawings of the digits 0-9, but "
        f"{dataset.name} has {dataset.image_shape[0]}x{dataset.image_shape[1]} "
        f"images of {dataset.num_classes} classes: {fix}."
    )


def _with_pen_digits(
    train_set: DatasetPart,
    subset: int | None,
    seed: int,
    on_stage: Callable[[str], None] | None,
) -> DatasetPart:
    """Return the training part (28x28 digits) followed by the bundled pen digits.

    A quick try on a subset of the dataset gets the same share of them (seeded).
    """
    written = load_bundled(PEN_DIGITS)
    images, labels = written.images, written.labels
    if subset is not None and subset < len(train_set.source):
        count = max(1, round(len(written) * subset / len(train_set.source)))
        chosen = np.sort(np.random.default_rng(seed).permutation(len(written))[:count])
        images, labels = images[chosen], labels[chosen]
    _tell(on_stage, f"adding {len(labels):,} digits people wrote")
    if train_set.max_value != written.max_value:
        scaled = images.astype(np.float32) * (train_set.max_value / written.max_value)
        images = np.rint(scaled).astype(np.uint8)
    return _with_extra(train_set, images, labels, repeat=1)


def _tell(on_stage: Callable[[str], None] | None, stage: str) -> None:
    if on_stage is not None:
        on_stage(stage)


def _with_negatives(
    train_set: DatasetPart,
    count: int,
    seed: int,
    folder: Path | None,
    on_stage: Callable[[str], None] | None,
) -> DatasetPart:
    # The digits of the training part make the overlaps and sort out the made-up
    # drawings that happen to look like a digit (a sample of them for a big part),
    # read from the part as they are needed.
    digits = train_set.subset(np.arange(min(len(train_set), _NEGATIVES_DIGITS)))
    made = _made_negatives(count, seed, digits, folder, on_stage)
    if train_set.max_value != 255:
        scaled = made.astype(np.float32) * (train_set.max_value / 255.0)
        made = np.rint(scaled).astype(np.uint8)
    names = (*train_set.class_names, NOT_A_DIGIT)
    part = _with_class_names(train_set, names)
    labels = np.full(count, len(names) - 1, np.uint8)
    return _with_extra(part, made, labels, repeat=1)


# The latest made-up non-digits: the next run on the same digits with the same count
# and seed (comparing settings, or fine-tuning) takes them instead of spending
# seconds making them again.
_NEGATIVES = NegativesStore()


def _made_negatives(
    count: int,
    seed: int,
    digits: DatasetPart,
    folder: Path | None,
    on_stage: Callable[[str], None] | None,
) -> np.ndarray:
    def make() -> np.ndarray:
        _tell(on_stage, f"making {count:,} made-up non-digits")
        # Loaded now, the compiled kernels convert the pieces and overlaps of real
        # digits too (the same bits, a tenth less time): they load only when asked.
        fast.warm_up()
        return make_negatives(count, seed=seed, digits=digits)

    chunks = (images for _, images in digits.read_once())
    return _NEGATIVES.images(count, seed, chunks, make, folder)


def _with_class_names(part: DatasetPart, names: tuple[str, ...]) -> DatasetPart:
    """Return ``part`` with more class names (its images are not copied)."""
    source = dataclasses.replace(part.source, class_names=names)
    extra = part.extra
    if extra is not None:
        extra = dataclasses.replace(extra, class_names=names)
    return DatasetPart(source, part.rows, extra)


def _with_extra(
    part: DatasetPart, images: np.ndarray, labels: np.ndarray, repeat: int
) -> DatasetPart:
    """Return ``part`` followed by ``images`` ``repeat`` times over, as extra rows."""
    source = part.source
    before = 0 if part.extra is None else len(part.extra)
    if part.extra is not None:
        images = np.concatenate([part.extra.images, images])
        labels = np.concatenate([part.extra.labels, labels])
    extra = Dataset(source.name, images, labels, source.class_names, source.max_value)
    added = len(source) + before + np.arange(len(extra) - before, dtype=np.intp)
    rows = np.concatenate([part.rows, np.tile(added, repeat)])
    return DatasetPart(source, rows, extra)


def _usable_drawings(
    drawings: Dataset, class_names: tuple[str, ...]
) -> tuple[Dataset, int]:
    """Return the drawings labelled for ``class_names``, and how many were left out.

    Drawings marked "not a digit" take the run's "not a digit" class, or are left
    out when it has none; the others keep their class index.
    """
    source = not_a_digit_output(drawings.class_names)
    if source is None:
        return drawings, 0
    negative = drawings.labels == source
    target = not_a_digit_output(class_names)
    if target is None:
        keep = np.flatnonzero(~negative)
        names = drawings.class_names[:-1]
        kept = dataclasses.replace(drawings.subset(keep), class_names=names)
        canvases = getattr(drawings, "canvases", ())
        if canvases:  # a fine-tune converts the drawings from them
            kept = DrawnDataset(**vars(kept), canvases=tuple(canvases[i] for i in keep))
        return kept, int(negative.sum())
    digits = drawings.labels[~negative]
    if digits.size and int(digits.max()) >= target:
        raise RunError(
            f"A personal drawing is labelled {int(digits.max())} but the model has "
            f"only {target} digit classes."
        )
    labels = np.where(negative, target, drawings.labels).astype(np.uint8)
    return dataclasses.replace(drawings, labels=labels, class_names=class_names), 0


def _own_copy(part: DatasetPart, deskewing: bool, packed: bool) -> DatasetPart:
    # The part becomes a dataset of its own, its images deskewed or not, packed or
    # not (`PACK_COPIES_FROM`). Block by block, so that no copy of the whole part is
    # made before the run's own, and a stored set's pages go once read (the run
    # reads only its copy).
    def blocks():
        for block, read in part.read_once():
            yield block, deskew(read) if deskewing else read

    if packed:
        images = PackedImages.join(PackedImages.pack(read) for _, read in blocks())
    else:
        images = np.empty((len(part), *part.image_shape), np.uint8)
        for block, read in blocks():
            images[block] = read
    return as_part(
        Dataset(part.name, images, part.labels, part.class_names, part.max_value)
    )


def _keeping_answers(
    base: SavedModel, network: MLP, images: DatasetPart
) -> Distillation | None:
    """Return the base model's answers on ``images``, kept while ``network`` trains.

    None when they cannot be kept as they are: an output other than softmax, a
    "not a digit" output the base model did not have, or no images.
    """
    teacher = base.network
    if (
        teacher.output != "softmax_cross_entropy"
        or teacher.layer_sizes != network.layer_sizes
        or len(images) == 0
    ):
        return None
    augment = AugmentConfig()
    if base.config:
        augment = TrainingConfig.from_dict(base.config).augment
    return Distillation(
        teacher.copy(),  # run in the training thread, while the app reads the base
        images,
        augment,
        FINE_TUNE_KEPT_WEIGHT,
        FINE_TUNE_KEPT_BATCH,
    )


def _with_outputs(network: MLP, classes: int) -> MLP:
    """Return a copy of ``network``, with one more output if ``classes`` asks for it.

    The new output starts with zero weights and a low bias: it is unlikely until
    training teaches it, and the digits' order of likelihood is unchanged.
    """
    copy = network.copy()
    if network.num_classes == classes:
        return copy
    if classes != network.num_classes + 1:
        raise RunError(
            f"The model has {network.num_classes} outputs; this run needs {classes}."
        )
    grown = MLP(
        [*network.layer_sizes[:-1], classes],
        activation=network.activation,
        output=network.output,
        init=network.init,
        dtype=network.dtype,
    )
    for mine, theirs in zip(grown.weights[:-1], copy.weights[:-1], strict=True):
        mine[...] = theirs
    for mine, theirs in zip(grown.biases[:-1], copy.biases[:-1], strict=True):
        mine[...] = theirs
    grown.weights[-1][...] = 0.0
    grown.weights[-1][:, :-1] = copy.weights[-1]
    grown.biases[-1][:-1] = copy.biases[-1]
    grown.biases[-1][-1] = _NEW_OUTPUT_BIAS
    return grown


def _base_subset(base: SavedModel, dataset: Dataset) -> int | None:
    # The subset of the model's first phase, when this is the dataset it was drawn
    # from: a later phase then holds out the same validation images.
    first = base.phases[0]
    if first["dataset_name"] != dataset.name:
        return None
    return first["metrics"].get("subset")


def _read_like_hand(
    base: SavedModel, drawings: Dataset, turn: float, width: float
) -> tuple[float, float]:
    """Find the turn and width a fine-tune's drawings read best at.

    `core.hand_reading`, from the drawings kept with their canvases
    (`core.personal_set.DrawnDataset`) and those read right; the base model's
    ``turn`` and ``width`` when none is kept with its canvas. `_varied_drawings`
    converts them so, as the fine-tuned model will read them.
    """
    canvases = getattr(drawings, "canvases", ())
    drawn = [index for index, canvas in enumerate(canvases) if canvas is not None]
    if not drawn:
        return turn, width
    kept = [canvases[index] for index in drawn]
    labels = drawings.labels[drawn]
    negative = not_a_digit_output(drawings.class_names)
    digits = labels != (-1 if negative is None else negative)
    return hand_reading(
        base.predict_proba,
        [canvas for canvas, digit in zip(kept, digits, strict=True) if digit],
        labels[digits],
        drawings.image_shape,
        (turn, width),
        getattr(drawings, "read_right", ()),
        getattr(drawings, "misread_share", None),
    )


def _varied_drawings(
    drawings: Dataset, turn: float, width: float, rows: int
) -> Dataset:
    """Each drawing as ``rows`` rows: its variants in turn, or copies without a canvas.

    Variants (`core.drawing_variants`) are made around ``turn`` and ``width``, as the
    fine-tuned model reads.
    """
    canvases = getattr(drawings, "canvases", ()) or (None,) * len(drawings)
    images = []
    for image, canvas in zip(drawings.images, canvases, strict=True):
        if canvas is None:
            images.append(np.repeat(image[None], rows, axis=0))
        else:
            variants = drawing_variants(canvas, drawings.image_shape, turn, width)
            images.append(variants[np.arange(rows) % len(variants)])
    return Dataset(
        drawings.name,
        np.concatenate(images),
        np.repeat(drawings.labels, rows),
        drawings.class_names,
        drawings.max_value,
    )


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
    return _with_extra(train_set, images, drawings.labels, max(1, int(repeat)))


def _with_phase(row: dict[str, Any]) -> dict[str, Any]:
    # Rows of format 1 files have no phase: they belong to the first one.
    return row if "phase" in row else {"phase": 0, **row}
