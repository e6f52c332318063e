"""One human line for any error a CLI command can meet; never a traceback."""

from __future__ import annotations

import errno


def describe_error(exc: BaseException) -> str:
    """Return the one-line message for ``exc``.

    Errors raised on purpose by core/ (ModelFileError, DatasetError, ConfigError,
    DownloadError, IdxError, ...) already carry a human message. OS errors get their
    reason and file name; anything else is an internal error named by its type.
    """
    if isinstance(exc, OSError) and not _is_project_error(exc):
        return _describe_os_error(exc)
    if _is_project_error(exc):
        return _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "not enough memory for this network or dataset; try smaller layers"
    return (
        f"internal error ({type(exc).__name__}: {exc}). "
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


def _one_line(message: str) -> str:
    """Fold a multi-line message (a heading, then one line per cause) into one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    head, rest = lines[0], "; ".join(lines[1:])
    return f"{head} {rest}" if head.endswith(":") else f"{head}; {rest}"
