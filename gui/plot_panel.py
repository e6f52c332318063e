"""Live loss and accuracy plots (pyqtgraph) for the current and earlier runs.

Owns the curves, the lines where a run's training phases begin, their throttled
redraw, hover read-out, log-scale toggle and the run list (hide / remove). Data arrives
as arrays; the panel never computes metrics. Imports Qt, pyqtgraph and gui.run_history
only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QPoint,
    QPointF,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.log_axis import LogAxis
from gui.run_history import PhaseMark, PlottedHistory, RunRecord, plotted_history

REDRAW_INTERVAL_MS = 200  # at most 5 redraws per second
TRAIN_COLOR = QColor(31, 119, 180)
VALIDATION_COLOR = QColor(230, 110, 20)
RAW_BATCH_COLOR = QColor(120, 120, 120, 70)
EARLIER_COLORS = [
    QColor(44, 160, 44),
    QColor(148, 103, 189),
    QColor(214, 39, 40),
    QColor(23, 190, 207),
    QColor(140, 86, 75),
    QColor(227, 119, 194),
    QColor(188, 189, 34),
]
EARLIER_ALPHA = 120
PHASE_COLOR = QColor(60, 60, 60)
CHANGE_COLOR = QColor(150, 40, 160)  # settings changed during a run
# Where a phase's name sits along its line (0 bottom, 1 top): above the late, low loss
# and below the late, high accuracy; a change's name a little lower and higher.
PHASE_LABEL_POSITION = {"loss": 0.9, "accuracy": 0.1}
CHANGE_LABEL_POSITION = {"loss": 0.75, "accuracy": 0.25}
MAX_SYMBOL_EPOCHS = 60
# A run stepped batch by batch has a few batch points only: each gets a dot, so that
# the first one shows (one point draws no line).
MAX_SYMBOL_BATCHES = 40
LEGEND_CHARS = 34
LEGEND_FONT = "8pt"
LEGEND_ROWS = 2  # at most: the legends sit above the plots and take their height
HOVER_HINT = "Hover over a plot to read its values."
HOVER_PIXELS = 24  # a point farther than this from the pointer is not read out
# Room right of the plots: the last epoch's label is centred on the axis's end.
RIGHT_MARGIN = 22

pg.setConfigOptions(background="w", foreground="k")


def _pen(color: QColor, alpha: int | None = None, style=Qt.PenStyle.SolidLine):
    color = QColor(color)
    if alpha is not None:
        color.setAlpha(alpha)
    return pg.mkPen(color, width=1, style=style)


# A bound past a grid line by less than this share of a step (the markers' pixel
# margin below a loss near 0) keeps that line: the view box's own padding still shows
# it (1/sqrt(height) of the span: 7% on a 200-pixel plot, over a fifth of a step).
ROUND_TOLERANCE = 0.15


def _round_out(low: float, high: float) -> list[float]:
    """Widen ``[low, high]`` outward to a grid of a "nice" step near an eighth of it."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return [low, high]
    target = span / 8
    magnitude = 10.0 ** math.floor(math.log10(target))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= target)
    return [
        math.floor(low / step + ROUND_TOLERANCE) * step,
        math.ceil(high / step - ROUND_TOLERANCE) * step,
    ]


class _SteadyViewBox(pg.ViewBox):
    """A view box whose value (y) auto-range moves in coarse steps.

    A new value range re-renders the axis, most of a live redraw's cost; rounding the
    data bounds outward keeps the range, and the axis cache, still for most redraws
    while the loss creeps down. In log mode the bounds (log10) are rounded likewise.
    """

    def childrenBounds(self, *args: Any, **kwargs: Any) -> list:  # noqa: N802 (Qt)
        bounds = super().childrenBounds(*args, **kwargs)
        if bounds[1] is not None:
            bounds[1] = _round_out(*bounds[1])
        return bounds


class _Sample(pg.ItemSample):
    """A legend entry drawn like its curve: the line, and the points' own marker.

    pyqtgraph's sample takes the marker's colours from the scatter item's defaults
    (grey, until data arrives), not from the colours the points are drawn in.
    """

    def paint(self, painter: Any, *args: Any) -> None:  # noqa: D102
        opts = self.item.opts
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        if not self.item.isVisible():
            super().paint(painter, *args)
            return
        pen = pg.mkPen(opts["pen"])
        colour = pen.color()
        colour.setAlpha(max(colour.alpha(), 200))  # a faint run still reads here
        pen.setColor(colour)
        pen.setWidthF(max(pen.widthF(), 2.0))
        painter.setPen(pen)
        painter.drawLine(QPointF(0, 10), QPointF(20, 10))
        if opts.get("symbol") is not None:
            painter.translate(10, 10)
            pg.graphicsItems.ScatterPlotItem.drawSymbol(
                painter,
                opts["symbol"],
                opts["symbolSize"],
                pg.mkPen(opts["symbolPen"]),
                pg.mkBrush(opts["symbolBrush"]),
            )


class _RunCurves:
    """The plot items of one run, created once and restyled when the run gets old."""

    def __init__(self, loss_plot: pg.PlotItem, accuracy_plot: pg.PlotItem) -> None:
        def curve(plot: pg.PlotItem, **kwargs: Any) -> pg.PlotDataItem:
            item = pg.PlotDataItem(**kwargs)
            plot.addItem(item)
            return item

        self.batch_raw = curve(loss_plot, clipToView=True, autoDownsample=True)
        self.batch_raw.setDownsampling(auto=True, method="peak")
        self.batch_smooth = curve(loss_plot, clipToView=True, autoDownsample=True)
        self.train_loss = curve(loss_plot)
        self.validation_loss = curve(loss_plot)
        self.train_accuracy = curve(accuracy_plot)
        self.validation_accuracy = curve(accuracy_plot)
        self.plots = {
            self.batch_raw: loss_plot,
            self.batch_smooth: loss_plot,
            self.train_loss: loss_plot,
            self.validation_loss: loss_plot,
            self.train_accuracy: accuracy_plot,
            self.validation_accuracy: accuracy_plot,
        }
        self.phase_lines: list[pg.InfiniteLine] = []
        self.change_lines: set[pg.InfiniteLine] = set()
        self._phase_style = (PHASE_COLOR, 200, True)
        self._axes = {"loss": loss_plot, "accuracy": accuracy_plot}

    def items(self) -> list[pg.GraphicsObject]:
        return list(self.plots)

    def add_phase_line(self, mark: PhaseMark) -> None:
        """Draw a thin, named vertical line in both plots where a phase begins.

        A change of settings (``mark.kind`` ``"change"``) gets a dotted line.
        """
        positions = (
            CHANGE_LABEL_POSITION if mark.kind == "change" else (PHASE_LABEL_POSITION)
        )
        for name, plot in self._axes.items():
            line = pg.InfiniteLine(
                pos=mark.epoch,
                angle=90,
                movable=False,
                label=mark.name,
                labelOpts={"position": positions[name], "movable": False},
            )
            plot.addItem(line, ignoreBounds=True)
            self.plots[line] = plot
            self.phase_lines.append(line)
            if mark.kind == "change":
                self.change_lines.add(line)
        self._style_phase_lines(*self._phase_style)

    def _style_phase_lines(self, color: QColor, alpha: int, current: bool) -> None:
        # The current run's changes in their own hue; an earlier run's all in its.
        self._phase_style = (color, alpha, current)
        for line in self.phase_lines:
            change = line in self.change_lines
            hue = CHANGE_COLOR if change and current else color
            style = Qt.PenStyle.DotLine if change else Qt.PenStyle.DashLine
            label = QColor(hue)
            label.setAlpha(max(alpha, 160))
            line.setPen(_pen(hue, alpha, style))
            line.label.setColor(label)

    def style_current(self) -> None:
        symbol = {"symbol": "o", "symbolSize": 5}
        self.batch_raw.setPen(_pen(RAW_BATCH_COLOR))
        self.batch_smooth.setPen(_pen(TRAIN_COLOR, 170))
        for item, color in (
            (self.train_loss, TRAIN_COLOR),
            (self.validation_loss, VALIDATION_COLOR),
            (self.train_accuracy, TRAIN_COLOR),
            (self.validation_accuracy, VALIDATION_COLOR),
        ):
            item.setPen(_pen(color))
            item.setSymbol(symbol["symbol"])
            item.setSymbolSize(symbol["symbolSize"])
            item.setSymbolPen(_pen(color))
            item.setSymbolBrush(color)
        self._style_phase_lines(PHASE_COLOR, 200, True)

    def style_earlier(self, color: QColor) -> None:
        self.batch_raw.setPen(_pen(color, 25))
        self.batch_smooth.setPen(_pen(color, 60))
        dashed = Qt.PenStyle.DashLine
        for item, style in (
            (self.train_loss, dashed),
            (self.validation_loss, Qt.PenStyle.SolidLine),
            (self.train_accuracy, dashed),
            (self.validation_accuracy, Qt.PenStyle.SolidLine),
        ):
            item.setPen(_pen(color, EARLIER_ALPHA, style))
            item.setSymbol(None)
        self._style_phase_lines(color, EARLIER_ALPHA, False)

    def set_visible(self, visible: bool, show_raw: bool) -> None:
        for item in self.items():
            item.setVisible(visible)
        self.batch_raw.setVisible(visible and show_raw)

    def remove(self) -> None:
        for item, plot in self.plots.items():
            plot.removeItem(item)


class _Graphics(pg.GraphicsLayoutWidget):
    """The plots' view; says when the pointer leaves it (the hover read-out ends)."""

    pointer_left = Signal()

    def leaveEvent(self, event: QEvent) -> None:  # noqa: D102, N802
        super().leaveEvent(event)
        self.pointer_left.emit()


class PlotPanel(QWidget):
    """Loss (per batch and per epoch) and accuracy (per epoch) of the session's runs.

    The current run is drawn in strong colours; earlier runs stay faint, each in its own
    hue, named in the legend and the run list, where they can be hidden or removed.
    """

    runs_changed = Signal()
    make_current_requested = Signal(int)  # run id: show its model (double-click)
    evaluate_requested = Signal(int)  # run id: show its model on the Evaluate tab
    save_requested = Signal(int)  # run id: save its model under a name
    export_history_requested = Signal(int)  # run id: write its history as CSV
    run_removed = Signal(int)  # run id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self._curves: dict[int, _RunCurves] = {}
        self._colors: dict[int, QColor] = {}
        self._current: RunRecord | None = None
        self._next_id = 1
        self._dirty: set[int] = set()
        # Epochs already drawn per run: the epoch curves (the whole accuracy plot)
        # only need new data, and a repaint, when an epoch ends.
        self._drawn_epochs: dict[int, int] = {}
        self._redraw_count = 0
        self._legend_layout = (0, 0)  # legend columns last laid out
        self._notes: dict[int, str] = {}  # what the run list says of a run's model
        self._restorable: set[int] = set()  # runs whose model is kept
        self._model_run: int | None = None  # the run whose model the window shows
        self._busy = False  # a run trains: no other model can be made current
        # Asked before runs are removed from the list (they may hold unsaved models).
        self.confirm_removal: Callable[[list[int]], bool] | None = None

        self.graphics = _Graphics()
        self.graphics.setToolTip(
            "Drag to pan, wheel to zoom, right-click for more; hover to read values."
        )
        self.graphics.ci.layout.setContentsMargins(2, 2, RIGHT_MARGIN, 2)
        # Legends get rows of their own above the plots so they never hide data.
        self.loss_legend, self.accuracy_legend = (
            pg.LegendItem(
                colCount=4, labelTextSize=LEGEND_FONT, frame=False, sampleType=_Sample
            )
            for _ in range(2)
        )
        self._legend_font = QFont(self.font())
        self._legend_font.setPointSizeF(float(LEGEND_FONT.removesuffix("pt")))
        self.graphics.addItem(self.loss_legend, row=0, col=0)
        self.loss_plot = self.graphics.addPlot(
            row=1,
            col=0,
            viewBox=_SteadyViewBox(),
            axisItems={"left": LogAxis("left")},
        )
        self.graphics.addItem(self.accuracy_legend, row=2, col=0)
        self.accuracy_plot = self.graphics.addPlot(
            row=3, col=0, viewBox=_SteadyViewBox()
        )
        for plot, ylabel in (
            (self.loss_plot, "loss"),
            (self.accuracy_plot, "accuracy (%)"),
        ):
            plot.setLabel("bottom", "epoch")
            plot.setLabel("left", ylabel)
            plot.setMenuEnabled(True)
            # A grid would be drawn by the axes across the whole plot on every redraw
            # (three quarters of the paint time); cached axes repaint only on change.
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
                axis.enableAutoSIPrefix(False)
            # Equal axis widths keep the two plots' epochs aligned.
            plot.getAxis("left").setWidth(52)
        self.accuracy_plot.setXLink(self.loss_plot)
        # Sensible empty axes until data arrives (auto-range takes over then).
        self.loss_plot.setRange(xRange=(0, 1), yRange=(0, 2.5), padding=0)
        self.accuracy_plot.setRange(yRange=(0, 100), padding=0)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.enableAutoRange()
        self._cursors = []
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=_pen(QColor(0, 0, 0, 60))
            )
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._cursors.append(line)
        self.graphics.scene().sigMouseMoved.connect(self.on_scene_mouse_moved)
        self.graphics.pointer_left.connect(self.reset_hover)

        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setToolTip("Values of the point nearest the mouse pointer")
        self.hover_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.log_check = QCheckBox("Log-scale loss")
        self.log_check.setToolTip("Show the loss axis on a logarithmic scale (L)")
        self.log_check.toggled.connect(self.on_log_toggled)
        self.raw_check = QCheckBox("Per-batch loss")
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip(
            "Show the raw loss of every mini-batch (faint) behind its smoothed curve"
        )
        self.raw_check.toggled.connect(self.on_raw_toggled)

        self.run_list = QListWidget()
        self.run_list.setToolTip(
            "Runs of this session: untick to hide a run; double-click to show its "
            "model (Draw, Evaluate and Save use it); right-click to evaluate or save "
            "it; select and Remove to drop it"
        )
        self.run_list.setMaximumHeight(110)
        self.run_list.itemChanged.connect(self.on_run_item_changed)
        self.run_list.itemSelectionChanged.connect(self._update_remove_enabled)
        self.run_list.itemDoubleClicked.connect(self.on_run_item_double_clicked)
        self.run_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.run_list.customContextMenuRequested.connect(self.on_run_list_menu)
        self.remove_button = QPushButton("Remove run")
        self.remove_button.setToolTip("Remove the selected run from the plots")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self.on_remove_clicked)
        self.clear_button = QPushButton("Remove earlier runs")
        self.clear_button.setToolTip("Remove every run except the latest one")
        self.clear_button.clicked.connect(self.remove_earlier_runs)
        self.clear_button.setEnabled(False)

        options = QHBoxLayout()
        options.addWidget(self.log_check)
        options.addWidget(self.raw_check)
        options.addStretch(1)
        options.addWidget(self.hover_label, 4)

        runs_buttons = QVBoxLayout()
        runs_buttons.addWidget(self.remove_button)
        runs_buttons.addWidget(self.clear_button)
        runs_buttons.addStretch(1)
        runs_box = QWidget()
        runs_row = QHBoxLayout(runs_box)
        runs_row.setContentsMargins(0, 0, 0, 0)
        runs_row.addWidget(self.run_list, 1)
        runs_row.addLayout(runs_buttons)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.graphics)
        splitter.addWidget(runs_box)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(options)
        layout.addWidget(splitter, 1)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self.redraw)

    # ----------------------------------------------------------------- runs
    @property
    def runs(self) -> list[RunRecord]:
        """Every run still in the plots, oldest first."""
        return list(self._runs)

    @property
    def current_run(self) -> RunRecord | None:
        """The run receiving data (or the latest one), None when the plots are empty."""
        return self._current

    @property
    def redraw_count(self) -> int:
        """How many throttled redraws happened (for tests and the benchmark)."""
        return self._redraw_count

    def start_run(
        self,
        label: str,
        config: dict[str, Any] | None = None,
        epochs: int | None = None,
        before: PlottedHistory | None = None,
    ) -> RunRecord:
        """Begin a new current run; the previous current run turns faint.

        With ``epochs`` the epoch axis spans the whole run from the start, so it does
        not move (and re-render) on every redraw; the value axes keep auto-ranging.
        ``before`` is the history the run continues (a fine-tune's base model): it is
        drawn first, with its phase lines, and the run's own epochs and batches follow
        it on the epoch axis (its epoch 1 at ``before.end + 1``).
        """
        self._demote_current()
        run = RunRecord(
            run_id=self._next_id,
            label=label,
            config=dict(config or {}),
            planned_epochs=epochs,
        )
        self._next_id += 1
        self._runs.append(run)
        curves = _RunCurves(self.loss_plot, self.accuracy_plot)
        curves.style_current()
        self._curves[run.run_id] = curves
        if before is not None:
            run.epoch_offset = before.end
            self._add_history(run, before)
        self._current = run
        self._add_list_item(run)
        self._rebuild_legends()
        self._apply_visibility(run)
        self._update_epoch_span()
        self._update_remove_enabled()
        # Lay out the new legends and settle the ranges now, so that the empty run is
        # painted once (not once before and once after), before the training starts.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.vb.prepareForPaint()
        self.runs_changed.emit()
        return run

    def _update_epoch_span(self) -> None:
        """Fit the epoch axis to the visible runs (a running one: to its last epoch).

        A fixed span does not move (and re-render) on every redraw; the value axes
        keep auto-ranging. A running run without a planned length auto-ranges.
        """
        span = 0.0
        for run in self._runs:
            if not run.visible:
                continue
            if run is self._current and not run.finished:
                if not run.planned_epochs:
                    self.loss_plot.enableAutoRange(x=True)
                    return
                span = max(span, run.epoch_offset + float(run.planned_epochs))
            else:
                span = max(span, run.last_epoch())
        if span <= 0:
            self.loss_plot.enableAutoRange(x=True)
            return
        self.loss_plot.setXRange(0.0, span, padding=0.02)
        self.loss_plot.enableAutoRange(x=False, y=True)
        self.accuracy_plot.enableAutoRange(x=False, y=True)

    def add_history_run(
        self,
        label: str,
        config: dict[str, Any],
        history: PlottedHistory | list[dict[str, Any]],
    ) -> RunRecord:
        """Show a model file's per-epoch history as the current run.

        A `PlottedHistory` brings its phases (lines where each later one begins); a
        plain list of rows is laid out the same way, its phases named by number.
        """
        if not isinstance(history, PlottedHistory):
            history = plotted_history(history, [])
        run = self.start_run(label, config)
        self._add_history(run, history)
        run.finished = True
        run.outcome = "loaded"
        self._update_epoch_span()
        self._mark_dirty(run)
        return run

    def _add_history(self, run: RunRecord, history: PlottedHistory) -> None:
        for epoch, row in zip(history.epochs, history.rows, strict=True):
            run.add_epoch(float(epoch), row)
        run.marks = history.marks
        for mark in history.marks:
            self._curves[run.run_id].add_phase_line(mark)
        self._mark_dirty(run)

    def add_batches(
        self, x: np.ndarray, loss: np.ndarray, smoothed: np.ndarray
    ) -> None:
        """Append per-batch points to the current run (x in fractional epochs)."""
        run = self._current
        if run is None or len(x) == 0:
            return
        run.add_batches(x + run.epoch_offset, loss, smoothed)
        self._mark_dirty(run)

    def add_epoch(self, epoch: float, values: dict[str, float | None]) -> None:
        """Append one epoch's train/validation loss and accuracy to the current run.

        ``epoch`` counts the run's own epochs (from 1), plotted after any history
        the run continues.
        """
        run = self._current
        if run is None:
            return
        run.add_epoch(epoch + run.epoch_offset, values)
        self._mark_dirty(run)

    def add_change_mark(self, epoch: float, name: str) -> None:
        """Mark where settings changed during the current run took effect.

        ``epoch`` counts the run's own epochs (fractional), like ``add_epoch``.
        """
        run = self._current
        if run is None:
            return
        mark = PhaseMark(epoch + run.epoch_offset, name, "change")
        run.marks = (*run.marks, mark)
        self._curves[run.run_id].add_phase_line(mark)

    def finish_run(self, outcome: str) -> None:
        """Mark the current run as ended (completed, cancelled, diverged, ...)."""
        if self._current is None:
            return
        self._current.finished = True
        self._current.outcome = outcome
        self._refresh_list_item(self._current)
        self.redraw()
        self._update_epoch_span()  # a stopped run ends before its planned epochs

    def set_run_visible(self, run_id: int, visible: bool) -> None:
        """Show or hide one run's curves."""
        run = self._find(run_id)
        if run is None:
            return
        run.visible = visible
        self._apply_visibility(run)
        self._rebuild_legends()  # the legends name the visible runs
        self._update_epoch_span()
        self.reset_hover()
        item = self._list_item(run_id)
        if item is not None and (item.checkState() == Qt.CheckState.Checked) != visible:
            item.setCheckState(
                Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
            )

    def remove_run(self, run_id: int) -> None:
        """Drop one run and its curves."""
        run = self._find(run_id)
        if run is None:
            return
        self._curves.pop(run_id).remove()
        self._runs.remove(run)
        self._colors.pop(run_id, None)
        self._dirty.discard(run_id)
        self._drawn_epochs.pop(run_id, None)
        self._notes.pop(run_id, None)
        self._restorable.discard(run_id)
        if self._model_run == run_id:
            self._model_run = None
        item = self._list_item(run_id)
        if item is not None:
            self.run_list.takeItem(self.run_list.row(item))
        if self._current is run:
            self._current = None
        self._rebuild_legends()
        self._update_epoch_span()
        self._update_remove_enabled()
        self.reset_hover()
        self.run_removed.emit(run_id)
        self.runs_changed.emit()

    @Slot()
    def remove_earlier_runs(self) -> None:
        """Remove every run but the latest (asking first about unsaved models)."""
        ids = [run.run_id for run in self._runs[:-1]]
        if ids and (self.confirm_removal is None or self.confirm_removal(ids)):
            for run_id in ids:
                self.remove_run(run_id)

    def clear(self) -> None:
        """Remove all runs."""
        for run in list(self._runs):
            self.remove_run(run.run_id)

    # -------------------------------------------------------------- drawing
    def _mark_dirty(self, run: RunRecord) -> None:
        self._dirty.add(run.run_id)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    @Slot()
    def redraw(self) -> None:
        """Push the dirty runs' arrays into their curves (the throttle timer's slot)."""
        self._redraw_timer.stop()
        dirty, self._dirty = self._dirty, set()
        for run_id in dirty:
            run = self._find(run_id)
            if run is None:
                continue
            curves = self._curves[run_id]
            x = run.batches.column(0)
            curves.batch_raw.setData(x, run.batches.column(1))
            curves.batch_smooth.setData(x, run.batches.column(2))
            dots = run is self._current and len(x) <= MAX_SYMBOL_BATCHES
            if (curves.batch_smooth.opts["symbol"] is not None) != dots:
                curves.batch_smooth.setSymbol("o" if dots else None)
                curves.batch_smooth.setSymbolSize(4)
                curves.batch_smooth.setSymbolPen(_pen(TRAIN_COLOR, 170))
                curves.batch_smooth.setSymbolBrush(TRAIN_COLOR)
            epoch = run.epoch_column("epoch")
            if self._drawn_epochs.get(run_id) == len(epoch):
                continue
            self._drawn_epochs[run_id] = len(epoch)
            if run is self._current and len(epoch) > MAX_SYMBOL_EPOCHS:
                # Thousands of markers (a 3,000-epoch full-batch run) cost every redraw.
                for item in (
                    curves.train_loss,
                    curves.validation_loss,
                    curves.train_accuracy,
                    curves.validation_accuracy,
                ):
                    if item.opts["symbol"] is not None:
                        item.setSymbol(None)
            for item, name, scale in (
                (curves.train_loss, "train_loss", 1.0),
                (curves.validation_loss, "validation_loss", 1.0),
                (curves.train_accuracy, "train_accuracy", 100.0),
                (curves.validation_accuracy, "validation_accuracy", 100.0),
            ):
                values = run.epoch_column(name)
                # Runs without validation have NaN there; pyqtgraph warns on all-NaN.
                keep = np.isfinite(values)
                item.setData(epoch[keep], scale * values[keep])
        if dirty:
            self._redraw_count += 1
            # Settle the auto-range now: left to the paint, a new range would mark
            # the plot dirty again during it and cost a second paint.
            for plot in (self.loss_plot, self.accuracy_plot):
                plot.vb.prepareForPaint()

    def _demote_current(self) -> None:
        if self._current is None:
            return
        run = self._current
        color = EARLIER_COLORS[(run.run_id - 1) % len(EARLIER_COLORS)]
        self._colors[run.run_id] = color
        self._curves[run.run_id].style_earlier(color)
        self._refresh_list_item(run)
        self._apply_visibility(run)
        self._current = None

    def _apply_visibility(self, run: RunRecord) -> None:
        show_raw = self.raw_check.isChecked() and run is self._current
        self._curves[run.run_id].set_visible(run.visible, show_raw)

    def _rebuild_legends(self) -> None:
        self.loss_legend.clear()
        self.accuracy_legend.clear()
        loss: list[tuple[pg.PlotDataItem, str]] = []
        accuracy: list[tuple[pg.PlotDataItem, str]] = []
        if self._current is not None:
            curves = self._curves[self._current.run_id]
            loss = [
                (curves.batch_raw, "train, per batch"),
                (curves.batch_smooth, "train, smoothed"),
                (curves.train_loss, "train, per epoch"),
                (curves.validation_loss, "validation"),
            ]
            accuracy = [
                (curves.train_accuracy, "train"),
                (curves.validation_accuracy, "validation"),
            ]
        earlier = [
            (self._curves[run.run_id].validation_accuracy, self.legend_name(run))
            for run in self._runs
            if run is not self._current and run.visible
        ]
        loss_columns, columns = self._legend_fit(
            [name for _, name in loss], [name for _, name in accuracy + earlier]
        )
        # Two rows at most (three in a panel too narrow for two entries side by
        # side): the latest earlier runs; the run list names them all.
        room = max(1, LEGEND_ROWS * columns - len(accuracy))
        accuracy += earlier[len(earlier) - room :] if earlier else []
        self._legend_layout = (loss_columns, columns)
        for legend, entries, count in (
            (self.loss_legend, loss, loss_columns),
            (self.accuracy_legend, accuracy, columns),
        ):
            legend.setColumnCount(max(1, min(count, len(entries))))
            for item, name in entries:
                legend.addItem(item, name)

    def _legend_fit(
        self, loss: list[str] | None = None, accuracy: list[str] | None = None
    ) -> tuple[int, int]:
        """Columns of the two legends for these entries (by default the shown ones)."""
        if loss is None:
            loss = [label.text for _, label in self.loss_legend.items]
        if accuracy is None:
            accuracy = [label.text for _, label in self.accuracy_legend.items]
            accuracy += [
                self.legend_name(run)
                for run in self._runs
                if run is not self._current and run.visible
            ]
        return self._legend_columns(loss), self._legend_columns(accuracy)

    def _legend_columns(self, names: list[str]) -> int:
        """How many legend entries fit side by side in the plots' width."""
        if not names:
            return 1
        metrics = QFontMetricsF(self._legend_font)
        entry = max(metrics.horizontalAdvance(name) for name in names) + 20 + 24
        width = self.graphics.width() - RIGHT_MARGIN - 8
        return max(1, int(width // entry))

    def resizeEvent(self, event: QEvent) -> None:  # noqa: D102, N802
        super().resizeEvent(event)
        if self._runs and self._legend_layout != self._legend_fit():
            self._rebuild_legends()

    @staticmethod
    def legend_name(run: RunRecord) -> str:
        """Return the legend text of an earlier run: whole words of its settings.

        Never a number cut short ("lr=0.00"): a long label ends after its last whole
        setting that fits, with "…" (the run list has the full text).
        """
        text = f"run {run.run_id}: {run.label}"
        limit = LEGEND_CHARS + len(f"run {run.run_id}: ")
        if len(text) <= limit:
            return text
        words = text.split(" ")
        kept = words[:2]  # "run N:" and the first setting, whatever its length
        for word in words[2:]:
            if len(" ".join([*kept, word])) > limit - 1:
                break
            kept.append(word)
        return " ".join(kept) + " …"

    # ------------------------------------------------------------ run list
    def _add_list_item(self, run: RunRecord) -> None:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, run.run_id)
        item.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
        )
        item.setCheckState(Qt.CheckState.Checked)
        self.run_list.blockSignals(True)
        self.run_list.addItem(item)
        self.run_list.blockSignals(False)
        self._refresh_list_item(run)
        self.run_list.scrollToItem(item)

    def _refresh_list_item(self, run: RunRecord) -> None:
        item = self._list_item(run.run_id)
        if item is None:
            return
        state = run.outcome or ("current" if run is self._current else "")
        note = self._notes.get(run.run_id, "")
        states = ", ".join(part for part in (state, note) if part)
        text = f"run {run.run_id}: {run.label}"
        if states:
            text += f"  [{states}]"
        shown = run.run_id == self._model_run
        color = self._colors.get(run.run_id, TRAIN_COLOR)
        pixmap = QPixmap(12, 12)
        pixmap.fill(color)
        self.run_list.blockSignals(True)
        item.setText(("▶ " if shown else "") + text)
        font = item.font()
        font.setBold(shown)
        item.setFont(font)
        item.setIcon(QIcon(pixmap))
        tip = "\nThe window shows this run's model." if shown else ""
        if run.run_id in self._restorable and not shown:
            tip = "\nDouble-click to show its model; right-click to evaluate or save."
        item.setToolTip(text + tip + "\nUntick to hide this run")
        self.run_list.blockSignals(False)

    def _list_item(self, run_id: int) -> QListWidgetItem | None:
        for row in range(self.run_list.count()):
            item = self.run_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == run_id:
                return item
        return None

    def _find(self, run_id: int) -> RunRecord | None:
        return next((r for r in self._runs if r.run_id == run_id), None)

    @Slot(QListWidgetItem)
    def on_run_item_changed(self, item: QListWidgetItem) -> None:
        """Show or hide a run whose check box was toggled."""
        run_id = item.data(Qt.ItemDataRole.UserRole)
        self.set_run_visible(run_id, item.checkState() == Qt.CheckState.Checked)

    @Slot()
    def _update_remove_enabled(self) -> None:
        self.remove_button.setEnabled(bool(self.run_list.selectedItems()))
        self.clear_button.setEnabled(len(self._runs) > 1)

    @Slot()
    def on_remove_clicked(self) -> None:
        """Remove the runs selected in the list (asking first about unsaved models)."""
        ids = [
            item.data(Qt.ItemDataRole.UserRole)
            for item in self.run_list.selectedItems()
        ]
        if ids and (self.confirm_removal is None or self.confirm_removal(ids)):
            for run_id in ids:
                self.remove_run(run_id)

    # ---------------------------------------------------------- run models
    def set_run_note(self, run_id: int, note: str, restorable: bool) -> None:
        """Say in the run list what became of a run's model ("not saved", ...)."""
        self._notes[run_id] = note
        if restorable:
            self._restorable.add(run_id)
        else:
            self._restorable.discard(run_id)
        run = self._find(run_id)
        if run is not None:
            self._refresh_list_item(run)

    def set_model_run(self, run_id: int | None) -> None:
        """Mark the run whose model the window shows (None: none of them)."""
        if run_id == self._model_run:
            return
        previous, self._model_run = self._model_run, run_id
        for other in {previous, run_id} - {None}:
            run = self._find(other)
            if run is not None:
                self._refresh_list_item(run)

    def set_runs_busy(self, busy: bool) -> None:
        """While a run trains, no other run's model can be made current."""
        self._busy = busy

    def run_menu(self, run_id: int) -> QMenu:
        """Return the run list's context menu for one run."""
        menu = QMenu(self.run_list)
        menu.setToolTipsVisible(True)
        usable = run_id in self._restorable and not self._busy
        why = "Not while a run trains" if self._busy else "Its model is not kept"
        run = self._find(run_id)
        for request, text, tip in (
            ("current", "Make current", "Show this run's model (double-click)"),
            ("evaluate", "Evaluate", "Show this run's model on the Evaluate tab"),
            ("save", "Save as…", "Save this run's model in a file"),
            (None, "", ""),
            (
                "export",
                "Export history as CSV…",
                "Write this run's history, one row per epoch, to a CSV file",
            ),
            (None, "", ""),
            ("toggle", "Hide" if run is None or run.visible else "Show", ""),
            ("remove", "Remove", "Remove this run from the plots"),
        ):
            if request is None:
                menu.addSeparator()
                continue
            action = menu.addAction(text)
            action.setData(run_id)
            action.setProperty("request", request)
            if request in ("current", "evaluate", "save"):
                action.setEnabled(usable)
                tip = tip if usable else why
            elif request == "export":
                # The history is its model's: kept, or the running run's snapshot.
                running = self._busy and run is self._current and not run.finished
                exportable = run_id in self._restorable or running
                action.setEnabled(exportable)
                tip = tip if exportable else "Its model, with its history, is not kept"
            action.setToolTip(tip)
            action.triggered.connect(self._on_menu_action)
        return menu

    @Slot()
    def _on_menu_action(self) -> None:
        action = self.sender()
        run_id = int(action.data())
        request = action.property("request")
        signal = {
            "current": self.make_current_requested,
            "evaluate": self.evaluate_requested,
            "save": self.save_requested,
            "export": self.export_history_requested,
        }.get(request)
        if signal is not None:
            signal.emit(run_id)
        elif request == "toggle":
            run = self._find(run_id)
            if run is not None:
                self.set_run_visible(run_id, not run.visible)
        elif request == "remove":
            if self.confirm_removal is None or self.confirm_removal([run_id]):
                self.remove_run(run_id)

    @Slot(QPoint)
    def on_run_list_menu(self, position: QPoint) -> None:
        """Offer what can be done with the run under the pointer."""
        item = self.run_list.itemAt(position)
        if item is not None:
            menu = self.run_menu(item.data(Qt.ItemDataRole.UserRole))
            menu.exec(self.run_list.viewport().mapToGlobal(position))

    @Slot(QListWidgetItem)
    def on_run_item_double_clicked(self, item: QListWidgetItem) -> None:
        """Show the model of the run double-clicked."""
        run_id = item.data(Qt.ItemDataRole.UserRole)
        if run_id in self._restorable and not self._busy:
            self.make_current_requested.emit(run_id)

    @Slot(bool)
    def on_log_toggled(self, checked: bool) -> None:
        """Switch the loss axis between linear and logarithmic."""
        self.loss_plot.setLogMode(y=checked)

    @Slot(bool)
    def on_raw_toggled(self, _checked: bool) -> None:
        """Show or hide the raw per-batch loss."""
        for run in self._runs:
            self._apply_visibility(run)

    # --------------------------------------------------------------- hover
    @Slot(QPointF)
    def on_scene_mouse_moved(self, position: QPointF) -> None:
        """Read out the values of the run point nearest the mouse pointer."""
        for plot, name in ((self.loss_plot, "loss"), (self.accuracy_plot, "accuracy")):
            if plot.vb.sceneBoundingRect().contains(position):
                point = plot.vb.mapSceneToView(position)
                self.hover_label.setText(
                    self.describe_point(name, point.x(), point.y())
                )
                for line in self._cursors:
                    line.setPos(point.x())
                    line.setVisible(True)
                return
        self.reset_hover()

    @Slot()
    def reset_hover(self) -> None:
        """Forget the read-out: the pointer left, or its run was hidden or removed."""
        self.hover_label.setText(HOVER_HINT)
        for line in self._cursors:
            line.setVisible(False)

    def describe_point(self, plot_name: str, x: float, y_view: float) -> str:
        """Describe the run value nearest ``(x, y)`` (the plot's view coordinates).

        Distances are measured on screen; nothing within ``HOVER_PIXELS`` of the
        pointer reads "epoch x" only, so a run is named only where it is drawn.
        """
        plot = self.loss_plot if plot_name == "loss" else self.accuracy_plot
        log = plot_name == "loss" and self.log_check.isChecked()
        pointer = plot.vb.mapViewToScene(QPointF(x, y_view))

        def pixels(px: float, value: float) -> float:
            shown = math.log10(max(value, 1e-300)) if log else value
            there = plot.vb.mapViewToScene(QPointF(px, shown))
            return math.hypot(there.x() - pointer.x(), there.y() - pointer.y())

        best: tuple[float, str] | None = None
        for run in self._runs:
            if not run.visible:
                continue
            epochs = run.epoch_column("epoch")
            if len(epochs):
                i = int(np.argmin(np.abs(epochs - x)))
                text, values = self._epoch_text(run, i, plot_name)
                for value in values:
                    distance = pixels(float(epochs[i]), value)
                    if best is None or distance < best[0]:
                        best = (distance, text)
            if plot_name == "loss" and len(run.batches):
                bx = run.batches.column(0)
                j = int(np.searchsorted(bx, x).clip(0, len(bx) - 1))
                smooth = float(run.batches.column(2)[j])
                raw = float(run.batches.column(1)[j])
                distance = pixels(float(bx[j]), smooth)
                if best is None or distance < best[0]:
                    best = (
                        distance,
                        f"run {run.run_id}, epoch {bx[j]:.2f}: batch loss {raw:.4f}"
                        f" (smoothed {smooth:.4f})",
                    )
        if best is not None and best[0] <= HOVER_PIXELS:
            return best[1]
        return f"epoch {x:.2f}"

    @staticmethod
    def _epoch_text(run: RunRecord, i: int, plot_name: str) -> tuple[str, list[float]]:
        epoch = int(run.epoch_column("epoch")[i])
        phase = run.phase_at(epoch)
        where = f"epoch {epoch}"
        if phase is not None:
            where += f" ({phase[0]} epoch {phase[1]:g})"
        if plot_name == "loss":
            names, scale, unit = ("train_loss", "validation_loss"), 1.0, ""
        else:
            names, scale, unit = ("train_accuracy", "validation_accuracy"), 100.0, "%"
        parts, values = [], []
        for name in names:
            value = float(run.epoch_column(name)[i]) * scale
            if np.isnan(value):
                continue
            kind = "train" if name.startswith("train") else "validation"
            parts.append(
                f"{kind} {value:.4f}{unit}" if not unit else f"{kind} {value:.2f}%"
            )
            values.append(value)
        text = f"run {run.run_id}, {where}: {plot_name} " + ", ".join(parts)
        return text, values
