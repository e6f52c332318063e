"""One human line for any error a CLI command can meet; never a traceback."""

from __future__ import annotations

import errno

from cli.output import printable
from core.messages import one_line, short_message


def describe_error(exc: BaseException) -> str:
    """Return the one-line message for ``exc``, safe to print.

    Errors raised on purpose by core/ (ModelFileError, DatasetError, ConfigError,
    DownloadError, IdxError, ...) already carry a human message. OS errors get their
    reason and file name; anything else is an internal error named by its type.
    Every message is folded to one line, its control characters are escaped
    (`cli.output.printable`) and it is cut to `core.messages.MAX_MESSAGE_CHARS`.
    """
    return short_message(printable(one_line(_message(exc))))


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not _is_project_error(exc):
        return _describe_os_error(exc)
    if _is_project_error(exc):
        return str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "not enough memory for this network or dataset; try smaller layers"
    return (
        f"internal error ({type(exc).__name__}: {short_message(str(exc), 200)}). "
        "Set DIGIT_STUDIO_DEBUG=1 to see the traceback."
    )


def _is_project_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.split(".")[0] in ("core", "cli")


def _describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif exc.errno == errno.EACCES:
        reason = "permission denied"
    if exc.filename:
        return f"{exc.filename}: {reason}"
    return reason
