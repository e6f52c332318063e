"""What the command line prints: text with control characters escaped, and JSON.

Names and values from files or users reach the terminal only through `printable` or
`json_text`, so a tab or newline in a class name cannot forge a line of output and an
escape sequence cannot drive the terminal (docs/cli.md). Never imports Qt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.model_io import json_ready

# DEL and the C1 controls (CSI...), line and paragraph separators, and the marks and
# overrides that reorder text (bidirectional spoofing); JSON escapes only C0 itself.
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(value: Any) -> str:
    r"""Return ``str(value)`` with every control character escaped.

    Tab, newline and carriage return become ``\t``, ``\n``, ``\r``; other
    controls ``\xNN`` or ``\uNNNN``. Backslashes stay as they are (Windows paths).
    """
    return _UNSAFE.sub(_escaped, str(value))


def json_text(value: Any) -> str:
    r"""Return ``value`` as strict, indented JSON that is safe to print.

    NaN and infinities become ``null`` (JSON has no such numbers), NumPy values
    plain ones, and the characters `printable` escapes become ``\uNNNN`` escapes,
    which JSON reads back as the same text.
    """
    text = json.dumps(json_ready(value), indent=2, ensure_ascii=False, allow_nan=False)
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _escaped(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
