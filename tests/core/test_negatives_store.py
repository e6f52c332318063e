"""Made-up non-digits kept between runs: found by what made them, never read stale."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import core.negatives_store as store_module
import core.run
from core.datasets import load_bundled
from core.negatives_store import KEPT_FILES, NegativesStore
from core.run import (
    RunRequest,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.training import TrainingConfig
from tests.special_files import call_within, make_fifo

DIGITS = [np.arange(784, dtype=np.uint8).reshape(1, 28, 28)]


class Maker:
    """Makes ``count`` images from ``seed``, counting the calls."""

    def __init__(self, count: int, seed: int) -> None:
        self.count, self.seed, self.calls = count, seed, 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        rng = np.random.default_rng(self.seed)
        return rng.integers(0, 256, (self.count, 28, 28), dtype=np.uint8)


def _images(folder, count=5, seed=1, digits=DIGITS, store=None):
    """Ask a new store (a new process, as far as memory goes) for a set."""
    maker = Maker(count, seed)
    images = (store or NegativesStore()).images(count, seed, digits, maker, folder)
    return images, maker.calls


def test_a_set_made_once_is_read_from_the_folder_by_the_next_process(tmp_path):
    first, made = _images(tmp_path)
    again, made_again = _images(tmp_path)
    assert (made, made_again) == (1, 0)
    np.testing.assert_array_equal(first, again)
    assert not again.flags.writeable


def test_the_latest_set_stays_in_memory_without_a_folder():
    store = NegativesStore()
    assert _images(None, store=store)[1] == 1
    assert _images(None, store=store)[1] == 0
    assert _images(None, seed=2, store=store)[1] == 1


@pytest.mark.parametrize(
    "other", [{"count": 6}, {"seed": 2}, {"digits": [DIGITS[0][:, ::-1]]}]
)
def test_another_count_seed_or_digits_makes_a_new_set(tmp_path, other):
    _images(tmp_path)
    assert _images(tmp_path, **other)[1] == 1


def test_changed_code_makes_a_new_set(tmp_path, monkeypatch):
    _images(tmp_path)
    monkeypatch.setattr(store_module, "_code_fingerprint", lambda: b"changed")
    assert _images(tmp_path)[1] == 1


def test_without_the_source_to_key_by_nothing_is_kept_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_code_fingerprint", lambda: None)
    _images(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_file_is_made_again_and_replaced(tmp_path):
    first, _ = _images(tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(path.read_bytes()[:-1])
    again, made = _images(tmp_path)
    assert made == 1
    np.testing.assert_array_equal(first, again)
    assert path.stat().st_size == first.nbytes


def test_a_fifo_or_folder_in_the_files_place_is_left_alone(tmp_path):
    _images(tmp_path)
    (path,) = tmp_path.iterdir()
    path.unlink()
    make_fifo(path)
    _, made = call_within(_images, tmp_path, fifo=path)
    assert made == 1
    assert path.is_fifo()
    path.unlink()
    path.mkdir()
    assert _images(tmp_path)[1] == 1
    assert path.is_dir()


def test_an_unwritable_folder_costs_only_the_time(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    images, made = _images(blocked / "cache")
    assert made == 1 and images.shape == (5, 28, 28)
    assert blocked.read_text() == "not a folder"


def test_only_the_latest_used_sets_are_kept_and_nothing_else_removed(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    for seed in range(KEPT_FILES + 2):
        _images(tmp_path, seed=seed)
        # Later sets are newer, whatever the file system's clock resolution.
        for path in tmp_path.glob("made-negatives-*"):
            os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 10))
    assert len(list(tmp_path.glob("made-negatives-*"))) == KEPT_FILES
    assert other.read_text() == "mine"
    assert _images(tmp_path, seed=KEPT_FILES + 1)[1] == 0  # the latest
    assert _images(tmp_path, seed=0)[1] == 1  # the oldest, removed


def test_a_run_takes_the_set_a_run_in_another_process_made(tmp_path, monkeypatch):
    mnist = load_bundled("mnist-sample").subset(np.arange(600))
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, negatives=30, seed=3)
    request = RunRequest(mnist, config, negatives_folder=tmp_path)
    first = prepare_run(request)
    monkeypatch.setattr(core.run, "_NEGATIVES", NegativesStore())
    monkeypatch.setattr(core.run, "make_negatives", pytest.fail)
    again = prepare_run(request)
    np.testing.assert_array_equal(
        first.train_set.materialize().images, again.train_set.materialize().images
    )


def test_a_fine_tune_takes_the_set_its_model_was_trained_with(tmp_path, monkeypatch):
    """A model trained on this computer: its fine-tunes never make the set again."""
    mnist = load_bundled("mnist-sample")
    config = TrainingConfig(hidden_sizes=(8,), epochs=1, negatives=40, seed=4)
    prepared = prepare_run(RunRequest(mnist, config, negatives_folder=tmp_path))
    model = build_model(prepared, prepared.network, run_training(prepared))
    monkeypatch.setattr(core.run, "_NEGATIVES", NegativesStore())  # a new process
    monkeypatch.setattr(core.run, "make_negatives", pytest.fail)
    drawings = mnist.subset(np.arange(12))
    request = fine_tune_request(model, mnist, drawings)
    tuned = prepare_run(dataclasses.replace(request, negatives_folder=tmp_path))
    assert tuned.config.negatives == 40
