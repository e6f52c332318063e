"""The Inside tab: the map, robustness and data views as sub-tabs.

Where the digits live, what breaks the model, and what the data holds.

Hands the current model, the loaded datasets and the current drawing to its views;
their images for the canvas come out as `image_chosen`. Computes nothing itself.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from core.datasets import Dataset
from core.model_io import SavedModel
from gui.data_view import DataView
from gui.map_view import MapView
from gui.robustness_view import RobustnessView

MAP_PREFERS_HELD_OUT = 2000


class InsideTab(QWidget):
    """Map / Robustness / Data views of the current model and data.

    Signals
    -------
    image_chosen(object)
        A `gui.live_network.ChosenImage` to put on the Draw tab's canvas.
    """

    image_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.map_view = MapView(self)
        self.robustness_view = RobustnessView(self)
        self.data_view = DataView(self)
        self._data: tuple = (None, None, "held-out")
        self.pages = QTabWidget(self)
        self.pages.addTab(self.map_view, "Where the digits live")
        self.pages.addTab(self.robustness_view, "What breaks it")
        self.pages.addTab(self.data_view, "Know the data")
        self.pages.setTabToolTip(
            0, "A 2-D map of the images as raw pixels or as a hidden layer sees them"
        )
        self.pages.setTabToolTip(
            1, "Accuracy as noise, rotation, shift, scale and stroke thickness grow"
        )
        self.pages.setTabToolTip(
            2, "Images per class, class averages, pixel intensities, every image"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)
        for view in (self.map_view, self.data_view):
            view.image_chosen.connect(self.image_chosen)

    def set_model(self, model: SavedModel | None) -> None:
        """Look inside ``model`` from now on."""
        self.map_view.set_model(model)
        self.robustness_view.set_model(model)

    def set_data(
        self,
        training: Dataset | None,
        held_out: Dataset | None,
        kind: str = "held-out",
    ) -> None:
        """Use the loaded training images and the images no training saw.

        ``kind`` names the latter in the views' dataset choices ("test",
        "validation", "held-out").
        """
        known_training, known_held_out, known_kind = self._data
        if training is known_training and held_out is known_held_out:
            if kind == known_kind:
                return  # the views would only compute again what they show
        self._data = (training, held_out, kind)
        labelled = {}
        if held_out is not None:
            labelled[f"{kind} images"] = held_out
        if training is not None:
            labelled["training images"] = training
        self.robustness_view.set_data(labelled)
        # A map wants many dots: a small test part (1,000 for the bundled sample) gives
        # way.
        few = held_out is not None and len(held_out) < MAP_PREFERS_HELD_OUT
        self.map_view.set_data(dict(reversed(labelled.items())) if few else labelled)
        self.data_view.set_data(dict(reversed(labelled.items())))

    def show_input(self, image: np.ndarray | None) -> None:
        """Mark the current drawing (the network's input) where it applies."""
        self.map_view.show_input(image)

    def shutdown(self) -> None:
        """Stop every view's background work."""
        for view in (self.map_view, self.robustness_view, self.data_view):
            view.shutdown()
