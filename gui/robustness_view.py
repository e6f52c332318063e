"""What breaks it: accuracy as noise, rotation, shift, scale and stroke thickness grow.

`RobustnessView` asks `gui.inside_workers.robustness_job` for the curves (off the GUI
thread, level by level, with a progress bar) and draws one small plot per distortion.
The current model's curves are strong; earlier models' stay faint, each in its own
colour, like the training runs on the Train tab.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.datasets import Dataset
from core.model_io import SavedModel
from core.robustness import DISTORTIONS, RobustnessResult, RobustnessStep
from gui.inside_workers import TaskSlot, robustness_job
from gui.plot_panel import EARLIER_ALPHA, EARLIER_COLORS, TRAIN_COLOR
from gui.widgets import offer_datasets

MAX_EARLIER = len(EARLIER_COLORS)
_COLUMNS = 3


def model_label(model: SavedModel) -> str:
    """Name a model in legends: sizes, activation, data, creation time."""
    sizes = "-".join(str(n) for n in model.network.layer_sizes)
    parts = [sizes, model.network.activation]
    if model.dataset_name:
        parts.append(model.dataset_name)
    if model.created:
        parts.append(model.created.replace("T", " ").rstrip("Z")[:16])
    if model.metrics.get("edits"):
        parts.append("edited")
    return " · ".join(parts)


def _x_values(name: str, levels: np.ndarray) -> np.ndarray:
    # Noise is shown in percent of white; the other units as they are.
    return levels * 100.0 if name == "noise" else levels


class _Curves:
    """One model's five curves (one per plot)."""

    def __init__(self, plots: dict[str, pg.PlotItem]) -> None:
        self.items = {name: pg.PlotDataItem() for name in plots}
        for name, item in self.items.items():
            plots[name].addItem(item)

    def style_current(self) -> None:
        for item in self.items.values():
            item.setPen(pg.mkPen(TRAIN_COLOR, width=2))
            item.setSymbol("o")
            item.setSymbolSize(6)
            item.setSymbolBrush(TRAIN_COLOR)
            item.setSymbolPen(pg.mkPen(TRAIN_COLOR))
            item.setZValue(10)

    def style_earlier(self, colour: QColor) -> None:
        faint = QColor(colour)
        faint.setAlpha(EARLIER_ALPHA)
        for item in self.items.values():
            item.setPen(pg.mkPen(faint, width=1.5))
            item.setSymbol(None)
            item.setZValue(0)

    def set_data(self, name: str, levels: list[float], accuracy: list[float]) -> None:
        self.items[name].setData(
            _x_values(name, np.asarray(levels)), 100.0 * np.asarray(accuracy)
        )

    def remove(self, plots: dict[str, pg.PlotItem]) -> None:
        for name, item in self.items.items():
            plots[name].removeItem(item)


class RobustnessView(QWidget):
    """Small multiples: accuracy against the strength of each distortion."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: SavedModel | None = None
        self._sets: dict[str, Dataset] = {}
        self._stale = True
        self._measured_for: tuple | None = None
        self._running_for: tuple | None = None
        self._points: dict[str, tuple[list[float], list[float]]] = {}
        self._result: RobustnessResult | None = None
        self._earlier: list[tuple[str, _Curves, RobustnessResult]] = []
        self._earlier_colours: list[QColor] = []
        self._next_colour = 0

        self.measure_button = QPushButton("Measure again", self)
        self.measure_button.setToolTip(
            "Measure the current model's robustness on the chosen images"
        )
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.data_combo = QComboBox(self)
        self.data_combo.setToolTip("Which labelled images are distorted")
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(200)
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.clear_button = QPushButton("Forget earlier models", self)
        self.clear_button.setToolTip("Remove the faint curves of earlier models")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.hover_label = QLabel("Hover over a plot to read its values.", self)
        self.hover_label.setTextFormat(Qt.TextFormat.RichText)

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.plots: dict[str, pg.PlotItem] = {}
        for position, (name, distortion) in enumerate(DISTORTIONS.items()):
            row, column = divmod(position, _COLUMNS)
            plot = self.graphics.addPlot(row=row, col=column, title=distortion.label)
            unit = "% of white (std. dev.)" if name == "noise" else distortion.unit
            plot.setLabel("bottom", unit)
            plot.setLabel("left", "accuracy (%)")
            # Fixed ranges and cached axes: a new point repaints only its curve.
            plot.setYRange(0, 100, padding=0.02)
            plot.disableAutoRange()
            for side in ("left", "bottom"):
                plot.getAxis(side).setCacheMode(
                    QGraphicsItem.CacheMode.DeviceCoordinateCache
                )
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            identity = pg.InfiniteLine(
                pos=_x_values(name, np.array([distortion.identity]))[0],
                angle=90,
                pen=pg.mkPen(0, 0, 0, 60, style=Qt.PenStyle.DashLine),
            )
            plot.addItem(identity, ignoreBounds=True)
            self.plots[name] = plot
        self.legend = pg.LabelItem(justify="left")
        # The legend's text must not resize its cell: that would lay out and redraw
        # every plot and axis whenever a model is added.
        self.legend.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored
        )
        self.graphics.addItem(self.legend, row=1, col=_COLUMNS - 1)
        for column in range(_COLUMNS):
            self.graphics.ci.layout.setColumnStretchFactor(column, 1)
        self._set_ranges((28, 28))
        self._current = _Curves(self.plots)
        self._current.style_current()
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        controls = QHBoxLayout()
        controls.addWidget(self.measure_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.data_combo)
        controls.addWidget(self.progress)
        controls.addWidget(self.status_label, 1)
        controls.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover_label)

        self._task = TaskSlot("robustness", self)
        self.measure_button.clicked.connect(self.on_measure_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.clear_button.clicked.connect(self.forget_earlier)
        self.data_combo.currentIndexChanged.connect(self._on_data_changed)
        self._update_buttons()
        self._rebuild_legend()

    def _set_ranges(self, image_shape: tuple[int, int]) -> None:
        """Span each plot's levels for images of this shape (shifts scale with it)."""
        for name, plot in self.plots.items():
            levels = _x_values(name, DISTORTIONS[name].levels(image_shape))
            plot.setXRange(float(levels.min()), float(levels.max()), padding=0.04)

    # -- inputs ---------------------------------------------------------------------

    def set_model(self, model: SavedModel | None) -> None:
        """Measure ``model`` from now on; its predecessor's curves turn faint."""
        if model is self._model:
            return
        self._keep_as_earlier()
        self._model = model
        self._request()

    def set_data(self, sets: dict[str, Dataset]) -> None:
        """Offer these named labelled datasets (the first one is chosen)."""
        self._sets = dict(sets)
        offer_datasets(self.data_combo, self._sets)
        self._request()

    def result(self) -> RobustnessResult | None:
        """Return the current model's finished curves, or None."""
        return self._result

    def earlier(self) -> list[tuple[str, RobustnessResult]]:
        """Return the earlier models' labels and curves, oldest first."""
        return [(label, result) for label, _curves, result in self._earlier]

    def is_running(self) -> bool:
        """Return True while curves are measured."""
        return self._task.is_running()

    def shutdown(self) -> None:
        """Stop a running measurement and wait briefly."""
        self._task.shutdown()

    # -- measuring ------------------------------------------------------------------

    def _choice(self) -> tuple | None:
        name = self.data_combo.currentData()
        if self._model is None or name not in self._sets:
            return None
        return (self._model, self._sets[name])

    def _request(self) -> None:
        self._stale = True
        self._update_buttons()
        if self.isVisible():
            self.measure()

    @Slot()
    def _on_data_changed(self) -> None:
        self._request()

    def showEvent(self, event) -> None:  # noqa: D102
        super().showEvent(event)
        if self._stale:
            self.measure()

    @Slot()
    def on_measure_clicked(self) -> None:
        """Measure again, even when the curves are up to date."""
        self.measure(again=True)

    def measure(self, again: bool = False) -> None:
        """Measure the current model's curves in the background (unless done)."""
        self._stale = False
        choice = self._choice()
        if choice is None:
            self.status_label.setText(
                "No model yet: train one or open a saved one."
                if self._model is None
                else "No labelled images: choose a dataset on the Train tab."
            )
            return
        model, data = choice
        if tuple(data.image_shape) != tuple(model.image_shape):
            self.status_label.setText(
                f"The model reads {model.image_shape[0]}x{model.image_shape[1]} "
                f"images; {data.name} has other ones."
            )
            return
        if choice == self._running_for or (choice == self._measured_for and not again):
            return
        self._set_ranges(tuple(data.image_shape))
        self._points = {name: ([], []) for name in DISTORTIONS}
        for name in DISTORTIONS:
            self._current.set_data(name, [], [])
        self._result = None
        self._running_for = choice
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.status_label.setText(f"Distorting images of {data.name}…")
        self._task.start(
            robustness_job(model, data),
            on_succeeded=self._on_measured,
            on_progress=self._on_step,
            on_failed=self._on_failed,
            on_finished=self._on_finished,
        )
        self._update_buttons()

    @Slot()
    def cancel(self) -> None:
        """Stop the measurement; the points so far stay."""
        self._task.cancel()
        self.status_label.setText("Cancelled.")

    def _on_step(self, step: RobustnessStep) -> None:
        levels, accuracy = self._points[step.distortion]
        levels.append(step.level)
        accuracy.append(step.accuracy)
        self._current.set_data(step.distortion, levels, accuracy)
        self.progress.setValue(int(100 * step.fraction))

    def _on_measured(self, result: RobustnessResult) -> None:
        self._result = result
        self._measured_for = self._running_for
        for name, curve in result.curves.items():
            self._current.set_data(name, list(curve.levels), list(curve.accuracy))
        data = self._running_for[1] if self._running_for else None
        self.status_label.setText(
            f"On {result.images:,} images of {data.name if data else ''}: "
            f"{100 * result.plain_accuracy:.2f}% undistorted (dashed line). Every "
            "image gets the same amount, in a random direction."
        )
        self._rebuild_legend()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_label.setText("Failed: " + message.split("\n\n")[0])

    def _on_finished(self) -> None:
        self._running_for = None
        self.progress.setFormat("done" if self._result is not None else "stopped")
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self._task.is_running()
        self.cancel_button.setEnabled(running)
        self.measure_button.setEnabled(not running and self._model is not None)
        self.clear_button.setEnabled(bool(self._earlier))

    # -- earlier models -------------------------------------------------------------

    def _keep_as_earlier(self) -> None:
        self._task.cancel()
        self._running_for = None
        if self._result is None or self._model is None:
            for name in DISTORTIONS:
                self._current.set_data(name, [], [])
            return
        colour = EARLIER_COLORS[self._next_colour % len(EARLIER_COLORS)]
        self._next_colour += 1
        curves = self._current
        curves.style_earlier(colour)
        self._earlier.append((model_label(self._model), curves, self._result))
        self._earlier_colours.append(colour)
        if len(self._earlier) > MAX_EARLIER:
            _label, oldest, _result = self._earlier.pop(0)
            self._earlier_colours.pop(0)
            oldest.remove(self.plots)
        self._current = _Curves(self.plots)
        self._current.style_current()
        self._result = None
        self._measured_for = None
        self._rebuild_legend()
        self._update_buttons()

    @Slot()
    def forget_earlier(self) -> None:
        """Remove every earlier model's curves."""
        for _label, curves, _result in self._earlier:
            curves.remove(self.plots)
        self._earlier = []
        self._earlier_colours = []
        self._rebuild_legend()
        self._update_buttons()

    def _rebuild_legend(self) -> None:
        rows = []
        if self._model is not None:
            rows.append(
                f"<span style='color:{TRAIN_COLOR.name()}'>&#9473;&#9473;&#9679;"
                f"&#9473;&#9473;</span>&nbsp;<b>now</b>: {model_label(self._model)}"
            )
        for index, (label, _curves, _result) in reversed(
            list(enumerate(self._earlier))
        ):
            colour = self._earlier_colours[index].name()
            rows.append(
                f"<span style='color:{colour}'>&#9473;&#9473;&#9473;&#9473;&#9473;"
                f"</span>&nbsp;{label}"
            )
        if not rows:
            rows.append("No model yet.")
        rows.append(
            "<br><span style='color:#666'>Each point: accuracy when every image gets "
            "that much damage<br>(in a random direction). Faint: earlier models, "
            "kept<br>for comparison.</span>"
        )
        self.legend.setText("<br>".join(rows), size="9pt")

    # -- hover ----------------------------------------------------------------------

    @Slot(object)
    def _on_mouse_moved(self, position: QPointF) -> None:
        for name, plot in self.plots.items():
            if not plot.sceneBoundingRect().contains(position):
                continue
            x = plot.vb.mapSceneToView(position).x()
            self.hover_label.setText(self.describe(name, x))
            return

    def describe(self, name: str, x: float) -> str:
        """Read the curves of one plot at the level nearest ``x`` (plot units)."""
        distortion = DISTORTIONS[name]
        curves = [("now", self._result)] + [
            (label, result) for label, _c, result in reversed(self._earlier)
        ]
        parts = []
        for label, result in curves:
            if result is None or name not in result.curves:
                continue
            curve = result.curves[name]
            shown = _x_values(name, curve.levels)
            i = int(np.argmin(np.abs(shown - x)))
            parts.append(f"{label}: {100 * curve.accuracy[i]:.1f}%")
            level = shown[i]
        if not parts:
            return f"{distortion.label}: no curve yet."
        unit = "% of white" if name == "noise" else distortion.unit.split(" (")[0]
        return f"<b>{distortion.label} {level:g} {unit}</b> — " + "; ".join(parts)
