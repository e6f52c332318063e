"""Argument parsing, dispatch to the subcommand modules, and error reporting."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import datasets, download, evaluate, import_idx, info, predict, train
from cli.errors import describe_error
from core.allocator import keep_small_arrays

PROG = "digit-studio"
SUBCOMMANDS = (train, evaluate, predict, info, download, import_idx, datasets)
EXIT_ERROR = 1
EXIT_CANCELLED = 130


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Digit Studio: build a multilayer perceptron, train it on handwritten "
            "digits and use it. Without a subcommand (or with only model files) the "
            "desktop app starts."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (without the program name).

    Returns the process exit code: 0 success, 1 error, 2 usage error, 130 cancelled.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_small_arrays()  # a drawing's conversion without page faults
    # `digit-studio m.npz` opens the model in the app.
    opens_models = bool(argv) and all(a.lower().endswith(".npz") for a in argv)
    args = None if opens_models else build_parser().parse_args(argv)
    try:
        if args is None or args.command is None:
            return _start_gui(argv)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("\nCancelled.", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a message.
        _silence_stdout()
        return 0
    except Exception as exc:
        if os.environ.get("DIGIT_STUDIO_DEBUG"):
            raise
        print(f"{PROG}: error: {describe_error(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _start_gui(argv: list[str]) -> int:
    problem = _no_display()
    if problem:
        print(
            f"{PROG}: error: the desktop app needs a screen, but {problem}. "
            f"The subcommands work without one (`{PROG} --help` lists them); "
            "QT_QPA_PLATFORM=offscreen runs the window invisibly.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    from gui.app import run_app

    return int(run_app([PROG, *argv]) or 0)


def _no_display() -> str:
    """Why no window can be shown here ("" when one can, or the user chose a platform).

    On Linux without X11 or Wayland, Qt would abort with a plugin message instead.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return "neither DISPLAY nor WAYLAND_DISPLAY is set (no X11 or Wayland session)"


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
