"""The Inside views' jobs read images as the model does (deskewed if trained so)."""

from __future__ import annotations

import threading

import numpy as np

from core.datasets import load_bundled
from core.metrics import evaluate
from core.run import RunRequest, build_model, prepare_run, run_training
from core.training import TrainingConfig
from gui.inside_workers import edit_accuracy_job


def test_edit_accuracy_of_a_deskewing_model_is_measured_on_deskewed_images():
    sample = load_bundled("mnist-sample")
    train, test = sample.subset(np.arange(800)), sample.subset(np.arange(800, 1100))
    config = TrainingConfig(
        hidden_sizes=(32,), batch_size=64, epochs=3, learning_rate=0.01, deskew=True
    )
    prepared = prepare_run(RunRequest(train, config))
    result = run_training(prepared)
    model = build_model(prepared, result.network, result)
    assert model.deskews
    job = edit_accuracy_job(model, [], test)
    measured = job(threading.Event(), lambda _: None)
    upright = evaluate(
        model.network, test, normalization=model.normalization, deskew=True
    )
    as_stored = evaluate(model.network, test, normalization=model.normalization)
    assert upright.accuracy != as_stored.accuracy  # the test can tell them apart
    assert measured.before == upright.accuracy == measured.after
