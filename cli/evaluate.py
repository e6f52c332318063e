"""`evaluate`: a model's loss, accuracy, confusion matrix and per-class scores."""

from __future__ import annotations

import argparse

import numpy as np

from cli import data, threads
from cli.output import json_text, printable
from cli.report import confusion_table, per_class_table
from core.calibration import not_sure_share
from core.datasets import DatasetError, load_idx_pair
from core.judgement import digit_class_names, not_a_digit_output
from core.metrics import evaluate
from core.model_io import SavedModel, load_model

NAME = "evaluate"
HELP = "measure a model on a dataset or on IDX files"
SPLITS = ("auto", "test", "held-out", "train")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". By default the model's own dataset is used: its test "
        "split, or the part of its training images held out for validation.",
    )
    parser.add_argument("--model", required=True, metavar="M", help="model file (.npz)")
    parser.add_argument(
        "--dataset", help="dataset name (default: the one the model was trained on)"
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="auto",
        help="auto (default): test split if there is one, else the held-out part",
    )
    parser.add_argument("--images", metavar="FILE", help="IDX images file (.gz or raw)")
    parser.add_argument("--labels", metavar="FILE", help="IDX labels file (.gz or raw)")
    parser.add_argument(
        "--batch", type=int, default=2048, help="images per forward pass (memory)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    threads.add_flag(parser)
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the report."""
    if (args.images is None) != (args.labels is None):
        args.parser.error("--images and --labels go together")
    if args.images and args.dataset:
        args.parser.error("give either --dataset or --images/--labels, not both")
    if args.batch < 1:
        args.parser.error("--batch must be at least 1")
    model = load_model(args.model)
    dataset, description = _choose_data(args, model)
    result = evaluate(
        model.network,
        dataset,
        batch_size=args.batch,
        normalization=model.normalization,
        deskew=model.deskews,
        threads=args.threads,
    )
    support = np.asarray(result.confusion).sum(axis=1)
    not_sure = not_sure_share(model, result.probabilities)
    if args.json:
        report = _as_json(model, description, result, support)
        print(json_text({**report, "not_sure": not_sure}))
        return 0
    print(printable(f"Model      {args.model} ({model.dataset_name})"))
    print(printable(f"Data       {description}: {len(dataset):,} images"))
    print(f"Loss       {result.loss:.4f}")
    correct = round(result.accuracy * len(dataset))
    print(f"Accuracy   {100 * result.accuracy:.2f}% ({correct:,} of {len(dataset):,})")
    other = not_a_digit_output(model.class_names)
    if other is not None:
        away = round(result.turned_away * len(dataset))
        print(
            printable(
                f"Not a digit {100 * result.turned_away:.2f}% ({away:,}) with "
                f"'{model.class_names[other]}' their highest output: the accuracy "
                "counts their best digit, the matrix's last column these"
            )
        )
    if not_sure is not None:
        # What `predict` turns away: the "not a digit" output may lead by up to the
        # model's margin and the best digit is still answered.
        print(
            f"Not sure   {100 * not_sure:.2f}% ({round(not_sure * len(dataset)):,}) "
            "that `predict` would answer 'not sure'; it answers the rest"
        )
    print()
    print("Confusion matrix (rows: true class, columns: predicted)")
    print(confusion_table(np.asarray(result.confusion), model.class_names))
    print()
    print(per_class_table(model.class_names, result.precision, result.recall, support))
    return 0


def _choose_data(args: argparse.Namespace, model: SavedModel):
    shape = model.image_shape
    if args.images:
        dataset = load_idx_pair(
            args.images,
            args.labels,
            class_names=model.class_names,
            max_value=int(round(model.normalization.max_value)),
            expected_shape=shape,
        )
        return dataset, f"{args.images} + {args.labels}"
    name = args.dataset or model.dataset_name
    if not name:
        args.parser.error("the model names no dataset; give --dataset or --images")
    split = args.split
    if split == "auto":
        # Another dataset was never seen in training: all of it may be used.
        unseen = "held-out" if name == model.dataset_name else "train"
        split = "test" if data.has_test_split(name) else unseen
    if split == "held-out":
        if name != model.dataset_name:
            args.parser.error("--split held-out applies only to the model's dataset")
        return data.held_out(model)
    dataset = data.load(name, split, shape)
    _check_classes(dataset, model)
    return dataset, f"{name}, {split} split"


def _check_classes(dataset, model: SavedModel) -> None:
    classes = len(digit_class_names(model.class_names))
    if dataset.num_classes != classes:
        raise DatasetError(
            f"{dataset.name} has {dataset.num_classes} classes but the model has "
            f"{classes}"
        )


def _as_json(model, description, result, support) -> dict:
    names = list(model.class_names)
    return {
        "data": description,
        "images": int(np.sum(support)),
        "loss": float(result.loss),
        "accuracy": float(result.accuracy),
        "turned_away": float(result.turned_away),
        "class_names": names,
        "confusion": np.asarray(result.confusion).astype(int).tolist(),
        "per_class": {
            name: {
                "precision": _finite(p),
                "recall": _finite(r),
                "samples": int(s),
            }
            for name, p, r, s in zip(
                names, result.precision, result.recall, support, strict=True
            )
        },
    }


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
