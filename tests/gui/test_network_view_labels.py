"""The network page leaves room for the widest output label."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFont, QFontMetricsF

from core.network import MLP
from core.neurons import trace
from gui.network_view import NetworkView

NAMES = (*"0123456789", "not a digit")


def test_the_longest_output_label_fits_in_the_view(qtbot):
    view = NetworkView()
    qtbot.addWidget(view)
    view.resize(560, 600)
    network = MLP((784, 32, 16, 11), seed=0)
    x = np.random.default_rng(0).random(784, dtype=np.float32)
    view.set_trace(trace(network, x, view.max_shown()), NAMES)
    view.show()
    qtbot.waitExposed(view)
    bold = QFont(view.font())
    bold.setBold(True)
    label = QFontMetricsF(bold).horizontalAdvance("not a digit  100%")
    # Labels start 5 px right of an output neuron's edge (at most 9 px radius).
    centre = view.position_of(2, 10)
    assert centre is not None
    assert centre.x() + 9 + 5 + label <= view.width()
