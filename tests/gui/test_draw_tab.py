"""gui.draw_tab: live prediction from drawn strokes, honest answers, corrections."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox
from template_model import template_model
from trained_model import holdout

from core.calibration import digit_subspaces
from core.datasets import Normalization
from core.hand_reading import MAX_READ_RIGHT
from core.judgement import NOT_A_DIGIT, WIDE_PEN_REASON, Judge, Verdict
from core.model_io import SavedModel
from core.network import MLP
from core.personal_set import NEGATIVE_LABEL
from core.preprocess import canvas_to_image, convert_drawing
from gui.draw_tab import DrawTab
from gui.drawing_canvas import MAX_PEN_WIDTH
from gui.live_network import ChosenImage


@pytest.fixture(scope="module")
def mnist_model():
    return template_model("mnist-sample")


@pytest.fixture(scope="module", autouse=True)
def reference_digits():
    """Fit the digit subspaces before the tests: the one-off fit takes 0.1-0.3 s, and
    seconds on a loaded machine, which the tests' waits are not about."""
    for target in ("mnist", "digits-8x8"):
        digit_subspaces(target)


@pytest.fixture
def tab(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path))
    widget = DrawTab()
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _at(canvas, fx, fy):
    rect = canvas.target_rect()
    return QPoint(
        int(rect.left() + fx * rect.width()), int(rect.top() + fy * rect.height())
    )


def _drag(qtbot, canvas, fractions, steps=6):
    points = [_at(canvas, *f) for f in fractions]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for start, end in zip(points[:-1], points[1:], strict=True):
        for t in np.linspace(0, 1, steps + 1)[1:]:
            qtbot.mouseMove(canvas, start + (end - start) * float(t))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


def _draw_seven(qtbot, canvas):
    _drag(qtbot, canvas, [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)])


def _draw_scribble(qtbot, canvas, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(3):
        _drag(qtbot, canvas, [tuple(p) for p in rng.uniform(0.1, 0.9, (8, 2))], 2)


def _wait_prediction(qtbot, tab):
    def settled():
        return (
            not tab.prediction_pending()
            and not tab.judge_pending()
            and tab.current_probabilities() is not None
        )

    # The "not sure" check calibrates in the background: slow on a busy machine.
    qtbot.waitUntil(settled, timeout=15000)


def test_drawing_shows_the_prediction_of_core_conversion_and_model(
    qtbot, tab, mnist_model
):
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    expected_image = canvas_to_image(tab.canvas.to_array(), "mnist", ink_is_bright=True)
    expected = mnist_model.predict_proba(expected_image)
    np.testing.assert_array_equal(tab.current_image(), expected_image)
    np.testing.assert_array_equal(tab.preview.image(), expected_image)
    np.testing.assert_allclose(tab.current_probabilities(), expected, rtol=1e-6)
    np.testing.assert_allclose(tab.prediction.bars.probabilities(), expected)
    top = int(np.argmax(expected))
    assert top == 7
    verdict = tab.current_verdict()
    assert verdict.digit == top
    if verdict.verdict == "digit":
        assert tab.prediction.verdict_text() == "It's a 7"
    else:
        assert tab.prediction.verdict_text() == "Not sure"
    assert tab.wrong_button.isEnabled()


def test_blank_canvas_predicts_nothing(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    assert tab.current_probabilities() is None
    assert tab.prediction.bars.probabilities() is None
    assert tab.prediction.verdict_text() == "Draw a digit"
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: tab.current_probabilities() is None, timeout=2000)
    assert tab.preview.image() is None
    assert not tab.wrong_button.isEnabled()


def test_without_a_model_nothing_is_predicted(qtbot, tab):
    _draw_seven(qtbot, tab.canvas)
    qtbot.wait(80)
    assert tab.current_probabilities() is None
    assert tab.prediction.verdict_text() == "No model yet"
    assert not tab.wrong_button.isEnabled()


def test_predictions_are_throttled_while_drawing(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    calls = []
    original = mnist_model.predict_proba

    class Counting:
        def __getattr__(self, name):
            return getattr(mnist_model, name)

        def predict_proba(self, images):
            calls.append(1)
            return original(images)

    tab._model = Counting()
    _drag(qtbot, tab.canvas, [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)], 20)
    _wait_prediction(qtbot, tab)
    assert 1 <= len(calls) <= 3


def test_undo_and_clear_shortcuts_act_on_strokes(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    _drag(qtbot, tab.canvas, [(0.5, 0.2), (0.5, 0.8)])
    one_stroke = tab.canvas.to_array()
    _drag(qtbot, tab.canvas, [(0.3, 0.3), (0.7, 0.3)])
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tab.canvas.stroke_count() == 1
    np.testing.assert_array_equal(tab.canvas.to_array(), one_stroke)
    tab.undo_button.click()
    assert tab.canvas.is_blank()
    _drag(qtbot, tab.canvas, [(0.5, 0.2), (0.5, 0.8)])
    tab.clear_button.click()
    assert tab.canvas.is_blank()


def test_a_scribble_is_answered_with_not_sure(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    _draw_scribble(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.current_verdict().verdict == "not_sure"
    assert tab.prediction.verdict_text() == "Not sure"


def test_thats_wrong_keeps_the_drawing_and_delete_removes_it(
    qtbot, tab, mnist_model, tmp_path, dialogs
):
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    actions = tab.wrong_menu.actions()
    assert [a.text() for a in actions[:10]] == [
        f"It's {'an' if d == 8 else 'a'} {d}" for d in range(10)
    ]
    with qtbot.waitSignal(tab.personal_set_changed) as changed:
        actions[2].trigger()
    assert changed.args == [1]
    files = list((tmp_path / "personal" / "mnist").glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as stored:
        assert int(stored["label"]) == 2
        np.testing.assert_array_equal(stored["image"], tab.current_image())
    gallery = tab.gallery
    assert gallery.count() == 1 and gallery.grid.caption(0) == "2"
    assert gallery.fine_tune_button.isEnabled()
    gallery.grid.selectAll()
    dialogs.answer = QMessageBox.StandardButton.No
    gallery.delete_button.click()
    assert files[0].exists() and gallery.count() == 1  # asked first, kept on No
    dialogs.answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(tab.personal_set_changed) as changed:
        gallery.delete_button.click()
    assert changed.args == [0]
    assert not files[0].exists()
    assert gallery.count() == 0 and not gallery.fine_tune_button.isEnabled()


def test_fine_tune_button_asks_the_main_window(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(1)
    with qtbot.waitSignal(tab.fine_tune_requested):
        tab.gallery.fine_tune_button.click()


def test_why_overlay_is_input_gradient_times_ink(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert not tab.preview.has_overlay()
    tab.why_check.setChecked(True)
    assert tab.preview.has_overlay()
    image = tab.current_image()
    inputs = mnist_model.normalization.apply(image.reshape(1, -1))[0]
    gradient = mnist_model.network.input_gradient(inputs, 7)
    expected = (gradient * image.reshape(-1) / 255.0).reshape(image.shape)
    np.testing.assert_allclose(tab.attribution(), expected, rtol=1e-4, atol=1e-7)
    assert (tab.attribution()[image == 0] == 0).all()
    tab.why_check.setChecked(False)
    assert not tab.preview.has_overlay()


def test_one_inference_takes_well_under_5_ms(qtbot, tab, mnist_model):
    model = dataclasses.replace(mnist_model, network=MLP([784, 256, 10], seed=0))
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    times = []
    for _ in range(30):
        tab.update_prediction()
        times.append(tab.last_inference_ms)
    assert float(np.median(times)) < 5.0


def test_an_8x8_model_sees_an_8x8_input(qtbot, tab):
    model = template_model("digits-8x8")
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.current_image().shape == (8, 8)
    assert tab.current_image().max() <= 16
    tab.mark_wrong(7)
    assert tab.gallery.target == "digits-8x8" and tab.gallery.count() == 1


def test_a_model_of_another_size_reads_the_drawing_on_the_canvas(
    qtbot, tab, mnist_model
):
    # The network panel held the 28x28 input: traced through the 8x8 model's
    # network it was an IndexError.
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.network_panel.isVisible()
    tab.set_model(template_model("digits-8x8"))
    _wait_prediction(qtbot, tab)
    assert tab.current_image().shape == (8, 8)


def test_a_model_for_undrawable_images_turns_drawing_off(qtbot, tab):
    model = SavedModel(
        network=MLP([100, 10], seed=0),
        normalization=Normalization.fit("scale", np.zeros((1, 10, 10), np.uint8), 255),
        image_shape=(10, 10),
        class_names=tuple(str(i) for i in range(10)),
        dataset_name="odd",
        config={},
        history=[],
        metrics={},
        created="",
        app_version="",
    )
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    qtbot.wait(80)
    assert tab.current_probabilities() is None
    assert tab.prediction.verdict_text() == "Drawing is off"


def test_a_model_of_other_classes_is_not_judged_by_digit_shapes(
    qtbot, tab, mnist_model
):
    letters = tuple("abcdefghij")
    model = dataclasses.replace(
        mnist_model, class_names=letters, dataset_name="letters"
    )
    tab.set_model(model)
    _draw_scribble(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.judge().novelty is None
    assert tab.judge().min_margin == pytest.approx(0.30)
    assert [a.text() for a in tab.wrong_menu.actions()][:2] == ["It's an a", "It's a b"]
    # Made-up non-digits say nothing about letters: "Not a digit" is off.
    assert not tab.not_a_digit_action.isEnabled()


def test_a_digit_answered_while_not_a_digit_leads_says_so(
    qtbot, tab, mnist_model, monkeypatch
):
    # The calibrated margin answers real digits in odd hands even when the
    # model's "not a digit" output is ahead: "8.7% sure" alone read as a contradiction
    # of the bars.
    tab.set_model(mnist_model)
    odd = Verdict("digit", 7, 0.087, "", 0.911)

    class Lenient:
        def judge(self, *_arguments):
            return odd

    monkeypatch.setattr(tab, "judge", lambda: Lenient())
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.prediction.verdict_text() == "It's a 7"
    detail = tab.prediction.detail.text()
    assert detail.startswith('8.7% sure, an unusual one: 91.1% "not a digit"')
    tab.prediction.show_prediction(np.eye(10, dtype=np.float32)[7], "7", True, "")
    assert tab.prediction.detail.text() == "100.0% sure"


def test_a_small_drawing_with_a_wide_pen_is_told_to_draw_larger(
    qtbot, tab, mnist_model, monkeypatch
):
    tab.set_model(mnist_model)
    never_sure = Judge(10, None, min_margin=1.0, min_size=0.0)
    monkeypatch.setattr(tab, "judge", lambda: never_sure)
    tab.canvas.set_pen_width(MAX_PEN_WIDTH)
    _drag(qtbot, tab.canvas, [(0.42, 0.4), (0.58, 0.4), (0.48, 0.62)])
    _wait_prediction(qtbot, tab)
    assert tab.prediction.detail.text().startswith(WIDE_PEN_REASON)
    tab.canvas.clear()
    tab.canvas.set_pen_width(8)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.prediction.detail.text().startswith("Too close to call")


def test_an_8_is_an_8_and_one_drawing_is_one_drawing(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    tab.prediction.show_prediction(np.eye(10, dtype=np.float32)[8], "8", True, "")
    assert tab.prediction.verdict_text() == "It's an 8"
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(8)
    note = tab.status_label.text()
    assert note.startswith("Kept as an 8 in your personal set (1 drawing).")
    assert tab.gallery.title.text() == "My drawings (1)"


def test_not_a_digit_is_offered_for_models_of_28x28_digits(tab, mnist_model):
    tab.set_model(mnist_model)
    entry = tab.wrong_menu.actions()[-1]
    assert entry.text() == "Not a digit"
    assert entry.isEnabled()  # core.personal_set keeps negatives
    assert "fine-tune" in entry.toolTip().lower()
    assert tab.wrong_menu.toolTipsVisible()
    # An 8x8 model cannot learn it: offered, but off, and it says why.
    tab.set_model(template_model("digits-8x8"))
    entry = tab.wrong_menu.actions()[-1]
    assert entry.text() == "Not a digit" and not entry.isEnabled()
    assert "28x28" in entry.toolTip()


def test_no_stale_text_after_clear_or_new(qtbot, tab, mnist_model):
    tab.set_model(mnist_model)
    tab.why_check.setChecked(True)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.why_legend.isVisible()
    tab.mark_wrong(7)
    assert tab.status_label.text().startswith("Kept as a 7")
    tab.canvas.clear()
    tab.update_prediction()
    assert tab.status_label.text() == ""  # the note spoke of the drawing now gone
    assert not tab.why_legend.isVisible()  # nothing drawn, nothing to explain
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(7)
    tab.set_model(None)  # File > New
    assert tab.status_label.text() == ""
    assert not tab.why_legend.isVisible()


def test_the_preview_keeps_its_size_when_the_explanation_appears(
    qtbot, tab, mnist_model
):
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    qtbot.wait(20)
    before = tab.preview.geometry()
    tab.why_check.setChecked(True)
    qtbot.waitUntil(tab.why_legend.isVisible, timeout=2000)
    qtbot.wait(20)
    assert tab.preview.geometry() == before
    tab.why_check.setChecked(False)
    qtbot.wait(20)
    assert tab.preview.geometry() == before


def _with_not_a_digit(
    model: SavedModel, bias: float, margin: float, drawing_margin: float | None = None
) -> SavedModel:
    """The template with an 11th output, "not a digit": a constant score."""
    network = MLP([784, 10, 11], seed=0)
    network.weights[0][...] = model.network.weights[0]
    network.biases[0][...] = model.network.biases[0]
    network.weights[1][...] = 0.0
    network.weights[1][:, :10] = model.network.weights[1]
    network.biases[1][:10] = model.network.biases[1]
    network.biases[1][10] = bias
    judgement = Judge(10, 10, margin, drawing_margin=drawing_margin).to_dict()
    return dataclasses.replace(
        model,
        network=network,
        class_names=(*model.class_names, NOT_A_DIGIT),
        judgement=judgement,
    )


def test_a_model_with_a_not_a_digit_output_is_judged_by_its_thresholds(
    qtbot, tab, mnist_model
):
    # "Not a digit" beats every digit: the drawing is turned away, and says why.
    model = _with_not_a_digit(mnist_model, bias=1e3, margin=0.1)
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    verdict = tab.current_verdict()
    conversion = convert_drawing(tab.canvas.to_array(), "mnist", ink_is_bright=True)
    probabilities = model.predict_proba(conversion.image)
    expected = Judge.from_dict(model.judgement).judge(
        probabilities, conversion.image, conversion.size
    )
    assert verdict == expected
    assert verdict.verdict == "not_sure" and verdict.not_a_digit > 0.99
    assert tab.prediction.verdict_text() == "Not sure"
    assert "does not look like a digit" in tab.prediction.detail.text()
    assert f"Best guess: {verdict.digit}." in tab.prediction.detail.text()
    assert len(tab.prediction.bars.probabilities()) == 11
    # The menu offers digits only, then "Not a digit".
    texts = [a.text() for a in tab.wrong_menu.actions() if not a.isSeparator()]
    assert texts == [
        *(f"It's {'an' if d == 8 else 'a'} {d}" for d in range(10)),
        "Not a digit",
    ]


def test_a_drawing_clears_the_drawings_margin_and_a_dataset_image_its_own(
    qtbot, tab, mnist_model
):
    # Nothing clears the drawings' margin of 1 ("not a digit" always has a little).
    model = _with_not_a_digit(mnist_model, bias=0.0, margin=-1.0, drawing_margin=1.0)
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    assert tab.current_verdict().verdict == "not_sure"
    data = holdout("mnist-sample")
    tab.put_image(ChosenImage(data.images[0], data.max_value, "x", "a test image"))
    _wait_prediction(qtbot, tab)
    assert tab.current_verdict().verdict == "digit"


def test_the_digit_is_stated_with_its_own_probability(qtbot, tab, mnist_model):
    # "Not a digit" low and a margin every drawing clears: the digit is stated.
    model = _with_not_a_digit(mnist_model, bias=-1e3, margin=-1.0)
    tab.set_model(model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    verdict = tab.current_verdict()
    assert verdict.verdict == "digit" and verdict.digit == 7
    assert tab.prediction.verdict_text() == "It's a 7"
    assert tab.prediction.detail.text() == f"{100 * verdict.confidence:.1f}% sure"


def test_a_tiny_drawing_is_too_small_to_read(qtbot, tab, mnist_model):
    tab.set_model(_with_not_a_digit(mnist_model, bias=-1e3, margin=-1.0))
    _drag(qtbot, tab.canvas, [(0.5, 0.5), (0.52, 0.53)], 2)
    _wait_prediction(qtbot, tab)
    assert tab.current_verdict().verdict == "not_sure"
    assert "Too small" in tab.prediction.detail.text()


def test_not_a_digit_keeps_the_drawing_as_a_negative(qtbot, tab, mnist_model, tmp_path):
    tab.set_model(mnist_model)
    _draw_scribble(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    entry = [a for a in tab.wrong_menu.actions() if a.text() == "Not a digit"][0]
    with qtbot.waitSignal(tab.personal_set_changed):
        entry.trigger()
    files = list((tmp_path / "personal" / "mnist").glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as stored:
        assert int(stored["label"]) == NEGATIVE_LABEL
        np.testing.assert_array_equal(stored["image"], tab.current_image())
    assert tab.gallery.grid.caption(0) == "not a digit"
    assert "not a digit" in tab.status_label.text()
    assert "Fine-tune" in tab.status_label.text()


def test_a_correction_keeps_its_canvas_and_a_hands_model_reads_at_its_width(
    qtbot, tab, mnist_model
):
    from core.personal_set import PersonalSet
    from core.preprocess import convert_drawing

    titles = {
        (0.0, 1.0): "",
        (0.0, 2.0): ", 2x wider",
        (0.0, 0.6): ", 0.6x as wide",
        (25.0, 0.6): ", turned back 25°, 0.6x as wide",
    }
    for (turn, widen), title in titles.items():
        tab.canvas.clear()
        hand = dataclasses.replace(mnist_model, hand_width=widen, hand_turn=turn)
        tab.set_model(hand)
        _draw_seven(qtbot, tab.canvas)
        _wait_prediction(qtbot, tab)
        canvas = tab.canvas.to_array()
        expected = convert_drawing(canvas, (28, 28), True, widen=widen, turn=turn)
        expected = expected.image
        assert np.array_equal(tab.current_image(), expected)
        assert tab.preview_box.title().endswith("sees" + title)
    tab.mark_wrong(7)
    kept = PersonalSet(os.environ["DIGIT_STUDIO_DATA_DIR"]).list("mnist", True)
    assert np.array_equal(kept[-1].canvas, canvas)


def test_keeping_a_drawing_does_not_read_the_whole_set_again(
    qtbot, tab, mnist_model, monkeypatch
):
    # Read again, 200 drawings took 150 ms of the GUI thread at every correction.
    tab.set_model(mnist_model)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(7)
    reads = []
    monkeypatch.setattr(tab.gallery._set, "list", lambda *a, **k: reads.append(a))
    tab.mark_wrong(1)
    assert reads == [] and tab.gallery.count() == 2
    assert [d.label for d in tab.gallery.drawings()] == [7, 1]


def test_the_drawings_are_read_in_the_background(qtbot, tab, monkeypatch):
    from core.personal_set import PersonalSet

    store = PersonalSet(os.environ["DIGIT_STUDIO_DATA_DIR"])
    for label in (3, 4):
        store.add(np.full((28, 28), 9, np.uint8), label, "mnist")
    listed = PersonalSet.list

    def slow_list(self, *args, **kwargs):
        time.sleep(0.3)  # a few hundred drawings
        return listed(self, *args, **kwargs)

    monkeypatch.setattr(PersonalSet, "list", slow_list)
    started = time.perf_counter()
    tab.gallery.refresh()
    assert time.perf_counter() - started < 0.1 and tab.gallery.reading()
    qtbot.waitUntil(lambda: not tab.gallery.reading(), timeout=5000)
    assert [d.label for d in tab.gallery.drawings()] == [3, 4]
    assert tab.gallery.title.text() == "My drawings (2)"


def test_a_drawing_read_right_is_remembered_when_cleared_uncorrected(
    qtbot, tab, mnist_model, monkeypatch
):
    """Cleared after a digit answer, uncorrected: a fine-tune weighs its reading."""
    tab.set_model(mnist_model)
    sure = Judge(10, None, min_margin=0.0, min_size=0.0)
    never_sure = Judge(10, None, min_margin=1.0, min_size=0.0)
    judges = [sure]
    monkeypatch.setattr(tab, "judge", lambda: judges[-1])
    assert tab.misread_share() is None
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    drawn = tab.canvas.to_array()
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Escape)
    assert tab.canvas.is_blank()
    [(canvas, digit)] = tab.read_right()
    assert digit == 7
    np.testing.assert_array_equal(canvas, drawn)
    assert tab.misread_share() == 0.0
    # Corrected, answered "not sure", or noisy: not remembered.
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(1)
    tab.mark_wrong(2)  # one drawing, corrected twice
    tab.clear_button.click()
    assert tab.misread_share() == 0.5
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.mark_wrong(NEGATIVE_LABEL)  # not a digit: not part of the hand
    tab.clear_button.click()
    assert tab.misread_share() == 0.5
    judges.append(never_sure)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.clear_button.click()
    judges.append(sure)
    tab.noise_slider.setValue(30)
    _draw_seven(qtbot, tab.canvas)
    _wait_prediction(qtbot, tab)
    tab.clear_button.click()
    assert len(tab.read_right()) == 1
    tab.noise_slider.setValue(0)
    for _ in range(MAX_READ_RIGHT + 5):
        _drag(qtbot, tab.canvas, [(0.5, 0.2), (0.5, 0.8)], 1)
        tab.update_prediction()
        tab.clear_button.click()
    assert len(tab.read_right()) == MAX_READ_RIGHT  # the latest
    assert not any(np.array_equal(c, drawn) for c, _ in tab.read_right())
    assert tab.misread_share() == 1 / (MAX_READ_RIGHT + 5 + 2)
    # Another input format: those drawings say nothing of how it reads.
    tab.set_model(template_model("digits-8x8"))
    assert tab.read_right() == () and tab.misread_share() is None
