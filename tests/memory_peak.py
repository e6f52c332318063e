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
