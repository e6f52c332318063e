"""core.health: each figure against a direct computation, sampling, histograms."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from core import health, reference
from core.activations import ACTIVATIONS
from core.datasets import Dataset
from core.health import (
    INACTIVE_KIND,
    MAX_SLOPE,
    MIN_INTERVAL,
    HealthMonitor,
    HealthSampling,
    WeightHistograms,
    gradient_norms,
    inactive_shares,
    initial_weights,
    update_ratios,
)
from core.network import MLP
from core.training import BatchEvent, EpochEvent, TrainingConfig, train

SIZES = (12, 9, 7, 4)


def _batch(rng, count=64, inputs=SIZES[0], classes=SIZES[-1]):
    X = rng.standard_normal((count, inputs)).astype(np.float32)
    labels = rng.integers(0, classes, size=count)
    return X, labels


def _bands(count=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, 6, 6))
    for k in range(3):
        images[labels == k, 2 * k : 2 * k + 2] += 195
    return Dataset("bands", images.astype(np.uint8), labels, ("a", "b", "c"), 255)


def test_every_activation_has_a_slope_and_a_name_for_inactive_units():
    assert set(MAX_SLOPE) == set(ACTIVATIONS) == set(INACTIVE_KIND)


def test_gradient_norms_are_the_norms_of_the_weight_gradients():
    rng = np.random.default_rng(0)
    network = MLP(SIZES, "tanh", seed=1)
    X, labels = _batch(rng)
    _, gradients, _ = network.loss_and_gradients(X, labels, l2=0.01)
    expected = [np.linalg.norm(g.astype(np.float64)) for g in gradients[0::2]]
    np.testing.assert_allclose(gradient_norms(gradients), expected, rtol=1e-5)
    assert len(gradient_norms(gradients)) == len(SIZES) - 1


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_a_sampled_steps_figures_are_the_engines_gradients_and_slopes(activation):
    """The first full-batch step of a real run against ``loss_and_gradients``."""
    config = TrainingConfig(
        hidden_sizes=(8, 5),
        activation=activation,
        init="xavier",
        optimizer="sgd",
        batch_size=0,
        epochs=1,
        l2=0.01,
        validation_fraction=0.0,
    )
    data = _bands()
    network = config.build_network(data.input_size, data.num_classes)
    start = network.copy()
    records = []

    def record(event):
        if isinstance(event, BatchEvent) and event.health is not None:
            records.append(event.health)

    train(network, data, None, config, record, health=HealthSampling(every=1))
    X = data.images.reshape(len(data), -1).astype(np.float32) / 255.0
    _, gradients, _ = start.loss_and_gradients(X, data.labels, l2=0.01)
    expected = [np.linalg.norm(g.astype(np.float64)) for g in gradients[0::2]]
    np.testing.assert_allclose(records[0].gradient_norm, expected, rtol=1e-4)
    zs, _ = reference.forward(
        [w.astype(np.float64) for w in start.weights],
        [b.astype(np.float64) for b in start.biases],
        X.astype(np.float64),
        activation,
        start.output,
    )
    slope = reference.ACTIVATIONS[activation][1]
    threshold = 0.01 * MAX_SLOPE[activation]
    dead = [(slope(z) <= threshold).all(axis=0).mean() for z in zs[:-1]]
    np.testing.assert_allclose(records[0].inactive_share, dead)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_inactive_share_equals_a_direct_count_from_a_forward_pass(activation):
    rng = np.random.default_rng(2)
    network = MLP(SIZES, activation, seed=3)
    # Some units pushed far to one side: dead ReLUs, saturated sigmoids and tanhs.
    network.biases[0][:3] = -60.0
    network.biases[1][:2] = -60.0
    if activation in ("sigmoid", "tanh"):
        network.biases[1][2] = 60.0  # saturated high counts too
    X, labels = _batch(rng)
    network.loss_and_gradients(X, labels)
    shares = inactive_shares(network.hidden_slopes(), activation)

    weights = [w.astype(np.float64) for w in network.weights]
    biases = [b.astype(np.float64) for b in network.biases]
    zs, _ = reference.forward(weights, biases, X, activation, network.output)
    slope = reference.ACTIVATIONS[activation][1]
    expected = []
    for z in zs[:-1]:
        if activation == "relu":
            dead = (z <= 0).all(axis=0)  # outputs 0 for every example
        else:
            dead = (slope(z) <= 0.01 * MAX_SLOPE[activation]).all(axis=0)
        expected.append(dead.mean())
    np.testing.assert_allclose(shares, expected)
    assert shares[0] >= 3 / SIZES[1] and shares[1] >= 2 / SIZES[2]
    assert len(shares) == len(SIZES) - 2


def test_a_leaky_relu_on_its_flat_side_counts_as_dead():
    slopes = [np.array([[0.01, 1.0], [0.01, 0.01]], np.float32)]
    assert inactive_shares(slopes, "leaky_relu").tolist() == [0.5]


def test_update_ratio_is_the_change_over_the_weights():
    rng = np.random.default_rng(4)
    before = [rng.standard_normal((5, 3)), rng.standard_normal((3, 2))]
    after = [w + 0.01 * rng.standard_normal(w.shape) for w in before]
    expected = [
        np.linalg.norm(a - b) / np.linalg.norm(b)
        for a, b in zip(after, before, strict=True)
    ]
    np.testing.assert_allclose(update_ratios(before, after), expected)
    out = [w.copy() for w in before]
    np.testing.assert_allclose(update_ratios(out, after, out=out), expected)
    np.testing.assert_allclose(out[0], after[0] - before[0])
    assert math.isnan(update_ratios([np.zeros(3)], [np.ones(3)])[0])


def test_a_sampled_sgd_step_moves_the_weights_by_the_rate_times_the_gradient():
    # Plain SGD: delta W = -lr * dW, so the update ratio is lr * ||dW|| / ||W||.
    config = TrainingConfig(
        hidden_sizes=(8,), optimizer="sgd", learning_rate=0.3, epochs=1, batch_size=30
    )
    data = _bands()
    network = config.build_network(data.input_size, data.num_classes)
    start = [w.astype(np.float64) for w in network.weights]
    records = []

    def record(event):
        if isinstance(event, BatchEvent) and event.health is not None:
            records.append(event.health)

    train(network, data, None, config, record, health=HealthSampling(every=1))
    first = records[0]
    expected = [
        0.3 * norm / np.linalg.norm(w)
        for norm, w in zip(first.gradient_norm, start, strict=True)
    ]
    np.testing.assert_allclose(first.update_ratio, expected, rtol=1e-4)


def test_sampling_every_n_batches_and_epoch_means():
    config = TrainingConfig(hidden_sizes=(8, 5), epochs=2, batch_size=10)
    data = _bands()  # 9 minibatches per epoch
    network = config.build_network(data.input_size, data.num_classes)
    events = []
    result = train(
        network, data, None, config, events.append, health=HealthSampling(every=4)
    )
    sampled = [
        (e.epoch, e.batch_index)
        for e in events
        if isinstance(e, BatchEvent) and e.health is not None
    ]
    assert sampled == [(1, 0), (1, 4), (1, 8), (2, 3), (2, 7)]
    for epoch in (1, 2):
        records = [
            e.health
            for e in events
            if isinstance(e, BatchEvent) and e.epoch == epoch and e.health is not None
        ]
        summary = next(
            e for e in events if isinstance(e, EpochEvent) and e.epoch == epoch
        )
        for name in health.HEALTH_FIELDS:
            mean = np.mean([getattr(r, name) for r in records], axis=0)
            np.testing.assert_allclose(getattr(summary, name), mean)
            assert len(getattr(summary, name)) == (3 if name != "inactive_share" else 2)
    assert result.history[0]["gradient_norm"] == events_epoch(events, 1).gradient_norm


def events_epoch(events, epoch):
    return next(e for e in events if isinstance(e, EpochEvent) and e.epoch == epoch)


def test_sampling_off_sends_no_health():
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, batch_size=10)
    data = _bands()
    network = config.build_network(data.input_size, data.num_classes)
    events = []
    train(network, data, None, config, events.append, health=None)
    assert all(e.health is None for e in events if isinstance(e, BatchEvent))
    epoch = events_epoch(events, 1)
    assert epoch.gradient_norm is epoch.update_ratio is epoch.inactive_share is None


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_sampling_changes_no_weight(optimizer):
    config = TrainingConfig(
        hidden_sizes=(8,), optimizer=optimizer, epochs=2, batch_size=10, dropout=0.2
    )
    data = _bands()
    trained = []
    for sampling in (None, HealthSampling(every=1)):
        network = config.build_network(data.input_size, data.num_classes)
        train(network, data, None, config, health=sampling)
        trained.append(network.parameters())
    for plain, sampled in zip(*trained, strict=True):
        assert np.array_equal(plain, sampled)


class _Clock:
    """A perf_counter that moves by ``per_call`` each time it is read, or by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.per_call = 0.0

    def perf_counter(self) -> float:
        now = self.now
        self.now += self.per_call
        return now


def test_the_adaptive_interval_keeps_sampling_within_its_budget(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(health, "time", clock)
    network = MLP((4, 3, 2), seed=0)
    X = np.ones((5, 4), np.float32)
    _, gradients, _ = network.loss_and_gradients(X, np.zeros(5, np.intp))
    monitor = HealthMonitor(network, HealthSampling(budget=0.01))
    assert monitor.before_update(gradients)  # the first step is always sampled
    monitor.after_update()
    assert monitor.interval == MIN_INTERVAL  # nothing measured yet
    for _ in range(MIN_INTERVAL - 1):
        clock.now += 1.0  # a step takes 1 s
        assert not monitor.before_update(gradients)
    clock.now += 1.0
    clock.per_call = 0.1  # each of the sample's 4 clock reads: 0.2 s of work
    assert monitor.before_update(gradients)
    monitor.after_update()
    # 0.2 s of sampling within 1% of 1 s steps: one sample every 20 steps.
    assert monitor.interval == 20
    clock.per_call = 0.0
    for _ in range(19):
        clock.now += 1.0
        assert not monitor.before_update(gradients)
    clock.now += 1.0
    assert monitor.before_update(gradients)
    monitor.after_update()
    assert monitor.interval == MIN_INTERVAL  # a free sample: as often as allowed


def test_histograms_compare_the_weights_with_their_start():
    network = MLP((30, 20, 5), seed=0)
    start = [w.copy() for w in network.weights]
    histograms = WeightHistograms(start, bins=11)
    now = [w * 3.0 for w in start]
    now[0][0, 0] = 50.0  # one far outlier does not stretch the bins
    layers = histograms.of(now)
    assert len(layers) == 2
    for layer, before, after in zip(layers, start, now, strict=True):
        reach = layer.edges[-1]
        assert layer.edges[0] == -reach
        rms = np.sqrt(np.mean(after.astype(np.float64) ** 2))
        assert min(4 * rms, np.abs(after).max()) <= reach < 50.0
        clipped = np.clip(before, -reach, reach)
        expected, _ = np.histogram(clipped, bins=layer.edges)
        np.testing.assert_allclose(layer.initial, expected / before.size)
        clipped = np.clip(after, -reach, reach)
        expected, _ = np.histogram(clipped, bins=layer.edges)
        np.testing.assert_allclose(layer.current, expected / after.size)
        assert layer.current.sum() == pytest.approx(1.0)  # the outlier included
        assert layer.current.std() < layer.initial.std()  # spread wider


def test_initial_weights_are_rebuilt_from_the_settings():
    config = TrainingConfig(hidden_sizes=(7,), activation="tanh", init="xavier", seed=5)
    network = config.build_network(16, 3)
    rebuilt = initial_weights(config.to_dict(), network.layer_sizes)
    for a, b in zip(rebuilt, network.weights, strict=True):
        assert np.array_equal(a, b)
    assert initial_weights({}, network.layer_sizes) is None
    assert initial_weights({**config.to_dict(), "init": "nope"}, (16, 7, 3)) is None


def test_health_figures_travel_in_history_rows():
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, batch_size=10)
    data = _bands()
    network = config.build_network(data.input_size, data.num_classes)
    result = train(network, data, None, config, health=HealthSampling(every=2))
    row = result.history[0]
    assert set(health.HEALTH_FIELDS) <= set(row)
    assert row == dataclasses.asdict(EpochEvent(**row))


# --- kept in a model file's history ---------------------------------------------------


def _model_with_history(rows):
    from core.datasets import Normalization
    from core.model_io import ModelMetadata

    network = MLP((16, 8, 5, 3), seed=0)
    metadata = ModelMetadata(
        normalization=Normalization.fit("scale", np.zeros((2, 4, 4), np.uint8), 255),
        image_shape=(4, 4),
        class_names=("a", "b", "c"),
        dataset_name="tiny",
        history=rows,
    )
    return network, metadata


def _row(**health_fields):
    return {"phase": 0, "epoch": 1, "epochs": 1, "train_loss": 0.5, **health_fields}


def test_health_figures_round_trip_through_a_model_file(tmp_path):
    from core.model_io import FORMAT_VERSION, load_model, save_model

    row = _row(
        gradient_norm=[0.5, 0.25, 0.125],
        update_ratio=[1e-3, None, 2e-3],  # a NaN ratio is stored as null
        inactive_share=[0.0, 0.375],
    )
    save_model(tmp_path / "m.npz", *_model_with_history([row, _row()]))
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.history[0] == row
    assert "gradient_norm" not in loaded.history[1]  # rows without them still load
    # A reader of version 3 refuses lists in history rows: the files say 4.
    assert loaded.format_version == FORMAT_VERSION


def test_a_version_3_file_without_health_figures_still_loads():
    """tests/data/model_v3.npz predates the health figures."""
    from pathlib import Path

    from core.model_io import load_model

    loaded = load_model(Path(__file__).parents[1] / "data" / "model_v3.npz")
    assert loaded.format_version == 3 and loaded.history
    for field in ("gradient_norm", "update_ratio", "inactive_share"):
        assert all(row.get(field) is None for row in loaded.history)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gradient_norm", [0.5, 0.25]),  # one per weight layer: 3
        ("inactive_share", [0.0, 0.1, 0.2]),  # one per hidden layer: 2
        ("update_ratio", [0.1, "x", 0.2]),
        ("update_ratio", [0.1, [0.2], 0.2]),
        ("gradient_norm", 0.5),
    ],
)
def test_malformed_health_figures_are_refused(tmp_path, field, value):
    from core.model_io import ModelFileError, save_model

    with pytest.raises(ModelFileError, match=field):
        save_model(tmp_path / "m.npz", *_model_with_history([_row(**{field: value})]))


def test_a_file_whose_health_figures_do_not_fit_its_network_is_refused(tmp_path):
    import json

    from core.model_io import ModelFileError, load_model, save_model

    path = tmp_path / "m.npz"
    save_model(path, *_model_with_history([_row(gradient_norm=[0.5, 0.25, 0.1])]))
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["history"][0]["gradient_norm"] = [0.5, 0.25]
    arrays["metadata"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ModelFileError, match="history entry 1 gradient_norm"):
        load_model(path)
