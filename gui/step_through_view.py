"""One example through the network, with the numbers: the view and its window.

Owns ``StepThroughView`` (the example, the true class, the learning rate, and the
forward pass, cost, backward pass and one gradient-descent step written out in the
textbook's notation as rich text), ``StepThroughWindow`` (the view in a window of its
own, opened from the Draw tab) and ``Example`` (what it is shown). The numbers come
from ``core.step_through``, computed in a background thread; this only draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.model_io import SavedModel
from core.step_through import (
    LayerStep,
    StepThrough,
    Unit,
    default_learning_rate,
    step_through,
)
from gui.background import start_task
from gui.image_grid import array_to_qimage
from gui.widgets import LogSpinBox, guard_wheel
from gui.wording import ACTIVATION_LABELS

if TYPE_CHECKING:  # the tabs and the document only send this window signals
    from gui.draw_tab import DrawTab
    from gui.evaluate_tab import EvaluateTab
    from gui.model_document import ModelDocument

PREDICTED = -1  # the true-class choice "the predicted class"
THUMBNAIL = 84
MINUS = "\N{MINUS SIGN}"
# Rich-text styles: equations in a serif italic, numbers right-aligned, tables light.
STYLE = """
<style>
h3 { margin-top: 14px; margin-bottom: 4px; }
h4 { margin-top: 10px; margin-bottom: 2px; }
p { margin-top: 2px; margin-bottom: 4px; }
.eq { font-family: serif; font-style: italic; font-size: large; }
.note { color: #555555; }
td, th { padding: 1px 8px 1px 0px; }
th { text-align: left; color: #444444; font-weight: normal; }
td.n { text-align: right; }
.good { color: #1a7f37; }
.bad { color: #b00020; }
.mark { background-color: #fff3c4; }
</style>
"""


@dataclass(frozen=True)
class Example:
    """An input to follow: a raw ``(H, W)`` image and what is known of it.

    ``label`` is its class when known (a dataset image), None for a drawing.
    """

    image: np.ndarray
    label: int | None
    description: str


def number(value: float) -> str:
    """Return a number as the view writes it: 4 significant digits, a true minus."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}·10<sup>{int(exponent)}</sup>"
    return text.replace("-", MINUS)


def _paren(value: float) -> str:
    return f"({number(value)})" if value < 0 else number(value)


def _sym(name: str, layer: int | str | None = None, sub: str = "") -> str:
    """Write a symbol with the layer as superscript and the index as subscript."""
    sup = "" if layer is None else f"<sup>{layer}</sup>"
    return f"<i>{name}</i>{sup}" + (f"<sub>{sub}</sub>" if sub else "")


def _function_text(layer: LayerStep) -> str:
    if layer.function in ("softmax", "sigmoid"):
        return "softmax" if layer.function == "softmax" else "σ"  # the book's σ
    return ACTIVATION_LABELS.get(layer.function, layer.function)


def _derivative_symbol(layer: LayerStep) -> str:
    return f"{_function_text(layer)}′"


def render(result: StepThrough, class_names: tuple[str, ...], source: str) -> str:
    """Return the rich text that writes out ``result`` for an example of ``source``."""
    parts = [STYLE, _summary(result, class_names, source), _notation(result)]
    parts.append("<h3>1. Forward pass</h3>")
    for layer in result.layers:
        parts.append(_forward(layer, result, class_names))
    parts.append(_cost(result, class_names))
    parts.append("<h3>3. Backward pass and the gradients</h3>")
    parts.append(
        "<p class='note'>Backpropagation goes from the output down. For every layer: "
        f"{_sym('∂C/∂b', 'l')}<sub><i>j</i></sub> = {_sym('δ', 'l', 'j')} and "
        f"{_sym('∂C/∂w', 'l')}<sub><i>jk</i></sub> = "
        f"{_sym('a', 'l−1', 'k')} {_sym('δ', 'l', 'j')}"
        + (
            f" + λ {_sym('w', 'l', 'jk')} (L2, λ = {number(result.l2)})"
            if result.l2
            else ""
        )
        + ".</p>"
    )
    for layer in reversed(result.layers):
        parts.append(_backward(layer, result, class_names))
    parts.append(_update(result, class_names))
    return "".join(parts)


def _summary(result: StepThrough, names: tuple[str, ...], source: str) -> str:
    change = result.loss_after - result.loss
    tone = "good" if change < 0 else "bad"
    label = names[result.label]
    after = result.probabilities_after[result.label]
    answer = escape(names[result.predicted])
    return (
        f"<p><b>{escape(source)}</b>: the network says <b>{answer}"
        f"</b> ({100 * result.probabilities[result.predicted]:.1f}%); true class "
        f"<b>{escape(label)}</b>. Cost {_sym('C')} = {number(result.loss)}; after one "
        f"gradient-descent step with η = {number(result.learning_rate)} on this "
        f"example: <span class='{tone}'><b>{number(result.loss_after)}</b> "
        f"({'+' if change >= 0 else ''}{number(change)})</span>, and "
        f"{_sym('a', 'L', escape(label))} goes from "
        f"{number(result.probabilities[result.label])} to {number(after)}.</p>"
    )


def _notation(result: StepThrough) -> str:
    count = len(result.layers)
    return (
        "<p class='note'>Notation of Nielsen's <i>Neural Networks and Deep "
        f"Learning</i>: layer <i>l</i> = 1…{count} has weighted inputs "
        f"{_sym('z', 'l')} and activations {_sym('a', 'l')}; {_sym('a', 0)} = "
        "<i>x</i>, the normalised pixels. "
        f"{_sym('w', 'l', 'jk')} joins unit <i>k</i> of layer <i>l</i>−1 to unit "
        f"<i>j</i> of layer <i>l</i>. The app stores each layer's weights as a matrix "
        f"<i>W</i><sup>l</sup> of shape (inputs × units), so {_sym('w', 'l')} = "
        f"(<i>W</i><sup>l</sup>)<sup>T</sup>. Only the units that matter most are "
        "written out; the network has all the others too.</p>"
    )


def _terms(unit: Unit, layer: int) -> str:
    pieces = [f"{_paren(term.weight)}·{_paren(term.activation)}" for term in unit.terms]
    if unit.rest_count:
        noun = "term" if unit.rest_count == 1 else "terms"
        pieces.append(
            f"<span class='note'>[{unit.rest_count} more {noun}: "
            f"{number(unit.rest)}]</span>"
        )
    pieces.append(_paren(unit.bias))
    return " + ".join(pieces)


def _unit_name(layer: LayerStep, unit: int, names: tuple[str, ...]) -> str:
    if not layer.is_output or names[unit] == str(unit):
        return str(unit)
    return f"{unit} (“{escape(names[unit])}”)"


def _forward(layer: LayerStep, result: StepThrough, names: tuple[str, ...]) -> str:
    n = layer.number
    inputs = layer.weight_gradient.shape[0]
    f = _function_text(layer)
    kind = "output layer" if layer.is_output else "hidden layer"
    rows = [
        f"<tr><th>{'class' if layer.is_output else 'unit'} <i>j</i></th>"
        f"<th>{_sym('z', n, 'j')} = Σ<sub><i>k</i></sub> {_sym('w', n, 'jk')} "
        f"{_sym('a', n - 1, 'k')} + {_sym('b', n, 'j')}</th><th></th>"
        f"<th>{_sym('a', n, 'j')}</th></tr>"
    ]
    for unit in layer.units:
        rows.append(
            f"<tr><td>{_unit_name(layer, unit.index, names)}</td>"
            f"<td>{_sym('z', n, str(unit.index))} = {_terms(unit, n)}</td>"
            f"<td class='n'>= <b>{number(unit.z)}</b></td>"
            f"<td class='n'>{_sym('a', n, str(unit.index))} = "
            f"<b>{number(unit.a)}</b></td></tr>"
        )
    if layer.is_output and layer.function == "softmax":
        rule = (
            f"{_sym('a', n, 'j')} = e<sup><i>z<sub>j</sub></i></sup> / "
            "Σ<sub><i>i</i></sub> e<sup><i>z<sub>i</sub></i></sup>"
        )
    else:
        rule = f"{_sym('a', n, 'j')} = {f}({_sym('z', n, 'j')})"
    active = ""
    if layer.function in ("relu", "leaky_relu"):
        alive = int(np.count_nonzero(layer.z > 0))
        active = f" {alive} of {layer.a.size} units have a positive z (active)."
    elif layer.function in ("sigmoid", "tanh"):
        flat = int(np.count_nonzero(np.abs(layer.derivative) < 0.01))
        if flat:
            active = (
                f" {flat} of {layer.a.size} units are saturated (their slope "
                f"{_derivative_symbol(layer)}(<i>z</i>) is below 0.01): they barely "
                "learn from this example."
            )
    which = (
        "the predicted class, the true one and the runner-up"
        if layer.is_output
        else (
            "the units that add most to the predicted class's weighted input "
            f"{_sym('z', 'L', str(result.predicted))}"
        )
    )
    text = (
        f"<h4>Layer {n}: {kind}, {f}, {layer.a.size} units ({inputs} inputs)</h4>"
        f"<p class='eq'>{_sym('z', n)} = {_sym('w', n)} {_sym('a', n - 1)} + "
        f"{_sym('b', n)}, &nbsp; {rule}</p>"
        f"<p class='note'>Each {_sym('z', n, 'j')} = Σ<sub><i>k</i></sub> "
        f"{_sym('w', n, 'jk')} {_sym('a', n - 1, 'k')} + {_sym('b', n, 'j')}: the "
        f"largest terms {_sym('w', None, 'jk')}·{_sym('a', None, 'k')}, the sum of the "
        f"others, then the bias. Shown: {which}.{active}</p>"
        f"<table>{''.join(rows)}</table>"
    )
    if layer.is_output:
        text += _outputs_table(layer, result, names)
    return text


def _outputs_table(layer: LayerStep, result: StepThrough, names: tuple[str, ...]):
    n = layer.number
    header = (
        f"<tr><th>class</th><th>{_sym('z', n, 'j')}</th><th>{_sym('a', n, 'j')}</th>"
        f"<th>{_sym('y', None, 'j')}</th></tr>"
    )
    rows = []
    for j, name in enumerate(names):
        mark = " class='mark'" if j in (result.predicted, result.label) else ""
        rows.append(
            f"<tr{mark}><td>{escape(name)}</td><td class='n'>{number(layer.z[j])}</td>"
            f"<td class='n'>{number(layer.a[j])}</td>"
            f"<td class='n'>{int(result.target[j])}</td></tr>"
        )
    return f"<table>{header}{''.join(rows)}</table>"


def _cost(result: StepThrough, names: tuple[str, ...]) -> str:
    label = escape(names[result.label])
    a_y = result.probabilities[result.label]
    if result.output == "softmax_cross_entropy":
        formula = (
            f"<i>C</i> = −ln {_sym('a', 'L', 'y')} = −ln {number(a_y)} = "
            f"<b>{number(result.loss)}</b>"
        )
        note = (
            f"Cross-entropy: the smaller the probability of the true class "
            f"(“{label}”), the larger the cost."
        )
    else:
        formula = (
            f"<i>C</i> = ½ Σ<sub><i>j</i></sub> ({_sym('a', 'L', 'j')} − "
            f"{_sym('y', None, 'j')})<sup>2</sup> = <b>{number(result.loss)}</b>"
        )
        note = (
            "The quadratic cost, summed over the outputs; <i>y</i> is 1 for the true "
            f"class (“{label}”) and 0 for the others."
        )
    return f"<h3>2. Cost</h3><p class='eq'>{formula}</p><p class='note'>{note}</p>"


def _backward(layer: LayerStep, result: StepThrough, names: tuple[str, ...]) -> str:
    n = layer.number
    if layer.is_output:
        title = f"<h4>Output error, layer {n}</h4>"
        if layer.function == "softmax":
            equation = (
                f"{_sym('δ', 'L')} = {_sym('a', 'L')} − <i>y</i> &nbsp; "
                "<span class='note'>(softmax with cross-entropy: σ′ cancels)</span>"
            )
        else:
            equation = (
                f"{_sym('δ', 'L')} = ({_sym('a', 'L')} − <i>y</i>) ⊙ "
                f"σ′({_sym('z', 'L')}), &nbsp; σ′(<i>z</i>) = σ(<i>z</i>)(1 − "
                "σ(<i>z</i>))"
            )
        back = f"{_sym('a', None, 'j')} − {_sym('y', None, 'j')}"
    else:
        title = f"<h4>Layer {n} (hidden)</h4>"
        f_prime = _derivative_symbol(layer)
        equation = (
            f"{_sym('δ', n)} = (({_sym('w', n + 1)})<sup>T</sup> {_sym('δ', n + 1)}) "
            f"⊙ {f_prime}({_sym('z', n)})"
        )
        back = (
            f"(({_sym('w', n + 1)})<sup>T</sup> {_sym('δ', n + 1)})<sub><i>j</i></sub>"
        )
    softmax = layer.function == "softmax"
    header = (
        f"<tr><th>unit</th><th>{back}</th>"
        + (
            ""
            if softmax
            else f"<th>{_derivative_symbol(layer)}(<i>z<sub>j</sub></i>)</th>"
        )
        + f"<th>{_sym('δ', n, 'j')} = {_sym('∂C/∂b', n, 'j')}</th></tr>"
    )
    rows = []
    for unit in layer.units:
        rows.append(
            f"<tr><td>{_unit_name(layer, unit.index, names)}</td>"
            f"<td class='n'>{number(unit.back)}</td>"
            + ("" if softmax else f"<td class='n'>× {number(unit.derivative)}</td>")
            + f"<td class='n'>= <b>{number(unit.delta)}</b></td></tr>"
        )
    size = float(np.linalg.norm(layer.delta))
    gradients = []
    for update in layer.updates:
        l2 = f" + λ·{_paren(update.weight)}" if result.l2 else ""
        gradients.append(
            f"<tr><td>{_sym('∂C/∂w', n, f'{update.unit},{update.source}')}</td>"
            f"<td>= {_paren(update.input)} × {_paren(layer.delta[update.unit])}{l2}"
            "</td>"
            f"<td class='n'>= <b>{number(update.gradient)}</b></td></tr>"
        )
    return (
        f"{title}<p class='eq'>{equation}</p>"
        f"<table>{header}{''.join(rows)}</table>"
        f"<p class='note'>‖{_sym('δ', n)}‖ = {number(size)} over all "
        f"{layer.delta.size} units. The largest weight gradients of the layer, "
        f"{_sym('a', n - 1, 'k')} × {_sym('δ', n, 'j')}:</p>"
        f"<table>{''.join(gradients)}</table>"
    )


def _update(result: StepThrough, names: tuple[str, ...]) -> str:
    eta = number(result.learning_rate)
    rows = []
    for layer in reversed(result.layers):
        n = layer.number
        for update in layer.updates:
            rows.append(
                f"<tr><td>{_sym('w', n, f'{update.unit},{update.source}')}</td>"
                f"<td>{number(update.weight)} − {eta} × {_paren(update.gradient)}</td>"
                f"<td class='n'>= <b>{number(update.new_weight)}</b></td></tr>"
            )
        # The output layer's shown units (the answer and the true class pull apart),
        # one unit of each hidden layer.
        for unit in layer.units if layer.is_output else layer.units[:1]:
            rows.append(
                f"<tr><td>{_sym('b', n, str(unit.index))}</td>"
                f"<td>{number(unit.bias)} − {eta} × {_paren(unit.delta)}</td>"
                f"<td class='n'>= <b>{number(unit.new_bias)}</b></td></tr>"
            )
    change = result.loss_after - result.loss
    label = escape(names[result.label])
    return (
        f"<h3>4. One step of gradient descent, η = {eta}</h3>"
        f"<p class='eq'><i>w</i> → <i>w</i> − η ∂<i>C</i>/∂<i>w</i>, &nbsp; "
        f"<i>b</i> → <i>b</i> − η ∂<i>C</i>/∂<i>b</i></p>"
        f"<table>{''.join(rows)}</table>"
        f"<p>Every weight and bias takes its step (on a copy: the model itself is "
        f"not changed). Then this example's cost is <b>{number(result.loss_after)}"
        f"</b> instead of {number(result.loss)} ({'+' if change >= 0 else ''}"
        f"{number(change)}); the first-order estimate −η‖∇<i>C</i>‖<sup>2</sup> is "
        f"{number(result.first_order_change)}. The output for “{label}” goes from "
        f"{number(result.probabilities[result.label])} to "
        f"{number(result.probabilities_after[result.label])}.</p>"
    )


class StepThroughView(QWidget):
    """The example, its true class, the learning rate, and the numbers written out.

    ``set_model`` and ``show_example`` give it what to show; the numbers are
    computed in a background thread (the latest request wins) and drawn when they
    arrive. ``result()`` is the `core.step_through.StepThrough` on screen.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: SavedModel | None = None
        self._example: Example | None = None
        self._result: StepThrough | None = None
        self._busy = False
        self._pending = False
        self._generation = 0
        self.computations = 0

        self.thumbnail = QLabel(self)
        self.thumbnail.setFixedSize(THUMBNAIL, THUMBNAIL)
        self.thumbnail.setStyleSheet("background: black;")
        self.thumbnail.setToolTip("The input the network reads")
        self.source_label = QLabel(self)
        self.source_label.setWordWrap(True)
        self.label_combo = QComboBox(self)
        self.label_combo.setToolTip(
            "The true class y of the example: the cost and the step are computed "
            "for it. By default the predicted class (for a drawing) or the image's "
            "label."
        )
        self.rate_box = LogSpinBox(
            1e-6, 100.0, 0.1, "The learning rate η of the gradient-descent step shown"
        )
        self.units_box = QSpinBox(self)
        self.units_box.setRange(1, 8)
        self.units_box.setValue(3)
        self.units_box.setToolTip("How many units of each layer to write out")
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.setMinimumWidth(400)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("True class:", self))
        controls.addWidget(self.label_combo)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Learning rate η:", self))
        controls.addWidget(self.rate_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Units per layer:", self))
        controls.addWidget(self.units_box)
        controls.addStretch(1)
        text = QVBoxLayout()
        text.addWidget(self.source_label)
        text.addLayout(controls)
        top = QHBoxLayout()
        top.addWidget(self.thumbnail)
        top.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        guard_wheel(self)

        self.label_combo.currentIndexChanged.connect(self.recompute)
        self.rate_box.valueChanged.connect(self.recompute)
        self.units_box.valueChanged.connect(self.recompute)
        self._show_message("Draw a digit on the Draw tab to follow it through.")

    def result(self) -> StepThrough | None:
        """Return the numbers on screen, or None."""
        return self._result

    def is_computing(self) -> bool:
        """Return True while numbers are being computed."""
        return self._busy

    def set_model(self, model: SavedModel | None) -> None:
        """Follow examples through ``model`` (a snapshot; None: nothing to show)."""
        if model is self._model:
            return
        new_kind = (
            self._model is None
            or model is None
            or self._model.class_names != model.class_names
            or self._model.config.get("optimizer") != model.config.get("optimizer")
        )
        self._model = model
        if model is not None and new_kind:
            self.rate_box.blockSignals(True)
            self.rate_box.setValue(default_learning_rate(model.config))
            self.rate_box.blockSignals(False)
            self._fill_labels(model.class_names)
        self.recompute()

    def show_example(self, example: Example | None) -> None:
        """Follow ``example`` (None: no example); its label becomes the true class."""
        previous = self._example
        self._example = example
        if example is not None:
            self.source_label.setText(escape(example.description))
            if example.label is not None:
                self._choose_label(example.label)
            elif previous is not None and previous.label is not None:
                self._choose_label(PREDICTED)  # a drawing after a dataset image
        self.recompute()

    def _fill_labels(self, class_names: tuple[str, ...]) -> None:
        chosen = self.label_combo.currentData()
        self.label_combo.blockSignals(True)
        self.label_combo.clear()
        self.label_combo.addItem("the predicted class", PREDICTED)
        for index, name in enumerate(class_names):
            self.label_combo.addItem(name, index)
        found = self.label_combo.findData(chosen)
        self.label_combo.setCurrentIndex(max(found, 0))
        self.label_combo.blockSignals(False)

    def _choose_label(self, label: int) -> None:
        index = self.label_combo.findData(label)
        if index >= 0:
            self.label_combo.blockSignals(True)
            self.label_combo.setCurrentIndex(index)
            self.label_combo.blockSignals(False)

    # ------------------------------------------------------------- computing
    @Slot()
    def recompute(self) -> None:
        """Compute the numbers for the current model, example and settings."""
        self._generation += 1  # numbers still being computed are out of date
        model, example = self._model, self._example
        if model is None:
            self._show_message("No model yet: train one, or open a saved one.")
            return
        if example is None or example.image is None:
            self.thumbnail.clear()
            self.source_label.clear()
            self._show_message("Draw a digit on the Draw tab to follow it through.")
            return
        if tuple(np.shape(example.image)) != tuple(model.image_shape):
            self._show_message("This image does not fit the model's input.")
            return
        self._set_thumbnail(example.image, int(model.normalization.max_value))
        if self._busy:
            self._pending = True
            return
        self._busy = True
        self._pending = False
        chosen = self.label_combo.currentData()
        label = None if chosen in (None, PREDICTED) else int(chosen)
        x = model.normalization.apply(np.asarray(example.image).reshape(1, -1))[0]
        network = model.network
        rate = float(self.rate_box.value())
        l2 = float(model.config.get("l2", 0.0) or 0.0)
        units = int(self.units_box.value())
        source = example.description
        names = tuple(model.class_names)
        generation = self._generation

        def compute(_cancel, _report):
            result = step_through(network, x, label, rate, l2, units=units)
            return generation, result, render(result, names, source)

        start_task(
            compute,
            on_succeeded=self._on_computed,
            on_failed=self._on_failed,
            on_finished=self._on_finished,
            name="step-through",
        )

    @Slot(object)
    def _on_computed(self, outcome: tuple[int, StepThrough, str]) -> None:
        generation, result, html = outcome
        if generation != self._generation:
            return  # the example, model or settings changed meanwhile
        self._result = result
        self.computations += 1
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(html)
        self.browser.verticalScrollBar().setValue(scroll)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_message(f"Cannot follow this example: {message.splitlines()[0]}")

    @Slot()
    def _on_finished(self) -> None:
        self._busy = False
        if self._pending:
            self.recompute()

    def _show_message(self, text: str) -> None:
        self._result = None
        self.browser.setHtml(f"<p class='note'>{escape(text)}</p>")

    def _set_thumbnail(self, image: np.ndarray, max_value: int) -> None:
        picture = array_to_qimage(np.asarray(image), max_value)
        self.thumbnail.setPixmap(
            QPixmap.fromImage(picture).scaled(
                THUMBNAIL,
                THUMBNAIL,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )


class StepThroughWindow(QDialog):
    """The view in a window of its own, beside the main window (not modal)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("One example through the network — Digit Studio")
        self.setModal(False)
        self.view = StepThroughView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view)
        self.resize(880, 620)
        self.setMinimumSize(560, 400)

    def connect_sources(
        self, document: ModelDocument, draw_tab: DrawTab, evaluate_tab: EvaluateTab
    ) -> None:
        """Follow the Draw tab's input (Show the numbers…) and Evaluate's examples."""
        self._document, self._draw_tab = document, draw_tab
        draw_tab.numbers_requested.connect(self.on_show_numbers)
        draw_tab.input_changed.connect(self.on_draw_input_changed)
        evaluate_tab.example_chosen.connect(self.on_example_chosen)
        document.model_changed.connect(self.on_model_changed)

    @Slot()
    def on_show_numbers(self) -> None:
        """Follow the Draw tab's input through the network, shown now."""
        image = self._draw_tab.current_image()
        self.follow(self._document.model, drawing_example(image), show=True)

    @Slot(object)
    def on_draw_input_changed(self, image: object) -> None:
        """Keep the numbers on the drawing as it changes (while they are shown)."""
        self.follow(self._document.model, drawing_example(image))

    @Slot(bool)
    def on_model_changed(self, _live: bool) -> None:
        """Follow the example through each new model (a step of training, too)."""
        if self.isVisible():
            self.view.set_model(self._document.model)

    @Slot(object)
    def on_example_chosen(self, example: Example) -> None:
        """Follow a dataset image chosen on the Evaluate tab through the network."""
        self.follow(self._document.model, example, show=True)

    def follow(
        self, model: SavedModel | None, example: Example | None, show: bool = False
    ) -> None:
        """Show ``example`` through ``model``; only while open, unless ``show``."""
        if not show and not self.isVisible():
            return  # it is brought up to date when it opens
        self.view.set_model(model)
        self.view.show_example(example)
        if show:
            self.show()
            self.raise_()
            self.activateWindow()


def drawing_example(image: np.ndarray | None) -> Example | None:
    """Return the Draw tab's input as an example (no label: the user's drawing)."""
    return None if image is None else Example(image, None, "Your drawing")
