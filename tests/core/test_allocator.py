import platform
import subprocess
import sys

import pytest

from core.allocator import keep_small_arrays

# Converts scribbles of several sizes, then counts the page faults of converting
# them three times more (resident pages the allocator handed back and took again).
_FAULTS = """
import resource, sys
import numpy as np
from core.allocator import keep_small_arrays
from core.preprocess import convert_drawing
if sys.argv[1] == "keep":
    assert keep_small_arrays()
rng = np.random.default_rng(0)
canvases = []
for size in (280, 60, 200, 120, 280, 90):
    canvas = np.zeros((280, 280), np.uint8)
    for y, x in rng.integers(10, size - 10, size=(20, 2)):
        canvas[max(y - 6, 0) : y + 6, 10 : size - 10] = 255
        canvas[10 : size - 10, max(x - 6, 0) : x + 6] = 255
    canvases.append(canvas)
for canvas in canvases:
    convert_drawing(canvas, "mnist", ink_is_bright=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    for canvas in canvases:
        convert_drawing(canvas, "mnist", ink_is_bright=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's",
)
def test_a_drawing_converted_again_takes_no_page_faults():
    assert _faults("keep") <= 5


def test_without_glibc_nothing_is_set(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert keep_small_arrays() is False
