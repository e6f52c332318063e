"""Named training presets shared by the command line and the GUI.

Each preset is a dataset name plus a complete `TrainingConfig`. Must not import Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.augment import AugmentConfig
from core.training import TrainingConfig


@dataclass(frozen=True)
class Preset:
    """A ready-made training setup.

    Attributes
    ----------
    name : str
        Key in `PRESETS`, as typed on the command line (``--preset NAME``).
    description : str
        One line for the GUI's preset menu and ``--help``.
    dataset : str
        Dataset the preset is meant for (a `core.datasets.BUNDLED` name).
    config : TrainingConfig
        Every training setting.
    reference : str
        What the preset is and where its settings come from, for the tooltip;
        no measured figures (those go stale: bench/RESULTS.md keeps them).
    """

    name: str
    description: str
    dataset: str
    config: TrainingConfig
    reference: str = ""


_RECOMMENDED = Preset(
    name="recommended",
    description=(
        "Best for the MNIST sample and drawings: 512-256 ReLU, Adam, not-a-digit."
    ),
    dataset="mnist-sample",
    config=TrainingConfig(
        hidden_sizes=(512, 256),
        activation="relu",
        output="softmax_cross_entropy",
        init="he",
        optimizer="adam",
        learning_rate=1e-3,
        schedule="cosine",
        min_learning_rate=1e-5,
        batch_size=64,
        epochs=100,
        l2=1e-4,
        dropout=0.1,
        seed=0,
        validation_fraction=0.1,
        normalization="scale",
        augment=AugmentConfig(
            shift=1.5,
            rotation=10.0,
            scale=0.08,
            shear=8.0,
            elastic=1.5,
            probability=0.5,
            # Digits as people draw them: 1s with flags and feet, crossed 7s,
            # wider digits (bench.drawings; figures in bench/RESULTS.md).
            styles=0.5,
            aspect=0.25,
        ),
        # Read upright, and say "not a digit" (bench.drawings).
        deskew=True,
        negatives=12000,
        # Real handwriting beside MNIST's (bench.drawings, --pendigits-folder).
        pen_digits=True,
    ),
    reference=(
        "Tuned on the bundled 5,000-image sample: a wide ReLU network with Adam and "
        "a cosine schedule, dropout and L2 against overfitting, and half of every "
        "minibatch randomly shifted, rotated, scaled, sheared and warped, so that "
        "5,000 images behave like many more; some ones, sixes, sevens and nines get "
        "the strokes people draw and MNIST has few of, and 7,494 digits 30 people "
        "wrote on a tablet join the training images. Every image is stood upright, "
        "and made-up scribbles, shapes, letters and pieces of digits teach an 11th "
        "output, 'not a digit', so that drawings that are no digit are turned away."
    ),
)

_TEXTBOOK_QUADRATIC = Preset(
    name="textbook-quadratic",
    description="The classic first network: 784-32-10 sigmoid, quadratic cost.",
    dataset="mnist-sample",
    config=TrainingConfig(
        hidden_sizes=(32,),
        activation="sigmoid",
        output="sigmoid_quadratic",
        init="normal",
        optimizer="sgd",
        learning_rate=3.0,
        momentum=0.0,
        schedule="constant",
        batch_size=16,
        epochs=30,
        seed=0,
        normalization="scale",
    ),
    reference=(
        "Nielsen, Neural Networks and Deep Learning, ch. 1 (network.py): sigmoid "
        "neurons, quadratic cost, weights N(0, 1), mini-batch SGD."
    ),
)

_TEXTBOOK_DEEP_SOFTMAX = Preset(
    name="textbook-deep-softmax",
    description="Six sigmoid layers of 50, softmax: a deep net that is slow to start.",
    dataset="mnist-sample",
    config=TrainingConfig(
        hidden_sizes=(50, 50, 50, 50, 50, 50),
        activation="sigmoid",
        output="softmax_cross_entropy",
        init="xavier",
        # lr 0.002 is an adaptive-optimizer rate; with plain SGD at this rate the
        # gradients vanish through six sigmoid layers and accuracy stays at chance.
        optimizer="adam",
        learning_rate=0.002,
        schedule="constant",
        batch_size=10,
        epochs=30,
        seed=0,
        normalization="standardize",
    ),
    reference=(
        "Deep sigmoid network with softmax and cross-entropy, lr 0.002, batch 10, "
        "standardised inputs. Sigmoid gradients shrink through each layer, so it "
        "needs several epochs to get going. Switch the optimizer to SGD to watch "
        "the gradients vanish: it stays at chance."
    ),
)

_TEXTBOOK_8X8 = Preset(
    name="textbook-8x8",
    description="64-30-10 sigmoid on the 8x8 digits, full-batch gradient descent.",
    dataset="digits-8x8",
    config=TrainingConfig(
        hidden_sizes=(30,),
        activation="sigmoid",
        output="sigmoid_quadratic",
        init="textbook",
        optimizer="sgd",
        learning_rate=0.25,
        momentum=0.0,
        schedule="constant",
        batch_size=0,
        epochs=3000,
        seed=0,
        validation_fraction=0.4,
        normalization="standardize",
    ),
    reference=(
        "Classic scikit-learn digits tutorial: 64-30-10 sigmoid, quadratic cost, "
        "alpha 0.25, 3,000 full-batch iterations, standardised inputs, 60/40 split; "
        "the original reports 86% on its test split."
    ),
)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        _RECOMMENDED,
        _TEXTBOOK_QUADRATIC,
        _TEXTBOOK_DEEP_SOFTMAX,
        _TEXTBOOK_8X8,
    )
}
