"""Open the real window with a trained model and show one of the views inside it.

For README screenshots, run under a virtual X screen (from the repository root):
    ../shared/tools/screenshot OUT.png 60 -- .venv/bin/python \
        tools/screenshot_inside.py network
Views: network (the Draw tab's live network, a unit clicked and one switched off),
bars (the same with a unit of the second hidden layer clicked),
map, robustness, data; a second argument "small" makes the window 1024x640. The
model (784-128-64-10, 12 epochs on the bundled sample, 10% kept for validation, as
the command line's `train` does) is trained once and cached in the temp folder; a
second, smaller model is measured first so that the robustness view shows an earlier
model's faint curves. The window sits at the screen's top left corner.
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

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.gui_stall import sample_model  # noqa: E402


def ensure_model(hidden: tuple[int, ...], epochs: int) -> Path:
    path = SCRATCH / f"mnist-sample-784-{'-'.join(map(str, hidden))}-10.npz"
    if not path.exists():
        sample_model(str(path), hidden, epochs)
    return path


def draw_seven(canvas) -> None:
    s = canvas.canvas_size / 280.0
    top = [(70, 70), (120, 66), (170, 64), (205, 66)]
    stem = [(205, 66), (180, 120), (155, 175), (135, 228)]
    bar = [(120, 145), (160, 143), (195, 142)]
    for stroke in (top, stem, bar):
        canvas.add_stroke([(x * s, y * s) for x, y in stroke], width=20)


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "network"
    width, height = (1024, 640) if sys.argv[2:] == ["small"] else (1280, 800)
    shutil.rmtree(SCRATCH / "data" / "personal", ignore_errors=True)
    earlier = ensure_model((32,), 4)
    path = ensure_model((128, 64), 12)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    install_exception_hook()
    configure_interpreter()
    window = MainWindow()
    window.setGeometry(0, 0, width, height)
    window.show()
    inside = window.inside_tab

    def open_and_show() -> None:
        if what == "robustness":
            window.files.open_path(earlier, confirmed=True)
            window.tabs.setCurrentWidget(inside)
            inside.pages.setCurrentWidget(inside.robustness_view)
            QTimer.singleShot(500, wait_for_earlier)
            return
        window.files.open_path(path, confirmed=True)
        if what in ("network", "bars"):
            window.tabs.setCurrentWidget(window.draw_tab)
            draw_seven(window.draw_tab.canvas)
            window.draw_tab.update_prediction()
            QTimer.singleShot(300, edit_network)
        else:
            window.tabs.setCurrentWidget(window.draw_tab)
            draw_seven(window.draw_tab.canvas)
            window.draw_tab.update_prediction()
            window.tabs.setCurrentWidget(inside)
            page = inside.map_view if what == "map" else inside.data_view
            inside.pages.setCurrentWidget(page)
            if what == "map":
                QTimer.singleShot(500, hover_map)
            else:
                QTimer.singleShot(500, browse_data)

    def wait_for_earlier() -> None:
        if inside.robustness_view.result() is None:
            QTimer.singleShot(500, wait_for_earlier)
            return
        window.files.open_path(path, confirmed=True)
        window.tabs.setCurrentWidget(inside)

    def edit_network() -> None:
        panel = window.draw_tab.network_panel
        trace = panel.view.trace()
        links = sorted(
            (link for link in trace.links if link.layer == 1),
            key=lambda link: -abs(link.contribution),
        )
        panel.set_scale(1, links[0].source, 0.0)
        if what == "bars":
            panel.select(1, links[1].source)
            return
        first = [link.source for link in trace.links if link.layer == 0]
        panel.select(0, first[0] if first else int(trace.shown[0][0]))

    def hover_map() -> None:
        view = inside.map_view
        if not view.is_drawn():
            QTimer.singleShot(500, hover_map)
            return
        plot = view.map_plot()
        wrong = np.flatnonzero(plot.digit_map.misclassified)
        row = int(wrong[0]) if wrong.size else 0
        xy = plot.digit_map.projection.coordinates[row]
        from PySide6.QtCore import QPointF

        scene = view.plot_item.vb.mapViewToScene(QPointF(float(xy[0]), float(xy[1])))
        view._on_mouse_moved(scene)

    def browse_data() -> None:
        view = inside.data_view
        if view.summary() is None:
            QTimer.singleShot(500, browse_data)
            return
        view.class_combo.setCurrentIndex(view.class_combo.findData(4))

    QTimer.singleShot(1500, open_and_show)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
