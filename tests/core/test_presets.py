"""Presets: valid configs, the textbook settings as specified, and each one trains."""

import re

import numpy as np
import pytest

from core.datasets import BUNDLED, Normalization, load_bundled, stratified_split
from core.network import MLP
from core.presets import PRESETS, Preset
from core.training import train


def test_presets_are_named_by_their_keys():
    assert set(PRESETS) == {
        "recommended", "textbook-quadratic", "textbook-deep-softmax", "textbook-8x8"
    }  # fmt: skip
    for name, preset in PRESETS.items():
        assert isinstance(preset, Preset)
        assert preset.name == name


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_is_valid_and_described_in_one_line(name):
    preset = PRESETS[name]
    preset.config.validate()
    assert preset.dataset in BUNDLED
    assert preset.description and "\n" not in preset.description
    assert len(preset.description) <= 80


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_texts_carry_no_measured_figures(name):
    # Shown as tooltips; measurements change with every engine change. A figure the
    # original source reports is a citation, not a measurement.
    preset = PRESETS[name]
    text = f"{preset.description} {preset.reference}"
    cited = re.sub(r"the original reports \d+%", "", text)
    assert not re.search(r"\d\s*%|\d+(\.\d+)?\s*s\b", cited), text


def test_textbook_quadratic_settings():
    config = PRESETS["textbook-quadratic"].config
    assert config.hidden_sizes == (32,)
    assert (config.activation, config.output, config.init) == (
        "sigmoid", "sigmoid_quadratic", "normal"
    )  # fmt: skip
    assert (config.optimizer, config.learning_rate, config.momentum) == ("sgd", 3.0, 0)
    assert (config.batch_size, config.epochs) == (16, 30)


def test_textbook_deep_softmax_settings():
    config = PRESETS["textbook-deep-softmax"].config
    assert config.hidden_sizes == (50,) * 6
    assert (config.activation, config.output) == ("sigmoid", "softmax_cross_entropy")
    assert (config.optimizer, config.learning_rate, config.batch_size) == (
        "adam", 0.002, 10
    )  # fmt: skip
    assert config.normalization == "standardize"


def test_textbook_8x8_settings():
    preset = PRESETS["textbook-8x8"]
    config = preset.config
    assert preset.dataset == "digits-8x8"
    assert config.hidden_sizes == (30,)
    assert (config.activation, config.output) == ("sigmoid", "sigmoid_quadratic")
    assert (config.optimizer, config.learning_rate, config.momentum) == (
        "sgd", 0.25, 0
    )  # fmt: skip
    assert (config.batch_size, config.epochs) == (0, 3000)
    assert config.normalization == "standardize"
    assert config.validation_fraction == 0.4


def test_recommended_uses_the_bundled_sample():
    preset = PRESETS["recommended"]
    assert preset.dataset == "mnist-sample"
    assert preset.config.activation in ("relu", "leaky_relu")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_trains_two_epochs_on_a_small_subset(name):
    preset = PRESETS[name]
    config = preset.config.replace(epochs=2)
    dataset = load_bundled(preset.dataset)
    _, small = stratified_split(dataset, 400 / len(dataset), seed=1)
    train_set, validation_set = stratified_split(
        small, config.validation_fraction, config.seed
    )
    normalization = Normalization.fit(
        config.normalization, train_set.images, train_set.max_value
    )
    network = MLP(
        (train_set.input_size, *config.hidden_sizes, train_set.num_classes),
        activation=config.activation,
        output=config.output,
        init=config.init,
        seed=config.seed,
    )
    before = [p.copy() for p in network.parameters()]
    result = train(
        network, train_set, validation_set, config, normalization=normalization
    )
    assert result is not None
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, network.parameters(), strict=True)
    )
