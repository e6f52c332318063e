"""Write tests/data/model_v4.npz, the frozen model file of format version 4 (run once).

    python tools/make_model_v4_fixture.py

Run at a commit that writes version 4 (2898414 wrote the committed file; later
code writes version 5). A 16-8-3 ReLU network trained by `core.run` with Adam on a
tiny synthetic set of 4x4 images for three epochs, its history holding the health
figures version 4 brought. The file is committed and never rewritten;
tests/core/test_model_io.py checks that every later version still loads it as
written.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.run import RunRequest, build_model, prepare_run, run_training  # noqa: E402
from core.training import TrainingConfig  # noqa: E402
from tools.make_model_v2_fixture import save_frozen, tiny_set  # noqa: E402

OUT = ROOT / "tests" / "data" / "model_v4.npz"


def main() -> None:
    dataset = tiny_set(90, seed=3, name="format-v4-fixture")
    config = TrainingConfig(
        hidden_sizes=(8,),
        activation="relu",
        optimizer="adam",
        learning_rate=0.01,
        batch_size=16,
        epochs=3,
        seed=4,
        validation_fraction=0.2,
    )
    prepared = prepare_run(RunRequest(dataset, config))
    result = run_training(prepared)
    model = build_model(prepared, result.network, result)
    save_frozen(OUT, model, "2027-02-01T00:00:00Z")


if __name__ == "__main__":
    main()
