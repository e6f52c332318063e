"""The Train tab's plots: loss and accuracy beside the training health, or as tabs.

Owns ``PlotsArea``: side by side (a splitter) when the area is wide enough for both
to read, and two tabs when it is not (a small window). Only arranges widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import (
    QSplitter,
    QStackedLayout,
    QTabWidget,
    QToolButton,
    QWidget,
)

# Below this width the two panels take turns as tabs.
SIDE_BY_SIDE_WIDTH = 760
# Side by side, the health panel takes this share of the width, up to SIDE_WIDTH
# pixels: the loss and accuracy plots get the rest, and all of a larger screen.
SIDE_SHARE = 0.42
SIDE_WIDTH = 440


class PlotsArea(QWidget):
    """Two panels, side by side when wide enough, else as tabs.

    Parameters
    ----------
    main, side : QWidget
        The loss and accuracy panel and the health panel.
    side_title : str
        The health panel's tab title.
    """

    def __init__(
        self,
        main: QWidget,
        side: QWidget,
        side_title: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.main, self.side = main, side
        self._titles = ("Loss and accuracy", side_title)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for button in self.tabs.tabBar().findChildren(QToolButton):
            button.setToolTip("Show more tabs")
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self.splitter)
        self._stack.addWidget(self.tabs)
        self._side_by_side: bool | None = None
        self._arrange(True)

    @property
    def side_by_side(self) -> bool:
        """True while both panels show at once."""
        return bool(self._side_by_side)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        """As small as the tabs allow: the panels go to tabs below their width."""
        return self.tabs.minimumSizeHint()

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt)
        """Choose the arrangement for the new width."""
        self._arrange(event.size().width() >= SIDE_BY_SIDE_WIDTH)
        super().resizeEvent(event)

    def _arrange(self, side_by_side: bool) -> None:
        if side_by_side == self._side_by_side:
            return
        self._side_by_side = side_by_side
        if side_by_side:
            self.tabs.clear()
            self.splitter.addWidget(self.main)
            self.splitter.addWidget(self.side)
            self.splitter.setStretchFactor(0, 1)
            self.splitter.setStretchFactor(1, 0)
            width = max(self.width(), SIDE_BY_SIDE_WIDTH)
            side = min(SIDE_WIDTH, int(SIDE_SHARE * width))
            self.splitter.setSizes([width - side, side])
            self._stack.setCurrentWidget(self.splitter)
            self.main.setVisible(True)
            self.side.setVisible(True)
        else:
            for widget, title in zip((self.main, self.side), self._titles, strict=True):
                self.tabs.addTab(widget, title)
            self._stack.setCurrentWidget(self.tabs)

    def show_side(self) -> None:
        """Bring the side panel into view (its tab, when they are tabs)."""
        if not self.side_by_side:
            self.tabs.setCurrentWidget(self.side)
