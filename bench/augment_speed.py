"""What `augment_batch` costs with the `recommended` preset's settings, labels given.

Run ``python -m bench.augment_speed``. Augments the bundled sample's 4,500 training
images (with their labels, so the drawn styles apply) in batches of 64, 128 and 512
(the training augments blocks of 512), with the preset's settings and without its
drawn styles, the two alternating; prints seconds per 60,000 images, wall clock and
the calling thread's CPU time (less disturbed by other work on the machine), as
median [min-max] of the rounds, and the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import numpy as np

from core import fast
from core.augment import AugmentConfig, augment_batch
from core.datasets import load_bundled, stratified_split
from core.presets import PRESETS

IMAGES = 60_000
BATCHES = (64, 128, 512)


def per_60000(images, labels, config: AugmentConfig, batch: int) -> tuple[float, float]:
    """Wall and thread seconds per 60,000 images, batches of ``batch``, one pass."""
    rng = np.random.default_rng(0)
    out = np.empty((batch, *images.shape[1:]), np.float32)
    starts = range(0, len(images) - batch + 1, batch)
    augment_batch(images[:batch], config, rng, 255.0, out=out, labels=labels[:batch])
    wall, thread = time.perf_counter(), time.thread_time()
    for start in starts:
        part = slice(start, start + batch)
        augment_batch(images[part], config, rng, 255.0, out=out, labels=labels[part])
    scale = IMAGES / (len(starts) * batch)
    return (time.perf_counter() - wall) * scale, (time.thread_time() - thread) * scale


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.augment_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args(argv)
    sample = load_bundled("mnist-sample")
    train_set, _ = stratified_split(sample, 0.1, seed=0)
    preset = PRESETS["recommended"].config.augment
    configs = {
        "recommended": preset,
        "without styles": dataclasses.replace(preset, styles=0.0),
    }
    print(f"Kernels: {fast.status()}; load average {os.getloadavg()[0]:.2f}.")
    times = {(name, b): ([], []) for name in configs for b in BATCHES}
    for _ in range(max(1, args.rounds)):
        for batch in BATCHES:
            for name, config in configs.items():
                wall, thread = per_60000(
                    train_set.images, train_set.labels, config, batch
                )
                times[name, batch][0].append(wall)
                times[name, batch][1].append(thread)
    print("augment_batch, seconds per 60,000 images: wall; thread CPU")
    for (name, batch), (wall, thread) in times.items():
        print(f"  {name:<15} batch {batch:>3}: {_spread(wall)}; {_spread(thread)}")
    print(f"Load average at the end {os.getloadavg()[0]:.2f}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
