"""Open the real window with a trained model and show the Draw or Evaluate tab.

For README screenshots, run under a virtual X screen (from the repository root):
    ../shared/tools/screenshot OUT.png 40 -- .venv/bin/python \
        tools/screenshot_tabs.py draw
Views: train, draw, scribble, evaluate (a confusion cell picked), weights, mistakes;
an optional second argument sets the window size (default 1280x800). The model
(784-256-10, 15 epochs on the bundled sample, 10% kept for validation, as the
command line's `train` does) is trained once and cached in the temp folder. Data
folder and Qt settings go to a throwaway folder. The window sits at the screen's top
left corner.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.gettempdir()) / "digit-studio-screenshots"
SCRATCH.mkdir(exist_ok=True)
os.environ["DIGIT_STUDIO_DATA_DIR"] = str(SCRATCH / "data")
os.environ["XDG_CONFIG_HOME"] = str(SCRATCH / "config")
MODEL_PATH = SCRATCH / "mnist-sample-784-256-10.npz"

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.gui_stall import sample_model  # noqa: E402


def ensure_model() -> Path:
    if not MODEL_PATH.exists():
        sample_model(str(MODEL_PATH), (256,), 15)
    return MODEL_PATH


def draw_two(canvas) -> None:
    # A handwritten-looking 2: a hook, a diagonal and a flat foot.
    s = canvas.canvas_size / 280.0
    hook = [
        (95, 95),
        (110, 72),
        (140, 62),
        (172, 70),
        (186, 96),
        (178, 128),
        (150, 160),
        (118, 192),
        (92, 215),
    ]
    foot = [(92, 215), (130, 212), (170, 213), (200, 216)]
    canvas.add_stroke([(x * s, y * s) for x, y in hook], width=20)
    canvas.add_stroke([(x * s, y * s) for x, y in foot], width=20)


def draw_scribble(canvas) -> None:
    # A loose zig-zag hatch: nothing like a digit.
    points = [(60, 80), (220, 95), (70, 130), (215, 150), (65, 185), (225, 205)]
    canvas.add_stroke(dense(points), width=18)
    canvas.add_stroke(dense([(90, 60), (120, 230), (170, 60), (200, 230)]), width=18)


def keep_corrections(tab) -> None:
    # Two corrected drawings, so the personal set shows what it looks like in use.
    strokes = {
        7: [[(80, 70), (200, 70), (130, 230)], [(110, 150), (175, 150)]],
        4: [[(170, 60), (85, 170), (205, 170)], [(165, 110), (165, 235)]],
    }
    for label, parts in strokes.items():
        tab.canvas.clear()
        for part in parts:
            tab.canvas.add_stroke(dense(part), width=20)
        tab.update_prediction()
        tab.mark_wrong(label)
    tab.canvas.clear()


def dense(points, step=3.0):
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        count = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / step))
        out += [
            (x0 + (x1 - x0) * i / count, y0 + (y1 - y0) * i / count)
            for i in range(1, count + 1)
        ]
    return out


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "draw"
    width, height = map(
        int, (sys.argv[2] if len(sys.argv) > 2 else "1280x800").split("x")
    )
    shutil.rmtree(SCRATCH / "data" / "personal", ignore_errors=True)
    path = ensure_model()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    install_exception_hook()
    configure_interpreter()
    window = MainWindow()
    window.setGeometry(0, 0, width, height)
    window.show()

    def open_and_show() -> None:
        window.files.open_path(path, confirmed=True)
        if what == "train":
            window.tabs.setCurrentWidget(window.train_tab)
        elif what == "scribble":
            window.tabs.setCurrentWidget(window.draw_tab)
            draw_scribble(window.draw_tab.canvas)
            window.draw_tab.update_prediction()
        elif what == "draw":
            window.tabs.setCurrentWidget(window.draw_tab)
            keep_corrections(window.draw_tab)
            draw_two(window.draw_tab.canvas)
            window.draw_tab.why_check.setChecked(True)
            window.draw_tab.update_prediction()
        else:
            window.tabs.setCurrentWidget(window.evaluate_tab)
            QTimer.singleShot(2500, pick_view)

    def pick_view() -> None:
        tab = window.evaluate_tab
        report = tab.report()
        if report is None:
            QTimer.singleShot(500, pick_view)
            return
        if what == "weights":
            tab.pages.setCurrentIndex(2)
        elif what == "mistakes":
            tab.pages.setCurrentIndex(0)
        else:
            counts = report.confusion - np.diag(np.diag(report.confusion))
            true, predicted = np.unravel_index(int(np.argmax(counts)), counts.shape)
            tab.confusion.select_cell(int(true), int(predicted))

    QTimer.singleShot(1500, open_and_show)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
