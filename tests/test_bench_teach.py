"""`bench.drawings_teach`: a hand is measured on the same drawings, alone or not."""

import pytest
from trained_model import trained_model

from bench import drawings_teach


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
