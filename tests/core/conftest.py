"""Fixtures shared by the core tests."""

import os

import pytest

from core import fast, kernels


@pytest.fixture(params=["numpy", "compiled"])
def engine_path(request, monkeypatch):
    """Run the test with NumPy only, and again with the compiled kernels."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        if os.environ.get(kernels.DISABLE_VARIABLE, "").strip() not in ("", "0"):
            pytest.skip(f"{kernels.DISABLE_VARIABLE} is set")
        kernels.warm_up()
        assert fast.compiled()
    else:
        monkeypatch.setattr(kernels, "_loaded", True)
        monkeypatch.setattr(kernels, "_kernels", {})
        assert not fast.compiled()
    return request.param
