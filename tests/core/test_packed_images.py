"""Packed images (core.packed_images): the same bits in a third of the memory."""

import numpy as np
import pytest

import core.run as run_module
from core import kernels
from core.datasets import Dataset, DatasetPart, as_part, load_bundled, take_rows
from core.packed_images import PackedImages
from core.presets import PRESETS
from core.run import RunRequest, prepare_run, run_training
from core.slant import deskew


@pytest.fixture(scope="module")
def images():
    """Deskewed bundled digits, with a blank image and a fully inked one."""
    digits = deskew(load_bundled("mnist-sample").images[:600])
    digits[7] = 0
    digits[8] = np.arange(1, 785).reshape(28, 28) % 255 + 1
    return digits


def test_rows_come_back_as_they_were(images, engine_path):
    packed = PackedImages.pack(images)
    if engine_path == "compiled":  # the kernel warm-up loaded, no new compile
        loaded = list(kernels._kernels["unpack_rows"].signatures)
    rows = np.random.default_rng(0).integers(0, len(images), 300)
    rows[:3] = [7, 8, len(images) - 1]
    out = np.full((300, 28, 28), 99, np.uint8)
    assert packed.take(rows, out=out) is out
    np.testing.assert_array_equal(out, images[rows])
    flat = packed.reshape(len(images), -1)
    assert flat.shape == (len(images), 784)
    np.testing.assert_array_equal(flat.take(rows), images.reshape(-1, 784)[rows])
    if engine_path == "compiled":
        assert list(kernels._kernels["unpack_rows"].signatures) == loaded


def test_indexing_reads_like_an_array(images):
    packed = PackedImages.pack(images)
    np.testing.assert_array_equal(packed[10:20:3], images[10:20:3])
    np.testing.assert_array_equal(packed[-1], images[-1])
    np.testing.assert_array_equal(packed[[-2, 5]], images[[-2, 5]])
    chosen = np.zeros(len(images), bool)
    chosen[[1, 4]] = True
    np.testing.assert_array_equal(packed[chosen], images[chosen])
    assert packed.take(np.zeros(0, np.intp)).shape == (0, 28, 28)
    assert packed.max() == images.max()
    with pytest.raises(IndexError):
        packed.take(np.array([len(images)]))
    with pytest.raises(TypeError):
        np.asarray(packed)  # never unpacked whole by accident


def test_joined_blocks_are_the_whole_packed(images):
    whole = PackedImages.pack(images)
    joined = PackedImages.join(
        PackedImages.pack(images[i : i + 64]) for i in range(0, 600, 64)
    )
    rows = np.arange(len(images))
    np.testing.assert_array_equal(joined.take(rows), whole.take(rows))
    assert joined.nbytes == whole.nbytes


def test_digits_take_about_a_third_of_their_bytes(images):
    assert PackedImages.pack(images).nbytes < 0.4 * images.nbytes


def test_a_packed_source_reads_as_a_dataset(images):
    labels = np.zeros(len(images), np.uint8)
    dataset = Dataset("packed", PackedImages.pack(images), labels)
    part = DatasetPart(
        dataset, np.array([5, 3, 9]), extra=Dataset("e", images[:2], labels[:2])
    )
    np.testing.assert_array_equal(part.images_at(slice(None)), images[[5, 3, 9]])
    source, extra = part.flat_sources()
    rows = np.array([600, 4, 601])  # the extra images after the source's
    expected = np.concatenate([images[:1], images[4:5], images[1:2]]).reshape(3, -1)
    np.testing.assert_array_equal(take_rows(source, rows, extra), expected)
    np.testing.assert_array_equal(as_part(dataset).images_at(slice(2, 4)), images[2:4])


@pytest.mark.parametrize(
    ("deskew", "augmented"), [(True, True), (True, False), (False, False)]
)
def test_a_big_run_trains_the_same_network_on_its_packed_copy(
    monkeypatch, deskew, augmented
):
    config = PRESETS["recommended"].config.replace(epochs=1, deskew=deskew)
    if not augmented:
        config = config.replace(augment=type(config.augment)())
    dataset = load_bundled("mnist-sample")
    networks, histories = [], []
    for packed in (False, True):  # the parts count as big, or not
        monkeypatch.setattr(run_module, "PACK_COPIES_FROM", 0 if packed else 2**40)
        prepared = prepare_run(RunRequest(dataset=dataset, config=config, subset=1500))
        for part in (prepared.train_set, prepared.validation_set):
            assert isinstance(part.source.images, PackedImages) == packed
        result = run_training(prepared)
        networks.append(result.network)
        histories.append([row["validation_loss"] for row in result.history])
    for plain, packed in zip(*(n.parameters() for n in networks), strict=True):
        np.testing.assert_array_equal(plain, packed)
    assert histories[0] == histories[1]


def test_images_whose_pixels_fill_no_whole_byte(engine_path):
    images = np.random.default_rng(1).integers(0, 3, (50, 5, 5), dtype=np.uint8)
    packed = PackedImages.pack(images).reshape(50, -1)
    rows = np.arange(50)[::-1]
    np.testing.assert_array_equal(packed.take(rows), images.reshape(50, -1)[rows])
