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


_TERMINAL = None


def pytest_configure(config):
    global _TERMINAL
    # The hang guard's tracebacks go to a copy of stderr taken here, while output is
    # not captured: written to a test's captured output, the exit would lose them.
    _TERMINAL = os.fdopen(os.dup(2), "w")


@pytest.fixture(autouse=True)
def hang_guard():
    """End the run with every thread's traceback if one test hangs (a deadlock)."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True, file=_TERMINAL)
    yield
    faulthandler.cancel_dump_traceback_later()


def pytest_unconfigure(config):
    if _TERMINAL is not None:
        _TERMINAL.close()
