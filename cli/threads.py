"""The ``--threads`` flag of `train` and `evaluate`, and how the choice is shown."""

from __future__ import annotations

import argparse

from core.blas_threads import AUTO, parse_setting


def add_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N|auto`` (default auto) to a subcommand."""
    parser.add_argument(
        "--threads",
        type=_setting,
        default=AUTO,
        metavar="N|auto",
        help="BLAS threads for the matrix products: auto (default) keeps timing 1 "
        "against all cores and uses the faster; a number fixes it (results are "
        "then reproducible bit for bit)",
    )


def describe(threads: int | None, short: bool = False) -> str:
    """``"  1 thread"``, ``"  2 threads"`` (``"  2 thr"`` if short), or ``""``.

    Empty while no count is chosen yet, or when the BLAS library is left alone.
    The short form keeps a progress bar within 80 columns.
    """
    if threads is None:
        return ""
    if short:
        return f"  {threads} thr"
    return f"  {threads} thread{'' if threads == 1 else 's'}"


def _setting(text: str):
    try:
        return parse_setting(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
