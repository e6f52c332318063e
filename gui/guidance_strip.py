"""The guidance strip above the plots: plain-language warnings about the run.

Owns ``GuidanceStrip``: one line per ``core.guidance.Advice``, with a button that
applies its first fix to the settings for the next run (the others in a menu beside
it) and a close box. The rules are core's; the strip only shows them and says which
fix was chosen. Imports Qt and core.guidance's data types only.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.guidance import Advice, Fix

STYLE = (
    "AdviceRow { background: #fff4e0; border: 1px solid #f0c36d; border-radius: 4px; }"
    " QLabel { color: #5c3d00; }"
)


class AdviceRow(QFrame):
    """One warning: its text, "Apply: <first fix>", more fixes, and a close box."""

    fix_chosen = Signal(object)  # Fix
    dismissed = Signal(str)  # the advice kind

    def __init__(self, advice: Advice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.advice = advice
        self.setStyleSheet(STYLE)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        self.apply_button = QPushButton()
        self.apply_button.clicked.connect(self.on_apply_clicked)
        self.more_button = QToolButton()
        self.more_button.setText("More fixes")
        self.more_button.setToolTip("Other settings that address this")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more_menu = QMenu(self.more_button)
        self.more_menu.setToolTipsVisible(True)
        self.more_button.setMenu(self.more_menu)
        self.close_button = QPushButton("✕")
        self.close_button.setFlat(True)
        self.close_button.setFixedWidth(24)
        self.close_button.setToolTip("Hide this warning until the next run")
        self.close_button.clicked.connect(self.on_close_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 3, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.apply_button)
        layout.addWidget(self.more_button)
        layout.addWidget(self.close_button)
        self.applied: Fix | None = None
        self.set_advice(advice)

    def set_advice(self, advice: Advice) -> None:
        """Show ``advice`` (the same kind with newer figures, or a new one)."""
        self.advice = advice
        self.label.setText(f"<b>{advice.title}.</b> {advice.text}")
        self.label.setToolTip(advice.text)
        first, *others = advice.fixes or (None,)
        self.apply_button.setVisible(first is not None)
        if first is not None:
            self._show_fix(first)
        self.more_menu.clear()
        for fix in others:
            action = self.more_menu.addAction(f"Apply: {fix.label}")
            action.setToolTip(fix.why)
            action.setData(advice.fixes.index(fix))
            action.triggered.connect(self.on_more_triggered)
        self.more_button.setVisible(bool(others))

    def _show_fix(self, fix: Fix) -> None:
        done = self.applied == fix
        self.apply_button.setText(f"{'Applied' if done else 'Apply'}: {fix.label}")
        self.apply_button.setToolTip(
            f"{fix.why} Fills the settings for the next run; the run going on is "
            "not changed."
        )

    def mark_applied(self, fix: Fix) -> None:
        """Say on the button that ``fix`` now fills the settings."""
        self.applied = fix
        if self.advice.fixes and fix == self.advice.fixes[0]:
            self._show_fix(fix)

    @Slot()
    def on_apply_clicked(self) -> None:
        """Ask for the first fix."""
        if self.advice.fixes:
            self.fix_chosen.emit(self.advice.fixes[0])

    @Slot()
    def on_more_triggered(self) -> None:
        """Ask for a fix from the menu."""
        index = self.sender().data()
        self.fix_chosen.emit(self.advice.fixes[index])

    @Slot()
    def on_close_clicked(self) -> None:
        """Hide this warning until the next run."""
        self.dismissed.emit(self.advice.kind)


class GuidanceStrip(QWidget):
    """The run's warnings, one line each; hidden while there are none.

    ``fix_chosen(fix)`` asks the owner to put a fix into the settings; the owner
    calls ``mark_applied`` when it did.
    """

    fix_chosen = Signal(object)  # core.guidance.Fix

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, AdviceRow] = {}
        self._dismissed: set[str] = set()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.hide()

    def clear(self) -> None:
        """Forget every warning (a new run starts)."""
        self._dismissed.clear()
        self.show_advice(())

    def show_advice(self, advice: Sequence[Advice]) -> None:
        """Show the run's warnings in their order (dismissed ones stay hidden)."""
        wanted = [item for item in advice if item.kind not in self._dismissed]
        kinds = [item.kind for item in wanted]
        for kind in list(self.rows):
            if kind not in kinds:
                row = self.rows.pop(kind)
                self._layout.removeWidget(row)
                row.deleteLater()
        for index, item in enumerate(wanted):
            row = self.rows.get(item.kind)
            if row is None:
                row = AdviceRow(item)
                row.fix_chosen.connect(self.fix_chosen)
                row.dismissed.connect(self.on_row_dismissed)
                self.rows[item.kind] = row
                self._layout.insertWidget(index, row)
            elif row.advice != item:
                row.set_advice(item)
        self.setVisible(bool(self.rows))

    def advice(self) -> list[Advice]:
        """Return the warnings shown."""
        return [row.advice for row in self.rows.values()]

    def mark_applied(self, fix: Fix) -> None:
        """Note on every row offering ``fix`` that it was applied."""
        for row in self.rows.values():
            if fix in row.advice.fixes:
                row.mark_applied(fix)

    @Slot(str)
    def on_row_dismissed(self, kind: str) -> None:
        """Hide a warning until the next run."""
        self._dismissed.add(kind)
        self.show_advice(self.advice())
