"""Keep PySide6 from caching the source of every module the app imports.

PySide6's import hook (``shibokensupport.feature``, PYSIDE-2029) asks of every module
whether its source mentions "PySide6" through ``inspect.getsource``, which keeps each
file's lines in ``linecache`` for the life of the process: some 400 files and about
20 MiB that Python's allocator never gives back. Reading the file's bytes answers the
same question and keeps nothing. It must be in place before ``PySide6.QtCore`` is
imported, which asks about every module imported so far.
"""

from __future__ import annotations

import sys
from types import ModuleType

import PySide6  # noqa: F401  (loads the hook's module, shibokensupport.feature)


def _mentions_pyside(module: ModuleType) -> bool:
    """Whether ``module``'s source file mentions PySide6, as the hook asks."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False  # built in, compiled or without a file: the hook says no too
    try:
        with open(path, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return False


def read_sources_uncached() -> None:
    """Answer PySide6's question without ``linecache`` (if this PySide6 asks it)."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is not None and hasattr(feature, "_mod_uses_pyside"):
        feature._mod_uses_pyside = _mentions_pyside
