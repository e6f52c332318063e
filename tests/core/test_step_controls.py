"""Step controls: N more minibatches then paused again, settings changed mid-run."""

import threading

import numpy as np
import pytest

from core import reference
from core.datasets import Dataset, Normalization
from core.network import MLP
from core.training import (
    BatchEvent,
    ConfigError,
    EpochEvent,
    FinishedEvent,
    SettingsEvent,
    TrainingConfig,
    TrainingControl,
    changeable_settings,
    changed_config,
    train,
)

WAIT_S = 10


def _bands(count=50, seed=0, shape=(6, 6)):
    """Class k lights up row band k of the image, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, *shape))
    for k in range(3):
        images[labels == k, 2 * k : 2 * k + 2] += 195
    return Dataset("bands", images.astype(np.uint8), labels, ("a", "b", "c"), 255)


class _Session:
    """Runs ``train`` in a thread, paused from the start, driven like the app does."""

    def __init__(self, config, data=None):
        self.data = data if data is not None else _bands()
        self.config = config
        sizes = config.layer_sizes(self.data.input_size, self.data.num_classes)
        self.network = MLP(sizes, config.activation, config.output, config.init, 3)
        self.events = []
        self.snapshots = [self.network.copy()]  # the weights before every minibatch
        self.rows_seen = 0
        self.holds = threading.Semaphore(0)
        self.control = TrainingControl(on_hold=self.holds.release)
        self.control.pause()
        original = self.network.loss_and_gradients

        def counting(X, labels, *args, **kwargs):
            self.rows_seen += len(labels)
            return original(X, labels, *args, **kwargs)

        self.network.loss_and_gradients = counting
        self.result = None
        self.thread = threading.Thread(target=self._train, daemon=True)
        self.thread.start()
        self.wait_for_hold()  # paused before the first minibatch

    def _train(self):
        def record(event):
            self.events.append(event)
            if isinstance(event, BatchEvent):
                self.snapshots.append(self.network.copy())

        self.result = train(
            self.network, self.data, None, self.config, record, self.control
        )

    def wait_for_hold(self):
        assert self.holds.acquire(timeout=WAIT_S), "training did not pause"

    def batches(self):
        return [e for e in self.events if isinstance(e, BatchEvent)]

    def finish(self):
        self.control.cancel()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()


def test_step_trains_exactly_one_minibatch_then_pauses_again():
    session = _Session(TrainingConfig(hidden_sizes=(8,), epochs=3, batch_size=10))
    assert session.rows_seen == 0 and session.events == []
    session.control.step()
    session.wait_for_hold()
    assert session.rows_seen == 10  # one batch's worth of samples
    assert [(e.epoch, e.batch_index) for e in session.batches()] == [(1, 0)]
    assert session.control.paused and session.thread.is_alive()
    assert not session.control.stepping
    session.control.step(3)
    session.wait_for_hold()
    assert session.rows_seen == 40
    assert [e.batch_index for e in session.batches()] == [0, 1, 2, 3]
    assert session.control.paused and session.thread.is_alive()
    session.finish()
    assert session.result.reason == "cancelled"


def test_step_requests_add_up():
    session = _Session(TrainingConfig(hidden_sizes=(8,), epochs=3, batch_size=10))
    control = session.control
    with control._lock:  # two presses land before the trainer wakes
        control._budget = None
    control.step(1)
    control.step(2)
    session.wait_for_hold()
    assert session.rows_seen == 30
    session.finish()


def test_step_to_epoch_end_finishes_the_epoch_and_pauses_before_the_next():
    session = _Session(TrainingConfig(hidden_sizes=(8,), epochs=3, batch_size=10))
    session.control.step(2)
    session.wait_for_hold()
    session.control.step_to_epoch_end()  # the rest of epoch 1: 3 of its 5 batches
    session.wait_for_hold()
    assert session.rows_seen == 50
    assert isinstance(session.events[-1], EpochEvent)
    assert session.events[-1].epoch == 1
    session.control.step_to_epoch_end()  # a whole epoch from its start
    session.wait_for_hold()
    assert session.rows_seen == 100
    assert [e.epoch for e in session.events if isinstance(e, EpochEvent)] == [1, 2]
    assert session.thread.is_alive()
    session.finish()
    assert session.result.epochs_completed == 2


def test_a_step_past_the_last_epoch_ends_the_run():
    session = _Session(TrainingConfig(hidden_sizes=(8,), epochs=1, batch_size=25))
    session.control.step(5)
    session.thread.join(WAIT_S)
    assert not session.thread.is_alive()
    assert session.rows_seen == 50
    assert session.result.reason == "completed"
    assert isinstance(session.events[-1], FinishedEvent)


def test_resume_after_steps_trains_to_the_end():
    session = _Session(TrainingConfig(hidden_sizes=(8,), epochs=2, batch_size=10))
    session.control.step()
    session.wait_for_hold()
    session.control.resume()
    session.thread.join(WAIT_S)
    assert session.result.reason == "completed"
    assert session.rows_seen == 100


def test_pause_drops_a_step_request_and_cancel_ignores_new_ones():
    control = TrainingControl()
    control.step(5)
    control.pause()
    assert control.paused and not control.stepping
    control.cancel()
    control.step(1)
    control.step_to_epoch_end()
    assert control.cancelled and not control.stepping


def _inputs(session):
    data = session.data
    normalization = Normalization.fit(
        session.config.normalization, data.images, data.max_value
    )
    X = normalization.apply(data.images.reshape(len(data), -1)).astype(np.float64)
    return X, data.labels.astype(np.intp)


def _reference_gradients(network, X, labels):
    weights = [w.astype(np.float64) for w in network.weights]
    biases = [b.astype(np.float64) for b in network.biases]
    _, dW, db, _ = reference.loss_and_gradients(
        weights, biases, X, labels, network.activation, network.output
    )
    return [g for pair in zip(dW, db, strict=True) for g in pair]


def _params(network):
    return [p.astype(np.float64) for p in network.parameters()]


@pytest.mark.parametrize(
    ("optimizer", "change"),
    [
        ("sgd", {"learning_rate": 0.4}),
        ("momentum", {"learning_rate": 0.3, "momentum": 0.5}),
        ("adam", {"learning_rate": 0.03}),
    ],
)
def test_changed_settings_apply_from_the_next_step_and_are_recorded(optimizer, change):
    # Full-batch steps, so that each step's gradient can be recomputed exactly from
    # the weights before it; the float64 reference then replays every update.
    config = TrainingConfig(
        hidden_sizes=(7,),
        activation="tanh",
        optimizer=optimizer,
        learning_rate=0.1 if optimizer != "adam" else 0.01,
        momentum=0.9,
        batch_size=0,
        epochs=6,
    )
    session = _Session(config)
    session.control.step(2)
    session.wait_for_hold()
    session.control.change_settings(**change)
    assert len(session.batches()) == 2  # nothing applies before the next step
    session.control.step(2)
    session.wait_for_hold()
    session.finish()

    rates = [e.learning_rate for e in session.batches()]
    new_rate = change["learning_rate"]
    assert rates == [config.learning_rate] * 2 + [new_rate] * 2
    (event,) = [e for e in session.events if isinstance(e, SettingsEvent)]
    assert (event.epoch, event.batch_index, event.batches_per_epoch) == (3, 0, 1)
    assert event.learning_rate == new_rate
    expected_momentum = 0.9 if optimizer == "momentum" else None
    assert event.momentum == change.get("momentum", expected_momentum)
    assert session.result.changes == [event]
    steps = [e for e in session.events if not isinstance(e, EpochEvent)]
    assert steps.index(event) == 2  # after two batches, before the third

    X, labels = _inputs(session)
    state = _ReferenceOptimizer(optimizer, session.snapshots[0])
    for t in range(4):
        rate = config.learning_rate if t < 2 else new_rate
        momentum = change.get("momentum", 0.9) if t >= 2 else 0.9
        grads = _reference_gradients(session.snapshots[t], X, labels)
        before, after = _params(session.snapshots[t]), _params(session.snapshots[t + 1])
        stale = state.peek(before, grads, config.learning_rate, 0.9)
        expected = state.step(before, grads, rate, momentum)
        for got, want in zip(after, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        if t >= 2:  # the old settings would have given other weights
            assert any(
                not np.allclose(got, old, rtol=1e-4, atol=1e-6)
                for got, old in zip(after, stale, strict=True)
            )


class _ReferenceOptimizer:
    """Replays the float64 reference updates of one optimizer, keeping its state."""

    def __init__(self, name, network):
        self.name = name
        zeros = [np.zeros_like(p) for p in _params(network)]
        self.velocity, self.m, self.v, self.t = zeros, zeros, zeros, 0

    def _update(self, weights, grads, rate, momentum):
        if self.name == "sgd":
            return [
                reference.sgd_step(w, g, rate)
                for w, g in zip(weights, grads, strict=True)
            ], {}
        if self.name == "momentum":
            pairs = [
                reference.momentum_step(w, vel, g, rate, momentum)
                for w, vel, g in zip(weights, self.velocity, grads, strict=True)
            ]
            return [w for w, _ in pairs], {"velocity": [vel for _, vel in pairs]}
        triples = [
            reference.adam_step(w, m, v, g, rate, self.t + 1)
            for w, m, v, g in zip(weights, self.m, self.v, grads, strict=True)
        ]
        return [w for w, _, _ in triples], {
            "m": [m for _, m, _ in triples],
            "v": [v for _, _, v in triples],
        }

    def peek(self, weights, grads, rate, momentum):
        """The weights this update would give, without keeping its state."""
        return self._update(weights, grads, rate, momentum)[0]

    def step(self, weights, grads, rate, momentum):
        updated, state = self._update(weights, grads, rate, momentum)
        for key, value in state.items():
            setattr(self, key, value)
        self.t += 1
        return updated


def test_a_changed_rate_is_the_base_the_schedule_scales():
    config = TrainingConfig(
        hidden_sizes=(6,),
        optimizer="sgd",
        learning_rate=0.2,
        schedule="step",
        step_epochs=1,
        step_gamma=0.5,
        batch_size=25,
        epochs=4,
    )
    session = _Session(config)
    session.control.step(3)  # into epoch 2, whose rate is 0.2 * 0.5
    session.wait_for_hold()
    session.control.change_settings(learning_rate=0.8)
    session.control.resume()
    session.thread.join(WAIT_S)
    rates = [(e.epoch, e.learning_rate) for e in session.batches()]
    assert rates == [
        (1, 0.2),
        (1, 0.2),
        (2, 0.1),
        (2, 0.4),  # the new base rate, halved once, from the next step
        (3, 0.2),
        (3, 0.2),
        (4, 0.1),
        (4, 0.1),
    ]


def test_an_unchanged_value_records_nothing():
    config = TrainingConfig(hidden_sizes=(6,), batch_size=25, epochs=2)
    session = _Session(config)
    session.control.change_settings(learning_rate=config.learning_rate)
    session.control.resume()
    session.thread.join(WAIT_S)
    assert session.result.changes == []
    assert not any(isinstance(e, SettingsEvent) for e in session.events)


def test_only_the_rate_and_momentum_change_during_a_run():
    adam = TrainingConfig(optimizer="adam")
    momentum = TrainingConfig(optimizer="momentum", nesterov=True)
    assert changeable_settings(adam) == ("learning_rate",)
    assert changeable_settings(momentum) == ("learning_rate", "momentum")
    assert changed_config(momentum, {"momentum": 0.5}).momentum == 0.5
    with pytest.raises(ConfigError, match="momentum cannot change"):
        changed_config(adam, {"momentum": 0.5})
    with pytest.raises(ConfigError, match="batch_size cannot change"):
        changed_config(adam, {"batch_size": 3})
    with pytest.raises(ConfigError, match="nesterov needs a momentum above 0"):
        changed_config(momentum, {"momentum": 0.0})
    cosine = TrainingConfig(schedule="cosine", min_learning_rate=1e-4)
    with pytest.raises(ConfigError, match="min_learning_rate"):
        changed_config(cosine, {"learning_rate": 1e-5})
