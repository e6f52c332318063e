"""Open the real window, train a run made to show health and guidance, then wait.

For the screenshots in docs/screenshots (from the repository root, on an X screen):
    DISPLAY=:95 QT_QPA_PLATFORM=xcb .venv/bin/python tools/screenshot_health.py \
        guidance 1280x800
prints READY once the run has ended and its last plots are drawn; take the picture
then (``import -window root out.png``). ``--health-tab`` shows the Health tab when
the window is too narrow for the plots side by side. Scenarios:

- ``health``: the recommended preset for 8 epochs;
- ``guidance``: the textbook deep sigmoid network with plain SGD (vanishing
  gradients);
- ``exploding``: a learning rate far too high (the run diverges).

Data folder and Qt settings go to a throwaway folder; the window sits at the top
left corner of the screen.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="digit-studio-health-shot-"))
os.environ["DIGIT_STUDIO_DATA_DIR"] = str(SCRATCH / "data")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.presets import PRESETS  # noqa: E402
from core.training import TrainingConfig  # noqa: E402

SCENARIOS = {
    "health": PRESETS["recommended"].config.replace(epochs=8),
    "guidance": PRESETS["textbook-deep-softmax"].config.replace(
        optimizer="sgd", epochs=3
    ),
    "exploding": TrainingConfig(
        hidden_sizes=(128,), optimizer="sgd", learning_rate=5.0, epochs=3
    ),
}


def main() -> int:
    scenario = sys.argv[1] if len(sys.argv) > 1 else "guidance"
    width, height = (int(n) for n in (sys.argv[2:3] or ["1280x800"])[0].split("x"))
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(SCRATCH)
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    install_exception_hook()
    configure_interpreter()
    window = MainWindow()
    window.setGeometry(0, 0, width, height)
    window.show()
    tab = window.train_tab

    def start() -> None:
        if tab.data_panel.dataset is None or tab.data_panel.is_loading():
            QTimer.singleShot(200, start)
            return
        tab.apply_config(SCENARIOS[scenario], custom=True)
        window.on_start()

    def finished(_outcome: str) -> None:
        tab.settings_scroll.verticalScrollBar().setValue(0)
        if "--health-tab" in sys.argv:
            tab.plots_area.show_side()
        QTimer.singleShot(1500, lambda: print("READY", flush=True))

    window.training.finished.connect(finished)
    QTimer.singleShot(800, start)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
