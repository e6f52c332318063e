"""core.personal_set: drawings stored at once, atomically, listed, deleted, loaded."""

from __future__ import annotations

import numpy as np
import pytest

import core.personal_set as personal_set_module
from core.personal_set import PersonalSet, PersonalSetError, load_personal_dataset


def _image(rng: np.random.Generator, shape=(28, 28), max_value=255) -> np.ndarray:
    return rng.integers(0, max_value + 1, size=shape, dtype=np.uint8)


def test_add_writes_one_file_at_once_and_lists_it(tmp_path):
    rng = np.random.default_rng(0)
    image = _image(rng)
    drawing = PersonalSet(tmp_path).add(image, 7, "mnist")
    assert drawing.path.is_file()
    assert drawing.path.parent == tmp_path / "personal" / "mnist"
    listed = PersonalSet(tmp_path).list("mnist")
    assert [d.drawing_id for d in listed] == [drawing.drawing_id]
    np.testing.assert_array_equal(listed[0].image, image)
    assert listed[0].label == 7
    assert listed[0].max_value == 255
    assert not list(drawing.path.parent.glob(".tmp-*"))


def test_list_is_in_creation_order_and_targets_are_separate(tmp_path):
    rng = np.random.default_rng(1)
    store = PersonalSet(tmp_path)
    labels = [3, 1, 4, 1, 5]
    for label in labels:
        store.add(_image(rng), label, "mnist")
    store.add(_image(rng, (8, 8), 16), 9, "digits-8x8", max_value=16)
    assert [d.label for d in store.list("mnist")] == labels
    assert [d.label for d in store.list("digits-8x8")] == [9]
    assert store.count("mnist") == 5
    assert store.list("other") == []


def test_delete_removes_the_file_and_tolerates_a_missing_one(tmp_path):
    rng = np.random.default_rng(2)
    store = PersonalSet(tmp_path)
    first = store.add(_image(rng), 1, "mnist")
    second = store.add(_image(rng), 2, "mnist")
    store.delete("mnist", first.drawing_id)
    assert not first.path.exists()
    assert [d.drawing_id for d in store.list("mnist")] == [second.drawing_id]
    store.delete("mnist", first.drawing_id)


def test_a_crash_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    store = PersonalSet(tmp_path)
    kept = store.add(_image(rng), 4, "mnist")

    def failing_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(personal_set_module.np, "savez_compressed", failing_savez)
    with pytest.raises(PersonalSetError, match="disk full"):
        store.add(_image(rng), 5, "mnist")
    files = sorted(p.name for p in (tmp_path / "personal" / "mnist").iterdir())
    assert files == [kept.path.name]
    assert [d.label for d in store.list("mnist")] == [4]


def test_unreadable_files_are_skipped_and_reported(tmp_path):
    rng = np.random.default_rng(4)
    store = PersonalSet(tmp_path)
    good = store.add(_image(rng), 6, "mnist")
    broken = good.path.with_name("20260101T000000000000-deadbeef.npz")
    broken.write_bytes(b"not an npz")
    listed = store.list("mnist")
    assert [d.drawing_id for d in listed] == [good.drawing_id]
    assert [path for path, _ in store.skipped] == [broken]


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_a_damaged_drawing_file_is_skipped_not_fatal(tmp_path, damage):
    rng = np.random.default_rng(5)
    store = PersonalSet(tmp_path)
    good = store.add(_image(rng), 3, "mnist")
    bad = store.add(_image(rng), 4, "mnist")
    data = bad.path.read_bytes()
    if damage == "truncate":
        bad.path.write_bytes(data[: len(data) // 2])
    else:  # a flipped byte inside the stored image: the zip's CRC check fails
        middle = len(data) // 2
        bad.path.write_bytes(
            data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        )
    assert [d.drawing_id for d in store.list("mnist")] == [good.drawing_id]
    assert [path for path, _ in store.skipped] == [bad.path]
    dataset = load_personal_dataset(tmp_path, "mnist")
    assert dataset is not None and list(dataset.labels) == [3]


@pytest.mark.parametrize(
    ("image", "label", "target", "match"),
    [
        (np.zeros((28, 28), np.float32), 1, "mnist", "uint8"),
        (np.zeros((2, 28, 28), np.uint8), 1, "mnist", "2-D"),
        (np.zeros((28, 28), np.uint8), 300, "mnist", "0..255"),
        (np.zeros((28, 28), np.uint8), "7", "mnist", "integer"),
        (np.zeros((28, 28), np.uint8), 1, "../escape", "target"),
        (np.full((8, 8), 200, np.uint8), 1, "digits-8x8", "max_value"),
    ],
)
def test_bad_drawings_are_refused_with_a_reason(tmp_path, image, label, target, match):
    max_value = 16 if target == "digits-8x8" else 255
    with pytest.raises(PersonalSetError, match=match):
        PersonalSet(tmp_path).add(image, label, target, max_value=max_value)


def test_load_personal_dataset_builds_a_training_set(tmp_path):
    rng = np.random.default_rng(5)
    store = PersonalSet(tmp_path)
    images = [_image(rng) for _ in range(3)]
    for image, label in zip(images, [0, 8, 8], strict=True):
        store.add(image, label, "mnist")
    dataset = load_personal_dataset(tmp_path, "mnist")
    assert dataset is not None
    assert dataset.images.shape == (3, 28, 28)
    assert dataset.images.dtype == np.uint8
    np.testing.assert_array_equal(dataset.images, np.stack(images))
    np.testing.assert_array_equal(dataset.labels, [0, 8, 8])
    assert dataset.max_value == 255
    assert len(dataset.class_names) == 10


def test_load_personal_dataset_is_none_without_drawings(tmp_path):
    assert load_personal_dataset(tmp_path, "mnist") is None


def test_drawings_marked_not_a_digit_get_their_own_class(tmp_path):
    from core.judgement import NOT_A_DIGIT
    from core.personal_set import NEGATIVE_LABEL

    store = PersonalSet(tmp_path)
    image = np.full((28, 28), 7, np.uint8)
    store.add(image, 4, "mnist")
    negative = store.add(image + 1, NEGATIVE_LABEL, "mnist")
    assert negative.is_negative and negative.label == NEGATIVE_LABEL
    assert not store.list("mnist")[0].is_negative
    dataset = load_personal_dataset(tmp_path, "mnist")
    assert dataset.class_names == (*(str(d) for d in range(10)), NOT_A_DIGIT)
    assert dataset.labels.tolist() == [4, 10]
    # Without negatives there is no such class.
    other = tmp_path / "other"
    PersonalSet(other).add(image, 4, "mnist")
    assert load_personal_dataset(other, "mnist").num_classes == 10


def test_a_drawing_keeps_the_canvas_it_was_drawn_on(tmp_path):
    rng = np.random.default_rng(5)
    store = PersonalSet(tmp_path)
    canvas = np.zeros((280, 280), np.uint8)
    canvas[60:220, 120:150] = 255
    store.add(_image(rng), 1, "mnist", canvas=canvas)
    store.add(_image(rng), 2, "mnist")  # a picture, or a drawing from before
    assert store.list("mnist")[0].canvas is None  # not read unless asked
    listed = store.list("mnist", canvases=True)
    np.testing.assert_array_equal(listed[0].canvas, canvas)
    assert listed[1].canvas is None
    assert listed[0].path.stat().st_size < 10_000  # compressed: mostly black
    drawings = load_personal_dataset(tmp_path, "mnist")
    np.testing.assert_array_equal(drawings.canvases[0], canvas)
    assert drawings.canvases[1] is None
    assert drawings.subset([0]).__class__.__name__ == "Dataset"
    for wrong in (canvas.astype(np.float32), np.zeros((3000, 10), np.uint8)):
        with pytest.raises(PersonalSetError, match="canvas"):
            store.add(_image(rng), 3, "mnist", canvas=wrong)


def test_a_file_claiming_a_huge_canvas_is_refused_before_it_is_unpacked(tmp_path):
    # A zip bomb: a few KB on disk, 25 MB once unpacked.
    rng = np.random.default_rng(6)
    store = PersonalSet(tmp_path)
    drawing = store.add(_image(rng), 4, "mnist")
    with np.load(drawing.path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["canvas"] = np.zeros((5_000, 5_000), np.uint8)
    with open(drawing.path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    assert drawing.path.stat().st_size < 100_000
    assert store.list("mnist") == []
    assert "too large" in store.skipped[0][1]
