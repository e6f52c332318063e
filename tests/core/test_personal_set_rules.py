"""core.personal_set: which files count as drawings, and which drawings make the set.

Complements test_personal_set.py with the rules a wrong implementation could break
without any crash: stray and foreign files, newer formats, inconsistent values, mixed
shapes and pixel ranges, labels above 9, ids that are not ids.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.personal_set import PersonalSet, PersonalSetError, load_personal_dataset


def _image(seed, shape=(28, 28), max_value=255):
    rng = np.random.default_rng(seed)
    return rng.integers(0, max_value + 1, size=shape, dtype=np.uint8)


def _rewrite(path, **changes):
    """Store a drawing file again with some of its fields changed."""
    with np.load(path, allow_pickle=False) as data:
        fields = {name: data[name] for name in data.files}
    fields.update({name: np.asarray(value) for name, value in changes.items()})
    with open(path, "wb") as handle:
        np.savez(handle, **fields)


def test_stray_files_are_neither_counted_listed_nor_reported(tmp_path):
    store = PersonalSet(tmp_path)
    kept = store.add(_image(0), 2, "mnist")
    (kept.path.parent / "notes.npz").write_bytes(b"someone else's file")
    (kept.path.parent / "readme.txt").write_text("hello")
    assert store.count("mnist") == 1
    assert [d.drawing_id for d in store.list("mnist")] == [kept.drawing_id]
    assert store.skipped == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"format": "some-other-format"}, "not a personal drawing file"),
        ({"format_version": np.int32(2)}, "newer than this app"),
        ({"image": np.full((28, 28), 20, np.uint8), "max_value": np.uint8(16)},
         "do not fit together"),
    ],
)  # fmt: skip
def test_foreign_newer_or_inconsistent_files_are_skipped_with_a_reason(
    tmp_path, changes, reason
):
    store = PersonalSet(tmp_path)
    good = store.add(_image(1), 3, "mnist")
    bad = store.add(_image(2), 4, "mnist")
    _rewrite(bad.path, **changes)
    assert [d.drawing_id for d in store.list("mnist")] == [good.drawing_id]
    assert len(store.skipped) == 1
    path, why = store.skipped[0]
    assert path == bad.path and reason in why
    assert list(load_personal_dataset(tmp_path, "mnist").labels) == [3]


def test_each_listing_reports_only_its_own_skipped_files(tmp_path):
    store = PersonalSet(tmp_path)
    good = store.add(_image(3), 5, "mnist")
    broken = good.path.with_name("20260101T000000000000-deadbeef.npz")
    broken.write_bytes(b"not an npz")
    store.list("mnist")
    assert [path for path, _ in store.skipped] == [broken]
    broken.unlink()
    store.list("mnist")
    assert store.skipped == []
    broken.write_bytes(b"not an npz")
    store.list("digits-8x8")
    assert store.skipped == []


def test_the_set_takes_the_shape_and_range_of_the_newest_drawing(tmp_path):
    # The conversion changed twice; only drawings like the newest one train together.
    store = PersonalSet(tmp_path)
    store.add(_image(4), 1, "mnist")
    store.add(_image(5), 2, "mnist")
    small = store.add(_image(6, (8, 8), 16), 3, "mnist", max_value=16)
    store.add(_image(7, (8, 8), 255), 4, "mnist", max_value=255)
    newest = store.add(_image(8, (8, 8), 16), 5, "mnist", max_value=16)
    dataset = load_personal_dataset(tmp_path, "mnist")
    assert dataset.image_shape == (8, 8) and dataset.max_value == 16
    assert list(dataset.labels) == [3, 5]
    np.testing.assert_array_equal(dataset.images, np.stack([small.image, newest.image]))


def test_labels_above_nine_get_classes_of_their_own(tmp_path):
    store = PersonalSet(tmp_path)
    store.add(_image(9), 12, "letters")
    store.add(_image(10), 0, "letters")
    dataset = load_personal_dataset(tmp_path, "letters")
    assert list(dataset.labels) == [12, 0]
    assert dataset.class_names == tuple(str(i) for i in range(13))


@pytest.mark.parametrize("drawing_id", ["../../escape", "notes", ""])
def test_delete_refuses_what_is_not_a_drawing_id(tmp_path, drawing_id):
    store = PersonalSet(tmp_path)
    store.add(_image(11), 1, "mnist")
    with pytest.raises(PersonalSetError, match="not a drawing id"):
        store.delete("mnist", drawing_id)
    assert store.count("mnist") == 1


@pytest.mark.parametrize("target", ["mnist\n", "mnist\r\n", "\nmnist"])
def test_targets_with_line_breaks_are_refused(tmp_path, target):
    store = PersonalSet(tmp_path)
    with pytest.raises(PersonalSetError, match="target name"):
        store.add(_image(12), 1, target)
    with pytest.raises(PersonalSetError, match="target name"):
        store.list(target)
    assert not (tmp_path / "personal").exists()


def test_an_id_with_a_line_break_is_not_a_drawing_id(tmp_path):
    store = PersonalSet(tmp_path)
    kept = store.add(_image(13), 1, "mnist")
    with pytest.raises(PersonalSetError, match="not a drawing id"):
        store.delete("mnist", kept.drawing_id + "\n")
    assert store.count("mnist") == 1


@pytest.mark.parametrize(
    "label",
    [np.float64(3.7), np.array([3, 4]), np.int64(300), np.int16(-1)],
    ids=["float", "two", "300", "negative"],
)
def test_a_stored_label_that_is_not_one_class_index_is_skipped(tmp_path, label):
    # uint8 labels hold 0..255; a float label was once truncated to a class.
    store = PersonalSet(tmp_path)
    good = store.add(_image(14), 3, "mnist")
    bad = store.add(_image(15), 4, "mnist")
    _rewrite(bad.path, label=label)
    assert [d.drawing_id for d in store.list("mnist")] == [good.drawing_id]
    assert [path for path, _ in store.skipped] == [bad.path]
    assert list(load_personal_dataset(tmp_path, "mnist").labels) == [3]
