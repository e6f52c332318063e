import dataclasses
import threading
import time

import numpy as np
import pytest

from core.augment import AugmentConfig
from core.datasets import Dataset, Normalization
from core.network import MLP
from core.training import (
    BatchEvent,
    ConfigError,
    EpochEvent,
    FinishedEvent,
    TrainingConfig,
    TrainingControl,
    train,
)

CLASSES = ("a", "b", "c")


def _bands(count=120, seed=0, shape=(6, 6), noise=60):
    """Class k lights up row band k of the image, plus noise: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count).astype(np.uint8)
    images = rng.integers(0, noise, size=(count, *shape))
    band = shape[0] // 3
    for k in range(3):
        images[labels == k, k * band : (k + 1) * band] += 255 - noise
    return Dataset("bands", images.astype(np.uint8), labels, CLASSES, 255)


def _net(config, dataset, **kwargs):
    sizes = config.layer_sizes(dataset.input_size, dataset.num_classes)
    return MLP(
        sizes, config.activation, config.output, config.init, config.seed, **kwargs
    )


def _run(config, train_set=None, validation_set=None, control=None, on_event=None):
    train_set = train_set if train_set is not None else _bands()
    network = _net(config, train_set)
    events = []

    def record(event):
        events.append(event)
        if on_event is not None:
            on_event(event, network)

    result = train(network, train_set, validation_set, config, record, control)
    return result, events, network


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "sgd", "learning_rate": 0.5},
        {"optimizer": "momentum", "learning_rate": 0.1, "nesterov": True},
        {"optimizer": "adam", "learning_rate": 0.01, "dropout": 0.2, "l2": 1e-4},
        {
            "activation": "sigmoid",
            "output": "sigmoid_quadratic",
            "init": "textbook",
            "optimizer": "sgd",
            "learning_rate": 3.0,
        },
        {"activation": "tanh", "schedule": "cosine", "learning_rate": 0.01},
        {
            "activation": "leaky_relu",
            "normalization": "standardize",
            "schedule": "step",
            "step_epochs": 2,
            "learning_rate": 0.01,
        },
    ],
)
def test_training_lowers_the_loss_on_an_easy_problem(settings):
    settings = {"hidden_sizes": (16,), "epochs": 8, "batch_size": 16, **settings}
    config = TrainingConfig(**settings)
    validation = _bands(60, seed=1)
    result, events, network = _run(config, validation_set=validation)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert result.reason == "completed" and len(epochs) == 8
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    assert epochs[-1].validation_accuracy >= 0.95
    assert result.history == [dataclasses.asdict(e) for e in epochs]


def test_events_arrive_in_order_with_their_counts():
    config = TrainingConfig(hidden_sizes=(8,), epochs=3, batch_size=50)
    result, events, _ = _run(config)  # 120 samples: batches of 50, 50, 20
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert [(e.epoch, e.batch_index) for e in batches] == [
        (epoch, index) for epoch in (1, 2, 3) for index in range(3)
    ]
    assert {e.batches_per_epoch for e in batches} == {3}
    assert isinstance(events[3], EpochEvent) and events[3].epoch == 1
    assert events[3].validation_loss is None and events[3].samples_per_second > 0
    assert isinstance(events[-1], FinishedEvent)
    assert events[-1] == FinishedEvent("completed", result.message, 3)


def test_batch_size_zero_is_full_batch_gradient_descent():
    config = TrainingConfig(hidden_sizes=(8,), epochs=4, batch_size=0, optimizer="sgd")
    _, events, _ = _run(config)
    batches = [e for e in events if isinstance(e, BatchEvent)]
    assert len(batches) == 4 and {e.batches_per_epoch for e in batches} == {1}


@pytest.mark.parametrize(
    "extra",
    [{}, {"dropout": 0.3}, {"augment": AugmentConfig(shift=1.0, noise=0.05)}],
)
def test_same_seed_gives_identical_weights_bit_for_bit(extra):
    config = TrainingConfig(hidden_sizes=(12,), epochs=3, batch_size=16, **extra)
    first, _, net_a = _run(config)
    second, _, net_b = _run(config)
    for a, b in zip(net_a.parameters(), net_b.parameters(), strict=True):
        assert np.array_equal(a, b)
    assert first.history[-1]["train_loss"] == second.history[-1]["train_loss"]
    _, _, net_c = _run(dataclasses.replace(config, seed=1))
    assert not np.array_equal(net_a.weights[0], net_c.weights[0])


@pytest.mark.parametrize("batch_size", [64, 100, 300])
def test_augmented_minibatches_keep_their_own_images_and_labels(batch_size):
    # Augmentation runs on blocks of several minibatches; each minibatch must still
    # get exactly its own images, each with its label, in every epoch.
    count, shape = 300, (6, 6)
    labels = (np.arange(count) % 3).astype(np.uint8)
    images = np.repeat(labels * 100 + 20, np.prod(shape)).reshape(count, *shape)
    dataset = Dataset("flat", images.astype(np.uint8), labels, CLASSES, 255)
    config = TrainingConfig(
        hidden_sizes=(4,),
        epochs=2,
        batch_size=batch_size,
        normalization="scale",
        augment=AugmentConfig(noise=0.01),
    )
    network = _net(config, dataset)
    seen = []
    original = network.loss_and_gradients

    def record(inputs, batch_labels, *args):
        seen.append((inputs.copy(), batch_labels.copy()))
        return original(inputs, batch_labels, *args)

    network.loss_and_gradients = record
    train(network, dataset, None, config)
    steps = -(-count // batch_size)
    assert len(seen) == 2 * steps
    for epoch in range(2):
        batches = seen[epoch * steps : (epoch + 1) * steps]
        assert sum(len(b) for _, b in batches) == count
        assert (
            np.bincount(np.concatenate([b for _, b in batches])).tolist() == [100] * 3
        )
        for inputs, batch_labels in batches:
            # Noise of 1% moves no pixel anywhere near another class's value.
            expected = (batch_labels * 100 + 20)[:, None] / 255.0
            assert np.abs(inputs - expected).max() < 0.1
            assert np.abs(inputs - expected).max() > 0.0


def test_cancel_mid_epoch_stops_before_the_next_batch():
    control = TrainingControl()

    def cancel_at_third(event, network):
        if isinstance(event, BatchEvent) and event.batch_index == 2:
            control.cancel()

    config = TrainingConfig(hidden_sizes=(8,), epochs=5, batch_size=10)
    result, events, network = _run(config, control=control, on_event=cancel_at_third)
    assert [type(e) for e in events] == [BatchEvent] * 3 + [FinishedEvent]
    assert result.reason == "cancelled" and events[-1].reason == "cancelled"
    assert result.epochs_completed == 0 and result.history == []
    assert "after 3 of 12 minibatches" in result.message
    assert all(np.isfinite(p).all() for p in network.parameters())


def test_pause_blocks_until_resumed_from_another_thread():
    control = TrainingControl()
    config = TrainingConfig(hidden_sizes=(8,), epochs=2, batch_size=10)
    events = []
    paused_once = threading.Event()

    def on_event(event, network):
        events.append(event)
        if (
            isinstance(event, BatchEvent)
            and event.batch_index == 1
            and event.epoch == 1
        ):
            control.pause()
            paused_once.set()

    worker = threading.Thread(
        target=_run, args=(config,), kwargs={"control": control, "on_event": on_event}
    )
    worker.start()
    assert paused_once.wait(5)
    time.sleep(0.2)
    assert control.paused and worker.is_alive()
    assert len(events) == 2  # nothing ran while paused
    control.resume()
    worker.join(5)
    assert not worker.is_alive()
    assert isinstance(events[-1], FinishedEvent) and events[-1].reason == "completed"
    assert sum(isinstance(e, BatchEvent) for e in events) == 24


def test_cancel_ends_a_pause():
    control = TrainingControl()
    control.pause()
    outcome = {}
    config = TrainingConfig(hidden_sizes=(8,), epochs=2, batch_size=10)

    def run():
        outcome["result"] = _run(config, control=control)[0]

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.1)
    assert worker.is_alive()
    control.cancel()
    control.pause()  # ignored once cancelled
    worker.join(5)
    assert outcome["result"].reason == "cancelled"


def test_too_high_learning_rate_is_reported_as_divergence():
    config = TrainingConfig(
        hidden_sizes=(8,), epochs=3, batch_size=10, optimizer="sgd", learning_rate=1e30
    )
    train_set = _bands()
    network = _net(config, train_set)
    initial = [p.copy() for p in network.parameters()]
    events = []
    result = train(network, train_set, None, config, events.append)
    assert result.reason == "diverged"
    assert "learning rate (1e+30) is most likely too high" in result.message
    assert events[-1].reason == "diverged" and events[-1].epochs_completed == 0
    for restored, start in zip(network.parameters(), initial, strict=True):
        assert np.array_equal(restored, start)


def test_divergence_restores_the_last_good_weights():
    config = TrainingConfig(hidden_sizes=(8,), epochs=4, batch_size=10)
    snapshots = {}

    def corrupt_in_epoch_two(event, network):
        if isinstance(event, EpochEvent):
            snapshots[event.epoch] = [p.copy() for p in network.parameters()]
        if isinstance(event, BatchEvent) and (event.epoch, event.batch_index) == (2, 3):
            network.weights[0][0, 0] = np.nan

    result, events, network = _run(config, on_event=corrupt_in_epoch_two)
    assert result.reason == "diverged" and result.epochs_completed == 1
    assert "epoch 2, minibatch 5 of 12" in result.message
    assert "weights after epoch 1" in result.message
    for restored, good in zip(network.parameters(), snapshots[1], strict=True):
        assert np.array_equal(restored, good)


def test_early_stopping_restores_the_best_weights():
    train_set = _bands()
    # Validation labels are shifted, so learning the task makes validation worse.
    shifted = Dataset(
        "shifted", train_set.images, (train_set.labels + 1) % 3, CLASSES, 255
    )
    snapshots = {}

    def keep(event, network):
        if isinstance(event, EpochEvent):
            snapshots[event.epoch] = [p.copy() for p in network.parameters()]

    config = TrainingConfig(
        hidden_sizes=(8,),
        epochs=20,
        batch_size=10,
        early_stopping_patience=2,
        learning_rate=0.01,
    )
    result, events, network = _run(config, train_set, shifted, on_event=keep)
    assert result.reason == "early_stopped" and result.best_epoch == 1
    assert result.epochs_completed == 3
    assert "not improved for 2 epochs" in result.message
    for restored, best in zip(network.parameters(), snapshots[1], strict=True):
        assert np.array_equal(restored, best)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": 0.0}, r"learning_rate must be in \(0, inf\), got 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"activation": "swish"}, "activation must be one of 'sigmoid'"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of 'sgd', 'momentum'"),
        ({"batch_size": -1}, "batch_size must be at least 0, got -1"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"hidden_sizes": (32, 0)}, "at least one unit"),
        ({"nesterov": True}, "nesterov applies only to the 'momentum' optimizer"),
        ({"schedule": "cosine", "min_learning_rate": 0.1}, "must not exceed"),
        ({"normalization": "zscore"}, "normalization must be one of"),
        ({"deskew": 1}, "deskew must be true or false"),
        ({"negatives": -5}, "negatives must be between 0 and 200000"),
        ({"negatives": 10**9}, "negatives must be between 0 and 200000"),
        ({"negatives": 2.5}, "negatives must be a whole number"),
    ],
)
def test_invalid_settings_are_named_in_the_error(changes, message):
    config = dataclasses.replace(TrainingConfig(), **changes)
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_all_problems_are_reported_together():
    config = TrainingConfig(epochs=0, batch_size=-2)
    with pytest.raises(ConfigError, match="batch_size .*; epochs"):
        config.validate()


def test_config_round_trips_through_a_plain_dict():
    config = TrainingConfig(
        hidden_sizes=(64, 32),
        optimizer="momentum",
        nesterov=True,
        augment=AugmentConfig(rotation=10.0),
        deskew=True,
        negatives=3000,
    )
    data = config.to_dict()
    assert data["deskew"] is True and data["negatives"] == 3000
    assert data["hidden_sizes"] == [64, 32] and data["augment"]["rotation"] == 10.0
    assert TrainingConfig.from_dict(data) == config
    assert TrainingConfig.from_dict({}) == TrainingConfig()
    with pytest.raises(ConfigError, match="Unknown training setting.*colour"):
        TrainingConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="epochs"):
        TrainingConfig.from_dict({"epochs": -1})


def test_network_that_does_not_fit_the_data_is_rejected():
    config = TrainingConfig(hidden_sizes=(4,))
    with pytest.raises(ConfigError, match="takes 10 inputs .* 36 pixels"):
        train(MLP((10, 4, 3)), _bands(), None, config)
    with pytest.raises(ConfigError, match="4 outputs .* 3 classes"):
        train(MLP((36, 4, 4)), _bands(), None, config)


def test_normalization_is_fitted_on_the_training_set_unless_given():
    train_set = _bands()
    config = TrainingConfig(hidden_sizes=(4,), epochs=1, normalization="standardize")
    result = train(_net(config, train_set), train_set, None, config)
    assert result.normalization.kind == "standardize"
    np.testing.assert_allclose(
        result.normalization.mean,
        train_set.images.reshape(len(train_set), -1).mean(axis=0) / 255,
        rtol=1e-5,
    )
    given = Normalization("scale", 255)
    result = train(
        _net(config, train_set), train_set, None, config, normalization=given
    )
    assert result.normalization is given


def test_cosine_schedule_reaches_every_batch_event():
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=2, batch_size=40, schedule="cosine", learning_rate=0.1
    )
    _, events, _ = _run(config)
    rates = [e.learning_rate for e in events if isinstance(e, BatchEvent)]
    assert rates[0] == pytest.approx(0.1) and len(rates) == 6
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))


def test_steady_state_epochs_do_not_fault_in_fresh_memory():
    # Per-step temporaries of 0.1-0.8 MB would make glibc unmap and fault memory
    # back every minibatch (hundreds of faults per epoch here).
    resource = pytest.importorskip("resource")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1200, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=1200, dtype=np.uint8)
    train_set = Dataset("noise", images[:1000], labels[:1000])
    validation = Dataset("noise", images[1000:], labels[1000:])
    config = TrainingConfig(
        hidden_sizes=(256,), epochs=4, batch_size=32, dropout=0.2, l2=1e-4
    )
    faults = []

    def count(event, network):
        if isinstance(event, EpochEvent):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            faults.append(usage.ru_minflt + usage.ru_majflt)

    _run(config, train_set, validation, on_event=count)
    assert max(np.diff(faults)) < 100  # 32 minibatches per epoch
