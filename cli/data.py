"""Dataset choices for the CLI: which images to train on, hold out, or evaluate.

The split rules live here once so that `train` and `evaluate` agree: a model's
held-out part is recomputed from its stored seed, validation share and subset size.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import dataset_store
from core.datasets import Dataset, DatasetError, Normalization, stratified_split
from core.user_dirs import data_dir


@dataclass(frozen=True)
class TrainingData:
    """The training and validation parts of a dataset, and the input normalisation."""

    dataset_name: str
    train_set: Dataset
    validation_set: Dataset | None
    normalization: Normalization
    subset: int | None

    def describe(self) -> str:
        """E.g. ``mnist-sample: 4,500 training / 500 validation images``."""
        validation = len(self.validation_set) if self.validation_set else 0
        text = f"{self.dataset_name}: {len(self.train_set):,} training"
        return text + f" / {validation:,} validation images"


def load(name: str, split: str = "train", expected_shape=None) -> Dataset:
    """Load a bundled, downloaded or imported dataset by name."""
    return dataset_store.load_dataset(
        name, data_dir(), split=split, expected_shape=expected_shape
    )


def has_test_split(name: str) -> bool:
    """Tell whether the dataset has a separate test set (downloaded MNIST, imports)."""
    return dataset_store.get_info(name, data_dir()).test_count is not None


def take_subset(dataset: Dataset, size: int | None, seed: int) -> Dataset:
    """Draw a stratified random subset of ``size`` images (all when None)."""
    if size is None or size >= len(dataset):
        return dataset
    if size < dataset.num_classes:
        raise DatasetError(
            f"a subset of {size} images cannot hold all {dataset.num_classes} classes"
        )
    _, subset = stratified_split(dataset, size / len(dataset), seed)
    return subset


def prepare_training(
    name: str,
    validation_fraction: float,
    seed: int,
    normalization: str,
    subset: int | None = None,
) -> TrainingData:
    """Split the training images of ``name`` and fit the input normalisation."""
    dataset = take_subset(load(name), subset, seed)
    train_set, validation_set = stratified_split(dataset, validation_fraction, seed)
    fitted = Normalization.fit(normalization, train_set.images, train_set.max_value)
    return TrainingData(name, train_set, validation_set, fitted, subset)


def held_out(
    name: str, config: dict, subset: int | None, expected_shape
) -> tuple[Dataset, str]:
    """Return the part of the training images a model held out, and a label for it.

    The validation part, recomputed from the model's seed, validation share and
    subset size (the test split, where there is one, is ``--split test``).
    """
    try:
        fraction = float(config.get("validation_fraction", 0.0) or 0.0)
        seed = int(config.get("seed", 0))
        subset = None if subset is None else int(subset)
    except (TypeError, ValueError) as error:
        raise DatasetError(
            f"the model's training settings are damaged ({error}), so its held-out "
            "images cannot be recomputed; evaluate with --dataset or --images/--labels"
        ) from error
    if fraction <= 0.0:
        raise DatasetError(
            f"the model trained on all of {name!r}, so nothing is held out; "
            "choose --split train or other data with --dataset or --images/--labels"
        )
    dataset = take_subset(load(name, "train", expected_shape), subset, seed)
    _, validation = stratified_split(dataset, fraction, seed)
    return validation, f"held-out {fraction:.0%} of the training images"
