"""Open the real window, train two runs on the bundled sample, show the Train area.

For the README screenshot, run under a virtual X screen (from the repository root):
    ../shared/tools/screenshot docs/screenshots/train.png 90 -- .venv/bin/python \
        tools/screenshot_train.py
Run 1 is the textbook sigmoid network (it stays in the plots, faint); run 2 uses the
"recommended" preset. Data folder and Qt settings go to a throwaway folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="digit-studio-train-shot-"))
os.environ["DIGIT_STUDIO_DATA_DIR"] = str(SCRATCH / "data")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

RUNS = (("textbook-quadratic", 6), ("recommended", 8))


def main() -> int:
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(SCRATCH)
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    install_exception_hook()
    configure_interpreter()
    window = MainWindow()
    window.setGeometry(0, 0, 1280, 800)
    window.show()
    tab = window.train_tab
    queue = list(RUNS)

    def next_run(_outcome: str = "") -> None:
        if not queue:
            tab.settings_scroll.verticalScrollBar().setValue(0)
            return
        preset, epochs = queue.pop(0)
        tab.preset_combo.setCurrentIndex(tab.preset_combo.findData(preset))
        tab.training_panel.epochs_box.setValue(epochs)
        QTimer.singleShot(300, start)

    def start() -> None:
        if tab.data_panel.dataset is None or tab.data_panel.is_loading():
            QTimer.singleShot(200, start)
            return
        window.on_start()

    window.training.finished.connect(next_run)
    QTimer.singleShot(500, next_run)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
