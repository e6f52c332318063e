"""Digit Studio entry point: `python main.py [SUBCOMMAND ...]` or `digit-studio`.

With no subcommand the desktop app starts; otherwise the command line runs
(train, evaluate, predict, info, download, import-idx). See `--help`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run Digit Studio with ``argv`` (default: the process arguments).

    Returns
    -------
    int
        The exit code: 0 success, 1 error, 2 usage error, 130 cancelled.
    """
    from cli.commands import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
