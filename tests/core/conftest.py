"""Fixtures shared by the core tests."""

import os

import pytest

from core import fast, kernels
from core.datasets import load_bundled
from core.run import RunRequest, build_model, prepare_run, run_training
from core.training import TrainingConfig


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


@pytest.fixture(scope="session")
def drawing_model():
    """A small deskewing model: it reads drawings, converted so, as `recommended`."""
    config = TrainingConfig(hidden_sizes=(128,), epochs=10, seed=0, deskew=True)
    prepared = prepare_run(RunRequest(load_bundled("mnist-sample"), config))
    result = run_training(prepared)
    return build_model(prepared, result.network, result)
