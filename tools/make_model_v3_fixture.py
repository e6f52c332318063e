"""Write tests/data/model_v3.npz, the frozen model file of format version 3 (run once).

    python tools/make_model_v3_fixture.py

A 16-6-3 network trained by `core.run` on a tiny synthetic set of 4x4 images with its
learning rate changed after its third minibatch, then continued for two epochs with
plain SGD (a "continue" phase). The file is committed and
never rewritten; tests/core/test_continue_run.py checks that every later version still
loads it as written.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.run import (  # noqa: E402
    RunRequest,
    build_model,
    continue_request,
    prepare_run,
    run_training,
)
from core.training import BatchEvent, TrainingConfig, TrainingControl  # noqa: E402
from tools.make_model_v2_fixture import save_frozen, tiny_set  # noqa: E402

OUT = ROOT / "tests" / "data" / "model_v3.npz"


def main() -> None:
    dataset = tiny_set(90, seed=1, name="format-v3-fixture")
    config = TrainingConfig(
        hidden_sizes=(6,),
        activation="sigmoid",
        init="xavier",
        optimizer="momentum",
        learning_rate=0.5,
        batch_size=16,
        epochs=2,
        seed=1,
        validation_fraction=0.2,
    )
    prepared = prepare_run(RunRequest(dataset, config))
    control = TrainingControl()

    def change_after_third(event) -> None:
        if isinstance(event, BatchEvent) and (event.epoch, event.batch_index) == (1, 2):
            control.change_settings(learning_rate=0.2, momentum=0.5)

    result = run_training(prepared, change_after_third, control)
    base = build_model(prepared, result.network, result)
    more = config.replace(optimizer="sgd", learning_rate=0.1, epochs=2, seed=7)
    continued = prepare_run(continue_request(base, dataset, more))
    continued_result = run_training(continued)
    model = build_model(continued, continued_result.network, continued_result)
    save_frozen(OUT, model, "2027-01-10T00:00:00Z")


if __name__ == "__main__":
    main()
