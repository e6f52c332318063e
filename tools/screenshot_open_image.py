"""Screenshot of the Draw tab with an image file opened by real keyboard input.

From the repository root, with a model file and an image:
    .venv/bin/python tools/screenshot_open_image.py MODEL.npz IMAGE.png OUT.png

Starts a virtual X screen (Xvfb), opens the real window on the Draw tab with the model
(`tools/screenshot_drawing.py --window`), presses Ctrl+Shift+O (File > Open Image…),
types the image's path into the file dialog and presses Enter with ``xdotool``, waits
for the answer and saves the screen. Needs Xvfb, xdotool and ImageMagick's
``import``. The data folder and Qt settings go to a throwaway folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 800


def main(model: Path, image: Path, out: Path) -> None:
    """Run the window under Xvfb, open ``image`` from the menu's shortcut, save it."""
    display = ":" + str(80 + os.getpid() % 9)
    screen = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"]
    )
    scratch = Path(tempfile.mkdtemp(prefix="digit-studio-open-"))
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "DIGIT_STUDIO_DATA_DIR": str(scratch / "data"),
        "XDG_CONFIG_HOME": str(scratch / "config"),
    }

    def xdotool(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, env=env)

    try:
        time.sleep(1.0)
        control = scratch / "canvas.json"
        window = [str(model), str(control), "10"]
        app = subprocess.Popen(
            [sys.executable, str(ROOT / "tools/screenshot_drawing.py"), "--window"]
            + window,
            env=env,
        )
        try:
            for _ in range(600):
                if control.exists():
                    break
                time.sleep(0.1)
            time.sleep(2.0)
            # A click gives the window the keyboard (there is no window manager).
            xdotool("mousemove", str(WIDTH // 2), str(HEIGHT // 2), "click", "1")
            xdotool("key", "ctrl+shift+o")
            time.sleep(2.0)
            xdotool("type", "--delay", "20", str(image))
            xdotool("key", "Return")
            time.sleep(3.0)  # read, converted and answered in the background
            subprocess.run(["import", "-window", "root", str(out)], check=True, env=env)
            print(f"saved {out}")
        finally:
            app.terminate()
            app.wait(10)
    finally:
        screen.terminate()


if __name__ == "__main__":
    main(*(Path(arg).resolve() for arg in sys.argv[1:4]))
