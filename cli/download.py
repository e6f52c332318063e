"""`download mnist`: fetch the full MNIST into the user's data folder, with progress."""

from __future__ import annotations

import argparse
import sys

from cli.progress import ProgressLine, format_bytes
from core import dataset_store
from core.user_dirs import MNIST_MIRROR_ENV, data_dir, mnist_mirror

NAME = "download"
HELP = "download the full MNIST (60,000 + 10,000 images) into the data folder"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". Files are checked against their published MD5 sums; "
        "an interrupted download resumes where it stopped.",
    )
    parser.add_argument("what", choices=["mnist"], help="the dataset to download")
    parser.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="base URL holding the four MNIST files (repeatable); replaces the "
        f"built-in mirror list. Default: ${MNIST_MIRROR_ENV} if set",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Download, showing progress, then report where the data is."""
    # Imported here: urllib and ssl add 3-4 MiB to every other subcommand.
    from core.download import download_mnist

    mirrors = args.mirror or ([mnist_mirror()] if mnist_mirror() else None)
    folder = data_dir()
    display = _DownloadProgress(ProgressLine(sys.stdout, sys.stdout.isatty()))
    download_mnist(folder, mirrors=mirrors, progress=display)
    display.done()
    info = dataset_store.get_info(dataset_store.MNIST, folder)
    print(
        f"MNIST is ready: {info.train_count:,} training and {info.test_count:,} test "
        f"images in {info.path}"
    )
    return 0


class _DownloadProgress:
    """Progress callback: a bar per file on a terminal, one line per file otherwise."""

    def __init__(self, progress: ProgressLine):
        self.progress = progress
        self.current: str | None = None
        self.last_done = 0

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if name != self.current:
            self._finish_file()
            self.current = name
            self.progress.restart_clock()
        self.last_done = done
        if total:
            text = f"{name}  {format_bytes(done)} of {format_bytes(total)}"
            self.progress.update(done / total, text)
        else:
            self.progress.update(0.0, f"{name}  {format_bytes(done)}")

    def _finish_file(self) -> None:
        if self.current is not None:
            self.progress.line(f"{self.current}  {format_bytes(self.last_done)}  ok")

    def done(self) -> None:
        self._finish_file()
        self.current = None
