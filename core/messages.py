"""Messages for people: one line of bounded length, whatever went into them.

Errors quote what a file or a user gave them (names, values, lists); a hostile file
must not turn one into megabytes. Pure Python; never imports Qt.
"""

from __future__ import annotations

MAX_MESSAGE_CHARS = 500


def one_line(text: str) -> str:
    """Fold a multi-line message (a heading, then one line per cause) into one.

    Line breaks become "; ", or a space after a heading that ends with ":".
    """
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    head, rest = lines[0], "; ".join(lines[1:])
    return f"{head} {rest}" if head.endswith(":") else f"{head}; {rest}"


def short_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Return ``text`` on one line (`one_line`) of at most about ``limit`` characters.

    A longer text keeps its beginning, which says what went wrong, and says how much
    was left out.
    """
    text = one_line(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def plural(number: int, noun: str) -> str:
    """Return "1 epoch", "2 epochs", "1,000 epochs"."""
    return f"{number:,} {noun}{'s' * (number != 1)}"
