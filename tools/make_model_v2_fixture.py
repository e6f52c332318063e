"""Write tests/data/model_v2.npz, the frozen model file of format version 2 (run once).

    python tools/make_model_v2_fixture.py

A 16-6-3 network trained by `core.run` on a tiny synthetic set of 4x4 images, then
fine-tuned on three "personal drawings": two phases, their histories and metrics. The
file is committed and never rewritten; tests/core/test_model_io.py checks that every
later version still loads it as written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.datasets import Dataset  # noqa: E402
from core.model_io import SavedModel, load_model, save_model  # noqa: E402
from core.run import (  # noqa: E402
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import TrainingConfig  # noqa: E402

OUT = ROOT / "tests" / "data" / "model_v2.npz"


def tiny_set(count: int, seed: int, name: str = "format-v2-fixture") -> Dataset:
    """Class k lights up row k of the 4x4 image, with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    images = rng.integers(0, 60, (count, 4, 4))
    images[np.arange(count), labels, :] += 180
    return Dataset(name, images.astype(np.uint8), labels, ("a", "b", "c"), 255)


def save_frozen(out: Path, model: SavedModel, created: str) -> None:
    """Save ``model`` with a fixed creation time and version; print its digest."""
    metadata = dataclasses.replace(model.metadata, created=created, app_version="0.1.0")
    save_model(out, model.network, metadata)
    loaded = load_model(out)
    digest = hashlib.sha256()
    for array in loaded.network.parameters():
        digest.update(array.tobytes())
    print(f"Wrote {out}; parameters sha256 {digest.hexdigest()}")


def main() -> None:
    dataset = tiny_set(90, seed=1)
    config = TrainingConfig(
        hidden_sizes=(6,),
        activation="tanh",
        init="xavier",
        optimizer="momentum",
        learning_rate=0.05,
        batch_size=16,
        epochs=2,
        seed=1,
        validation_fraction=0.2,
        normalization="standardize",
    )
    prepared = prepare_run(RunRequest(dataset, config))
    result = run_training(prepared)
    base = build_model(prepared, result.network, result)
    drawings = dataclasses.replace(tiny_set(3, seed=2), name="personal-drawings")
    tuned_run = prepare_run(fine_tune_request(base, dataset, drawings))
    tuned_result = run_training(tuned_run)
    tuned = build_model(tuned_run, tuned_result.network, tuned_result)
    save_frozen(OUT, tuned, "2026-12-05T00:00:00Z")


if __name__ == "__main__":
    main()
