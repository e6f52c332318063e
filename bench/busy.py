"""Training on a busy machine: the adaptive BLAS thread count against fixed ones.

Run ``python -m bench.busy``. With 0, 1 and 2 busy loops of its own (separate
processes that spin on a core and stop by themselves at a deadline, or as soon as
this benchmark is gone) it times training runs with ``threads="auto"``, 1 and
2 (all cores), interleaved so that each follows each other equally often (what a
run leaves behind falls on all alike), for the ``recommended`` preset on its own
data and for 784-256-10 (Adam, batch 128) on 60,000 images. A run's
epoch time is its training time over its epochs, so the adaptive run's first
measurements count too. Prints medians with their spread (min-max), and the
adaptive run over the best fixed count's run of the same round, the median of
those ratios (target 1.15; the ratio of the medians too) and, without busy
loops, over all threads (OpenBLAS's default, what training used before the
adaptive choice: "no slower than before when idle"), and how busy the machine
was. ``--trace N`` instead prints, under N busy loops, every step of a run with
one thread before and after a block of all-thread steps: wall and CPU time of
the training thread and of OpenBLAS's other threads (what a probe costs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

from bench.machine import LoadWatch, balanced_order, process_cpu_seconds
from bench.train_speed import build_dataset
from core.blas_threads import POOL
from core.datasets import load_bundled, stratified_split
from core.presets import PRESETS
from core.training import (
    BatchEvent,
    EpochEvent,
    TrainingConfig,
    TrainingControl,
    train,
)

TARGET = 1.15
NOISE = 0.05  # "no slower than before": within the noise of medians of 3 runs
# A busy loop never outlives this, whatever happens to the benchmark.
LOOP_DEADLINE_SECONDS = 30 * 60
_LOOP = """
import os, sys, time
parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
count = 0
while time.monotonic() < end:
    count += 1
    if count % 100_000 == 0 and os.getppid() != parent:
        break
"""


class BusyLoops:
    """``count`` processes that each keep one core busy until stopped.

    ``cpu_seconds()`` is the CPU time they have used so far (kept once they end),
    for `bench.machine.LoadWatch` to leave out of "other processes".
    """

    def __init__(self, count: int) -> None:
        self._used: dict[int, float] = {}
        self.processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _LOOP,
                    str(os.getpid()),
                    str(LOOP_DEADLINE_SECONDS),
                ]
            )
            for _ in range(count)
        ]

    def __enter__(self) -> BusyLoops:
        time.sleep(0.5 if self.processes else 0)  # let them reach full speed
        return self

    def cpu_seconds(self) -> float:
        """CPU seconds the loops have used so far."""
        for process in self.processes:
            seconds = process_cpu_seconds(process.pid)
            if seconds is not None and process.returncode is None:
                self._used[process.pid] = seconds
        return sum(self._used.values())

    def __exit__(self, *exc) -> None:
        self.cpu_seconds()
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def _workloads(epochs_recommended: int, epochs_dense: int):
    preset = PRESETS["recommended"]
    sample = load_bundled(preset.dataset)
    train_set, validation = stratified_split(
        sample, preset.config.validation_fraction, preset.config.seed
    )
    dense, _, source = build_dataset()
    return [
        (
            f"recommended ({preset.dataset}, {len(train_set):,} images, "
            f"{epochs_recommended} epochs a run)",
            preset.config.replace(epochs=epochs_recommended),
            train_set,
            validation,
        ),
        (
            f"784-256-10 Adam batch 128 ({len(dense):,} images, "
            f"{epochs_dense} epoch{'s' if epochs_dense > 1 else ''} a run)",
            TrainingConfig(hidden_sizes=(256,), batch_size=128, epochs=epochs_dense),
            dense,
            None,
        ),
    ], source


def epoch_seconds(
    config, train_set, validation, threads, max_seconds: float
) -> tuple[float, list, int, int]:
    """Train once: seconds per epoch, the counts epochs ended at, steps, wide steps.

    Wide steps ran with more than one BLAS thread (for "auto": its probes, or
    all threads once chosen).

    A run still going after ``max_seconds`` is stopped, and its epoch time is
    its time over the share of its epochs done (a slow fixed setting on a busy
    machine would otherwise take minutes).
    """
    network = config.build_network(train_set.input_size, train_set.num_classes)
    control = TrainingControl()
    choices: list = []
    steps = [0, 1, 0]
    started = time.perf_counter()

    def on_event(event) -> None:
        if isinstance(event, BatchEvent):
            steps[0] += 1
            steps[1] = event.batches_per_epoch
            steps[2] += (POOL.current() or 1) > 1
            if time.perf_counter() - started > max_seconds:
                control.cancel()
        elif isinstance(event, EpochEvent):
            choices.append(event.blas_threads)

    result = train(
        network, train_set, validation, config, on_event, control, threads=threads
    )
    return result.seconds / (steps[0] / steps[1]), choices, steps[0], steps[2]


def _thread_cpu() -> tuple[float, float]:
    """CPU seconds of this thread and of the process's other threads (Linux).

    Each thread's own CPU clock (clock id ``~tid << 3 | 6``, the kernel's
    per-thread scheduler clock), exact to the nanosecond: /proc's counters move
    in whole ticks of 4 ms here.
    """
    own = threading.get_native_id()
    mine = others = 0.0
    for task in os.listdir("/proc/self/task"):
        try:
            seconds = time.clock_gettime((~int(task) << 3) | 6)
        except OSError:  # the thread ended meanwhile
            continue
        if int(task) == own:
            mine = seconds
        else:
            others += seconds
    return mine, others


def trace(loops: int, before: int = 16, block: int = 4, after: int = 40) -> None:
    """Print every step of a `recommended` run: 1 thread, all threads, 1 thread."""
    cores = POOL.size or 1
    plan = [1] * before + [cores] * block + [1] * after
    workloads, _ = _workloads(1, 1)
    label, config, train_set, validation = workloads[0]
    config = config.replace(epochs=2)
    rows: list[tuple[int, float, float, float]] = []
    state = {"step": 0, "clock": 0.0, "cpu": (0.0, 0.0)}
    control = TrainingControl()

    def on_event(event) -> None:
        if not isinstance(event, BatchEvent):
            return
        now, cpu = time.perf_counter(), _thread_cpu()
        step = state["step"]
        if 0 < step <= len(plan):
            rows.append(
                (
                    plan[step - 1],
                    now - state["clock"],
                    cpu[0] - state["cpu"][0],
                    cpu[1] - state["cpu"][1],
                )
            )
        if step >= len(plan):
            control.cancel()
            return
        POOL.apply(plan[step])
        state["step"] = step + 1
        state["clock"], state["cpu"] = time.perf_counter(), _thread_cpu()

    network = config.build_network(train_set.input_size, train_set.num_classes)
    with BusyLoops(loops) as busy:
        watch = LoadWatch(exclude=busy.cpu_seconds)
        POOL.apply(1)
        train(network, train_set, validation, config, on_event, control, threads=None)
        load = watch.describe()
    print(f"{label}, {loops} busy loop{'s' if loops != 1 else ''}: every step, ms")
    print(f"{'step':>5}{'threads':>8}{'wall':>9}{'CPU':>8}{'other threads CPU':>19}")
    for index, (threads, wall, mine, others) in enumerate(rows):
        print(
            f"{index:>5}{threads:>8}{1000 * wall:>9.2f}{1000 * mine:>8.2f}"
            f"{1000 * others:>19.2f}"
        )
    print(f"(Machine: {load}; its busy loops not counted.)")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s [{min(values):.3f}-{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.busy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=6, help="runs per setting")
    parser.add_argument(
        "--loops", type=int, nargs="*", default=[0, 1, 2], help="busy loops per case"
    )
    parser.add_argument("--epochs-recommended", type=int, default=10)
    parser.add_argument("--epochs-dense", type=int, default=2)
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=10.0,
        help="stop a run after this long and count the epochs it did",
    )
    parser.add_argument(
        "--trace",
        type=int,
        metavar="LOOPS",
        help="print every step around a block of all-thread steps instead",
    )
    args = parser.parse_args(argv)
    if args.trace is not None:
        trace(args.trace)
        return 0
    cores = POOL.size or 1
    settings = ("auto", 1, cores)
    workloads, source = _workloads(args.epochs_recommended, args.epochs_dense)
    print(f"{os.cpu_count()} cores, BLAS pool of {cores}; 784-256-10 data: {source}.")
    print(
        f"{args.rounds} runs per setting, interleaved so that each follows each "
        "other equally often; "
        "epoch time = a run's training seconds / its epochs (runs stopped after "
        f"{args.max_run_seconds:g} s count the share done); median [min-max]."
    )
    verdicts = []
    for loops in args.loops:
        with BusyLoops(loops) as busy:
            watch = LoadWatch(exclude=busy.cpu_seconds)
            print(f"\n{loops} busy loop{'s' if loops != 1 else ''}:")
            for label, config, train_set, validation in workloads:
                case_watch = LoadWatch(exclude=busy.cpu_seconds)
                times = {setting: [] for setting in settings}
                picked: list = []
                wide = [0, 0]
                for round_index in range(args.rounds):
                    for setting in balanced_order(settings, round_index):
                        seconds, choices, done, many = epoch_seconds(
                            config,
                            train_set,
                            validation,
                            setting,
                            args.max_run_seconds,
                        )
                        times[setting].append(seconds)
                        if setting == "auto":
                            picked.extend(choices)
                            wide[0] += done
                            wide[1] += many
                medians = {s: statistics.median(v) for s, v in times.items()}
                fixed = min(settings[1:], key=medians.get)
                ratio = medians["auto"] / medians[fixed]
                # Each round's auto run against the same round's run of the best
                # fixed count: load that drifts over minutes falls on both sides.
                paired = statistics.median(
                    a / b for a, b in zip(times["auto"], times[fixed], strict=True)
                )
                verdicts.append(paired <= TARGET)
                counts = ", ".join(
                    f"{n}x{picked.count(n)}" for n in sorted(set(picked) - {None})
                )
                if None in picked:
                    counts += f", still measuring x{picked.count(None)}"
                print(f"  {label}")
                print(
                    f"    auto       {_spread(times['auto'])}  "
                    f"(epochs ended at {counts}; {wide[1]:,} of {wide[0]:,} steps "
                    "with all threads)"
                )
                for setting in settings[1:]:
                    name = f"{setting} thread{'s' if setting != 1 else ''}"
                    print(f"    {name:<10} {_spread(times[setting])}")
                print(
                    f"    auto / best fixed ({fixed}): paired by round {paired:.2f} "
                    f"(ratio of the medians {ratio:.2f}): "
                    f"{'PASS' if paired <= TARGET else 'FAIL'} (target <= {TARGET})"
                )
                if loops == 0:
                    before = statistics.median(
                        a / b for a, b in zip(times["auto"], times[cores], strict=True)
                    )
                    print(
                        f"    auto / all {cores} threads (the default before), paired"
                        f" by round: {before:.2f}: "
                        f"{'PASS' if before <= 1.0 + NOISE else 'FAIL'}"
                        f" (no slower when idle, within {NOISE:.0%} for noise)"
                    )
                print(f"    (machine: {case_watch.describe()})")
            print(
                f"  (machine over the {loops}-loop cases: {watch.describe()}; "
                "this benchmark's busy loops are not counted as other processes)"
            )
    print(f"\n{sum(verdicts)} of {len(verdicts)} cases within {TARGET}x.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
