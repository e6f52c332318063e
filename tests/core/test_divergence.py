"""The divergence rule: blown-up and stuck losses end a run; healthy runs never do."""

import dataclasses
import math

import numpy as np
import pytest
from test_training import _bands

from core.datasets import load_bundled, stratified_split
from core.divergence import (
    BLOW_UP_FACTOR,
    STUCK_FACTOR,
    DivergenceWatch,
    chance_accuracy,
    chance_loss,
    loss_blew_up,
    stuck_at_chance,
)
from core.network import MLP
from core.presets import PRESETS
from core.training import BatchEvent, EpochEvent, TrainingConfig, train


def _train(config, train_set, validation_set=None, on_event=None):
    network = config.build_network(train_set.input_size, train_set.num_classes)
    initial = [p.copy() for p in network.parameters()]
    events = []

    def record(event):
        events.append(event)
        if on_event is not None:
            on_event(event, network)

    result = train(network, train_set, validation_set, config, record)
    return result, events, network, initial


# --- the rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "classes", "expected"),
    [
        ("softmax_cross_entropy", 10, math.log(10)),
        ("softmax_cross_entropy", 3, math.log(3)),
        ("sigmoid_quadratic", 10, 10 / 8),
    ],
)
def test_chance_loss_is_the_loss_of_a_network_that_knows_nothing(
    output, classes, expected
):
    assert chance_loss(output, classes) == pytest.approx(expected, rel=1e-6)


def test_chance_accuracy_is_the_largest_class_share():
    assert chance_accuracy(np.array([0, 0, 0, 1, 2, 2]), 3) == 0.5
    assert chance_accuracy(np.array([], np.uint8), 4) == 0.25


def test_loss_blew_up_beyond_the_factor_or_when_not_finite():
    assert not loss_blew_up(BLOW_UP_FACTOR * 2.0, 2.0)
    assert loss_blew_up(BLOW_UP_FACTOR * 2.0 + 1e-9, 2.0)
    assert loss_blew_up(math.nan, 2.0) and loss_blew_up(math.inf, 2.0)


def test_stuck_needs_chance_accuracy_and_a_risen_loss():
    chance, reference = 0.1, 2.3
    risen = STUCK_FACTOR * reference + 0.1
    assert stuck_at_chance(risen, 0.12, reference, chance)
    assert not stuck_at_chance(risen, 0.5, reference, chance)  # it learns
    assert not stuck_at_chance(reference, 0.1, reference, chance)  # a slow start


def test_watch_ignores_one_unlucky_minibatch_but_not_a_sustained_rise():
    watch = DivergenceWatch("softmax_cross_entropy", 10, 0.1)
    start = 2.3
    assert watch.on_batch(start) is None
    assert watch.on_batch(8 * start) is None  # a jumpy but healthy run
    for _ in range(5):
        assert watch.on_batch(start) is None
    found = None
    for _ in range(100):
        found = found or watch.on_batch(12 * start)
    assert found is not None and found.what == "training loss"
    assert found.value > BLOW_UP_FACTOR * start
    assert "more than 10 times its starting value (2.3)" in found.describe()


def test_one_astronomical_minibatch_is_a_blow_up_at_once():
    watch = DivergenceWatch("softmax_cross_entropy", 10, 0.1)
    assert watch.on_batch(2.3) is None
    found = watch.on_batch(6.2e5)
    assert found is not None and found.value == 6.2e5
    assert "rose to 6.2e+05" in found.describe()


def test_reference_is_at_least_the_chance_loss():
    # A fine-tune starts from good weights: its tiny first loss is no yardstick.
    watch = DivergenceWatch("softmax_cross_entropy", 10, 0.1)
    assert watch.on_batch(0.01) is None
    for _ in range(30):
        assert watch.on_batch(1.5) is None
    assert watch.reference == pytest.approx(math.log(10))


def test_a_growing_validation_loss_alone_is_not_divergence():
    watch = DivergenceWatch("softmax_cross_entropy", 3, 0.34)
    watch.on_batch(1.1)
    assert watch.on_epoch(0.2, 0.95, validation_loss=500.0) is None
    found = watch.on_epoch(0.2, 0.95, validation_loss=math.inf)
    assert found.what == "validation loss"
    assert "the validation loss became inf" in found.describe()


# --- runs made to show it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "learning_rate"), [("sgd", 100.0), ("adam", 100.0), ("sgd", 1e4)]
)
def test_a_finite_blow_up_ends_the_run_as_diverged(optimizer, learning_rate):
    config = TrainingConfig(
        hidden_sizes=(8,),
        epochs=3,
        batch_size=10,
        optimizer=optimizer,
        learning_rate=learning_rate,
    )
    result, events, network, initial = _train(config, _bands())
    losses = [e.loss for e in events if isinstance(e, BatchEvent)]
    assert all(math.isfinite(loss) for loss in losses)  # no NaN: finite divergence
    assert result.reason == "diverged" and result.epochs_completed == 0
    assert "more than 10 times its starting value" in result.message
    assert (
        f"learning rate ({learning_rate:g}) is most likely too high" in result.message
    )
    assert "Restored the initial weights" in result.message
    assert events[-1].reason == "diverged"
    for restored, start in zip(network.parameters(), initial, strict=True):
        assert np.array_equal(restored, start)


def _break_after(epoch_number, change):
    """An on_event hook that applies ``change`` to the network after every minibatch
    from epoch ``epoch_number`` on, keeping the weights of each finished epoch."""
    snapshots = {}

    def hook(event, network):
        if isinstance(event, EpochEvent):
            snapshots[event.epoch] = [p.copy() for p in network.parameters()]
        if isinstance(event, BatchEvent) and event.epoch >= epoch_number:
            change(network)

    return hook, snapshots


@pytest.mark.parametrize("worse_validation", [False, True])
def test_a_blow_up_after_good_epochs_keeps_the_best_epoch(worse_validation):
    def explode(network):
        network.weights[-1] *= np.float32(3.0)

    hook, snapshots = _break_after(4, explode)
    config = TrainingConfig(hidden_sizes=(8,), epochs=8, batch_size=10, seed=1)
    train_set, validation_set = stratified_split(_bands(150), 0.2, seed=0)
    if worse_validation:
        # Shifted labels: learning the task makes validation worse, so the best
        # epoch is the first, not the last before the blow-up.
        labels = (validation_set.labels + 1) % 3
        validation_set = dataclasses.replace(validation_set, labels=labels)
    result, events, network, _ = _train(config, train_set, validation_set, hook)
    rows = [e for e in events if isinstance(e, EpochEvent)]
    assert result.reason == "diverged" and result.epochs_completed == 3
    assert [row.epoch for row in rows] == [1, 2, 3]
    best = min(rows, key=lambda row: row.validation_loss).epoch
    assert (best == 1) if worse_validation else (best == 3)
    assert result.best_epoch == best
    kept = "the best ones (validation loss" if best < 3 else "the last good ones"
    assert f"weights after epoch {best}, {kept}" in result.message
    for weights, snapshot in zip(network.parameters(), snapshots[best], strict=True):
        assert np.array_equal(weights, snapshot)


def test_a_run_stuck_at_chance_with_a_rising_loss_is_diverged():
    def always_class_zero(network):
        network.weights[-1][...] = 0.0
        network.biases[-1][...] = np.array([4.0, 0.0, 0.0], np.float32)

    hook, snapshots = _break_after(2, always_class_zero)
    config = TrainingConfig(hidden_sizes=(8,), epochs=5, batch_size=10)
    result, events, network, _ = _train(config, _bands(), on_event=hook)
    assert result.reason == "diverged" and result.epochs_completed == 1
    assert "while the accuracy stayed at chance" in result.message
    assert "Training diverged at epoch 2:" in result.message
    for kept, snapshot in zip(network.parameters(), snapshots[1], strict=True):
        assert np.array_equal(kept, snapshot)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_no_preset_is_taken_for_diverged(name):
    """The slow starters (deep sigmoid, quadratic cost) and the 3,000 full-batch
    epochs of the 8x8 preset run without a false alarm, on a subset."""
    preset = PRESETS[name]
    config = preset.config
    dataset = load_bundled(preset.dataset)
    if config.epochs > 100:  # full batch: many short epochs
        config = config.replace(epochs=300)
    else:
        config = config.replace(epochs=3)
        _, dataset = stratified_split(dataset, 600 / len(dataset), seed=1)
    train_set, validation_set = stratified_split(
        dataset, config.validation_fraction, config.seed
    )
    network = MLP(
        config.layer_sizes(train_set.input_size, train_set.num_classes),
        config.activation,
        config.output,
        config.init,
        config.seed,
    )
    result = train(network, train_set, validation_set, config)
    assert result.reason == "completed", result.message
