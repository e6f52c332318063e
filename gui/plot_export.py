"""Saving a plot as a PNG image or an SVG drawing, from the plot's context menu.

Owns `save_plot` (pyqtgraph's ImageExporter and SVGExporter, written atomically) and
`PlotSaver`, which adds "Save plot as PNG…" and "Save plot as SVG…" to a plot's
right-click menu. Imports Qt, pyqtgraph and core.atomic_file only.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.atomic_file import atomic_write

# The formats a plot can be saved in: file suffix -> file dialog filter.
PLOT_FORMATS = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)"}


_SVG_MODULE = importlib.import_module("pyqtgraph.exporters.SVGExporter")
_CLOSE_PATH = ("Z", "z")


def _closed_paths_allowed(correct_coordinates):
    """Let pyqtgraph's SVG export read paths that Qt closes with a bare ``Z``.

    pyqtgraph (0.14) reads every token of a path's ``d`` as an ``x,y`` pair; Qt 6.11
    ends closed shapes (a plot's frame, a filled histogram) with ``Z``, which fails.
    The ``Z`` tokens are taken out while pyqtgraph moves the points (it rewrites one
    token per point, in order) and put back in their places afterwards.
    """

    @functools.wraps(correct_coordinates)
    def correct(node, defs, item, options):
        closing = {}
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            if any(token in _CLOSE_PATH for token in tokens):
                closing[path] = [i for i, t in enumerate(tokens) if t in _CLOSE_PATH]
                kept = [token for token in tokens if token not in _CLOSE_PATH]
                path.setAttribute("d", " ".join(kept))
        correct_coordinates(node, defs, item, options)
        for path, places in closing.items():
            tokens = path.getAttribute("d").split()
            for place in places:
                tokens.insert(place, "Z")
            path.setAttribute("d", " ".join(tokens))

    correct.closed_paths_allowed = True
    return correct


if not getattr(_SVG_MODULE.correctCoordinates, "closed_paths_allowed", False):
    _SVG_MODULE.correctCoordinates = _closed_paths_allowed(
        _SVG_MODULE.correctCoordinates
    )


class PlotExportError(Exception):
    """A plot cannot be saved in the file asked for; the message is for the user."""


def save_plot(plot: pg.PlotItem, path: str | os.PathLike) -> None:
    """Save ``plot`` (axes, curves and labels) to ``path``, by its suffix.

    A PNG has the plot's size on screen in pixels; an SVG is a vector drawing of
    the same size. The file is written atomically.

    Raises
    ------
    PlotExportError
        For a suffix other than ``.png`` or ``.svg``, or a file that cannot be
        written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        image = pyqtgraph.exporters.ImageExporter(plot).export(toBytes=True)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise PlotExportError(f"The plot could not be drawn into {path.name}.")
        content = bytes(data.data())
    elif suffix == ".svg":
        content = pyqtgraph.exporters.SVGExporter(plot).export(toBytes=True)
    else:
        raise PlotExportError(
            f"{path.name}: a plot is saved as .png or .svg, not {suffix or 'no type'}."
        )
    try:
        with atomic_write(path) as handle:
            handle.write(content)
    except OSError as exc:
        raise PlotExportError(f"{path} could not be written: {exc.strerror}") from exc


class PlotSaver(QObject):
    """Adds "Save plot as PNG…" and "Save plot as SVG…" to a plot's context menu.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to save.
    name : str
        What the plot shows, for the dialog and the suggested file name ("loss").
    owner : QWidget
        The widget the dialogs belong to (also this object's parent).
    """

    def __init__(self, plot: pg.PlotItem, name: str, owner: QWidget) -> None:
        super().__init__(owner)
        self.plot = plot
        self.name = name
        self._owner = owner
        menu = plot.vb.menu
        menu.addSeparator()
        self.actions = {}
        for suffix in PLOT_FORMATS:
            action = menu.addAction(f"Save plot as {suffix[1:].upper()}…")
            action.setToolTip(f"Save the {name} plot as a {suffix[1:].upper()} file")
            action.setData(suffix)
            action.triggered.connect(self.on_save_triggered)
            self.actions[suffix] = action

    @Slot()
    def on_save_triggered(self) -> None:
        """Ask for a file name and save the plot in the chosen format."""
        suffix = self.sender().data()
        suggested = self.name.replace(" ", "_") + suffix
        path, _ = QFileDialog.getSaveFileName(
            self._owner, f"Save the {self.name} plot", suggested, PLOT_FORMATS[suffix]
        )
        if not path:
            return
        if not Path(path).suffix:
            path += suffix
        try:
            save_plot(self.plot, path)
        except PlotExportError as exc:
            QMessageBox.warning(self._owner, "Save plot", str(exc))
