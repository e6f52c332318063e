"""GUI test fixtures: a private settings file and data folder, recorded dialogs, and
the real main window built on them.

Every test gets its own QSettings INI folder and DIGIT_STUDIO_DATA_DIR, so nothing
touches the user's real settings or data. Static QMessageBox calls are recorded and
answered instead of blocking on a modal dialog.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from gui.settings import APPLICATION, ORGANIZATION, AppSettings


class DialogRecorder:
    """Stands in for QMessageBox's static functions; question returns ``answer``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Discard

    def _record(self, kind: str, args: tuple) -> None:
        title = str(args[1]) if len(args) > 1 else ""
        text = str(args[2]) if len(args) > 2 else ""
        self.calls.append((kind, title, text))

    def question(self, *args, **kwargs):
        self._record("question", args)
        return self.answer

    def critical(self, *args, **kwargs):
        self._record("critical", args)
        return QMessageBox.StandardButton.Ok

    def warning(self, *args, **kwargs):
        self._record("warning", args)
        return QMessageBox.StandardButton.Ok

    def information(self, *args, **kwargs):
        self._record("information", args)
        return QMessageBox.StandardButton.Ok

    def of_kind(self, kind: str) -> list[tuple[str, str, str]]:
        return [call for call in self.calls if call[0] == kind]


@pytest.fixture(scope="module", autouse=True)
def app_interpreter_settings(qapp):
    """Run GUI tests with the interpreter set up as the app sets it (GIL switch
    interval, garbage collected in the GUI thread), then put the defaults back."""
    from gui.app import configure_interpreter, garbage_collected_in_gui_thread

    interval = sys.getswitchinterval()
    configure_interpreter()
    with garbage_collected_in_gui_thread():
        yield
    sys.setswitchinterval(interval)


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Send QSettings and the data folder to the test's tmp_path."""
    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder)
    )
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(data))
    return folder


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    """Record QMessageBox.question/critical/warning/information instead of showing."""
    recorder = DialogRecorder()
    for name in ("question", "critical", "warning", "information"):
        monkeypatch.setattr(QMessageBox, name, getattr(recorder, name))
    return recorder


@pytest.fixture
def app_settings(private_settings: Path) -> AppSettings:
    """Settings stored in the test's own INI file."""
    return AppSettings(
        QSettings(
            QSettings.Format.IniFormat,
            QSettings.Scope.UserScope,
            ORGANIZATION,
            APPLICATION,
        )
    )


@pytest.fixture
def data_dir() -> Path:
    """The test's data folder (set by ``private_settings``)."""
    return Path(os.environ["DIGIT_STUDIO_DATA_DIR"])


@pytest.fixture
def window(qtbot, app_settings: AppSettings, data_dir: Path):
    """The real main window, shown, with the bundled MNIST sample loaded."""
    from gui.main_window import MainWindow

    main = MainWindow(settings=app_settings, data_dir=data_dir)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(lambda: main.data_panel.dataset is not None, timeout=10000)
    yield main
    main.training.shutdown(5000)
    main.data_panel.shutdown(5000)
    main.evaluate_tab.shutdown()
    main.document.new()  # nothing unsaved to ask about when it closes
