"""The training-health plots: per-layer curves and a weight histogram.

Per layer: gradient norm, update-to-weight ratio and inactive units over the epochs,
and one layer's weights now against at initialisation. Owns ``HealthPanel``; data
arrives as arrays (``core.health.HealthSeries`` and ``LayerHistogram``) and the panel
only draws, at most 5 times a second. Imports Qt, pyqtgraph and plain data types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.health import INACTIVE_KIND, HealthSeries, LayerHistogram
from gui.log_axis import LogAxis
from gui.plot_export import PlotSaver
from gui.run_history import GrowableSeries

# Samples are sparse (one every few minibatches): 2 redraws a second follow them, and
# they seldom fall in the same paint as the loss plots' (5 a second).
REDRAW_INTERVAL_MS = 500
# A healthy step changes the weights by about a thousandth of their size.
HEALTHY_UPDATE = 1e-3
INITIAL_COLOR = QColor(150, 150, 150)
TITLE_SIZE = "9pt"

EXPLANATIONS = {
    "gradient": (
        "How large each layer's gradient dC/dW is (its norm). Layers near the input "
        "with a far smaller gradient than the last layer learn slowly: the gradient "
        "vanishes on its way back. A gradient growing without bound explodes."
    ),
    "update": (
        "How much one optimizer step changes each layer's weights, relative to their "
        "size (||delta W|| / ||W||). About 1e-3 (the dotted line) is healthy; far "
        "below, the layer hardly learns; above 1e-1, steps overshoot."
    ),
    "inactive": (
        "Share of each hidden layer's units that pass (almost) no gradient back on a "
        "whole minibatch: ReLU units that output 0 for every example (dead), or "
        "sigmoid/tanh units pinned at their limits (saturated)."
    ),
    "histogram": (
        "How one layer's weights are spread now (coloured) and at initialisation "
        "(grey), as a share of the layer's weights per bin."
    ),
}


def layer_colors(count: int) -> list[QColor]:
    """Return one colour per layer, dark for the first, bright for the last."""
    colormap = pg.colormap.get("viridis")
    if count <= 1:
        return [colormap.map(0.0, mode="qcolor")]
    return [colormap.map(0.85 * i / (count - 1), mode="qcolor") for i in range(count)]


class HealthPanel(QWidget):
    """Per-layer health curves of the current run and a weight histogram.

    ``start_run`` sets up the curves for a network, ``add_samples`` appends what the
    training sampled, ``show_history`` draws a model file's per-epoch figures and
    ``set_histograms`` the weights now against at initialisation.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer_sizes: tuple[int, ...] = ()
        self._series: GrowableSeries | None = None
        self._offset = 0.0
        self._dirty = False
        self._histograms: tuple[LayerHistogram, ...] = ()
        self._curves: dict[str, list[pg.PlotDataItem]] = {}
        self.redraw_count = 0
        self._epoch_plot: pg.PlotItem | None = None
        self._epochs_moved = False
        self._histogram_moved = False

        # The layers' colours, as a line of text that wraps in a narrow panel.
        self.layers_label = QLabel()
        self.layers_label.setWordWrap(True)
        self.layers_label.setToolTip(
            "Measured every few minibatches while the network trains; one curve per "
            "layer of weights, first (dark) to last (bright)"
        )
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose weights the histogram shows")
        self.layer_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToContents
        )
        self.layer_combo.currentIndexChanged.connect(self.on_layer_changed)
        histogram_header = QHBoxLayout()
        histogram_header.setContentsMargins(4, 0, 2, 0)
        histogram_header.addWidget(QLabel("Weights of"))
        histogram_header.addWidget(self.layer_combo)
        histogram_header.addStretch(1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.layout.setContentsMargins(2, 2, 8, 2)
        # One column: the curves share the epoch axis and get the width they need.
        self.gradient_plot = self._plot(self.graphics, 0, "gradient norm", "gradient")
        self.update_plot = self._plot(self.graphics, 1, "update / weight", "update")
        self.inactive_plot = self._plot(
            self.graphics, 2, "inactive units (%)", "inactive", log=False
        )
        self.inactive_plot.setLabel("bottom", "epoch")
        for plot in (self.gradient_plot, self.update_plot):
            plot.hideAxis("bottom")  # the epochs are below; not redrawn as they grow
        self.histogram_graphics = pg.GraphicsLayoutWidget()
        self.histogram_graphics.ci.layout.setContentsMargins(2, 2, 8, 2)
        self.histogram_plot = self._plot(
            self.histogram_graphics, 0, "", "histogram", log=False
        )
        self.histogram_plot.setLabel("bottom", "weight")
        self.histogram_plot.setLabel("left", "%")
        for plot in (self.update_plot, self.inactive_plot):
            plot.setXLink(self.gradient_plot)
        self._plots = {
            "gradient_norm": self.gradient_plot,
            "update_ratio": self.update_plot,
            "inactive_share": self.inactive_plot,
        }
        self._inactive_top = 0.0
        self._set_inactive_top(10.0)
        for plot in (self.gradient_plot, self.update_plot):
            # One decade until a run has figures, with room for its end labels:
            # pyqtgraph's own range put a plot's "1" on the "10" of the one below.
            self._set_decades(plot, [np.array([1.0, 10.0])])
        healthy = pg.InfiniteLine(
            pos=np.log10(HEALTHY_UPDATE),
            angle=0,
            movable=False,
            pen=pg.mkPen(QColor(0, 0, 0, 90), width=1, style=Qt.PenStyle.DotLine),
        )
        self.update_plot.addItem(healthy, ignoreBounds=True)
        self.initial_curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pg.mkPen(INITIAL_COLOR, width=1),
            brush=pg.mkBrush(QColor(190, 190, 190, 110)),
        )
        self.current_curve = pg.PlotDataItem(stepMode="center")
        self.histogram_plot.addItem(self.initial_curve)
        self.histogram_plot.addItem(self.current_curve)
        legend = self.histogram_plot.addLegend(
            offset=(-4, 2), labelTextSize="8pt", verSpacing=-6
        )
        legend.addItem(self.current_curve, "now")
        legend.addItem(self.initial_curve, "at initialisation")
        self.savers = [
            PlotSaver(plot, name, self)
            for plot, name in (
                (self.gradient_plot, "gradient norm"),
                (self.update_plot, "update ratio"),
                (self.inactive_plot, "inactive units"),
                (self.histogram_plot, "weight histogram"),
            )
        ]

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.layers_label)
        layout.addWidget(self.graphics, 3)
        layout.addLayout(histogram_header)
        layout.addWidget(self.histogram_graphics, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.redraw)
        self.clear()

    @staticmethod
    def _plot(
        graphics: pg.GraphicsLayoutWidget,
        row: int,
        title: str,
        explained: str,
        log: bool = True,
    ) -> pg.PlotItem:
        axes = {"left": LogAxis("left")} if log else None
        plot = graphics.addPlot(row=row, col=0, axisItems=axes)
        # The name sits inside the plot's top left corner: a title row would take
        # height that short plots need.
        plot.name_label = pg.LabelItem(title, size=TITLE_SIZE, color=(60, 60, 60))
        plot.name_label.setParentItem(plot.vb)
        plot.name_label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
        plot.setLogMode(y=log)
        plot.setMenuEnabled(True)
        plot.getViewBox().setToolTip(EXPLANATIONS[explained])
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            axis.enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(42)
        return plot

    # ------------------------------------------------------------------ data
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The layer sizes of the network shown (empty before a run)."""
        return self._layer_sizes

    @property
    def sample_count(self) -> int:
        """Samples (or epochs of a history) held for the curves."""
        return 0 if self._series is None else len(self._series)

    def link_epochs(self, plot: pg.PlotItem) -> None:
        """Follow another plot's epoch range (the loss plot's), at the redraw rate.

        Not a live link: the loss plot's range grows with every redraw of it, and
        each change would repaint the health plots too.
        """
        self._epoch_plot = plot
        plot.vb.sigXRangeChanged.connect(self.on_epochs_moved)
        self.on_epochs_moved()

    @Slot()
    def on_epochs_moved(self) -> None:
        """Take the followed plot's epoch range at the next redraw."""
        self._epochs_moved = True
        if not self._timer.isActive():
            self._timer.start()

    def _follow_epochs(self) -> None:
        if self._epoch_plot is None:
            return
        self._epochs_moved = False
        low, high = self._epoch_plot.vb.viewRange()[0]
        if (low, high) != tuple(self.gradient_plot.vb.viewRange()[0]):
            self.gradient_plot.setXRange(low, high, padding=0)

    def clear(self) -> None:
        """Forget the run shown."""
        self.start_run((), "relu")

    def start_run(
        self,
        layer_sizes: Sequence[int],
        activation: str,
        history: HealthSeries | None = None,
        offset: float = 0.0,
    ) -> None:
        """Set up one curve per layer for a network; nothing plotted yet.

        ``history`` holds figures from before the run (a fine-tuned model's
        epochs), plotted first; the run's own samples come after ``offset`` epochs.
        """
        self._layer_sizes = tuple(int(n) for n in layer_sizes)
        layers = max(0, len(self._layer_sizes) - 1)
        self._offset = float(offset)
        self._series = GrowableSeries(1 + 3 * layers, 256) if layers else None
        self._histograms = ()
        self._make_curves(layers, activation)
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for layer in range(layers):
            fan_in, fan_out = self._layer_sizes[layer : layer + 2]
            self.layer_combo.addItem(f"layer {layer + 1} ({fan_in}→{fan_out})")
        self.layer_combo.blockSignals(False)
        self.initial_curve.setData([], [])
        self.current_curve.setData([], [])
        if history is not None and len(history):
            self._append(history, 0.0)
        self._mark_dirty()

    def show_history(
        self, layer_sizes: Sequence[int], activation: str, history: HealthSeries
    ) -> None:
        """Draw a model file's per-epoch health figures (no run goes on)."""
        self.start_run(layer_sizes, activation, history)

    def add_samples(self, series: HealthSeries | None) -> None:
        """Append the run's new health samples (x in the run's own epochs)."""
        if series is None or not len(series) or self._series is None:
            return
        self._append(series, self._offset)
        self._mark_dirty()

    def _append(self, series: HealthSeries, offset: float) -> None:
        layers = len(self._layer_sizes) - 1
        if series.gradient_norm.shape[1:] != (layers,):
            return  # another network's figures
        columns = [series.x + offset]
        for values in (
            series.gradient_norm,
            series.update_ratio,
            series.inactive_share,
        ):
            columns.extend(values.T)
        self._series.extend(*columns)

    def set_histograms(self, histograms: Sequence[LayerHistogram]) -> None:
        """Show the weights now against at initialisation, per layer."""
        self._histograms = tuple(histograms)
        # Drawn at the next redraw: at a run's end they come with its last epoch.
        self._histogram_moved = True
        if not self._timer.isActive():
            self._timer.start()

    def histogram_shown(self) -> LayerHistogram | None:
        """Return the chosen layer's histogram (None before any arrived)."""
        index = self.layer_combo.currentIndex()
        if 0 <= index < len(self._histograms):
            return self._histograms[index]
        return None

    # --------------------------------------------------------------- drawing
    def _make_curves(self, layers: int, activation: str) -> None:
        for name, curves in self._curves.items():
            for curve in curves:
                self._plots[name].removeItem(curve)
        kind = INACTIVE_KIND.get(activation, "inactive")
        self.inactive_plot.name_label.setText(f"{kind} units (%)", size=TITLE_SIZE)
        colors = layer_colors(layers)
        self._curves = {}
        for name, plot in self._plots.items():
            count = layers - 1 if name == "inactive_share" else layers
            curves = []
            for layer in range(count):
                curve = pg.PlotDataItem(
                    pen=pg.mkPen(colors[layer], width=1),
                    clipToView=True,
                    autoDownsample=True,
                )
                plot.addItem(curve)
                curves.append(curve)
            self._curves[name] = curves
        entries = []
        for layer in range(layers):
            fan_in, fan_out = self._layer_sizes[layer : layer + 2]
            entries.append(
                f'<span style="color:{colors[layer].name()}">&#9632;</span>'
                f"&nbsp;{layer + 1}:&nbsp;{fan_in}&#8594;{fan_out}"
            )
        self.layers_label.setText(
            "<b>Training health</b>, per layer: " + " &nbsp; ".join(entries)
            if entries
            else "<b>Training health</b> appears here while a network trains."
        )

    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def redraw(self) -> None:
        """Push the held samples into the curves (the throttle timer's slot)."""
        self._timer.stop()
        if self._epochs_moved:
            self._follow_epochs()
        if self._histogram_moved:
            self._histogram_moved = False
            self._draw_histogram()
        if not self._dirty:
            return
        self._dirty = False
        self.redraw_count += 1
        if self._series is None:
            for curves in self._curves.values():
                for curve in curves:
                    curve.setData([], [])
            return
        x = self._series.column(0)
        column = 1
        for name in ("gradient_norm", "update_ratio", "inactive_share"):
            log = name != "inactive_share"
            shown = []
            for curve in self._curves[name]:
                values = self._series.column(column)
                column += 1
                keep = np.isfinite(values)
                if log:
                    keep &= values > 0  # a log axis shows positive values only
                    shown.append(values[keep])
                curve.setData(x[keep], values[keep] * (1.0 if log else 100.0))
            if log:
                self._set_decades(self._plots[name], shown)
        self._set_inactive_top(self._inactive_peak())
        # Settle the ranges now: left to the paint, they would cost a second one.
        for plot in self._plots.values():
            plot.vb.prepareForPaint()

    @staticmethod
    def _set_decades(plot: pg.PlotItem, shown: list[np.ndarray]) -> None:
        # Whole decades around the values: the axis is redrawn only when a curve
        # crosses into a new decade, not on every redraw.
        values = np.concatenate(shown) if shown else np.empty(0)
        if not len(values):
            return
        low = float(np.floor(np.log10(values.min())))
        high = max(float(np.ceil(np.log10(values.max()))), low + 1)
        if getattr(plot, "decades", None) != (low, high):
            plot.decades = (low, high)
            plot.setYRange(low, high, padding=0.08)  # room for the end labels

    def _inactive_peak(self) -> float:
        layers = len(self._layer_sizes) - 1
        first = 1 + 2 * layers
        peaks = [
            np.nanmax(self._series.column(first + i), initial=0.0)
            for i in range(layers - 1)
        ]
        return 100.0 * max(peaks, default=0.0)

    def _set_inactive_top(self, peak: float) -> None:
        # 0 to the largest share rounded up to a multiple of 10 (10% at least): a
        # few dead units still show, and the axis moves rarely.
        top = float(min(100, max(10, 10 * np.ceil(peak / 10))))
        if top != self._inactive_top:
            self._inactive_top = top
            self.inactive_plot.setYRange(0, top, padding=0.02)
            # 0 and the top always, the middle when there is room: a short plot
            # (the 1024x640 window) cannot hold a label every 2%.
            self.inactive_plot.getAxis("left").setTicks(
                [[(0.0, "0"), (top, f"{top:g}")], [(top / 2, f"{top / 2:g}")]]
            )

    def _draw_histogram(self) -> None:
        histogram = self.histogram_shown()
        if histogram is None:
            self.initial_curve.setData([], [])
            self.current_curve.setData([], [])
            return
        index = self.layer_combo.currentIndex()
        colors = layer_colors(len(self._histograms))
        self.current_curve.setPen(pg.mkPen(colors[index], width=2))
        self.initial_curve.setData(histogram.edges, 100.0 * histogram.initial)
        self.current_curve.setData(histogram.edges, 100.0 * histogram.current)
        # 0 and the peak only: the histogram is short, in a small window very short.
        peak = 100.0 * max(histogram.initial.max(), histogram.current.max(), 0.01)
        scale = 10.0 ** np.floor(np.log10(peak))
        top = float(np.floor(peak / scale) * scale)  # one digit, under the peak
        self.histogram_plot.getAxis("left").setTicks([[(0.0, "0"), (top, f"{top:g}")]])

    @Slot(int)
    def on_layer_changed(self, _index: int) -> None:
        """Show the histogram of the layer chosen."""
        self._draw_histogram()

    def curve_data(self, name: str, layer: int) -> tuple[Any, Any]:
        """Return what one curve draws (for tests): its x and y arrays."""
        return self._curves[name][layer].getData()
