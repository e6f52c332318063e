import numpy as np
import pytest

from core.judgement import (
    DRAWING_EXTRA_REJECTION,
    NOT_A_DIGIT,
    WIDE_PEN_REASON,
    Judge,
    JudgementError,
    Verdict,
)

DIGITS = tuple(str(d) for d in range(10))
WITH_OTHER = DIGITS + (NOT_A_DIGIT,)


def _confident(rng, count, classes=10, other=0.01):
    """Probabilities of held-out digits: mostly sure, a few close calls."""
    p = rng.dirichlet(np.full(classes, 0.05), count)
    if other:
        p = np.concatenate([p * (1 - other), np.full((count, 1), other)], axis=1)
    return p


def test_calibration_turns_away_the_asked_share_of_real_digits():
    rng = np.random.default_rng(0)
    held_out = _confident(rng, 2000, other=0.0)
    judge = Judge.calibrate(held_out, DIGITS, false_rejection=0.05)
    assert judge.not_a_digit_class is None
    fresh = _confident(np.random.default_rng(1), 4000, other=0.0)
    rejected = np.mean(judge.verdicts(fresh) == "not_sure")
    assert rejected == pytest.approx(0.05, abs=0.02)


def test_not_a_digit_output_turns_drawings_away():
    rng = np.random.default_rng(0)
    held_out = _confident(rng, 1000)
    held_out[:, 10] = rng.uniform(0.0, 0.02, 1000)
    judge = Judge.calibrate(held_out, WITH_OTHER, false_rejection=0.02)
    assert judge.not_a_digit_class == 10 and judge.digit_classes == 10
    letter = np.full(11, 0.02)
    letter[10], letter[4] = 0.5, 0.3
    verdict = judge.judge(letter)
    assert verdict == Verdict("not_sure", 4, pytest.approx(0.3), verdict.reason, 0.5)
    assert "not look like a digit" in verdict.reason
    assert judge.verdicts(letter[None])[0] == "not_sure"


def test_the_margin_is_the_best_digits_lead_over_not_a_digit():
    judge = Judge(not_a_digit_class=10, min_margin=-0.2)
    p = np.zeros(11)
    p[3], p[10] = 0.45, 0.55  # leads by -0.1: still answered
    assert judge.judge(p).verdict == "digit"
    p[3], p[10] = 0.35, 0.65  # -0.3
    assert judge.judge(p).verdict == "not_sure"
    # A negative margin needs a "not a digit" output to calibrate to.
    held_out = np.zeros((100, 11))
    held_out[:, 0], held_out[:, 10] = 0.3, 0.7
    assert Judge.calibrate(held_out, WITH_OTHER).min_margin == pytest.approx(-0.4)
    assert Judge.calibrate(held_out[:, :10], DIGITS).min_margin == pytest.approx(0.3)
    # Down to -0.95: digits the model holds nearly sure to be no digit at all.
    held_out[:, 0], held_out[:, 10] = 0.04, 0.96
    assert Judge.calibrate(held_out, WITH_OTHER).min_margin == pytest.approx(-0.92)
    held_out[:, 0], held_out[:, 10] = 0.0, 1.0
    assert Judge.calibrate(held_out, WITH_OTHER).min_margin == pytest.approx(-0.95)


def test_a_clear_digit_is_stated_and_a_close_call_is_not():
    judge = Judge(min_margin=0.6)
    clear = np.full(10, 0.01)
    clear[7] = 0.91
    assert judge.judge(clear) == Verdict("digit", 7, pytest.approx(0.91), "", 0.0)
    close = np.full(10, 0.02)
    close[3], close[8] = 0.45, 0.39
    verdict = judge.judge(close)
    assert verdict.verdict == "not_sure" and verdict.digit == 3
    assert verdict.reason == "Too close to call between 3 and 8."


def test_nothing_drawn_has_no_digit():
    verdict = Judge().judge(None)
    assert verdict == Verdict("nothing_drawn", None, 0.0, "Nothing is drawn yet.")


def test_a_tiny_drawing_is_not_answered():
    judge = Judge(min_margin=0.5, min_size=0.07)
    p = np.full(10, 0.01)
    p[1] = 0.91
    assert judge.judge(p, size=0.03).reason.startswith("Too small")
    assert judge.judge(p, size=0.5).verdict == "digit"
    sizes = np.array([0.03, 0.5, np.nan])
    np.testing.assert_array_equal(
        judge.verdicts(np.tile(p, (3, 1)), sizes=sizes), ["not_sure", "digit", "digit"]
    )


def test_a_drawing_not_answered_with_a_wide_pen_says_the_pen_is_why():
    judge = Judge(min_margin=0.6, min_size=0.07)
    close = np.full(10, 0.02)
    close[3], close[8] = 0.45, 0.39
    clear = np.full(10, 0.01)
    clear[7] = 0.91
    assert judge.judge(close, size=0.3, wide_pen=True).reason == WIDE_PEN_REASON
    assert judge.judge(close, size=0.3).reason.startswith("Too close to call")
    # The verdicts stay what they were: a clear digit is still stated, and a
    # stray mark is still too small whatever its pen.
    assert judge.judge(clear, size=0.3, wide_pen=True).verdict == "digit"
    assert judge.judge(close, size=0.03, wide_pen=True).reason.startswith("Too small")


def test_novelty_above_one_turns_away():
    def novelty(images):
        return images.reshape(len(images), -1).mean(axis=1) / 10.0

    judge = Judge(min_margin=0.5, novelty=novelty)
    p = np.full(10, 0.01)
    p[2] = 0.91
    plain = np.zeros((28, 28), np.uint8)
    hatched = np.full((28, 28), 200, np.uint8)
    assert judge.judge(p, plain).verdict == "digit"
    assert judge.judge(p, hatched).verdict == "not_sure"
    assert list(judge.verdicts(np.stack([p, p]), np.stack([plain, hatched]))) == [
        "digit",
        "not_sure",
    ]


def test_single_and_batch_verdicts_agree():
    rng = np.random.default_rng(4)
    probabilities = _confident(rng, 300)
    judge = Judge.calibrate(probabilities[:100], WITH_OTHER, 0.1)
    sizes = rng.uniform(0.0, 0.5, 300)
    batch = judge.verdicts(probabilities, sizes=sizes)
    single = [
        judge.judge(p, size=s).verdict
        for p, s in zip(probabilities, sizes, strict=True)
    ]
    assert list(batch) == single


def test_thresholds_round_trip_through_a_plain_dict():
    judge = Judge.calibrate(_confident(np.random.default_rng(2), 500), WITH_OTHER)
    data = judge.to_dict()
    assert set(data) == {
        "digit_classes",
        "not_a_digit_class",
        "min_margin",
        "min_size",
        "false_rejection",
        "drawing_margin",
        "drawing_false_rejection",
    }
    assert Judge.from_dict(data) == judge
    with pytest.raises(JudgementError, match="bad judgement"):
        Judge.from_dict({"digit_classes": 10})
    with pytest.raises(JudgementError, match="out of range"):
        Judge.from_dict({**data, "min_margin": 3.0})
    with pytest.raises(JudgementError, match="out of range"):
        Judge.from_dict({**data, "drawing_margin": -3.0})
    with pytest.raises(JudgementError, match="out of range"):
        Judge.from_dict({**data, "drawing_false_rejection": 0.0})
    with pytest.raises(JudgementError, match="finite number"):
        Judge.from_dict({**data, "drawing_margin": "high"})


def test_drawings_clear_a_stricter_margin_set_for_more_of_the_digits():
    rng = np.random.default_rng(3)
    held_out = _confident(rng, 4000)
    judge = Judge.calibrate(held_out, WITH_OTHER, false_rejection=0.02)
    assert judge.drawing_false_rejection == pytest.approx(
        0.02 + DRAWING_EXTRA_REJECTION
    )
    assert judge.drawing_margin > judge.min_margin
    fresh = _confident(np.random.default_rng(4), 8000)
    as_images = np.mean(judge.verdicts(fresh) == "not_sure")
    as_drawings = np.mean(judge.verdicts(fresh, drawings=True) == "not_sure")
    assert as_images == pytest.approx(0.02, abs=0.006)
    assert as_drawings == pytest.approx(0.02 + DRAWING_EXTRA_REJECTION, abs=0.006)
    between = np.zeros(11)
    between[10] = 0.2
    between[5] = 0.2 + 0.5 * (judge.min_margin + judge.drawing_margin)
    lead = between[5] - between[10]
    assert judge.min_margin < lead < judge.drawing_margin
    assert judge.judge(between).verdict == "digit"
    assert judge.judge(between, drawing=True).verdict == "not_sure"
    mixed = judge.verdicts(np.stack([between, between]), drawings=[False, True])
    assert list(mixed) == ["digit", "not_sure"]


def test_the_summary_says_both_margins_and_what_they_were_set_for():
    judge = Judge(10, 10, -0.892, 0.07, 0.017, -0.772, 0.03)
    assert judge.summary() == (
        'when the best digit leads "not a digit" by less than -0.892 (a drawing: '
        "-0.772) or a drawing spans under 7% of the canvas; set for 1.7% (3%) of "
        "the calibration digits"
    )
    assert "under 0.600 " in Judge(10, None, 0.6).summary()
    assert "a drawing:" not in Judge(10, 10, -0.5).summary()


def test_thresholds_stored_before_drawings_had_their_own_apply_to_all():
    data = Judge(not_a_digit_class=10, min_margin=-0.5).to_dict()
    del data["drawing_margin"], data["drawing_false_rejection"]
    judge = Judge.from_dict(data)
    p = np.zeros(11)
    p[3], p[10] = 0.3, 0.6  # leads by -0.3
    assert judge.judge(p, drawing=True).verdict == "digit"


def test_for_model_calibrates_on_reference_images():
    class Model:
        class_names = DIGITS

        def predict_proba(self, images):
            p = np.full((len(images), 10), 0.01)
            p[:, 0] = 0.91
            return p

    judge = Judge.for_model(Model(), np.zeros((50, 28, 28), np.uint8))
    assert judge.min_margin == pytest.approx(0.8)  # the range's ceiling


@pytest.mark.parametrize(
    ("probabilities", "names", "rate", "message"),
    [
        (np.zeros((5, 10)), DIGITS, 0.02, "at least 20"),
        (np.zeros((30, 9)), DIGITS, 0.02, "must be"),
        (np.zeros((30, 10)), DIGITS, 0.7, "false_rejection"),
    ],
)
def test_bad_calibration_data_is_refused(probabilities, names, rate, message):
    with pytest.raises(JudgementError, match=message):
        Judge.calibrate(probabilities, names, rate)
