"""The most memory a call allocates, for tests that bound it (tracemalloc)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any


def traced_peak(function: Callable[[], Any]) -> tuple[Any, int]:
    """Call ``function``; return its result and the peak bytes traced meanwhile.

    NumPy reports its array allocations to tracemalloc, so arrays count.
    """
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def resident_bytes_of(path) -> int:
    """Bytes of the file at ``path`` that this process has mapped and resident."""
    target, total, inside = str(path), 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            name, _, rest = line.partition(" ")
            if not name.endswith(":"):  # a mapping's first line: range ... path
                inside = line.rstrip("\n").endswith(target)
            elif name == "Rss:" and inside:
                total += int(rest.split()[0]) * 1024
    return total
