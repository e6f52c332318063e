"""Command-line interface of Digit Studio; `cli.commands.run` is the entry point.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. Only this package and gui/ print; core/ never does.
"""
