"""GUI responsiveness while training: event-loop stalls and the cost of the window.

Run ``python -m bench.gui_stall`` (offscreen works: ``QT_QPA_PLATFORM=offscreen``).
A 784-256-10 network (ReLU, softmax, Adam, batch 128) trains on 60,000 images tiled
from the bundled MNIST sample: headless through ``core.training.train``, then twice in
the real main window with live plots and status bar. In the first window run a 5 ms
QTimer in the GUI thread records the gaps between its ticks; the largest gap minus the
interval is the worst stall (target <= 50 ms). The second window run (no timer) gives
the epoch time compared with headless (target: the window costs at most 10 %). The
window is 1280x800, so the training-health plots are live beside the loss plots. Rounds
repeat the three runs to share the machine's noise; the verdict is the median over
rounds of each window run against the headless run of its own round.

``--inside`` measures the views that look inside a model instead, in the same window
with the same 5 ms timer: the worst stall while the map of 10,000 images is made and
drawn (then hovered and clicked), while the robustness curves are measured on 10,000
images, and while a digit is drawn at 100 mouse events a second with the Draw tab's
live network view open (and, for comparison, with the personal set beside the canvas
instead), after 3 s of the idle window (the machine's own noise). The
GUI thread's CPU time between ticks is printed beside each (a stall beyond it is
waiting for the GIL or for a core). Rounds repeat them.

``--first-start`` measures the window's first start after an install: each round runs
two fresh processes with an empty numba cache (``NUMBA_CACHE_DIR``), each opening the
window with the same 5 ms timer while a background thread readies the compiled
kernels, once compiling them in the app's own process (``core.fast.warm_up`` alone) and
once as the app does (``gui.app.warm_up_kernels``: compiled in a child process, then
loaded).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np

TICK_MS = 5
STALL_TARGET_MS = 50.0
SLOWDOWN_TARGET = 0.10
SAMPLES = 60_000


def _dataset():
    from core.datasets import Dataset, load_bundled

    sample = load_bundled("mnist-sample")
    repeats = math.ceil(SAMPLES / len(sample))
    return Dataset(
        "mnist-sample-x12",
        np.tile(sample.images, (repeats, 1, 1))[:SAMPLES],
        np.tile(sample.labels, repeats)[:SAMPLES],
        sample.class_names,
        sample.max_value,
    )


def _config(epochs: int):
    from core.training import TrainingConfig

    return TrainingConfig(
        hidden_sizes=(256,),
        activation="relu",
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=128,
        epochs=epochs,
        validation_fraction=0.0,
        seed=0,
    )


def headless_epochs(dataset, epochs: int) -> list[float]:
    """Epoch seconds of ``core.training.train`` with no GUI at all."""
    from core.network import MLP
    from core.training import EpochEvent, train

    config = _config(epochs)
    network = MLP(
        config.layer_sizes(dataset.input_size, dataset.num_classes), seed=config.seed
    )
    seconds: list[float] = []

    def on_event(event) -> None:
        if isinstance(event, EpochEvent):
            seconds.append(event.seconds)

    # The BLAS threads chosen as the window chooses them (its default setting).
    train(network, dataset, None, config, on_event=on_event, threads="auto")
    return seconds


class StallMeter:
    """A GUI-thread timer that records the gaps between its ticks."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self.cpu_gaps: list[float] = []
        self._last = None
        self._last_cpu = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append((now - self._last) * 1000.0)
        self.cpu_gaps.append((cpu - self._last_cpu) * 1000.0)
        self._last, self._last_cpu = now, cpu

    def stalls(self) -> np.ndarray:
        """Milliseconds each tick came later than due."""
        return np.maximum(np.array(self.gaps) - TICK_MS, 0.0)

    def busy(self) -> np.ndarray:
        """GUI-thread CPU milliseconds between ticks (the part the app controls)."""
        return np.array(self.cpu_gaps)


def _open_window(app):
    """Show the main window at 1280x800 once its dataset has loaded."""
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    deadline = time.perf_counter() + 30
    while window.data_panel.dataset is None and time.perf_counter() < deadline:
        app.processEvents()
    gc.freeze()  # as the app does once its window is up (gui.app.run_app)
    return window


def window_epochs(
    app, dataset, epochs: int, measure: bool = True
) -> tuple[list[float], np.ndarray, np.ndarray, dict]:
    """Train in the real window; return epoch seconds, stalls (ms) and counters.

    ``measure`` False leaves the 5 ms stall timer off (it costs the worker time too),
    for the speed comparison.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    from gui.run_history import describe_config
    from gui.training_worker import TrainingJob

    window = _open_window(app)
    config = _config(epochs)
    window.train_tab.network_panel.set_io(dataset.input_size, 10, dataset.image_shape)
    meter = StallMeter()
    # Let the window settle (first paint, dataset examples) before measuring.
    settle = time.perf_counter() + 1.0
    while time.perf_counter() < settle:
        app.processEvents()
    redraws_before = window.plot_panel.redraw_count
    health = window.train_tab.health_panel
    health_redraws_before = health.redraw_count
    clicked = time.perf_counter()
    window.training.start(
        TrainingJob(
            config=config,
            dataset=dataset,
            label=describe_config(config.to_dict(), [784, 256, 10]),
        )
    )
    # The Start click itself (new curves, legend, thread start) is timed apart; the
    # stall timer covers the training that follows.
    start_ms = (time.perf_counter() - clicked) * 1000.0
    if measure:
        meter.start()
    # The real event loop, as in the app; a slow poll ends it when training has ended.
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(100)
    poll.timeout.connect(lambda: None if window.training.is_running else loop.quit())
    poll.start()
    loop.exec()
    poll.stop()
    meter.stop()
    seconds = [row["seconds"] for row in window.training.history]
    counters = {
        "threads": [row["blas_threads"] for row in window.training.history],
        "status": window.status_bar.threads_label.text(),
        "redraws": window.plot_panel.redraw_count - redraws_before,
        "points": len(window.plot_panel.current_run.batches),
        "ticks": len(meter.gaps),
        "start_ms": start_ms,
        "health_redraws": health.redraw_count - health_redraws_before,
        "health_samples": health.sample_count,
        "health_live": window.train_tab.plots_area.side_by_side and health.isVisible(),
    }
    _close_unsaved(window)
    app.processEvents()
    return seconds, meter.stalls(), meter.busy(), counters


def _close_unsaved(window) -> None:
    """Close and delete the window, its runs' models discarded (no question asked)."""
    from unittest import mock

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QMessageBox

    discard = QMessageBox.StandardButton.Discard
    with mock.patch.object(QMessageBox, "question", return_value=discard):
        window.close()
    window.deleteLater()
    # Deleted now, not during the next window's measured run.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.unfreeze()  # collectable again, like everything made after the app's start


def sample_model(path: str, hidden: tuple[int, ...], epochs: int) -> str:
    """Train on the bundled sample minus its 10% holdout, save to ``path``.

    The command line's run (`core.run`); also used by ``tools/screenshot_inside.py``.
    """
    from core.datasets import load_bundled
    from core.model_io import save_model
    from core.run import RunRequest, build_model, prepare_run, run_training
    from core.training import TrainingConfig

    config = TrainingConfig(hidden_sizes=hidden, epochs=epochs, seed=0)
    prepared = prepare_run(RunRequest(load_bundled("mnist-sample"), config))
    result = run_training(prepared)
    model = build_model(prepared, result.network, result)
    save_model(path, model.network, model.metadata)
    return path


def _ten_thousand_images():
    """The bundled sample and its mirror image: 10,000 labelled images."""
    from core.datasets import Dataset, load_bundled

    sample = load_bundled("mnist-sample")
    return Dataset(
        "mnist-sample+mirrored",
        np.concatenate([sample.images, sample.images[:, :, ::-1]]),
        np.concatenate([sample.labels, sample.labels]),
        sample.class_names,
        sample.max_value,
    )


def _run_until(app, meter: StallMeter, done, limit: float) -> float:
    """Run the event loop with the meter on until ``done()``; return the seconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    started = time.perf_counter()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(
        lambda: loop.quit() if done() or time.perf_counter() - started > limit else None
    )
    meter.start()
    poll.start()
    loop.exec()
    poll.stop()
    meter.stop()
    return time.perf_counter() - started


def _play(app, actions: list, interval_ms: int = 10) -> tuple[StallMeter, float]:
    """Run one action per ``interval_ms`` with the meter on; return it and seconds."""
    from PySide6.QtCore import QTimer

    pending = iter(actions)
    timer = QTimer()
    timer.setInterval(interval_ms)

    def tick() -> None:
        action = next(pending, None)
        if action is None:
            timer.stop()
        else:
            action()

    timer.timeout.connect(tick)
    timer.start()
    meter = StallMeter()
    seconds = _run_until(app, meter, lambda: not timer.isActive(), 60)
    return meter, seconds


def _draw_digit(app, tab) -> tuple[StallMeter, float, int]:
    """Draw one long stroke at 100 mouse events a second; return the meter, the
    seconds and how many traces the network view drew."""
    from PySide6.QtCore import QPointF

    canvas = tab.canvas
    canvas.clear()
    rect = canvas.target_rect()
    path = [
        QPointF(
            rect.center().x() + rect.width() * 0.3 * np.sin(a),
            rect.center().y() + rect.height() * 0.3 * np.sin(a * 0.5),
        )
        for a in np.linspace(0, 6 * np.pi, 300)
    ]
    view = tab.network_panel.view
    traces = []
    original = view.set_trace
    view.set_trace = lambda *a, **k: traces.append(1) or original(*a, **k)
    canvas._begin(path[0])
    meter, seconds = _play(
        app,
        [lambda point=point: canvas._extend(point) for point in path] + [canvas._end],
    )
    view.set_trace = original
    return meter, seconds, len(traces)


def inside_round(app, model_path: str, data) -> dict:
    """One round of the three measurements; worst stalls and counters."""
    from PySide6.QtCore import QPointF

    window = _open_window(app)
    window.files.open_path(model_path, confirmed=True)
    inside = window.inside_tab
    figures: dict = {}

    # The idle window, for the machine's own noise: nothing of the app runs.
    meter, _ = _play(app, [lambda: None] * 300)
    figures["idle"] = meter.stalls().max()
    figures["idle_cpu"] = meter.busy().max()

    # The map: made off the GUI thread, drawn a chunk per event-loop turn.
    window.tabs.setCurrentWidget(inside)
    inside.pages.setCurrentWidget(inside.map_view)
    inside.set_data(data, data)
    view = inside.map_view
    meter = StallMeter()
    seconds = _run_until(app, meter, view.is_drawn, 120)
    figures["map"] = (meter.stalls().max(), seconds, len(view.map_plot().x))
    figures["map_cpu"] = meter.busy().max()
    figures["map_step_ms"] = view.max_update_ms
    # Hover over 200 dots, then click one.
    plot = view.map_plot()
    xy = plot.digit_map.projection.coordinates
    rows = np.random.default_rng(0).choice(len(xy), 200)
    meter, _ = _play(
        app,
        [
            lambda row=row: view._on_mouse_moved(
                view.plot_item.vb.mapViewToScene(
                    QPointF(float(xy[row, 0]), float(xy[row, 1]))
                )
            )
            for row in rows
        ]
        + [lambda: view.choose(0)],
    )
    figures["hover"] = meter.stalls().max()
    figures["hover_cpu"] = meter.busy().max()

    # The robustness curves, level by level.
    inside.pages.setCurrentWidget(inside.robustness_view)
    robustness = inside.robustness_view
    meter = StallMeter()
    seconds = _run_until(app, meter, lambda: robustness.result() is not None, 600)
    figures["robustness"] = (meter.stalls().max(), seconds)
    figures["robustness_cpu"] = meter.busy().max()

    # Drawing at 100 mouse events a second: first with the personal set beside the
    # canvas (the Draw tab alone; the model's "not sure" calibration runs then), then
    # with the live network view open.
    window.tabs.setCurrentWidget(window.draw_tab)
    tab = window.draw_tab
    tab.side_tabs.setCurrentIndex(1)
    meter, seconds, _ = _draw_digit(app, tab)
    figures["drawing_alone"] = (meter.stalls().max(), seconds)
    figures["drawing_alone_cpu"] = meter.busy().max()
    tab.side_tabs.setCurrentWidget(tab.network_panel)
    meter, seconds, traces = _draw_digit(app, tab)
    figures["drawing"] = (meter.stalls().max(), seconds, traces, 300)
    figures["drawing_cpu"] = meter.busy().max()
    _close_unsaved(window)
    app.processEvents()
    return figures


def inside_main(app, rounds: int) -> int:
    """Run ``rounds`` rounds of `inside_round` and print the verdict."""
    folder = tempfile.mkdtemp(prefix="digit-studio-inside-")
    model_path = sample_model(os.path.join(folder, "inside.npz"), (256, 128), 3)
    data = _ten_thousand_images()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"784-256-128-10, {len(data):,} images, Qt platform {app.platformName()}, "
        f"load average {load} on {os.cpu_count()} cores"
    )
    names = ("idle", "map", "hover", "robustness", "drawing_alone", "drawing")
    worst = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(worst, 0.0)
    for index in range(rounds):
        f = inside_round(app, model_path, data)
        print(
            f"round {index + 1}: idle window {f['idle']:.1f} ms; map of "
            f"{f['map'][2]:,} images in {f['map'][1]:.1f} s, "
            f"worst stall {f['map'][0]:.1f} ms (largest drawing step "
            f"{f['map_step_ms']:.1f} ms); hovering 200 dots: {f['hover']:.1f} ms; "
            f"robustness in {f['robustness'][1]:.1f} s, worst stall "
            f"{f['robustness'][0]:.1f} ms; drawing with the personal set shown "
            f"{f['drawing_alone'][0]:.1f} ms; drawing {f['drawing'][3]} mouse moves in "
            f"{f['drawing'][1]:.1f} s with the network open, {f['drawing'][2]} traces, "
            f"worst stall {f['drawing'][0]:.1f} ms"
        )
        worst["idle"] = max(worst["idle"], f["idle"])
        worst["map"] = max(worst["map"], f["map"][0])
        worst["hover"] = max(worst["hover"], f["hover"])
        worst["robustness"] = max(worst["robustness"], f["robustness"][0])
        worst["drawing"] = max(worst["drawing"], f["drawing"][0])
        worst["drawing_alone"] = max(worst["drawing_alone"], f["drawing_alone"][0])
        for name in cpu:
            cpu[name] = max(cpu[name], f[f"{name}_cpu"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    for name, value in worst.items():
        verdict = "PASS" if value <= STALL_TARGET_MS else "FAIL"
        print(
            f"worst stall, {name}: {value:.1f} ms (target <= 50 ms): {verdict}; "
            f"GUI-thread CPU between ticks at most {cpu[name]:.1f} ms"
        )
    print(f"load average at the end: {load}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run")
    parser.add_argument("--rounds", type=int, default=5, help="headless/window pairs")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="GIL switch interval in seconds (default: what the app sets)",
    )
    parser.add_argument(
        "--inside",
        action="store_true",
        help="measure the map, robustness and live network views instead",
    )
    parser.add_argument(
        "--first-start",
        action="store_true",
        help="measure the first start's kernel compile instead",
    )
    parser.add_argument(
        "--first-start-child", choices=FIRST_START, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.first_start:
        return first_start_main(args.rounds)
    from gui.app import configure_interpreter

    configure_interpreter()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = tempfile.mkdtemp(prefix="digit-studio-bench-")
    os.environ["DIGIT_STUDIO_DATA_DIR"] = folder
    os.environ["DIGIT_STUDIO_CACHE_DIR"] = folder
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.app import garbage_collected_in_gui_thread

    with garbage_collected_in_gui_thread():  # as in the app
        if args.first_start_child:
            return first_start_child(app, args.first_start_child)
        if args.inside:
            return inside_main(app, args.rounds)
        return window_main(app, args)


# How the first start readies the kernels: compiling them in the app's process, or
# as the app does (in a child process, then loaded).
FIRST_START = ("here", "app")


def first_start_main(rounds: int) -> int:
    """Run each way of the first start in fresh processes; print the verdict."""
    import json
    import subprocess

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores")
    worst = dict.fromkeys(FIRST_START, 0.0)
    for index in range(rounds):
        for mode in FIRST_START:
            with tempfile.TemporaryDirectory(prefix="digit-studio-numba-") as cache:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache)
                env.setdefault("QT_QPA_PLATFORM", "offscreen")
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.gui_stall",
                        "--first-start-child",
                        mode,
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            f = json.loads(done.stdout.strip().splitlines()[-1])
            worst[mode] = max(worst[mode], f["worst"])
            print(
                f"round {index + 1}, compiled {f['how']}: kernels ready in "
                f"{f['seconds']:.1f} s, worst stall {f['worst']:.1f} ms, "
                f"{f['over']} over 50 ms (GUI-thread CPU between ticks at most "
                f"{f['cpu']:.1f} ms)"
            )
    for mode, value in worst.items():
        verdict = "PASS" if value <= STALL_TARGET_MS else "FAIL"
        print(f"worst stall, {mode}: {value:.1f} ms (target <= 50 ms): {verdict}")
    return 0


def first_start_child(app, mode: str) -> int:
    """Open the window and ready the kernels in a thread, with the meter on."""
    import json
    import threading

    import gui.app
    from core import fast

    window = _open_window(app)
    ready = threading.Event()
    work = fast.warm_up if mode == "here" else gui.app.warm_up_kernels
    thread = threading.Thread(target=lambda: (work(), ready.set()), daemon=True)
    meter = StallMeter()
    thread.start()
    seconds = _run_until(app, meter, ready.is_set, limit=600.0)
    stalls = meter.stalls()
    how = "in the app's process" if mode == "here" else "in a child process"
    print(
        json.dumps(
            {
                "how": how,
                "seconds": seconds,
                "worst": float(stalls.max()),
                "over": int(np.count_nonzero(stalls > STALL_TARGET_MS)),
                "cpu": float(meter.busy().max()),
            }
        )
    )
    _close_unsaved(window)
    return 0


def window_main(app, args: argparse.Namespace) -> int:
    """Measure training's stalls and the window's cost; return the exit code."""
    dataset = _dataset()
    blas_threads = "automatic (headless and window alike)"
    print(
        f"784-256-10 ReLU/softmax, Adam, batch 128, {len(dataset):,} images, "
        f"{args.epochs} epochs per run, Qt platform {app.platformName()}, "
        f"GIL switch interval {1000 * sys.getswitchinterval():g} ms, "
        f"BLAS threads {blas_threads}"
    )
    headless: list[float] = []
    paired: list[float] = []
    windowed: list[float] = []
    stalls: list[np.ndarray] = []
    busy: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for round_index in range(args.rounds):
        h = headless_epochs(dataset, args.epochs)
        _, s, b, counters = window_epochs(app, dataset, args.epochs)
        w, *_ = window_epochs(app, dataset, args.epochs, measure=False)
        # Paired: this round's window against this round's headless run, so that a
        # slow stretch of the machine does not fall on one side of the comparison only.
        paired.append(statistics.median(w) / statistics.median(h) - 1.0)
        busy.append(b)
        gaps.append(s + TICK_MS)
        headless += h
        windowed += w
        stalls.append(s)
        print(
            f"round {round_index + 1}: headless epochs "
            f"{', '.join(f'{x:.2f}' for x in h)} s; window epochs "
            f"{', '.join(f'{x:.2f}' for x in w)} s (no stall timer); worst stall "
            f"{s.max():.1f} ms "
            f"(GUI-thread CPU {b.max():.1f} ms); "
            f"{counters['redraws']} redraws for {counters['points']} batch points "
            f"({counters['ticks']} timer ticks); health plots "
            f"{'live beside them' if counters['health_live'] else 'NOT SHOWN'}: "
            f"{counters['health_redraws']} redraws for {counters['health_samples']} "
            f"samples; Start handled in {counters['start_ms']:.1f} ms; BLAS threads "
            f"at the epochs' ends {counters['threads']}, status bar "
            f"'{counters['status']}'"
        )
    all_stalls = np.concatenate(stalls)
    worst = float(all_stalls.max())
    p99 = float(np.percentile(all_stalls, 99))
    all_busy = np.concatenate(busy)
    duty = all_busy.sum() / max(sum(float(np.sum(g)) for g in gaps), 1e-9)
    h_median = statistics.median(headless)
    w_median = statistics.median(windowed)
    pooled = w_median / h_median - 1.0
    # The verdict pairs each window run with the headless run just before it: load
    # from elsewhere drifts over a run of minutes and would otherwise fall on one side.
    slowdown = statistics.median(paired)
    print(
        f"event-loop stall: worst {worst:.1f} ms, 99th percentile {p99:.1f} ms "
        f"(target <= {STALL_TARGET_MS:.0f} ms): "
        f"{'PASS' if worst <= STALL_TARGET_MS else 'FAIL'}"
    )
    print(
        f"GUI-thread CPU between ticks: worst {all_busy.max():.1f} ms, 99th percentile "
        f"{np.percentile(all_busy, 99):.1f} ms (a stall beyond this is waiting for "
        "the GIL or for a CPU core); the GUI thread was busy "
        f"{100 * duty:.1f}% of the training time"
    )
    print(
        f"epoch time: headless {h_median:.2f} s, window {w_median:.2f} s over all "
        f"rounds ({100 * pooled:+.1f}%); window cost per round (window run against "
        "the headless run just before it): "
        + ", ".join(f"{100 * p:+.1f}%" for p in paired)
        + f"; median {100 * slowdown:+.1f}% (target <= +{100 * SLOWDOWN_TARGET:.0f}%): "
        + ("PASS" if slowdown <= SLOWDOWN_TARGET else "FAIL")
    )
    best_h, best_w = min(headless), min(windowed)
    print(
        f"best epoch (least disturbed by other load): headless {best_h:.2f} s, "
        f"window {best_w:.2f} s ({100 * (best_w / best_h - 1):+.1f}%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
