"""What augmentation buys the `recommended` preset on the bundled MNIST sample.

Run ``python -m bench.augment_accuracy``. Trains the preset as it is and with
augmentation switched off, each (1) on the preset's own split (10% stratified
validation) and (2) with 1,000 images (stratified) held out first, never used for
training or model choice, then validated on 10% of the rest and tested on the 1,000.
Prints validation and held-out accuracy, epochs and wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from core.augment import AugmentConfig
from core.datasets import load_bundled, stratified_split
from core.metrics import evaluate
from core.presets import PRESETS
from core.training import TrainingConfig, train

HELD_OUT = 1000
HELD_OUT_SEED = 12345
TARGET = 0.975


def run(config: TrainingConfig, hold_out: bool) -> dict:
    dataset = load_bundled(PRESETS["recommended"].dataset)
    test = None
    if hold_out:
        dataset, test = stratified_split(
            dataset, HELD_OUT / len(dataset), HELD_OUT_SEED
        )
    train_set, validation = stratified_split(
        dataset, config.validation_fraction, config.seed
    )
    network = config.build_network(train_set.input_size, train_set.num_classes)
    started = time.perf_counter()
    result = train(network, train_set, validation, config)
    seconds = time.perf_counter() - started
    row = {
        "train": len(train_set),
        "validation": evaluate(
            network, validation, normalization=result.normalization
        ).accuracy,
        "epochs": result.epochs_completed,
        "seconds": seconds,
    }
    if test is not None:
        row["held_out"] = evaluate(
            network, test, normalization=result.normalization
        ).accuracy
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.augment_accuracy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    args = parser.parse_args(argv)
    preset = dataclasses.replace(PRESETS["recommended"].config, seed=args.seed)
    variants = {
        "recommended": preset,
        "no augmentation": dataclasses.replace(preset, augment=AugmentConfig()),
    }
    print(f"augmentation: {preset.augment.to_dict()}")
    for name, config in variants.items():
        for hold_out in (False, True):
            row = run(config, hold_out)
            line = (
                f"{name:<16} train {row['train']:>4} images: validation "
                f"{100 * row['validation']:.2f}%"
            )
            if hold_out:
                line += f", held-out {HELD_OUT} {100 * row['held_out']:.2f}%"
            line += f"  ({row['epochs']} epochs, {row['seconds']:.1f} s)"
            if name == "recommended" and not hold_out:
                met = row["validation"] >= TARGET
                line += f"  target >= {TARGET:.1%}: {'MET' if met else 'MISSED'}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
