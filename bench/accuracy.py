"""Train every preset and print its validation accuracy and wall time against targets.

Run with `python -m bench.accuracy` (all presets) or `--preset NAME` (repeatable).
For `textbook-8x8` the 40% held out by its 60/40 split is the test split of the
original tutorial, so its accuracy is reported as the test-split figure.
"""

from __future__ import annotations

import argparse
import os
import time

from core.datasets import load_bundled, stratified_split
from core.metrics import evaluate
from core.presets import PRESETS
from core.training import train

# name -> (minimum validation accuracy, maximum training seconds or None)
TARGETS = {
    "recommended": (0.95, 20.0),
    "textbook-8x8": (0.86, 60.0),
}


def run_preset(name: str) -> dict:
    preset = PRESETS[name]
    config = preset.config
    dataset = load_bundled(preset.dataset)
    train_set, held_out = stratified_split(
        dataset, config.validation_fraction, config.seed
    )
    network = config.build_network(train_set.input_size, train_set.num_classes)
    started = time.perf_counter()
    result = train(network, train_set, held_out, config)
    seconds = time.perf_counter() - started
    evaluation = evaluate(network, held_out, normalization=result.normalization)
    best = max(
        (entry["validation_accuracy"] for entry in result.history),
        default=float("nan"),
    )
    elapsed, reached = 0.0, None
    target = TARGETS.get(name, (None, None))[0]
    for entry in result.history:
        elapsed += entry["seconds"]
        accuracy = entry["validation_accuracy"]
        if target is not None and accuracy is not None and accuracy >= target:
            reached = (entry["epoch"], elapsed)
            break
    return {
        "reached": reached,
        "name": name,
        "dataset": preset.dataset,
        "train_images": len(train_set),
        "held_out_images": len(held_out),
        "accuracy": float(evaluation.accuracy),
        "best_epoch_accuracy": float(best),
        "seconds": seconds,
        "epochs": result.epochs_completed,
        "reason": result.reason,
    }


def _verdict(row: dict) -> str:
    target = TARGETS.get(row["name"])
    if target is None:
        return "(reference run, no target)"
    accuracy, seconds = target
    text = f">= {accuracy:.0%}" + (f" in <= {seconds:g} s" if seconds else "")
    met = row["accuracy"] >= accuracy and (seconds is None or row["seconds"] <= seconds)
    return f"target {text}: {'MET' if met else 'MISSED'}"


def _reached(row: dict) -> str:
    if row["reached"] is None:
        return ""
    epoch, seconds = row["reached"]
    target = TARGETS[row["name"]][0]
    return f"; first >= {target:.0%} after epoch {epoch} ({seconds:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy")
    parser.add_argument(
        "--preset",
        action="append",
        choices=sorted(PRESETS),
        help="only this preset (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    names = args.preset or list(PRESETS)
    print(
        f"Training {len(names)} preset(s); cores visible: {os.cpu_count()}. "
        "Accuracy is on the held-out part of the preset's dataset."
    )
    failures = 0
    for name in names:
        row = run_preset(name)
        label = "test split" if name == "textbook-8x8" else "validation"
        print(
            f"{name:<22} {row['dataset']:<13} {label} {100 * row['accuracy']:6.2f}% "
            f"({row['held_out_images']} images; best epoch "
            f"{100 * row['best_epoch_accuracy']:.2f}%)  "
            f"train {row['seconds']:6.1f} s for {row['epochs']} epochs on "
            f"{row['train_images']} images  {_verdict(row)}{_reached(row)}",
            flush=True,
        )
        failures += "MISSED" in _verdict(row)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
