"""Hands the current model to the Draw, Evaluate and Inside tabs, when they are shown.

Owns ``ModelViews``: which tab has not seen the current model yet, and which images
no training saw (the dataset's test set, else the run's validation split, else the
dataset's holdout): Evaluate tests the model on them, the Inside views and the Draw
tab's network view measure on them. The tabs compute; this only decides when they
get what.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QTabWidget, QWidget

from core.datasets import Dataset, DatasetPart
from gui.data_panel import DataPanel
from gui.draw_tab import DrawTab
from gui.evaluate_tab import EvaluateTab
from gui.inside_tab import InsideTab
from gui.model_document import ModelDocument

DRAW_LIVE_INTERVAL_S = 1.0


class ModelViews(QObject):
    """Keeps the Draw, Evaluate and Inside tabs on the document's model, lazily.

    A tab's first use of a model may fit or evaluate something, so a tab gets the
    model when it is shown. A visible Draw tab follows a training live, at most once
    a second; Evaluate and Inside wait for the end of the run.
    """

    def __init__(
        self,
        document: ModelDocument,
        tabs: QTabWidget,
        draw_tab: DrawTab,
        evaluate_tab: EvaluateTab,
        inside_tab: InsideTab,
        data_panel: DataPanel,
    ) -> None:
        super().__init__(tabs)
        self._document = document
        self._tabs = tabs
        self._draw_tab = draw_tab
        self._evaluate_tab = evaluate_tab
        self._inside_tab = inside_tab
        self._data_panel = data_panel
        self._pending: set[QWidget] = set()
        self._validation_set: DatasetPart | None = None
        self._last_draw_update = 0.0
        document.model_changed.connect(self.on_model_changed)
        document.opened.connect(self.on_document_opened)
        data_panel.dataset_loaded.connect(self.on_dataset_loaded)
        tabs.currentChanged.connect(self.on_tab_changed)

    def set_validation_set(self, images: DatasetPart | None) -> None:
        """Evaluate on the run's validation split when the dataset has no test set."""
        if images is not None and self._data_panel.test_set is None:
            self._validation_set = images

    @Slot(bool)
    def on_model_changed(self, live: bool) -> None:
        """Mark every tab out of date; update the one shown."""
        self._pending = {self._draw_tab, self._evaluate_tab, self._inside_tab}
        now = time.monotonic()
        current = self._tabs.currentWidget()
        if current is self._draw_tab and (
            not live or now - self._last_draw_update > DRAW_LIVE_INTERVAL_S
        ):
            self._last_draw_update = now
            self._push(current)
        elif current in (self._evaluate_tab, self._inside_tab) and not live:
            self._push(current)

    @Slot(object)
    def on_document_opened(self, _model: object) -> None:
        """Forget the validation split: a model from a file has none of its own."""
        self._validation_set = None

    @Slot(int)
    def on_tab_changed(self, _index: int) -> None:
        """Hand the current model to the tab just shown if it has not seen it."""
        tab = self._tabs.currentWidget()
        if tab in self._pending:
            self._push(tab)

    @Slot(object)
    def on_dataset_loaded(self, dataset: Dataset | None) -> None:
        """Evaluate on the new dataset's test data; look inside with its images."""
        if dataset is None:
            return
        self._validation_set = None
        self._pending.add(self._evaluate_tab)
        if self._tabs.currentWidget() is self._evaluate_tab:
            self._push(self._evaluate_tab)
        self._push_data()

    def held_out(self) -> tuple[Dataset | None, str]:
        """Return the images no training saw and what they are.

        The dataset's ``"test"`` set, else the run's ``"validation"`` split, else the
        dataset's ``"held-out"`` part; ``(None, "test")`` while no dataset is loaded.
        """
        panel = self._data_panel
        return next(
            (
                (images, kind)
                for images, kind in (
                    (panel.test_set, "test"),
                    (self._validation_set, "validation"),
                    (panel.holdout, "held-out"),
                )
                if images is not None
            ),
            (None, "test"),
        )

    def _push_data(self) -> None:
        # The views compute only while shown, so handing them data costs nothing.
        held_out, kind = self.held_out()
        training = self._data_panel.dataset
        self._inside_tab.set_data(training, held_out, kind)
        self._draw_tab.network_panel.set_data(training, held_out, kind)

    def _push(self, tab: QWidget) -> None:
        self._pending.discard(tab)
        model = self._document.model
        if tab in (self._draw_tab, self._inside_tab):
            self._push_data()
        if tab is self._evaluate_tab:
            data, kind = self.held_out()
            if data is not None and model is not None:
                if tuple(data.image_shape) != tuple(model.image_shape):
                    data = None
            self._evaluate_tab.set_dataset(data, kind)
        tab.set_model(model)
