"""Give resident pages back to the kernel (Linux ``madvise``), where it is safe.

Pages mapped from a file (a stored dataset's images, a library's code) can leave the
process at any time: the kernel reads them from the file again when they are next
touched. Elsewhere than on Linux nothing is given back.
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import numpy as np

# madvise(2)'s advice: drop the pages from this process (a file's stay in the page
# cache), and reclaim them now (Linux 5.4 and later).
DONTNEED = 4
PAGEOUT = 21


def advise(start: int, stop: int, advice: int) -> bool:
    """Apply ``advice`` to the pages of the addresses ``[start, stop)``.

    From the page holding ``start`` to the last one that ends by ``stop``: the
    caller is done with the bytes before ``stop``.
    """
    start = start // mmap.PAGESIZE * mmap.PAGESIZE
    stop = stop // mmap.PAGESIZE * mmap.PAGESIZE
    madvise = _madvise()
    if madvise is None or stop <= start:
        return False
    return madvise(start, stop - start, advice) == 0


def drop_read_rows(images: np.ndarray, start: int, stop: int) -> bool:
    """Let the pages of ``images[start:stop]`` leave the process, if it is safe.

    The caller is done with the rows before ``stop`` (a page ``stop`` shares with
    the rows after it stays). Only for images mapped read-only from a file (a stored
    dataset): reading them again costs a page fault, and nothing is lost. Others are
    left as they are.
    """
    if not (isinstance(images, np.memmap) and images.mode == "r"):
        return False
    if not images.flags.c_contiguous or stop <= start:
        return False
    row_bytes = images[0].nbytes if len(images) else 0
    address = images.ctypes.data
    return advise(address + start * row_bytes, address + stop * row_bytes, DONTNEED)


_FUNCTION: list = []


def _madvise():
    if not _FUNCTION:
        function = None
        if sys.platform.startswith("linux"):  # the advice numbers are Linux's
            try:
                function = ctypes.CDLL(None, use_errno=True).madvise
                function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                function.restype = ctypes.c_int
            except (OSError, AttributeError):
                function = None
        _FUNCTION.append(function)
    return _FUNCTION[0]
