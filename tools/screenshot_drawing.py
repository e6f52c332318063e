"""Screenshots of the Draw tab with drawings made by real mouse input (xdotool).

From the repository root, with a model file:
    .venv/bin/python tools/screenshot_drawing.py MODEL.npz docs/screenshots

Starts a virtual X screen (Xvfb), opens the real window on the Draw tab with the model,
and for each scene sets the pen width, then draws with ``xdotool mousedown /
mousemove / mouseup`` on the canvas as a person would, waits for the answer and saves
the screen as ``draw-<scene>.png``: a digit drawn with a thin pen, a European 1 (a
long flag), a small digit drawn with a wide pen, a smaller one the app asks to draw
larger, a 9 with a long hooked tail and a 7 crossed low, and a letter the app turns
away.
Needs Xvfb, xdotool and ImageMagick's ``import`` (``../shared/tools/screenshot``
installs them). The data folder and Qt settings go to a throwaway folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 800
# Strokes on the 280 px canvas (x, y); each scene: its pen and its strokes.
SCENES = {
    # A 3 drawn with a 4 px pen, the pen the issue found answered "Not sure".
    "thin-pen": (
        4,
        [
            [(95, 70), (140, 55), (185, 70), (190, 105), (160, 135), (130, 140)],
            [(130, 140), (175, 150), (195, 185), (180, 220), (135, 235), (90, 220)],
        ],
    ),
    # A European 1: a long flag down to the left, no foot.
    "european-one": (
        12,
        [[(100, 120), (130, 90), (160, 55), (160, 235)]],
    ),
    # A small 4 drawn with a 32 px pen: its strokes run together on the canvas.
    "wide-pen": (
        32,
        [[(130, 95), (110, 150), (175, 150)], [(158, 105), (155, 188)]],
    ),
    # A small 3 drawn with the widest pen: a blob, and the app says why.
    "pen-too-wide": (
        48,
        [
            [(125, 110), (140, 104), (155, 110), (150, 125), (140, 132)]
            + [(155, 140), (158, 155), (145, 165), (125, 160)]
        ],
    ),
    # A 9 as many people write it: a small bowl and a long tail running left.
    "hooked-nine": (
        10,
        [
            [(178, 80), (165, 58), (140, 55), (124, 72), (130, 96), (156, 102)]
            + [(178, 84), (180, 130), (176, 180), (160, 212), (125, 228), (80, 226)]
        ],
    ),
    # A 7 crossed low and long, as many people write it.
    "crossed-seven": (
        10,
        [
            [(85, 62), (195, 58), (170, 120), (145, 180), (125, 235)],
            [(95, 168), (205, 160)],
        ],
    ),
    # A capital A: two legs and a bar, not a digit.
    "letter": (
        10,
        [
            [(80, 235), (140, 50), (200, 235)],
            [(105, 165), (175, 165)],
        ],
    ),
}


def _smooth(points: list[tuple[float, float]], step: float = 4.0):
    """Points every few pixels along a Catmull-Rom curve through ``points``."""
    if len(points) < 3:
        (x0, y0), (x1, y1) = points[0], points[-1]
        count = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        return [
            (x0 + (x1 - x0) * i / count, y0 + (y1 - y0) * i / count)
            for i in range(count + 1)
        ]
    padded = [points[0], *points, points[-1]]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        length = math.hypot(p2[0] - p1[0], p2[1] - p1[1])
        for k in range(max(1, int(length / step))):
            t = k / max(1, int(length / step))
            out.append(
                tuple(
                    0.5
                    * (
                        2 * p1[j]
                        + (-p0[j] + p2[j]) * t
                        + (2 * p0[j] - 5 * p1[j] + 4 * p2[j] - p3[j]) * t * t
                        + (-p0[j] + 3 * p1[j] - 3 * p2[j] + p3[j]) * t**3
                    )
                    for j in range(2)
                )
            )
    out.append(points[-1])
    return out


def _xdotool(display: str, *args: str) -> None:
    subprocess.run(
        ["xdotool", *args], check=True, env={**os.environ, "DISPLAY": display}
    )


def _draw(display: str, geometry: dict, strokes) -> None:
    """Draw the strokes (canvas units of 280) with the mouse, in screen pixels."""
    scale = geometry["side"] / 280.0
    for stroke in strokes:
        points = [
            (geometry["x"] + x * scale, geometry["y"] + y * scale)
            for x, y in _smooth(stroke)
        ]
        x, y = points[0]
        _xdotool(display, "mousemove", str(round(x)), str(round(y)), "mousedown", "1")
        for x, y in points[1:]:
            _xdotool(display, "mousemove", str(round(x)), str(round(y)))
            time.sleep(0.004)
        _xdotool(display, "mouseup", "1")
        time.sleep(0.1)


def drive(model: Path, out: Path) -> None:
    """Run the window under Xvfb and take one screenshot per scene."""
    display = ":" + str(90 + os.getpid() % 9)
    screen = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"]
    )
    scratch = Path(tempfile.mkdtemp(prefix="digit-studio-draw-"))
    try:
        time.sleep(1.0)
        for scene, (pen, strokes) in SCENES.items():
            control = scratch / f"{scene}.json"
            app = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--window",
                    str(model),
                    str(control),
                    str(pen),
                ],
                env={
                    **os.environ,
                    "DISPLAY": display,
                    "QT_QPA_PLATFORM": "xcb",
                    "DIGIT_STUDIO_DATA_DIR": str(scratch / "data"),
                    "XDG_CONFIG_HOME": str(scratch / "config"),
                },
            )
            try:
                for _ in range(600):
                    if control.exists():
                        break
                    time.sleep(0.1)
                geometry = json.loads(control.read_text())
                _draw(display, geometry, strokes)
                time.sleep(2.0)  # the answer, and the thresholds set in the background
                target = out / f"draw-{scene}.png"
                subprocess.run(
                    ["import", "-window", "root", str(target)],
                    check=True,
                    env={**os.environ, "DISPLAY": display},
                )
                print(f"saved {target}")
            finally:
                app.terminate()
                app.wait(10)
    finally:
        screen.terminate()


def window(model: str, control: str, pen: str) -> int:
    """The app's window on the Draw tab; writes where its canvas is on the screen."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    install_exception_hook()
    configure_interpreter()
    main = MainWindow()
    main.setGeometry(0, 0, WIDTH, HEIGHT)
    main.show()

    def ready() -> None:
        main.files.open_path(Path(model), confirmed=True)
        main.tabs.setCurrentWidget(main.draw_tab)
        main.draw_tab.pen_slider.setValue(int(pen))
        QTimer.singleShot(1500, report)

    def report() -> None:
        canvas = main.draw_tab.canvas
        rect = canvas.target_rect()
        corner = canvas.mapToGlobal(rect.topLeft())
        Path(control).write_text(
            json.dumps({"x": corner.x(), "y": corner.y(), "side": rect.width()})
        )

    QTimer.singleShot(500, ready)
    return app.exec()


if __name__ == "__main__":
    if sys.argv[1] == "--window":
        raise SystemExit(window(*sys.argv[2:5]))
    drive(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
