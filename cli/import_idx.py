"""`import-idx`: store IDX files (Fashion-MNIST, EMNIST, ...) as a named dataset."""

from __future__ import annotations

import argparse

from cli.output import printable
from core import dataset_store
from core.user_dirs import data_dir

NAME = "import-idx"
HELP = "import an IDX dataset (a folder or explicit files) under a name"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". The dataset can then be used by name, e.g. "
        "`train --dataset NAME`.",
    )
    parser.add_argument("name", help="new dataset name (lowercase, digits, . _ -)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--folder",
        metavar="DIR",
        help="folder with train-images/labels (and optionally t10k/test) IDX files",
    )
    source.add_argument("--images", metavar="FILE", help="training images IDX file")
    parser.add_argument("--labels", metavar="FILE", help="training labels IDX file")
    parser.add_argument("--test-images", metavar="FILE", help="test images IDX file")
    parser.add_argument("--test-labels", metavar="FILE", help="test labels IDX file")
    parser.add_argument(
        "--prefix", default="", help="with --folder: only files starting with this"
    )
    parser.add_argument(
        "--class-names",
        metavar="A,B,...",
        help="comma-separated class names, in label order (default 0..K-1)",
    )
    parser.add_argument(
        "--transpose",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="swap rows and columns (EMNIST; automatic with --folder)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset of the same name"
    )
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Validate and store the files."""
    class_names = None
    if args.class_names:
        class_names = tuple(name.strip() for name in args.class_names.split(","))
    if args.folder:
        info = dataset_store.import_idx_folder(
            data_dir(),
            args.name,
            args.folder,
            class_names=class_names,
            prefix=args.prefix,
            transpose=args.transpose,
            overwrite=args.overwrite,
        )
    else:
        if not args.labels:
            args.parser.error("--images needs --labels")
        info = dataset_store.import_idx(
            data_dir(),
            args.name,
            args.images,
            args.labels,
            args.test_images,
            args.test_labels,
            class_names=class_names,
            transpose=bool(args.transpose),
            overwrite=args.overwrite,
        )
    height, width = info.image_shape
    test = f" and {info.test_count:,} test" if info.test_count is not None else ""
    print(
        f"Imported {info.name!r}: {info.train_count:,} training{test} images of "
        f"{height}x{width}, classes {printable(', '.join(info.class_names))}"
    )
    return 0
