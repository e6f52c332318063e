"""What the trainer promises, observed from outside: which samples each step used,
in what order, with what learning rate; what the epoch figures and the kept weights
are. Each test here fails on a specific wrong trainer (listed in the pack note).

Every image carries its sample's number in its first pixels, so a recorder wrapped
around the network's ``loss_and_gradients`` can tell which samples a step used.
"""

import dataclasses
import math
import threading
import time

import numpy as np
import pytest

import core.training
from core.augment import AugmentConfig
from core.datasets import Dataset, Normalization
from core.metrics import loss_and_accuracy
from core.training import BatchEvent, EpochEvent, TrainingConfig, TrainingControl, train

CLASSES = ("a", "b", "c")
SHAPE = (4, 4)
# Three base-16 digits in pixels 0-2, each stored as 8 + 16 * digit: tiny augmentation
# noise (std 0.26 of a grey level) cannot move a digit.
_DIGITS = 3
_LEVEL = 16
TINY_NOISE = AugmentConfig(noise=0.001)


def _tagged(count, seed=0):
    """Sample ``i`` has label ``i % 3`` and its number ``i`` written in its pixels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, SHAPE[0] * SHAPE[1]))
    ids = np.arange(count)
    for place in range(_DIGITS):
        digit = ids // _LEVEL ** (_DIGITS - 1 - place) % _LEVEL
        images[:, place] = _LEVEL // 2 + _LEVEL * digit
    labels = (ids % len(CLASSES)).astype(np.uint8)
    images = images.astype(np.uint8).reshape(count, *SHAPE)
    return Dataset("tagged", images, labels, CLASSES, 255)


def _sample_ids(inputs):
    """The sample numbers written in a batch of ``"scale"``-normalised inputs."""
    digits = np.rint((inputs[:, :_DIGITS] * 255 - _LEVEL // 2) / _LEVEL).astype(int)
    return digits @ (_LEVEL ** np.arange(_DIGITS - 1, -1, -1))


class Recorder:
    """Wraps ``network.loss_and_gradients`` and keeps what every step saw."""

    def __init__(self, network):
        self.inputs, self.labels, self.losses, self.correct = [], [], [], []
        original = network.loss_and_gradients

        def record(inputs, labels, *args, **kwargs):
            result = original(inputs, labels, *args, **kwargs)
            loss, _, probabilities = result
            self.inputs.append(np.array(inputs))
            self.labels.append(np.array(labels))
            self.losses.append(float(loss))
            self.correct.append(int(np.sum(probabilities.argmax(axis=1) == labels)))
            return result

        network.loss_and_gradients = record

    def ids(self):
        return [_sample_ids(inputs) for inputs in self.inputs]

    def epoch_orders(self, steps):
        ids = self.ids()
        return [
            np.concatenate(ids[start : start + steps])
            for start in range(0, len(ids), steps)
        ]


def _train(config, train_set, validation_set=None, control=None, on_event=None):
    network = config.build_network(train_set.input_size, train_set.num_classes)
    recorder = Recorder(network)
    events = []

    def keep(event):
        events.append(event)
        if on_event is not None:
            on_event(event, network)

    result = train(network, train_set, validation_set, config, keep, control)
    return result, events, network, recorder


def _steps(count, batch_size):
    batch = count if batch_size == 0 else min(batch_size, count)
    return batch, math.ceil(count / batch)


def _weights(network):
    return [p.copy() for p in network.parameters()]


PATHS = {"plain": AugmentConfig(), "augmented": TINY_NOISE}


# Which samples, in what order ------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_every_epoch_visits_the_samples_in_a_new_order(path):
    count, batch_size, epochs = 37, 5, 3
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=epochs, batch_size=batch_size, augment=PATHS[path]
    )
    *_, recorder = _train(config, _tagged(count))
    orders = recorder.epoch_orders(_steps(count, batch_size)[1])
    assert len(orders) == epochs
    for order in orders:
        assert not np.array_equal(order, np.arange(count))
    for first in range(epochs):
        for second in range(first + 1, epochs):
            assert not np.array_equal(orders[first], orders[second])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("count", "batch_size"),
    [(36, 6), (37, 5), (37, 0), (37, 50), (1111, 100), (1111, 128), (1111, 300)],
)
def test_every_sample_is_used_exactly_once_per_epoch(path, count, batch_size):
    # 1111 samples span several augmentation blocks, the last one partial.
    dataset = _tagged(count)
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=2, batch_size=batch_size, augment=PATHS[path]
    )
    result, events, _, recorder = _train(config, dataset)
    batch, steps = _steps(count, batch_size)
    assert result.epochs_completed == 2
    assert len(recorder.inputs) == 2 * steps
    sizes = [len(labels) for labels in recorder.labels]
    last = count - (steps - 1) * batch
    assert sizes == ([batch] * (steps - 1) + [last]) * 2
    ids = recorder.ids()
    for epoch in range(2):
        used = np.concatenate(ids[epoch * steps : (epoch + 1) * steps])
        assert np.array_equal(np.sort(used), np.arange(count))
    for batch_ids, labels, inputs in zip(
        ids, recorder.labels, recorder.inputs, strict=True
    ):
        # Each image arrives with its own label ...
        assert np.array_equal(labels, dataset.labels[batch_ids])
        expected = Normalization("scale", 255).apply(dataset.images[batch_ids])
        if path == "plain":
            # ... and, unaugmented, exactly as normalised.
            np.testing.assert_allclose(inputs, expected, rtol=1e-6, atol=0)
        else:
            difference = np.abs(inputs - expected)
            assert 0 < difference.max() < 0.05


def test_same_seed_same_orders_and_weights_another_seed_others():
    dataset = _tagged(60)
    config = TrainingConfig(hidden_sizes=(6,), epochs=3, batch_size=8)
    steps = _steps(60, 8)[1]
    _, _, first, first_seen = _train(config, dataset)
    _, _, again, again_seen = _train(config, dataset)
    for a, b in zip(first.parameters(), again.parameters(), strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(
        first_seen.epoch_orders(steps), again_seen.epoch_orders(steps), strict=True
    ):
        assert np.array_equal(a, b)

    _, _, other, other_seen = _train(dataclasses.replace(config, seed=1), dataset)
    for a, b in zip(first.parameters(), other.parameters(), strict=True):
        assert not np.array_equal(a, b)
    for a, b in zip(
        first_seen.epoch_orders(steps), other_seen.epoch_orders(steps), strict=True
    ):
        assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "change", [{"dropout": 0.3}, {"augment": TINY_NOISE}], ids=["dropout", "augment"]
)
def test_dropout_and_augmentation_do_not_change_the_order(change):
    # Independent random streams: switching one on leaves the shuffling alone.
    dataset = _tagged(60)
    config = TrainingConfig(hidden_sizes=(6,), epochs=3, batch_size=8)
    steps = _steps(60, 8)[1]
    *_, plain = _train(config, dataset)
    *_, changed = _train(dataclasses.replace(config, **change), dataset)
    for a, b in zip(
        plain.epoch_orders(steps), changed.epoch_orders(steps), strict=True
    ):
        assert np.array_equal(a, b)


# Epoch figures --------------------------------------------------------------------


def test_paused_time_is_left_out_of_the_epoch_seconds():
    dataset = _tagged(120)
    config = TrainingConfig(hidden_sizes=(8,), epochs=3, batch_size=10)
    control = TrainingControl()
    reached = threading.Event()
    pause_set = threading.Event()
    paused_for = 1.0

    def hold_in_first_epoch(event, network):
        if isinstance(event, BatchEvent) and (event.epoch, event.batch_index) == (1, 2):
            reached.set()
            assert pause_set.wait(10)

    outcome = {}

    def run():
        outcome["result"], outcome["events"], *_ = _train(
            config, dataset, control=control, on_event=hold_in_first_epoch
        )

    worker = threading.Thread(target=run)
    started = time.perf_counter()
    worker.start()
    assert reached.wait(10)
    control.pause()  # from this thread, while the trainer waits in its callback
    pause_set.set()
    time.sleep(paused_for)
    assert control.paused and worker.is_alive()
    control.resume()
    worker.join(10)
    wall = time.perf_counter() - started
    assert not worker.is_alive() and outcome["result"].reason == "completed"
    epochs = [e for e in outcome["events"] if isinstance(e, EpochEvent)]
    assert wall >= paused_for
    # Three epochs of 12 tiny steps take milliseconds; the pause took a second.
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert all(0 < e.seconds < paused_for / 2 for e in epochs)
    assert epochs[0].samples_per_second > len(dataset) / (paused_for / 2)
    assert outcome["result"].seconds < paused_for / 2


def test_epoch_loss_and_accuracy_weigh_every_sample_equally():
    # 37 samples in batches of 5: the last batch has 2, so a plain mean of the
    # batch figures would be wrong.
    config = TrainingConfig(hidden_sizes=(4,), epochs=2, batch_size=5)
    result, events, _, recorder = _train(config, _tagged(37))
    steps = _steps(37, 5)[1]
    sizes = np.array([len(labels) for labels in recorder.labels])
    losses = np.array(recorder.losses)
    correct = np.array(recorder.correct)
    for epoch, record in enumerate(result.history):
        part = slice(epoch * steps, (epoch + 1) * steps)
        expected_loss = np.sum(losses[part] * sizes[part]) / 37
        assert record["train_loss"] == pytest.approx(expected_loss, rel=1e-6)
        assert record["train_accuracy"] == pytest.approx(correct[part].sum() / 37)
    batch_losses = [e.loss for e in events if isinstance(e, BatchEvent)]
    assert batch_losses == pytest.approx(recorder.losses)


def test_history_records_every_epoch_as_emitted():
    config = TrainingConfig(hidden_sizes=(4,), epochs=4, batch_size=16)
    validation = _tagged(30, seed=1)
    result, events, _, _ = _train(config, _tagged(90), validation)
    emitted = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in emitted] == [1, 2, 3, 4]
    assert result.history == [dataclasses.asdict(e) for e in emitted]
    assert result.epochs_completed == 4


def test_validation_figures_use_the_weights_at_the_end_of_the_epoch():
    validation = _tagged(45, seed=1)
    config = TrainingConfig(hidden_sizes=(6,), epochs=3, batch_size=7)
    checked = []

    def check(event, network):
        if isinstance(event, EpochEvent):
            scale = Normalization("scale", 255)
            checked.append(
                (
                    (event.validation_loss, event.validation_accuracy),
                    loss_and_accuracy(network.copy(), validation, scale),
                )
            )

    _train(config, _tagged(60), validation, on_event=check)
    assert len(checked) == 3
    for reported, recomputed in checked:
        assert reported == pytest.approx(recomputed, rel=1e-6)


# Learning rate ----------------------------------------------------------------------


def test_the_scheduled_rate_is_the_one_reported_and_applied():
    # Full-batch SGD: each epoch is one step, W <- W - rate * dW, which the test
    # repeats on a copy of the initial network with the rate the schedule gives.
    dataset = _tagged(40)
    config = TrainingConfig(
        hidden_sizes=(5,),
        epochs=4,
        batch_size=0,
        optimizer="sgd",
        learning_rate=0.5,
        schedule="step",
        step_epochs=1,
        step_gamma=0.5,
    )
    network = config.build_network(dataset.input_size, dataset.num_classes)
    replica = network.copy()
    events = []
    train(network, dataset, None, config, events.append)
    rates = [e.learning_rate for e in events if isinstance(e, BatchEvent)]
    assert rates == [0.5, 0.25, 0.125, 0.0625]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.learning_rate for e in epochs] == rates
    inputs = Normalization("scale", 255).apply(dataset.images)
    labels = dataset.labels.astype(np.intp)
    for rate in rates:
        _, gradients, _ = replica.loss_and_gradients(inputs, labels)
        for parameter, gradient in zip(replica.parameters(), gradients, strict=True):
            parameter -= np.float32(rate) * gradient
    for trained, expected in zip(
        network.parameters(), replica.parameters(), strict=True
    ):
        np.testing.assert_allclose(trained, expected, rtol=1e-4, atol=1e-6)


# Early stopping and divergence ------------------------------------------------------


def _scripted_validation(monkeypatch, losses):
    """Make the trainer's per-epoch validation report ``losses`` in turn."""
    remaining = list(losses)
    monkeypatch.setattr(
        core.training,
        "loss_and_accuracy",
        lambda *args, **kwargs: (remaining.pop(0), 0.5),
    )


def _snapshots_at_epoch_end():
    snapshots = {}

    def keep(event, network):
        if isinstance(event, EpochEvent):
            snapshots[event.epoch] = _weights(network)

    return snapshots, keep


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_early_stopping_waits_exactly_patience_epochs_and_keeps_the_best(
    monkeypatch, patience
):
    # Validation loss per epoch: best at epoch 3, never better afterwards.
    _scripted_validation(monkeypatch, [0.9, 0.8, 0.5, 0.6, 0.7, 0.55, 0.65, 0.9])
    snapshots, keep = _snapshots_at_epoch_end()
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=8, batch_size=10, early_stopping_patience=patience
    )
    result, _, network, _ = _train(config, _tagged(40), _tagged(9), on_event=keep)
    assert result.reason == "early_stopped"
    assert result.epochs_completed == 3 + patience
    assert result.best_epoch == 3
    assert "kept the weights of epoch 3 (0.5000)" in result.message
    assert len(result.history) == 3 + patience
    for kept, best in zip(network.parameters(), snapshots[3], strict=True):
        assert np.array_equal(kept, best)
    assert not np.array_equal(network.weights[0], snapshots[3 + patience][0])


def test_a_run_that_completes_keeps_its_best_epoch(monkeypatch):
    _scripted_validation(monkeypatch, [0.9, 0.4, 0.6, 0.7, 0.8])
    snapshots, keep = _snapshots_at_epoch_end()
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=5, batch_size=10, early_stopping_patience=10
    )
    result, _, network, _ = _train(config, _tagged(40), _tagged(9), on_event=keep)
    assert result.reason == "completed" and result.epochs_completed == 5
    assert result.best_epoch == 2
    assert "Kept the weights of epoch 2" in result.message
    for kept, best in zip(network.parameters(), snapshots[2], strict=True):
        assert np.array_equal(kept, best)


def test_a_run_whose_last_epoch_is_best_keeps_its_last_weights(monkeypatch):
    _scripted_validation(monkeypatch, [0.9, 0.8, 0.7])
    snapshots, keep = _snapshots_at_epoch_end()
    config = TrainingConfig(
        hidden_sizes=(4,), epochs=3, batch_size=10, early_stopping_patience=1
    )
    result, _, network, _ = _train(config, _tagged(40), _tagged(9), on_event=keep)
    assert result.reason == "completed" and result.best_epoch == 3
    assert result.message == "Finished 3 epochs."
    for kept, last in zip(network.parameters(), snapshots[3], strict=True):
        assert np.array_equal(kept, last)


def test_a_diverged_validation_restores_the_weights_before_the_epoch():
    snapshots, keep = _snapshots_at_epoch_end()

    def break_after_the_last_batch_of_epoch_two(event, network):
        keep(event, network)
        if (
            isinstance(event, BatchEvent)
            and event.epoch == 2
            and event.batch_index == event.batches_per_epoch - 1
        ):
            network.weights[-1][0, 0] = np.inf

    config = TrainingConfig(hidden_sizes=(4,), epochs=4, batch_size=10)
    result, events, network, _ = _train(
        config,
        _tagged(40),
        _tagged(9),
        on_event=break_after_the_last_batch_of_epoch_two,
    )
    assert result.reason == "diverged" and result.epochs_completed == 1
    assert "the validation loss became" in result.message
    assert "weights after epoch 1" in result.message
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1]
    for restored, good in zip(network.parameters(), snapshots[1], strict=True):
        assert np.array_equal(restored, good)


def test_a_cancel_takes_effect_before_the_next_batch_even_in_the_last_epoch():
    control = TrainingControl()

    def cancel_in_last_epoch(event, network):
        if isinstance(event, BatchEvent) and (event.epoch, event.batch_index) == (2, 0):
            control.cancel()

    config = TrainingConfig(hidden_sizes=(4,), epochs=2, batch_size=10)
    result, events, _, recorder = _train(
        config, _tagged(40), control=control, on_event=cancel_in_last_epoch
    )
    assert result.reason == "cancelled" and result.epochs_completed == 1
    assert len(recorder.inputs) == 4 + 1
    assert "during epoch 2 after 1 of 4 minibatches" in result.message
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1]
