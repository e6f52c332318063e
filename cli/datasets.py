"""`datasets`: list the datasets the app can train on, or remove a stored one."""

from __future__ import annotations

import argparse

from cli.output import printable
from core import dataset_store
from core.user_dirs import data_dir

NAME = "datasets"
HELP = "list the datasets (bundled, downloaded, imported) or remove a stored one"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". Names are what `train --dataset NAME` takes.",
    )
    parser.add_argument(
        "--remove",
        metavar="NAME",
        help="delete this downloaded or imported dataset from the data folder",
    )
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """List the datasets, or remove one."""
    folder = data_dir()
    if args.remove:
        dataset_store.delete_dataset(folder, args.remove)
        print(f"Removed {args.remove!r} from {folder}.")
        return 0
    infos = dataset_store.list_datasets(folder)
    width = max(len(printable(info.name)) for info in infos)
    for info in infos:
        height, columns = info.image_shape
        test = f" + {info.test_count:,} test" if info.test_count is not None else ""
        name = printable(info.name)
        print(
            f"{name:<{width}}  {info.kind:<10}  {info.train_count:,}{test} "
            f"images of {height}x{columns}, {len(info.class_names)} classes"
        )
    if dataset_store.MNIST not in {info.name for info in infos}:
        print(f"({dataset_store.MNIST}: not downloaded; `download mnist` fetches it)")
    return 0
