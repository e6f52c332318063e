"""core.guidance: each warning on a real short run made to show it, and its fixes."""

from __future__ import annotations

import pytest

from core.datasets import load_bundled
from core.guidance import (
    ADVICE_KINDS,
    Advice,
    RunFacts,
    advise,
    exploding,
    not_learning,
    overfitting,
    run_facts,
)
from core.presets import PRESETS
from core.run import RunRequest, prepare_run, run_training
from core.training import TrainingConfig


@pytest.fixture(scope="module")
def mnist():
    return load_bundled("mnist-sample")


def _advice_of(dataset, config, subset):
    prepared = prepare_run(RunRequest(dataset, config, subset=subset))
    result = run_training(prepared)
    advice = advise(result.history, run_facts(prepared, result.reason))
    return advice, result


def _kinds(advice: list[Advice]) -> list[str]:
    return [item.kind for item in advice]


def _check_fixes(advice: Advice, config: TrainingConfig) -> None:
    """Every fix makes valid settings that differ from the run's."""
    assert advice.fixes
    for fix in advice.fixes:
        changed = config.replace(**fix.settings())
        assert changed != config, fix.label


def test_a_learning_rate_far_too_high_makes_the_loss_explode(mnist):
    config = TrainingConfig(
        hidden_sizes=(64,), optimizer="sgd", learning_rate=5.0, epochs=2, batch_size=32
    )
    advice, result = _advice_of(mnist, config, 1000)
    assert result.reason == "diverged"
    assert _kinds(advice) == ["exploding"]
    (item,) = advice
    assert item.fixes[0].settings() == {"learning_rate": 0.5}
    assert "learning rate of 5" in item.text
    _check_fixes(item, config)


def test_a_learning_rate_far_too_low_is_not_learning(mnist):
    config = TrainingConfig(
        hidden_sizes=(64,),
        activation="sigmoid",
        init="xavier",
        optimizer="sgd",
        learning_rate=1e-4,
        epochs=2,
        batch_size=32,
    )
    advice, result = _advice_of(mnist, config, 1000)
    assert result.reason == "completed"
    assert _kinds(advice) == ["not_learning"]
    (item,) = advice
    assert [fix.settings() for fix in item.fixes] == [{"learning_rate": 0.001}]
    assert "too small" in item.text  # the update-to-weight ratio says why
    _check_fixes(item, config)


def test_six_sigmoid_layers_with_sgd_make_the_gradients_vanish(mnist):
    config = PRESETS["textbook-deep-softmax"].config.replace(optimizer="sgd", epochs=1)
    advice, _ = _advice_of(mnist, config, 1000)
    assert _kinds(advice) == ["vanishing"]
    (item,) = advice
    assert item.text.count("e-") + item.text.count("e+") >= 7  # the 7 layers' norms
    assert item.fixes[0].settings() == {"activation": "relu", "init": "he"}
    _check_fixes(item, config)


def test_the_same_stack_with_adam_is_left_alone(mnist):
    # Adam scales each weight's step, so the first layers learn despite the small
    # gradients: not a vanishing-gradient problem.
    config = PRESETS["textbook-deep-softmax"].config.replace(epochs=1)
    advice, _ = _advice_of(mnist, config, 1000)
    assert "vanishing" not in _kinds(advice)


def test_a_big_network_on_a_tiny_training_set_overfits(mnist):
    config = TrainingConfig(
        hidden_sizes=(512, 256),
        learning_rate=3e-3,
        epochs=5,
        batch_size=10,
        validation_fraction=0.5,
    )
    advice, _ = _advice_of(mnist, config, 200)
    assert _kinds(advice) == ["overfitting"]
    (item,) = advice
    labels = [fix.label for fix in item.fixes]
    assert labels == ["dropout 0.2", "L2 0.0001", "augmentation", "early stopping"]
    assert item.fixes[2].settings()["augment"].is_active
    _check_fixes(item, config)


def test_a_healthy_run_gets_no_warning(mnist):
    config = PRESETS["recommended"].config.replace(epochs=3)
    advice, _ = _advice_of(mnist, config, 1000)
    assert advice == []


# --- the rules on histories made by hand --------------------------------------------

FACTS = RunFacts(TrainingConfig(), chance_accuracy=0.1)


def _rows(*losses, accuracy=0.5, **columns):
    rows = []
    for index, loss in enumerate(losses):
        row = {"epoch": index + 1, "train_loss": loss, "train_accuracy": accuracy}
        for name, values in columns.items():
            row[name] = values[index]
        rows.append(row)
    return rows


def test_a_growing_training_loss_is_exploding_before_the_run_diverges():
    assert exploding(_rows(1.0, 0.8, 1.0, 1.3), FACTS) is not None
    assert exploding(_rows(1.0, 0.8, 1.0, 0.9), FACTS) is None  # not rising twice
    assert exploding(_rows(1.0, 0.8, 0.9, 1.0), FACTS) is None  # below 1.5x the low
    assert exploding([], RunFacts(TrainingConfig(), 0.1, "diverged")) is not None


def test_not_learning_offers_the_initialisation_suited_to_the_activation():
    facts = RunFacts(TrainingConfig(activation="relu", init="normal"), 0.1)
    item = not_learning(_rows(2.31, 2.30, accuracy=0.11), facts)
    assert [fix.settings() for fix in item.fixes][-1] == {"init": "he"}
    assert not_learning(_rows(2.31, 2.30, accuracy=0.2), facts) is None  # learning
    assert not_learning(_rows(2.31, 2.0, accuracy=0.11), facts) is None  # moving
    assert not_learning(_rows(2.30, accuracy=0.11), facts) is None  # too early


def test_not_learning_with_large_steps_and_saturated_units_lowers_the_rate():
    facts = RunFacts(TrainingConfig(learning_rate=3.0), 0.1)
    rows = _rows(
        0.5,
        0.5,
        accuracy=0.1,
        update_ratio=[[0.3, 0.2]] * 2,
        inactive_share=[[0.9]] * 2,
    )
    item = not_learning(rows, facts)
    assert item.fixes[0].settings() == {"learning_rate": 0.3}


def test_lowering_the_rate_below_the_schedules_floor_moves_the_floor():
    config = TrainingConfig(
        schedule="cosine", learning_rate=0.01, min_learning_rate=0.005
    )
    item = exploding([], RunFacts(config, 0.1, "diverged"))
    assert item.fixes[0].settings() == {
        "learning_rate": 0.001,
        "min_learning_rate": 0.001,
    }
    config.replace(**item.fixes[0].settings())


def test_overfitting_needs_a_real_rise_while_training_improves():
    def rows(validation, train):
        return [
            {"epoch": i + 1, "train_loss": t, "validation_loss": v}
            for i, (v, t) in enumerate(zip(validation, train, strict=True))
        ]

    falling = [1.0, 0.8, 0.6, 0.4, 0.3]
    assert overfitting(rows([0.9, 0.7, 0.8, 0.85, 0.9], falling), FACTS) is not None
    assert overfitting(rows([0.9, 0.7, 0.72, 0.74, 0.76], falling), FACTS) is None
    # The lowest validation loss only one epoch ago: too soon to tell.
    assert overfitting(rows([0.9, 0.7, 0.8, 0.6, 0.9], falling), FACTS) is None
    assert (
        overfitting(rows([0.9, 0.7, 0.8, 0.85, 0.9], [1, 0.8, 0.9, 1, 1]), FACTS)
        is None
    )
    facts = RunFacts(
        TrainingConfig(dropout=0.5, l2=1e-3, early_stopping_patience=3), 0.1
    )
    item = overfitting(rows([0.9, 0.7, 0.8, 0.85, 0.9], falling), facts)
    assert [fix.label for fix in item.fixes] == ["L2 0.01", "augmentation"]


def test_a_rising_validation_loss_without_a_gap_in_accuracy_is_not_overfitting():
    # As `recommended` trains: its 500 validation digits' loss jumps about from
    # epoch to epoch while they are read better than the augmented training images.
    def rows(train_accuracy):
        validation = [0.30, 0.22, 0.27, 0.31, 0.26]
        return [
            {
                "epoch": i + 1,
                "train_loss": 0.5 - 0.05 * i,
                "train_accuracy": train_accuracy,
                "validation_loss": loss,
                "validation_accuracy": 0.92 + 0.005 * i,
            }
            for i, loss in enumerate(validation)
        ]

    assert overfitting(rows(0.90), FACTS) is None
    assert overfitting(rows(0.99), FACTS) is not None  # memorising: a 5-point gap


def test_every_advice_kind_is_known():
    assert set(ADVICE_KINDS) == {
        "exploding",
        "vanishing",
        "not_learning",
        "overfitting",
    }
