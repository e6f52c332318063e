"""Open the real window, step a run and follow a drawing through the network.

For the screenshots in docs/screenshots (from the repository root, on a virtual X
screen; the first argument is the folder, the optional second the window size):
    ../shared/tools/screenshot /tmp/root.png 60 -- .venv/bin/python \
        tools/screenshot_steps.py docs/screenshots 1280x800
It trains the textbook network (784-32-10 sigmoid, quadratic cost, SGD) with the step
controls: +1 batch from the start, two more, +1 epoch, the learning rate changed while
paused, +1 epoch and two batches; saves step-controls.png. Then it draws a 5 on the
Draw tab, opens "Show the numbers", picks 5 as the true class and saves
step-through.png (the numbers window) and step-through-backward.png (scrolled to the
backward pass). Data folder and Qt settings go to a throwaway folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="digit-studio-steps-shot-"))
os.environ["DIGIT_STUDIO_DATA_DIR"] = str(SCRATCH / "data")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

# A hand-drawn 5 on the 280-pixel canvas: the top bar, the stem, the bowl.
FIVE = (
    [
        (190, 60),
        (110, 62),
        (100, 130),
        (140, 122),
        (185, 140),
        (200, 185),
        (180, 225),
        (130, 232),
        (92, 210),
    ],
)


class Script:
    """Runs the steps one after another, each when the window is ready for it."""

    def __init__(self, window, out: Path) -> None:
        self.window = window
        self.out = out
        self.steps = [
            self.choose_preset,
            self.first_batch,
            lambda: self.step("batch"),
            lambda: self.step("batch"),
            lambda: self.step("epoch"),
            self.change_rate,
            lambda: self.step("epoch"),
            lambda: self.step("batch"),
            lambda: self.step("batch"),
            self.shoot_train,
            self.draw,
            self.open_numbers,
            self.choose_five,
            self.shoot_numbers,
            self.scroll_numbers,
            self.shoot_backward,
            self.quit,
        ]

    def next(self, delay: int = 300) -> None:
        QTimer.singleShot(delay, self.run_next)

    def run_next(self) -> None:
        if self.busy():
            self.next(200)
            return
        step = self.steps.pop(0)
        if os.environ.get("SHOT_DEBUG"):
            print("step", getattr(step, "__name__", step), flush=True)
        step()
        if self.steps:
            self.next()

    def busy(self) -> bool:
        window = self.window
        if window.data_panel.dataset is None or window.data_panel.is_loading():
            return True
        training = window.training
        stepping = training.is_running and training.hold is None
        return stepping or window.numbers.view.is_computing()

    def choose_preset(self) -> None:
        tab = self.window.train_tab
        tab.preset_combo.setCurrentIndex(
            tab.preset_combo.findData("textbook-quadratic")
        )
        tab.training_panel.epochs_box.setValue(5)

    def first_batch(self) -> None:
        self.window.commands.step_batch.trigger()

    def step(self, kind: str) -> None:
        action = self.window.commands
        (action.step_batch if kind == "batch" else action.step_epoch).trigger()

    def change_rate(self) -> None:
        self.window.train_tab.training_panel.learning_rate_box.setValue(1.0)

    def shoot_train(self) -> None:
        self.window.train_tab.settings_scroll.verticalScrollBar().setValue(190)
        QApplication.processEvents()
        self.window.grab().save(str(self.out / "step-controls.png"))

    def draw(self) -> None:
        window = self.window
        window.tabs.setCurrentWidget(window.draw_tab)
        for stroke in FIVE:
            window.draw_tab.canvas.add_stroke(stroke, 18)

    def open_numbers(self) -> None:
        self.window.draw_tab.update_prediction()
        if os.environ.get("SHOT_DEBUG"):
            self.window.grab().save(str(self.out / "draw-tab.png"))
        self.window.draw_tab.numbers_button.click()
        numbers = self.window.numbers
        main = self.window.geometry()
        numbers.setGeometry(
            main.x() + 60,
            main.y() + 40,
            min(900, main.width() - 80),
            main.height() - 80,
        )

    def choose_five(self) -> None:
        combo = self.window.numbers.view.label_combo
        combo.setCurrentIndex(combo.findData(5))

    def shoot_numbers(self) -> None:
        self.window.numbers.grab().save(str(self.out / "step-through.png"))

    def scroll_numbers(self) -> None:
        browser = self.window.numbers.view.browser
        browser.scrollToAnchor("backward")
        document = browser.document()
        block = document.find("3. Backward pass")
        if not block.isNull():
            rect = browser.cursorRect(block)
            bar = browser.verticalScrollBar()
            bar.setValue(bar.value() + rect.top() - 10)

    def shoot_backward(self) -> None:
        self.window.numbers.grab().save(str(self.out / "step-through-backward.png"))

    def quit(self) -> None:
        self.window.training.shutdown(3000)
        QApplication.instance().exit(0)  # no closing questions: a throwaway session


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    size = sys.argv[2] if len(sys.argv) > 2 else "1280x800"
    width, height = (int(n) for n in size.split("x"))
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(SCRATCH)
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import configure_interpreter, install_exception_hook
    from gui.main_window import MainWindow

    if not os.environ.get("SHOT_DEBUG"):
        install_exception_hook()
    configure_interpreter()
    window = MainWindow()
    window.setGeometry(0, 0, width, height)
    window.show()
    script = Script(window, out)  # kept: the timers hold no reference to it
    script.next(800)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
