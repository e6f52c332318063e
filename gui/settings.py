"""Persistent user preferences (QSettings): geometry, preset, folders, mirror, threads.

Owns the settings keys and their defaults. Imports Qt only; no core, no widgets.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "DigitStudio"
APPLICATION = "Digit Studio"
MAX_RECENT_FILES = 8
AUTO_THREADS = "auto"  # core.blas_threads.AUTO; this module imports no core


class AppSettings:
    """Typed access to the app's QSettings (INI format, user scope).

    Tests redirect the file with ``QSettings.setPath(IniFormat, UserScope, folder)``.
    """

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings or QSettings(
            QSettings.Format.IniFormat,
            QSettings.Scope.UserScope,
            ORGANIZATION,
            APPLICATION,
        )

    def _text(self, key: str, default: str = "") -> str:
        value = self._settings.value(key, default)
        return value if isinstance(value, str) else default

    @property
    def geometry(self) -> QByteArray | None:
        """Saved window geometry, or None the first time."""
        value = self._settings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._settings.setValue("window/geometry", value)

    @property
    def splitter_state(self) -> QByteArray | None:
        """Saved position of the Train tab's splitter."""
        value = self._settings.value("window/splitter")
        return value if isinstance(value, QByteArray) else None

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self._settings.setValue("window/splitter", value)

    @property
    def last_preset(self) -> str:
        """Name of the preset chosen last ("" for none)."""
        return self._text("training/last_preset")

    @last_preset.setter
    def last_preset(self, value: str) -> None:
        self._settings.setValue("training/last_preset", value)

    @property
    def custom_config(self) -> dict | None:
        """The hand-made settings last used (when no preset was chosen), or None."""
        text = self._text("training/custom_config")
        try:
            value = json.loads(text) if text else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @custom_config.setter
    def custom_config(self, value: dict | None) -> None:
        self._settings.setValue(
            "training/custom_config", json.dumps(value) if value else ""
        )

    @property
    def last_dataset(self) -> str:
        """Key of the dataset chosen last ("" for the default)."""
        return self._text("training/last_dataset")

    @last_dataset.setter
    def last_dataset(self, value: str) -> None:
        self._settings.setValue("training/last_dataset", value)

    @property
    def last_folder(self) -> str:
        """Folder of the last model or data file opened or saved."""
        folder = self._text("files/last_folder")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._settings.setValue("files/last_folder", value)

    @property
    def download_mirror(self) -> str:
        """Base URL of the MNIST mirror to try first ("" uses the built-in list)."""
        return self._text("data/download_mirror")

    @download_mirror.setter
    def download_mirror(self, value: str) -> None:
        self._settings.setValue("data/download_mirror", value.strip())

    @property
    def blas_threads(self) -> int | str:
        """BLAS threads for training and evaluation: ``"auto"`` or a count >= 1.

        ``"auto"`` (the default, also for anything unreadable) keeps timing one
        thread against all cores and uses the faster (`core.blas_threads`).
        """
        value = self._settings.value("training/blas_threads", AUTO_THREADS)
        text = str(value).strip().lower()
        if text.isdigit() and int(text) >= 1:
            return int(text)
        return AUTO_THREADS

    @blas_threads.setter
    def blas_threads(self, value: int | str) -> None:
        self._settings.setValue("training/blas_threads", str(value))

    @property
    def recent_files(self) -> list[str]:
        """Most recently opened or saved model files, newest first."""
        value = self._settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])][:MAX_RECENT_FILES]

    def add_recent_file(self, path: str) -> None:
        """Put ``path`` first in the recent files list."""
        files = [f for f in self.recent_files if f != path]
        files.insert(0, path)
        self._settings.setValue("files/recent", files[:MAX_RECENT_FILES])

    def remove_recent_file(self, path: str) -> None:
        """Drop ``path`` from the recent files list (e.g. it no longer exists)."""
        files = [f for f in self.recent_files if f != path]
        self._settings.setValue("files/recent", files)

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._settings.sync()
