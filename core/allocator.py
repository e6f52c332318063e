"""Keep the C allocator from handing small freed arrays back to the system.

glibc's malloc gives the freed top of its heap back to the kernel, and serves
arrays above a threshold (which it moves as it goes) from fresh memory maps; either
way the next array of that size faults its pages in again. A drawing's conversion
makes a dozen arrays of 50-300 KB: on a canvas-filling drawing those faults cost
about as much as the arithmetic. `keep_small_arrays` fixes both thresholds, once
per process: arrays under `MAP_THRESHOLD` come from the heap, which keeps up to
`TRIM_THRESHOLD` free at its top. Larger arrays (datasets, a big network's
batches) still get maps of their own, returned when freed. Linux with glibc only;
elsewhere it does nothing. Never imports Qt.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["MAP_THRESHOLD", "TRIM_THRESHOLD", "keep_small_arrays"]

MAP_THRESHOLD = 1 << 20
TRIM_THRESHOLD = 8 << 20
# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_small_arrays() -> bool:
    """Set glibc's thresholds as described above; False where there is no glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
