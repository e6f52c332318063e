"""`train`: build a network from flags and/or a preset, train it, save the model.

Every flag defaults to None so that a flag given on the command line overrides the
preset's value and an absent one keeps it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from cli import data, threads
from cli.output import printable
from cli.progress import ProgressLine
from cli.report import training_data_words
from core import fast
from core.activations import ACTIVATIONS
from core.augment import AugmentConfig
from core.datasets import NORMALIZATIONS
from core.initializers import INITIALIZERS
from core.losses import OUTPUTS
from core.model_io import check_model_size, save_model
from core.presets import PRESETS
from core.run import RunRequest, build_model, prepare_run, run_training
from core.safe_files import check_replaceable
from core.schedules import SCHEDULES
from core.training import (
    OPTIMIZERS,
    BatchEvent,
    ConfigError,
    EpochEvent,
    FinishedEvent,
    TrainingConfig,
)
from core.user_dirs import cache_dir

NAME = "train"
HELP = "train a network on a dataset and save it as a model file"
DEFAULT_DATASET = "mnist-sample"
DEFAULT_OUT = "model.npz"
MAX_EPOCH_LINES = 50

# (flags, TrainingConfig field, type, help); augmentation flags are added from
# AugmentConfig's fields so new transforms appear without touching this file.
_NUMBER_FLAGS = (
    (("--lr", "--learning-rate"), "learning_rate", float, "learning rate"),
    (("--momentum",), "momentum", float, "momentum coefficient ('momentum' optimizer)"),
    (("--beta1",), "beta1", float, "Adam's first-moment decay"),
    (("--beta2",), "beta2", float, "Adam's second-moment decay"),
    (("--step-epochs",), "step_epochs", int, "step schedule: decay every N epochs"),
    (
        ("--step-gamma",),
        "step_gamma",
        float,
        "step schedule: multiply the rate by this",
    ),
    (("--min-lr",), "min_learning_rate", float, "cosine schedule: final learning rate"),
    (("--batch", "--batch-size"), "batch_size", int, "mini-batch size; 0 = full batch"),
    (("--epochs",), "epochs", int, "number of passes over the training set"),
    (("--l2",), "l2", float, "L2 weight decay coefficient"),
    (("--dropout",), "dropout", float, "drop probability on hidden units (0..1)"),
    (("--seed",), "seed", int, "random seed (weights, split, shuffling)"),
    (
        ("--validation", "--validation-fraction"),
        "validation_fraction",
        float,
        "validation share, e.g. 0.1",
    ),
    (
        ("--patience", "--early-stopping"),
        "early_stopping_patience",
        int,
        "early stopping patience; 0 = off",
    ),
    (
        ("--negatives",),
        "negatives",
        int,
        "made-up non-digits added as the class 'not a digit'; 0 = none",
    ),
)

_AUGMENT_HELP = {
    "shift": "largest shift, pixels",
    "rotation": "largest rotation, degrees",
    "scale": "largest size change, fraction (0.1 = 90%%..110%%)",
    "shear": "largest shear, degrees",
    "elastic": "elastic distortion strength, pixels",
    "thickness": "stroke thickness change, fraction of a 1-px dilation",
    "noise": "Gaussian noise, fraction of the brightest pixel",
    "elastic_grid": "elastic control points per side (default 4)",
    "probability": "share of images augmented (default 1)",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". Flags override the preset's values.",
        epilog="Presets:\n"
        + "\n".join(f"  {p.name:<22} {p.description}" for p in PRESETS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start from a preset")
    parser.add_argument(
        "--dataset",
        help=f"bundled, downloaded or imported dataset name (default {DEFAULT_DATASET}"
        " or the preset's)",
    )
    parser.add_argument(
        "--layers",
        type=_layer_sizes,
        metavar="N,N,...",
        help="hidden layer sizes, e.g. 256,128 ('none' for no hidden layer)",
    )
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS))
    parser.add_argument(
        "--cost", dest="output", choices=sorted(OUTPUTS), help="output layer and cost"
    )
    parser.add_argument("--init", choices=sorted(INITIALIZERS))
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--schedule", choices=SCHEDULES)
    parser.add_argument(
        "--nesterov",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Nesterov momentum ('momentum' optimizer)",
    )
    parser.add_argument("--normalization", choices=NORMALIZATIONS)
    parser.add_argument(
        "--deskew",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stand the digits upright (moment deskewing) in training and reading",
    )
    parser.add_argument(
        "--pen-digits",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the bundled 7,494 digits 30 people wrote on a tablet to the "
        "training images (28x28 digits only)",
    )
    for flags, dest, kind, text in _NUMBER_FLAGS:
        parser.add_argument(*flags, dest=dest, type=kind, help=text)
    augment = parser.add_argument_group(
        "augmentation (0 = off)", "random transforms of every training mini-batch"
    )
    for item in dataclasses.fields(AugmentConfig):
        kind = int if isinstance(item.default, int) else float
        augment.add_argument(
            f"--augment-{item.name.replace('_', '-')}",
            dest=f"augment_{item.name}",
            type=kind,
            metavar="X",
            help=_AUGMENT_HELP.get(item.name, f"{item.name} amount"),
        )
    parser.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="use only N images of the training data (a quick try)",
    )
    parser.add_argument(
        "--out", help=f"model file to write (default {DEFAULT_OUT})", metavar="PATH"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the final summary"
    )
    threads.add_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train and save."""
    config, dataset_name = build_config(args)
    out = Path(args.out or DEFAULT_OUT)
    _check_writable(out)
    # Loading the kernels runs numba's compiler, whose pages they then give back
    # (core/kernels.py): done before the dataset loads, a big set's peak lacks them.
    fast.warm_up()
    dataset = data.load(dataset_name)
    check_model_size(
        config.layer_sizes(dataset.input_size, dataset.num_classes),
        config.normalization,
    )
    request = RunRequest(
        dataset, config, subset=args.subset, negatives_folder=cache_dir()
    )
    reporter = _Reporter(sys.stdout, config, quiet=args.quiet)
    prepared = prepare_run(request, reporter.stage)
    network = prepared.network
    sizes = "-".join(str(n) for n in network.layer_sizes)
    reporter.line(
        f"Training {sizes} ({config.activation}, {config.output}, "
        f"{network.parameter_count:,} parameters) on {prepared.describe()}"
    )
    reporter.line(f"Settings: {_config_summary(config)}")
    result = run_training(prepared, on_event=reporter.on_event, threads=args.threads)
    reporter.finish()
    if result.reason == "diverged":
        raise TrainingFailed(f"{result.message} Nothing was saved.")
    model = build_model(prepared, result.network, result)
    save_model(out, model.network, model.metadata)
    summary = f"{result.seconds:.1f} s of training"
    accuracy = model.metrics["validation_accuracy"]
    if accuracy is not None:
        summary += f", validation accuracy {100 * accuracy:.2f}%"
    if result.reason == "early_stopped":
        summary += f", stopped early (kept epoch {result.best_epoch})"
    print(f"Saved {printable(out)} ({summary})")
    return 0


class TrainingFailed(Exception):
    """Training ended without a usable model (it diverged)."""


def build_config(args: argparse.Namespace) -> tuple[TrainingConfig, str]:
    """Apply every given flag to the preset (or default) config; pick the dataset.

    Raises
    ------
    ConfigError
        When the combination is invalid.
    """
    preset = PRESETS[args.preset] if args.preset else None
    base = preset.config if preset else TrainingConfig()
    dataset_name = args.dataset or (preset.dataset if preset else DEFAULT_DATASET)
    changes = {}
    for name in (
        "activation",
        "output",
        "init",
        "optimizer",
        "schedule",
        "nesterov",
        "normalization",
        "deskew",
        "pen_digits",
    ):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.layers is not None:
        changes["hidden_sizes"] = args.layers
    for _, dest, _, _ in _NUMBER_FLAGS:
        if getattr(args, dest) is not None:
            changes[dest] = getattr(args, dest)
    augment_changes = {
        item.name: getattr(args, f"augment_{item.name}")
        for item in dataclasses.fields(AugmentConfig)
        if getattr(args, f"augment_{item.name}") is not None
    }
    try:
        if augment_changes:
            changes["augment"] = dataclasses.replace(base.augment, **augment_changes)
        config = dataclasses.replace(base, **changes)
        config.validate()
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc
    if args.subset is not None and args.subset < 2:
        raise ConfigError("--subset needs at least 2 images")
    return config, dataset_name


def _layer_sizes(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 256,128, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("layer sizes must be positive")
    return sizes


def _check_writable(out: Path) -> None:
    """Fail before training, not after, when the model cannot be saved."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise TrainingFailed(f"{out} is a folder; give a file name such as m.npz")
    check_replaceable(out)
    if not folder.is_dir():
        raise TrainingFailed(f"cannot save to {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise TrainingFailed(f"cannot save to {out}: folder {folder} is not writable")


def _config_summary(config: TrainingConfig) -> str:
    batch = "full batch" if config.batch_size == 0 else f"batch {config.batch_size}"
    epochs = "1 epoch" if config.epochs == 1 else f"{config.epochs} epochs"
    parts = [
        f"{config.optimizer} lr {config.learning_rate:g}",
        f"{config.schedule} schedule",
        batch,
        epochs,
        f"{config.normalization} inputs",
    ]
    for name in ("l2", "dropout"):
        if getattr(config, name):
            parts.append(f"{name} {getattr(config, name):g}")
    if config.early_stopping_patience:
        parts.append(f"patience {config.early_stopping_patience}")
    if config.augment.is_active:
        parts.append("augmentation on")
    parts += training_data_words(dataclasses.asdict(config))
    return ", ".join(parts) + f", seed {config.seed}"


class _Reporter:
    """Turns training events into a progress bar (terminal) or one line per epoch.

    Long runs (thousands of full-batch epochs) print about `MAX_EPOCH_LINES` lines.
    """

    def __init__(self, stream, config: TrainingConfig, quiet: bool):
        self.quiet = quiet
        self.progress = ProgressLine(stream, interactive=stream.isatty() and not quiet)
        self.epochs = config.epochs
        self.every = max(1, -(-config.epochs // MAX_EPOCH_LINES))

    def line(self, text: str) -> None:
        if not self.quiet:
            self.progress.line(text)

    def stage(self, text: str) -> None:
        """Say what preparing the run does now (it takes seconds)."""
        self.line(f"{text[:1].upper()}{text[1:]}...")

    def on_event(self, event) -> None:
        if isinstance(event, BatchEvent):
            batches = max(1, event.batches_per_epoch)
            done = (event.epoch - 1 + (event.batch_index + 1) / batches) / self.epochs
            self.progress.update(
                done,
                f"epoch {event.epoch}/{self.epochs}  loss {event.loss:.4f}"
                + threads.describe(event.blas_threads, short=True),
            )
        elif isinstance(event, EpochEvent):
            if event.epoch % self.every == 0 or event.epoch in (1, event.epochs):
                self.line(_epoch_line(event))
            elif self.progress.interactive:
                self.progress.update(event.epoch / self.epochs, _epoch_line(event))
        elif isinstance(event, FinishedEvent):
            if event.reason == "early_stopped":
                self.line(event.message)

    def finish(self) -> None:
        self.progress.clear()


def _epoch_line(event: EpochEvent) -> str:
    text = (
        f"epoch {event.epoch:>{len(str(event.epochs))}}/{event.epochs}  "
        f"train loss {event.train_loss:.4f} acc {100 * event.train_accuracy:6.2f}%"
    )
    if event.validation_accuracy is not None:
        text += (
            f"  val loss {event.validation_loss:.4f} "
            f"acc {100 * event.validation_accuracy:6.2f}%"
        )
    text += f"  lr {event.learning_rate:.3g}  {event.seconds:.2f}s"
    return text + threads.describe(event.blas_threads)
