"""Shared test setup: Qt offscreen; the real data and cache folders stay untouched."""

import faulthandler
import os
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Downloads, imports and personal drawings go to a throwaway folder for the whole run.
os.environ["DIGIT_STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="digit-studio-tests-")
os.environ["DIGIT_STUDIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="digit-studio-cache-")
os.environ.pop("DIGIT_STUDIO_MNIST_MIRROR", None)

# No test takes near this long; CI would otherwise wait out its own time limit.
HANG_SECONDS = 120


@pytest.fixture(autouse=True)
def hang_guard():
    """End the run with every thread's traceback if one test hangs (a deadlock)."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
