"""The PySide6 desktop app: widgets only; all computation lives in core/."""

from gui.pyside_sources import read_sources_uncached

read_sources_uncached()
