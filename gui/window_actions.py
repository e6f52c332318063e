"""The window's commands: actions with shortcuts and tips, menus, toolbar, recent files.

Owns ``WindowActions``, ``RecentFilesMenu`` and ``ThreadsMenu``. Builds and enables
commands only; the window connects them to what they do.
"""

from __future__ import annotations

import functools
import os
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QStyle,
    QToolBar,
    QWidget,
)

from core.blas_threads import AUTO, POOL
from core.model_io import app_version
from gui.model_document import ModelDocument, model_details

TAB_NAMES = ("Train", "Draw", "Evaluate", "Inside")
# What +1 batch and +1 epoch do: on a paused run, on the current model when nothing
# trains, and when there is no model yet.
STEP_TIPS = {
    "batch": (
        "Train one more mini-batch of the paused run, then pause again",
        "Continue the current model for one mini-batch (a new phase of its "
        "history), then pause",
        "Start a new run with the settings on the left and pause after its first "
        "mini-batch",
    ),
    "epoch": (
        "Train to the end of this epoch (a whole one between epochs), then pause again",
        "Continue the current model for one epoch (a new phase of its history), "
        "then pause",
        "Start a new run with the settings on the left and pause after its first epoch",
    ),
}
# Shortcuts that belong to a widget rather than to a window action.
WIDGET_SHORTCUTS = (
    ("Ctrl+Z", "Undo the last stroke (Draw tab)"),
    ("Esc, Delete", "Clear the canvas (Draw tab)"),
    ("Delete", "Delete the selected drawings (personal set)"),
    ("(drop a file)", "An image on the Draw tab goes on the canvas; a model opens"),
)


def _make_action(
    window: QMainWindow,
    text: str,
    shortcut: Any,
    tip: str,
    checkable: bool = False,
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        if isinstance(shortcut, (list, tuple)):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            action.setShortcut(QKeySequence(shortcut))
    keys = ", ".join(s.toString() for s in action.shortcuts())
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    window.addAction(action)
    return action


class RecentFilesMenu(QMenu):
    """File > Open Recent, listed afresh each time it opens; ``file_chosen(path)``."""

    file_chosen = Signal(str)

    def __init__(self, document: ModelDocument, parent: QWidget) -> None:
        super().__init__("Open &Recent", parent)
        self._document = document
        self.setToolTipsVisible(True)
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    @Slot()
    def rebuild(self) -> None:
        """List the recent model files."""
        self.clear()
        files = self._document.recent_files
        for index, name in enumerate(files):
            action = self.addAction(f"&{index + 1} {Path(name).name}")
            action.setData(name)
            action.setToolTip(name)
            action.triggered.connect(self.on_action_triggered)
        if not files:
            self.addAction("No recent files").setEnabled(False)

    @Slot()
    def on_action_triggered(self) -> None:
        """Report the file of the entry chosen."""
        action = self.sender()
        if isinstance(action, QAction):
            self.file_chosen.emit(str(action.data()))


class ThreadsMenu(QMenu):
    """Training > BLAS threads: automatic, or a count fixed by hand.

    ``setting_chosen(setting)`` gives ``"auto"`` or the count when the user picks
    one; `set_setting` shows a setting without emitting.
    """

    setting_chosen = Signal(object)

    def __init__(self, parent: QWidget, setting: int | str = AUTO) -> None:
        super().__init__("BLAS &threads", parent)
        self.setToolTipsVisible(True)
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        cores = POOL.size or os.cpu_count() or 1
        counts = range(1, max(cores, setting if isinstance(setting, int) else 1) + 1)
        for value in (AUTO, *counts):
            if value == AUTO:
                text, tip = (
                    "&Automatic",
                    (
                        "Keep timing one thread against all cores while training and "
                        "use the faster (best on a machine busy with other programs)"
                    ),
                )
            else:
                text = f"&{value} thread{'' if value == 1 else 's'}"
                tip = "Always this many (the results are then reproducible bit for bit)"
            action = self.addAction(text)
            action.setCheckable(True)
            action.setData(value)
            action.setToolTip(tip + "; from the next run, and for evaluation now")
            self._group.addAction(action)
        self.set_setting(setting)
        self._group.triggered.connect(self.on_action_triggered)

    def setting(self) -> int | str:
        """Return the setting checked."""
        checked = self._group.checkedAction()
        return AUTO if checked is None else checked.data()

    def set_setting(self, setting: int | str) -> None:
        """Check ``setting``'s entry (automatic for one not listed)."""
        actions = self._group.actions()
        chosen = next((a for a in actions if a.data() == setting), actions[0])
        chosen.setChecked(True)

    @Slot(QAction)
    def on_action_triggered(self, action: QAction) -> None:
        """Report the setting picked."""
        self.setting_chosen.emit(action.data())


class WindowActions:
    """Every command of ``window``, with its menus and toolbar.

    The actions belong to the window (their shortcuts work in every tab);
    ``preset_combo`` is placed in the toolbar; File > Open Recent lists the
    document's recent files. Holds no reference to the window, so that the window
    is freed as soon as it is no longer used (a cycle would leave it to the garbage
    collector, which empties objects before Qt destroys them and their signals).
    """

    def __init__(
        self, window: QMainWindow, preset_combo: QWidget, document: ModelDocument
    ) -> None:
        action = functools.partial(_make_action, window)
        keys = QKeySequence.StandardKey
        self.new = action("&New", keys.New, "Forget the current model")
        self.open = action("&Open…", keys.Open, "Open a model file")
        self.open_image = action(
            "Open &Image…",
            "Ctrl+Shift+O",
            "Put an image file (PNG, JPEG…) on the Draw tab's canvas to classify it",
        )
        self.save = action("&Save", keys.Save, "Save the model")
        self.save_as = action(
            "Save &As…", keys.SaveAs, "Save the model under a new name"
        )
        self.quit = action("&Quit", keys.Quit, "Close Digit Studio")
        self.start = action(
            "&Start training",
            ["F5", "Ctrl+Return"],
            "Train a new network with the settings on the left",
        )
        self.pause = action(
            "&Pause", "F6", "Pause or resume the training", checkable=True
        )
        self.stop = action("S&top", ["Shift+F5", "Ctrl+."], "Stop the training")
        self.step_batch = action("+1 &batch", "F7", STEP_TIPS["batch"][0])
        self.step_epoch = action("+1 &epoch", "F8", STEP_TIPS["epoch"][0])
        self.continue_training = action(
            "&Continue training",
            "Ctrl+F5",
            "Train the current model on with the settings on the left, as a new "
            "phase of its history (its architecture stays)",
        )
        self.log_scale = action(
            "&Log-scale loss",
            "Ctrl+L",
            "Show the loss on a logarithmic axis",
            checkable=True,
        )
        self.model_details = action(
            "Model &details…", "Ctrl+I", "Show the current model's metadata and history"
        )
        self.about = action("&About Digit Studio", None, "About")
        self.shortcuts = action(
            "&Keyboard shortcuts", keys.HelpContents, "List every keyboard shortcut"
        )
        self.shortcuts.triggered.connect(self.show_shortcuts)
        self.about.triggered.connect(self.show_about)
        self._document = document
        self.model_details.triggered.connect(self.show_model_details)
        self.tabs = [
            action(f"&{name} tab", f"Ctrl+{index + 1}", f"Switch to the {name} tab")
            for index, name in enumerate(TAB_NAMES)
        ]
        self._set_icons(window.style())
        self.recent_menu = RecentFilesMenu(document, window)
        self.threads_menu = ThreadsMenu(window)
        self._build_menus(window.menuBar())
        self.toolbar = self._build_toolbar(preset_combo)
        window.addToolBar(self.toolbar)

    def _set_icons(self, style: QStyle) -> None:
        pixmap = QStyle.StandardPixmap
        for action, icon in (
            (self.new, pixmap.SP_FileIcon),
            (self.open, pixmap.SP_DialogOpenButton),
            (self.save, pixmap.SP_DialogSaveButton),
            (self.start, pixmap.SP_MediaPlay),
            (self.pause, pixmap.SP_MediaPause),
            (self.stop, pixmap.SP_MediaStop),
            (self.step_batch, pixmap.SP_MediaSeekForward),
            (self.step_epoch, pixmap.SP_MediaSkipForward),
        ):
            action.setIcon(style.standardIcon(icon))

    def _build_menus(self, bar: QMenuBar) -> None:
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new, self.open])
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.open_image)
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.model_details)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        training = bar.addMenu("&Training")
        training.addActions([self.start, self.continue_training])
        training.addSeparator()
        training.addActions([self.pause, self.step_batch, self.step_epoch, self.stop])
        training.addSeparator()
        training.addMenu(self.threads_menu)
        view_menu = bar.addMenu("&View")
        view_menu.addActions(self.tabs)
        view_menu.addSeparator()
        view_menu.addAction(self.log_scale)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts)
        help_menu.addSeparator()
        help_menu.addAction(self.about)

    def _build_toolbar(self, preset_combo: QWidget) -> QToolBar:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.new, self.open, self.save])
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Preset: "))
        toolbar.addWidget(preset_combo)
        toolbar.addSeparator()
        toolbar.addActions([self.start, self.pause, self.stop])
        toolbar.addSeparator()
        toolbar.addActions([self.step_batch, self.step_epoch])
        return toolbar

    def shortcut_table(self) -> list[tuple[str, str]]:
        """Return every shortcut and what it does: the menus' commands, then widgets."""
        rows = []
        for action in self.shortcut_actions():
            keys = ", ".join(
                key.toString(QKeySequence.SequenceFormat.NativeText)
                for key in action.shortcuts()
            )
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
        return rows + list(WIDGET_SHORTCUTS)

    def shortcut_actions(self) -> list[QAction]:
        """Return the actions that have a shortcut, in menu order."""
        actions = [
            self.new,
            self.open,
            self.open_image,
            self.save,
            self.save_as,
            self.model_details,
            self.quit,
            self.start,
            self.continue_training,
            self.pause,
            self.step_batch,
            self.step_epoch,
            self.stop,
            *self.tabs,
            self.log_scale,
            self.shortcuts,
        ]
        return [a for a in actions if a.shortcuts()]

    def show_shortcuts(self) -> None:
        """Show the list of shortcuts (Help > Keyboard shortcuts)."""
        rows = "".join(
            f"<tr><td><b>{escape(keys)}</b>&nbsp;&nbsp;</td><td>{escape(what)}</td></tr>"
            for keys, what in self.shortcut_table()
        )
        QMessageBox.information(
            self.shortcuts.parent(), "Keyboard shortcuts", f"<table>{rows}</table>"
        )

    def show_model_details(self) -> None:
        """Show the current model's metadata and per-epoch history."""
        document = self._document
        if document.model is None:
            return
        text, details = model_details(document.model, document.path)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Model details",
            text,
            parent=self.model_details.parent(),
        )
        box.setDetailedText(details)
        box.exec()

    def show_about(self) -> None:
        """About box."""
        QMessageBox.about(
            self.about.parent(),
            "About Digit Studio",
            f"Digit Studio {app_version()}\n\nA multilayer perceptron written from "
            "scratch in NumPy that learns handwritten digits while you watch.",
        )

    def update(
        self,
        running: bool,
        can_start: bool,
        has_model: bool,
        *,
        paused: bool = False,
        can_continue: bool = False,
    ) -> None:
        """Enable what can be done now.

        The step controls act on a paused run; with none running they continue the
        current model (``can_continue``), or start a new run when there is no model.
        """
        self.start.setEnabled(can_start)
        self.continue_training.setEnabled(not running and can_continue)
        if running:
            state, can_step = "paused", paused
        elif has_model:
            state, can_step = "model", can_continue
        else:
            state, can_step = "new", can_start
        for kind, step in (("batch", self.step_batch), ("epoch", self.step_epoch)):
            step.setEnabled(can_step)
            tip = STEP_TIPS[kind][("paused", "model", "new").index(state)]
            keys = step.shortcut().toString()
            step.setToolTip(f"{tip} ({keys})")
            step.setStatusTip(tip)
        self.pause.setEnabled(running)
        self.pause.setText("&Resume" if self.pause.isChecked() else "&Pause")
        self.stop.setEnabled(running)
        for action in (self.save, self.save_as):
            action.setEnabled(has_model and not running)
        for action in (self.open, self.new):
            action.setEnabled(not running)
        self.recent_menu.setEnabled(not running)
        self.model_details.setEnabled(has_model)
