"""What sampling the training health costs: epochs with it on against off.

Run ``python -m bench.health_cost [--rounds N]``. For four trainings (784-256-10 and
784-512-256-10 with ReLU, Adam, batch 128 on 60,000 images: full MNIST when
downloaded, else tiled from the bundled sample, as ``bench.train_speed``; the textbook
deep sigmoid network, batch 10, on 10,000 of them; the 8x8 digits full-batch, 200
epochs a round) it times the same training with health sampling off and on
(``core.health``'s default: at most 1% of the time, measured), alternating within
each round so that load from elsewhere hits both alike. It prints the median times,
the medians of the per-round ratios of the epochs' wall time (the verdict, target: at
most +3%) and of the process's CPU time (a cross-check less swayed by other
programs) and how often each training was sampled. It also times what the app's
training worker adds about once a second: the weight histograms and the guidance
rules.
Timings on a shared machine are noisy: run ``uptime`` beside it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np

from bench.train_speed import build_dataset
from core.datasets import Dataset, load_bundled
from core.guidance import RunFacts, advise
from core.health import DEFAULT_SAMPLING, WeightHistograms
from core.network import MLP
from core.presets import PRESETS
from core.training import BatchEvent, EpochEvent, TrainingConfig, train

TARGET_COST = 0.03


@dataclass(frozen=True)
class Case:
    """One training to time: its settings, its data and the epochs of a round."""

    name: str
    config: TrainingConfig
    data: Dataset
    epochs: int


def cases() -> list[Case]:
    """The trainings timed, from the app's usual runs to its extremes."""
    mnist = build_dataset()[0]
    adam = TrainingConfig(batch_size=128, validation_fraction=0.0)
    deep = PRESETS["textbook-deep-softmax"].config
    digits = load_bundled("digits-8x8")
    return [
        Case("784-256-10 adam b128", adam.replace(hidden_sizes=(256,)), mnist, 1),
        Case(
            "784-512-256-10 adam b128",
            adam.replace(hidden_sizes=(512, 256)),
            mnist,
            1,
        ),
        Case(
            "784-50x6-10 sigmoid b10",
            deep.replace(validation_fraction=0.0),
            mnist.subset(np.arange(10_000)),
            1,
        ),
        Case(
            "64-30-10 full batch",
            PRESETS["textbook-8x8"].config.replace(validation_fraction=0.0),
            digits,
            200,
        ),
    ]


def timed(case: Case, health) -> tuple[float, float, int, int]:
    """Train a fresh network for a round.

    Returns the epochs' seconds, the process's CPU seconds for the whole call
    (less swayed by other programs than the wall clock), the
    minibatches and how many were sampled.
    """
    config = case.config.replace(epochs=case.epochs)
    network = MLP(
        config.layer_sizes(case.data.input_size, case.data.num_classes),
        config.activation,
        config.output,
        config.init,
        config.seed,
    )
    seconds: list[float] = []
    counts = [0, 0]

    def on_event(event) -> None:
        if isinstance(event, BatchEvent):
            counts[0] += 1
            counts[1] += event.health is not None
        elif isinstance(event, EpochEvent):
            seconds.append(event.seconds)

    cpu = time.process_time()
    train(network, case.data, None, config, on_event, health=health)
    return sum(seconds), time.process_time() - cpu, counts[0], counts[1]


def worker_extras(case: Case, repeats: int = 5) -> float:
    """Seconds the worker spends on histograms and guidance once (best of a few)."""
    network = case.config.build_network(case.data.input_size, case.data.num_classes)
    histograms = WeightHistograms(network.weights)
    trained = [w * 1.5 for w in network.weights]
    rows = [
        {
            "epoch": epoch,
            "train_loss": 1.0 / epoch,
            "train_accuracy": 0.5,
            "validation_loss": 1.0,
            "gradient_norm": [1.0] * len(trained),
            "update_ratio": [1e-3] * len(trained),
            "inactive_share": [0.0] * (len(trained) - 1),
        }
        for epoch in range(1, 51)
    ]
    facts = RunFacts(case.config, 0.11)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        histograms.of(trained)
        advise(rows, facts)
        best = min(best, time.perf_counter() - started)
    return best


def _spread(ratios: list[float]) -> str:
    return f"{100 * min(ratios):+.1f}% .. {100 * max(ratios):+.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.health_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=7, help="on/off pairs per case")
    args = parser.parse_args(argv)
    print(
        f"Health sampling on (default budget {100 * DEFAULT_SAMPLING.budget:g}% of "
        f"the time) against off; median over {args.rounds} interleaved rounds, "
        "after one warm-up round."
    )
    header = (
        f"{'training':<26}{'off s':>8}{'on s':>8}{'cost':>8}{'per round':>22}"
        f"{'CPU cost':>10}{'per round':>22}{'sampled':>10}"
    )
    print(header)
    verdicts = []
    timed_cases = cases()
    for case in timed_cases:
        timed(case, None)  # warm-up: buffers, kernels, caches
        wall, cpu, off, on = [], [], [], []
        steps = samples = 0
        for round_index in range(args.rounds):
            # Alternate which goes first, so neither always follows the other.
            order = [None, DEFAULT_SAMPLING]
            if round_index % 2:
                order.reverse()
            result = {}
            for health in order:
                result[health is not None] = timed(case, health)
            off.append(result[False][0])
            on.append(result[True][0])
            wall.append(result[True][0] / result[False][0] - 1.0)
            cpu.append(result[True][1] / result[False][1] - 1.0)
            steps += result[True][2]
            samples += result[True][3]
        cost, cpu_cost = statistics.median(wall), statistics.median(cpu)
        verdicts.append(cost <= TARGET_COST)
        print(
            f"{case.name:<26}{statistics.median(off):>8.3f}"
            f"{statistics.median(on):>8.3f}{100 * cost:>+7.1f}%{_spread(wall):>22}"
            f"{100 * cpu_cost:>+9.1f}%{_spread(cpu):>22}"
            f"{f'1 in {steps / max(samples, 1):.0f}':>10}"
        )
    print(
        f"Target: the median wall-clock cost at most "
        f"+{100 * TARGET_COST:.0f}%: " + ("PASS" if all(verdicts) else "FAIL")
    )
    print("The training worker's extras, about once a second while epochs end:")
    for case in timed_cases[:2]:
        extra = worker_extras(case)
        print(
            f"  {case.name}: histograms of every layer and the guidance rules "
            f"{1000 * extra:.1f} ms ({100 * extra:.2f}% of a second)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
