"""The coloured message line above the plots (how a run ended, what was opened).

Imports Qt only; shows text, computes nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

BANNER_STYLES = {
    "info": "background: #e7f1fb; border: 1px solid #9cc3e6; color: #0b3a62;",
    "success": "background: #e8f5e9; border: 1px solid #9ccc9f; color: #1b4d20;",
    "warning": "background: #fff4e0; border: 1px solid #f0c36d; color: #5c3d00;",
    "error": "background: #fdecea; border: 1px solid #e6a19b; color: #7a1410;",
}


class Banner(QFrame):
    """A coloured message line above the plots, with details and a close box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.details = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Show the full error report")
        self.details_button.clicked.connect(self.on_details_clicked)
        self.close_button = QPushButton("✕")
        self.close_button.setFlat(True)
        self.close_button.setFixedWidth(28)
        self.close_button.setToolTip("Dismiss this message")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.details_button)
        layout.addWidget(self.close_button)
        # Hidden, it keeps its room: showing it then moves nothing below it (a new
        # height for the plots lays out and repaints them all, a visible stall).
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.setStyleSheet("Banner { border: 1px solid transparent; }")  # as shown
        self.hide()

    def show_message(self, kind: str, text: str, details: str = "") -> None:
        """Show ``text`` styled as info, success, warning or error."""
        self.kind, self.details = kind, details
        self.label.setText(text)
        self.setStyleSheet(f"Banner {{ {BANNER_STYLES[kind]} border-radius: 4px; }}")
        self.details_button.setVisible(bool(details))
        self.show()

    def text(self) -> str:
        """Return the message shown."""
        return self.label.text()

    @Slot()
    def on_details_clicked(self) -> None:
        """Show the details in a dialog."""
        box = QMessageBox(
            QMessageBox.Icon.Information, "Details", self.label.text(), parent=self
        )
        box.setDetailedText(self.details)
        box.exec()
