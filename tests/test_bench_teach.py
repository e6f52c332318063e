"""`bench.drawings_teach`: the same drawings alone or not; the drawings read right."""

import numpy as np
import pytest
from trained_model import trained_model

from bench import drawings_teach
from core.hand_reading import MAX_READ_RIGHT


def test_a_hand_taught_alone_draws_what_it_draws_among_others(monkeypatch):
    # Few hands, drawings and corrections: the bench's protocol, small.
    monkeypatch.setattr(drawings_teach, "CANDIDATES", 3)
    monkeypatch.setattr(drawings_teach, "TEST_REPEATS", 3)
    monkeypatch.setattr(drawings_teach, "CORRECTIONS", 4)
    model = trained_model("mnist-sample", hidden=(16,), epochs=2)

    among = drawings_teach.teach(model, hands=2, seed=7)
    second = among[1]
    alone = drawings_teach.teach(model, hands=1, seed=7, only=second.hand)

    assert [taught.hand for taught in alone] == [second.hand]
    # The same test drawings read the same, and the same drawings were corrected.
    assert (alone[0].before, alone[0].not_sure_before) == (
        second.before,
        second.not_sure_before,
    )
    assert (alone[0].corrections, alone[0].drawn) == (second.corrections, second.drawn)


def test_a_hand_that_does_not_exist_is_named_in_the_error():
    model = trained_model("mnist-sample", hidden=(16,), epochs=2)
    with pytest.raises(ValueError, match="no hand 'teach-48': the hands are teach-00"):
        drawings_teach.teach(model, hands=1, only="teach-48")


def test_the_drawings_read_right_go_with_the_corrections(monkeypatch):
    """As the Draw tab keeps those cleared uncorrected: the fine-tune weighs them."""
    monkeypatch.setattr(drawings_teach, "CANDIDATES", 3)
    monkeypatch.setattr(drawings_teach, "TEST_REPEATS", 3)
    monkeypatch.setattr(drawings_teach, "CORRECTIONS", 4)
    model = trained_model("mnist-sample", hidden=(16,), epochs=2)
    asked = []
    request = drawings_teach.fine_tune_request
    monkeypatch.setattr(
        drawings_teach,
        "fine_tune_request",
        lambda model, dataset, drawings: (
            asked.append(drawings) or request(model, dataset, drawings)
        ),
    )
    drawings_teach.teach(model, hands=1, seed=7)
    [drawings] = asked
    canvases = [canvas for canvas, _ in drawings.read_right]
    labels = np.array([digit for _, digit in drawings.read_right])
    assert 0 < len(labels) < MAX_READ_RIGHT  # all of them, then
    assert drawings.misread_share == len(drawings) / (len(drawings) + len(labels))
    # Each read right and sure by the model, and none of them a correction.
    read = drawings_teach._converted(canvases, labels, 1.0, 0.0)
    accuracy, not_sure, _ = drawings_teach._read(model, read)
    assert (accuracy, not_sure) == (1.0, 0.0)
    corrected = {id(canvas) for canvas in drawings.canvases}
    assert not corrected & {id(canvas) for canvas in canvases}


def test_a_hand_read_right_every_time_is_left_as_it_is(monkeypatch):
    # It was a crash (no corrections to stack) that ended the whole bench.
    monkeypatch.setattr(drawings_teach, "CANDIDATES", 2)
    monkeypatch.setattr(drawings_teach, "TEST_REPEATS", 2)
    monkeypatch.setattr(drawings_teach, "MAX_DRAWINGS", 30)
    read = drawings_teach._read

    def never_missed(model, drawn):
        accuracy, not_sure, missed = read(model, drawn)
        return accuracy, not_sure, np.zeros_like(missed)

    monkeypatch.setattr(drawings_teach, "_read", never_missed)
    model = trained_model("mnist-sample", hidden=(16,), epochs=2)
    [taught] = drawings_teach.teach(model, hands=1, seed=7)
    assert (taught.corrections, taught.drawn, taught.tune_seconds) == (0, 30, 0.0)
    assert (taught.after, taught.not_sure_after) == (
        taught.before,
        taught.not_sure_before,
    )
