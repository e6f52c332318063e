"""A pyqtgraph value axis whose log mode labels only the ticks that have room.

Owns ``LogAxis`` (the loss plot's and the health plots' left axes). Imports Qt and
pyqtgraph only.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

# Mantissas labelled on a log axis, densest first, with the smallest gap between
# two of them in decades: the first whose gap leaves room for a label is used.
_LOG_LABELS = (
    ((1, 2, 3, 4, 5, 6, 7, 8, 9), math.log10(10 / 9)),
    ((1, 2, 3, 5), math.log10(3 / 2)),
    ((1, 2, 5), math.log10(2)),
    ((1, 3), math.log10(3)),
    ((1,), 1.0),
)


class LogAxis(pg.AxisItem):
    """A value axis that, in log mode, labels only as many ticks as have room.

    pyqtgraph labels every minor tick (2..9 of each decade) of a log axis whenever
    its crowding rule lets the level through, and those labels overlap.
    """

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: D102, N802
        low, high = sorted((minVal, maxVal))
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            return super().logTickValues(minVal, maxVal, size, stdTicks)
        per_decade = size / (high - low)  # pixels
        room = 1.6 * QFontMetricsF(self.font()).height()
        labelled = next((m for m, gap in _LOG_LABELS if gap * per_decade >= room), None)
        step = 1 if labelled else max(1, math.ceil(room / per_decade))
        labelled = labelled or (1,)
        major, minor = [], []
        for decade in range(math.floor(low), math.ceil(high) + 1):
            for mantissa in range(1, 10):
                value = decade + math.log10(mantissa)
                if not low <= value <= high:
                    continue
                if mantissa in labelled and decade % step == 0:
                    major.append(value)
                elif per_decade >= 40:  # unlabelled minor ticks while they read
                    minor.append(value)
        # The spacing only tells the levels apart: 1 labelled, 0 not.
        return [(1.0, major), (0.0, minor)]

    def logTickStrings(self, values, scale, spacing):  # noqa: D102, N802
        if not spacing:
            return [""] * len(values)
        return [f"{10.0**v:.6g}" if -4 <= v < 5 else f"{10.0**v:.0e}" for v in values]
