"""Dataset parts: a split that names rows instead of copying images, trained alike."""

import dataclasses

import numpy as np
import pytest
from memory_peak import traced_peak

from core import fast
from core.augment import AugmentConfig
from core.datasets import (
    Dataset,
    DatasetError,
    DatasetPart,
    Normalization,
    as_part,
    load_bundled,
    split_parts,
    stratified_split,
    take_rows,
)
from core.health import HEALTH_FIELDS
from core.metrics import evaluate, loss_and_accuracy
from core.run import RunRequest, build_model, prepare_run, run_training, split
from core.training import TrainingConfig, train


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_bundled("digits-8x8")


def _drawings(count: int, label: int = 3) -> Dataset:
    images = np.zeros((count, 8, 8), np.uint8)
    for index in range(count):
        images[index, index % 8, :] = 16
    return Dataset("drawings", images, np.full(count, label, np.uint8), max_value=16)


@pytest.mark.parametrize("fraction, seed", [(0.1, 0), (0.25, 3), (0.5, 11)])
def test_split_parts_name_the_images_stratified_split_copies(digits, fraction, seed):
    train_part, validation_part = split_parts(digits, fraction, seed)
    train_set, validation_set = stratified_split(digits, fraction, seed)
    for part, copy in ((train_part, train_set), (validation_part, validation_set)):
        assert part.source is digits
        assert part.materialize().images.tobytes() == copy.images.tobytes()
        assert part.labels.tobytes() == copy.labels.tobytes()


def test_a_part_of_a_part_splits_as_its_copy_would(digits):
    _, subset = split_parts(digits, 0.3, 5)
    train_part, validation_part = split_parts(subset, 0.2, 7)
    train_set, validation_set = stratified_split(subset.materialize(), 0.2, 7)
    assert train_part.source is digits
    assert np.array_equal(train_part.materialize().images, train_set.images)
    assert np.array_equal(validation_part.materialize().images, validation_set.images)


def test_no_validation_share_gives_the_whole_part(digits):
    part, validation = split_parts(digits, 0.0, 0)
    assert validation is None
    assert np.array_equal(part.rows, np.arange(len(digits)))
    assert as_part(part) is part


def test_part_looks_like_its_dataset(digits):
    part = as_part(digits).subset(np.array([5, 1, 1]))
    assert len(part) == 3
    assert part.image_shape == (8, 8) and part.input_size == 64
    assert part.num_classes == 10 and part.max_value == 16
    assert part.name == digits.name and part.class_names == digits.class_names
    assert np.array_equal(part.labels, digits.labels[[5, 1, 1]])
    assert np.array_equal(part.images_at(slice(None)), digits.images[[5, 1, 1]])
    assert part.class_counts().sum() == 3
    # The views read a dataset and a part the same way.
    for data, rows in ((part, [5, 1, 1]), (digits, slice(None))):
        assert np.array_equal(data.images_at(slice(None)), digits.images[rows])
        assert np.array_equal(data.images_at([2, 0]), digits.images[rows][[2, 0]])
        assert np.array_equal(data.image_at(1), digits.images[rows][1])
    mask = np.zeros(3, bool)
    mask[1] = True
    assert np.array_equal(part.subset(mask).rows, [1])


@pytest.mark.parametrize(
    "rows, extra, message",
    [
        (np.array([0, 1797]), None, "rows outside 0..1796"),
        (np.array([-1]), None, "rows outside"),
        (np.array([[0]]), None, "1-D integer"),
        (np.array([0.5]), None, "1-D integer"),
        (
            np.array([0]),
            Dataset("big", np.zeros((1, 9, 8), np.uint8), np.zeros(1, np.uint8)),
            "extra images are 9x8",
        ),
        (
            np.array([0]),
            Dataset("bright", np.zeros((1, 8, 8), np.uint8), np.zeros(1, np.uint8)),
            "go up to 255",
        ),
    ],
)
def test_bad_parts_are_rejected(digits, rows, extra, message):
    with pytest.raises(DatasetError, match=message):
        DatasetPart(digits, rows, extra)


def test_extra_rows_follow_the_source(digits):
    drawings = _drawings(2, label=7)
    count = len(digits)
    part = DatasetPart(digits, np.array([4, count + 1, 0, count, count + 1]), drawings)
    images = part.images_at(slice(None))
    expected = np.stack(
        [digits.images[4], drawings.images[1], digits.images[0], *drawings.images[::-1]]
    )
    expected[3:] = drawings.images[[0, 1]]
    assert np.array_equal(images, expected)
    assert part.labels.tolist() == [digits.labels[4], 7, digits.labels[0], 7, 7]
    flat, extra = part.flat_sources()
    assert np.shares_memory(flat, digits.images)
    out = np.empty((5, 64), np.uint8)
    assert take_rows(flat, part.rows, extra, out=out) is out
    assert np.array_equal(out, expected.reshape(5, 64))


@pytest.mark.parametrize("kind", ["scale", "standardize"])
def test_normalization_fits_a_part_as_its_copy(digits, kind):
    part = split_parts(digits, 0.2, 1)[0]
    fitted = Normalization.fit(kind, part, 16)
    copied = Normalization.fit(kind, part.materialize().images, 16)
    assert fitted.to_dict() == copied.to_dict()


@pytest.mark.parametrize("kind", ["scale", "standardize"])
def test_gathering_with_extra_rows_gives_the_normalised_copy(digits, engine_path, kind):
    drawings = _drawings(3)
    count = len(digits)
    rows = np.array([count + 2, 10, 11, count, 3, count + 2], np.intp)
    part = DatasetPart(digits, rows, drawings)
    normalization = Normalization.fit(kind, digits.images, 16)
    flat, extra = part.flat_sources()
    for batch in (rows, rows[1:2], rows[1:4]):
        out = np.empty((len(batch), 64), np.float32)
        scratch = np.empty((len(batch), 64), np.uint8)
        fast.gather_normalized(flat, batch, normalization, out, scratch, extra=extra)
        expected = normalization.apply(take_rows(flat, batch, extra))
        assert out.tobytes() == expected.tobytes()


def _same_training(first, second):
    assert [p.tobytes() for p in first.network.parameters()] == [
        p.tobytes() for p in second.network.parameters()
    ]
    # The health samples' spacing follows the clock too (core.health's time budget).
    clock = ("seconds", "samples_per_second", *HEALTH_FIELDS)
    rows = [
        [{k: v for k, v in row.items() if k not in clock} for row in result.history]
        for result in (first, second)
    ]
    assert rows[0] and rows[0] == rows[1]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"normalization": "standardize", "batch_size": 0, "epochs": 3},
        {"augment": AugmentConfig(rotation=10.0, shift=1.0), "batch_size": 50},
        {"dropout": 0.2, "optimizer": "momentum", "learning_rate": 0.05},
    ],
)
def test_a_run_on_parts_trains_bit_for_bit_as_on_copies(digits, engine_path, changes):
    config = TrainingConfig(
        hidden_sizes=(16,), epochs=2, batch_size=64, learning_rate=0.01, seed=3
    ).replace(**changes)
    request = RunRequest(digits, config, personal=_drawings(4), subset=900, limit=700)
    prepared = prepare_run(request)
    assert isinstance(prepared.train_set, DatasetPart)
    assert prepared.train_set.source is digits
    copied = dataclasses.replace(
        prepared,
        train_set=prepared.train_set.materialize(),
        validation_set=prepared.validation_set.materialize(),
        network=prepared.network.copy(),
    )
    on_parts = run_training(prepared, threads=1)
    on_copies = run_training(copied, threads=1)
    _same_training(on_parts, on_copies)


def test_the_split_rule_gives_parts_of_the_dataset(digits):
    train_part, validation_part = split(digits, 0.1, 2, subset=600)
    subset = stratified_split(digits, 600 / len(digits), 2)[1]
    train_set, validation_set = stratified_split(subset, 0.1, 2)
    assert train_part.source is digits and validation_part.source is digits
    assert np.array_equal(train_part.materialize().images, train_set.images)
    assert np.array_equal(validation_part.materialize().images, validation_set.images)


def test_evaluating_a_part_equals_evaluating_its_copy(digits, engine_path):
    network = TrainingConfig(hidden_sizes=(12,)).build_network(64, 10)
    part = split_parts(digits, 0.3, 4)[1]
    normalization = Normalization.fit("standardize", digits.images, 16)
    on_part = evaluate(network, part, 100, normalization)
    on_copy = evaluate(network, part.materialize(), 100, normalization)
    assert on_part.probabilities.tobytes() == on_copy.probabilities.tobytes()
    assert on_part.loss == on_copy.loss
    assert loss_and_accuracy(network, part, normalization, 64) == loss_and_accuracy(
        network, part.materialize(), normalization, 64
    )


def _peak_bytes(count: int) -> int:
    """Peak NumPy memory of a run on ``count`` 28x28 images, prepared to saved."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    images[:, :4] = 0
    images.setflags(write=False)  # as a memory-mapped store's are
    dataset = Dataset("many", images, rng.integers(0, 10, count).astype(np.uint8))
    drawings = np.zeros((3, 28, 28), np.uint8)
    drawings[:, 10:18, 12] = 255
    personal = Dataset("drawings", drawings, np.array([1, 1, 7], np.uint8))
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, batch_size=500, seed=1)

    def run() -> None:
        prepared = prepare_run(RunRequest(dataset, config, personal=personal))
        result = run_training(prepared, threads=1)
        build_model(prepared, result.network, result)  # the model file's contents

    return traced_peak(run)[1]


def test_a_run_copies_no_image():
    _peak_bytes(1000)  # the kernels and their imports, once
    # From 30,000 images on, the validation batches have their full size.
    smaller, larger = _peak_bytes(30_000), _peak_bytes(60_000)
    # What grows with the images (the split's index arrays, the parts' rows, the
    # epoch's order...) measured about 120 bytes an image; a copy of the training
    # part alone would be 0.9x the images (706 bytes an image).
    assert larger - smaller < 0.25 * 30_000 * 784


def _training_bytes(count: int) -> int:
    """Peak NumPy memory of one epoch on ``count`` 2x2 images (a part of them)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, 2, 2), dtype=np.uint8)
    dataset = Dataset("tiny", images, rng.integers(0, 10, count).astype(np.uint8))
    part = as_part(dataset)
    config = TrainingConfig(hidden_sizes=(4,), epochs=1, batch_size=1000, seed=1)
    network = config.build_network(4, 10)
    return traced_peak(lambda: train(network, part, None, config, threads=1))[1]


def test_training_keeps_a_few_bytes_an_image():
    _training_bytes(2000)
    smaller, larger = _training_bytes(100_000), _training_bytes(300_000)
    # The epoch's order (int32) and nothing else of the images' number: int64
    # labels, order and source rows were 32 bytes an image, 22 MiB at 700,000.
    assert (larger - smaller) / 200_000 <= 5


def test_reading_a_stored_set_through_lets_go_of_its_pages(tmp_path):
    """Deskewing a run, or taking its calibration digits, reads a stored set once:
    its pages leave the process as they are read, and what is read is the same."""
    from memory_peak import resident_bytes_of

    from core.run import calibration_copies

    sample = load_bundled("mnist-sample")
    images, labels = sample.images[:12_000], sample.labels[:12_000]
    path = tmp_path / "images.npy"
    np.save(path, images)
    stored = Dataset("stored", np.load(path, mmap_mode="r"), labels)
    in_memory = Dataset("stored", images.copy(), labels)
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, deskew=True, seed=1)

    mapped_run = prepare_run(RunRequest(stored, config))
    assert resident_bytes_of(path) < 0.05 * images.nbytes
    copy_run = prepare_run(RunRequest(in_memory, config))
    for part in ("train_set", "validation_set"):
        np.testing.assert_array_equal(
            getattr(mapped_run, part).materialize().images,
            getattr(copy_run, part).materialize().images,
        )

    whole = as_part(stored)
    whole.source.images.sum(dtype=np.int64)  # every page resident again
    copies = calibration_copies(whole, 255, seed=3)
    assert resident_bytes_of(path) < 0.05 * images.nbytes
    np.testing.assert_array_equal(copies, calibration_copies(images, 255, seed=3))


def test_a_deskewed_part_reads_its_images_upright(digits):
    from core.slant import deskew

    part = split_parts(digits, 0.2, 3)[1]
    upright = dataclasses.replace(part, deskewed=True)
    np.testing.assert_array_equal(upright.labels, part.labels)
    np.testing.assert_array_equal(
        upright.images_at(slice(None)), deskew(part.images_at(slice(None)))
    )
    np.testing.assert_array_equal(upright.image_at(4), deskew(part.image_at(4)))
    read = np.concatenate([images for _, images in upright.read_once()])
    np.testing.assert_array_equal(read, upright.images_at(slice(None)))
    assert upright.subset([1, 2]).deskewed
    with pytest.raises(DatasetError, match="deskewed"):
        upright.flat_sources()  # the stored images are not the part's


def test_evaluating_a_deskewed_part_of_a_stored_set_lets_go_of_its_pages(tmp_path):
    """A deskewing run's validation part is read every epoch: spread over the whole
    set, gathered by rows it would keep most of a stored set's pages resident."""
    from memory_peak import resident_bytes_of

    from core.slant import deskew

    sample = load_bundled("mnist-sample")
    images = np.concatenate([sample.images] * 4)  # 20,000 images, 15 MB
    labels = np.concatenate([sample.labels] * 4)
    path = tmp_path / "images.npy"
    np.save(path, images)
    stored = Dataset("stored", np.load(path, mmap_mode="r"), labels)
    _, validation = split_parts(stored, 0.1, 0)
    upright = dataclasses.replace(validation, deskewed=True)
    copy = Dataset("copy", deskew(images[validation.rows]), validation.labels)
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, seed=1)
    network = config.build_network(784, 10)
    norm = Normalization("scale", 255)

    expected = loss_and_accuracy(network, copy, norm, batch_size=100)
    assert loss_and_accuracy(network, upright, norm, batch_size=100) == expected
    assert resident_bytes_of(path) < 0.02 * images.nbytes
    raw = evaluate(network, validation, 100, norm, deskew=True)  # the views' way
    assert resident_bytes_of(path) < 0.02 * images.nbytes
    np.testing.assert_array_equal(
        raw.probabilities, evaluate(network, copy, 100, norm).probabilities
    )
