"""Training on a busy machine: the adaptive BLAS thread count against fixed ones.

Run ``python -m bench.busy``. With 0, 1 and 2 busy loops of its own (separate
processes that spin on a core and stop by themselves at a deadline, or as soon as
this benchmark is gone) it times training runs with ``threads="auto"``, 1 and
2 (all cores), interleaved in rotating order, for the ``recommended`` preset on
its own data and for 784-256-10 (Adam, batch 128) on 60,000 images. A run's
epoch time is its training time over its epochs, so the adaptive run's first
measurements count too. Prints medians with their spread (min-max) and the
adaptive median over the best fixed median, against the target of 1.15.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.machine import LoadWatch
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
    """``count`` processes that each keep one core busy until stopped."""

    def __init__(self, count: int) -> None:
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

    def __exit__(self, *exc) -> None:
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
) -> tuple[float, list]:
    """Train once; return seconds per epoch and the thread counts epochs ended at.

    A run still going after ``max_seconds`` is stopped, and its epoch time is
    its time over the share of its epochs done (a slow fixed setting on a busy
    machine would otherwise take minutes).
    """
    network = config.build_network(train_set.input_size, train_set.num_classes)
    control = TrainingControl()
    choices: list = []
    steps = [0, 1]
    started = time.perf_counter()

    def on_event(event) -> None:
        if isinstance(event, BatchEvent):
            steps[0] += 1
            steps[1] = event.batches_per_epoch
            if time.perf_counter() - started > max_seconds:
                control.cancel()
        elif isinstance(event, EpochEvent):
            choices.append(event.blas_threads)

    result = train(
        network, train_set, validation, config, on_event, control, threads=threads
    )
    return result.seconds / (steps[0] / steps[1]), choices


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s [{min(values):.3f}-{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.busy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per setting")
    parser.add_argument(
        "--loops", type=int, nargs="*", default=[0, 1, 2], help="busy loops per case"
    )
    parser.add_argument("--epochs-recommended", type=int, default=10)
    parser.add_argument("--epochs-dense", type=int, default=2)
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=20.0,
        help="stop a run after this long and count the epochs it did",
    )
    args = parser.parse_args(argv)
    cores = POOL.size or 1
    settings = ("auto", 1, cores)
    workloads, source = _workloads(args.epochs_recommended, args.epochs_dense)
    print(f"{os.cpu_count()} cores, BLAS pool of {cores}; 784-256-10 data: {source}.")
    print(
        f"{args.rounds} runs per setting, interleaved in rotating order; "
        "epoch time = a run's training seconds / its epochs (runs stopped after "
        f"{args.max_run_seconds:g} s count the share done); median [min-max]."
    )
    verdicts = []
    for loops in args.loops:
        watch = LoadWatch()
        with BusyLoops(loops):
            print(f"\n{loops} busy loop{'s' if loops != 1 else ''}:")
            for label, config, train_set, validation in workloads:
                times = {setting: [] for setting in settings}
                picked: list = []
                for round_index in range(args.rounds):
                    shift = round_index % len(settings)
                    for setting in settings[shift:] + settings[:shift]:
                        seconds, choices = epoch_seconds(
                            config,
                            train_set,
                            validation,
                            setting,
                            args.max_run_seconds,
                        )
                        times[setting].append(seconds)
                        if setting == "auto":
                            picked.extend(choices)
                medians = {s: statistics.median(v) for s, v in times.items()}
                best = min(medians[s] for s in settings if s != "auto")
                ratio = medians["auto"] / best
                verdicts.append(ratio <= TARGET)
                counts = ", ".join(
                    f"{n}x{picked.count(n)}" for n in sorted(set(picked) - {None})
                )
                print(f"  {label}")
                print(
                    f"    auto       {_spread(times['auto'])}  "
                    f"(epochs ended at {counts})"
                )
                for setting in settings[1:]:
                    name = f"{setting} thread{'s' if setting != 1 else ''}"
                    print(f"    {name:<10} {_spread(times[setting])}")
                print(
                    f"    auto / best fixed = {ratio:.2f}: "
                    f"{'PASS' if ratio <= TARGET else 'FAIL'} (target <= {TARGET})"
                )
        print(f"  ({watch.describe()}; the busy loops included)")
    print(f"\n{sum(verdicts)} of {len(verdicts)} cases within {TARGET}x.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
