"""Dataset choices for the CLI: which images to train on, hold out, or evaluate.

The split itself is `core.run.split`, shared with the app, so that `train` and
`evaluate` agree: a model's held-out part is recomputed from what its file records.
"""

from __future__ import annotations

from core import dataset_store
from core.datasets import Dataset, DatasetError
from core.model_io import SavedModel
from core.run import RunError, held_out_split, split
from core.user_dirs import data_dir


def load(name: str, split: str = "train", expected_shape=None) -> Dataset:
    """Load a bundled, downloaded or imported dataset by name."""
    return dataset_store.load_dataset(
        name, data_dir(), split=split, expected_shape=expected_shape
    )


def has_test_split(name: str) -> bool:
    """Tell whether the dataset has a separate test set (downloaded MNIST, imports)."""
    return dataset_store.get_info(name, data_dir()).test_count is not None


def held_out(model: SavedModel) -> tuple[Dataset, str]:
    """Return the images ``model`` did not train on, and a label for them.

    The validation part of the training images, recomputed as `core.run.split` drew
    it (seed, share, subset); the test split, where there is one, is ``--split test``.
    """
    try:
        spec = held_out_split(model)
    except RunError as error:
        raise DatasetError(
            f"{error}; choose --split train or other data with --dataset or "
            "--images/--labels"
        ) from error
    dataset = load(spec.dataset_name, "train", model.image_shape)
    _, validation = split(dataset, spec.validation_fraction, spec.seed, spec.subset)
    return validation, f"held-out {spec.validation_fraction:.0%} of the training images"
