"""gui.draw_tab: live prediction from drawn strokes, honest answers, corrections."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox
from template_model import template_model

from core.calibration import digit_subspaces
from core.datasets import Normalization
from core.model_io import SavedModel
from core.network import MLP
from core.preprocess import canvas_to_image
from gui.draw_tab import DrawTab


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
            and not tab.gate_pending()
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
    judgement = tab.current_judgement()
    assert judgement.predicted == top
    if judgement.sure:
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
    assert not tab.current_judgement().sure
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
    assert tab.current_judgement().novelty == 0.0
    assert tab.gate().min_confidence == pytest.approx(0.30)
    assert [a.text() for a in tab.wrong_menu.actions()][:2] == ["It's an a", "It's a b"]


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


def test_not_a_digit_is_offered_but_off_until_the_set_can_keep_it(tab, mnist_model):
    tab.set_model(mnist_model)
    entry = tab.wrong_menu.actions()[-1]
    assert entry.text() == "Not a digit"
    assert not entry.isEnabled()  # core.personal_set keeps class labels only
    assert "not available yet" in entry.toolTip().lower()
    assert tab.wrong_menu.toolTipsVisible()


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
