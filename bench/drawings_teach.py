"""Teach it: how far 20 corrections and one fine-tune lift a hand the model misreads.

Part of `bench.drawings` (``--teach-hands``), or on its own: ``python -m
bench.drawings_teach --model M.npz [--mnist-folder DIR] [--hands 3] [--seed S]
[--before LOW HIGH] [--hand NAME]`` (another seed, other hands: to check that the
fine-tune is not tuned to one set; ``--before 0.66 0.82``: only hands read as badly
as those the issue saw taught, not the worst; ``--hand teach-29``: that hand alone,
with the same drawings as when it is taught among others).
A "hand" is one consistent style of
`bench.drawings_material`'s handwriting generator, made from its own seed
(`TEACH_SEED`) with its traits drawn wider (more slant, turn, width and shake), so
none of them is among the test material. Of the candidate hands
the ones the model reads worst are taught: the hand draws digits (0 to 9 over and
over) and every one the model answers wrong or "not sure" is corrected, as "That's
wrong..." would keep it, until there are `CORRECTIONS`; the others are cleared as
read right, as the Draw tab remembers them (the latest
`core.hand_reading.MAX_READ_RIGHT`); then the app's own fine-tune
runs (`core.run.fine_tune_request`, the code path of the Draw tab's Fine-tune: the
model's settings made gentle, the personal drawings mixed with its training images).
The hand is measured before and after on fresh drawings, and the official MNIST test
set with it (reported only: nothing in the app is chosen on it).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bench import drawings_material as material
from core.calibration import model_judge
from core.dataset_store import load_dataset
from core.hand_reading import MAX_READ_RIGHT, reading_phrase
from core.idx import read_idx
from core.model_io import SavedModel, load_model
from core.personal_set import DrawnDataset
from core.preprocess import convert_drawing
from core.run import (
    FINE_TUNE_EPOCHS,
    FINE_TUNE_LEARNING_RATE_FACTOR,
    FINE_TUNE_LIMIT,
    FINE_TUNE_REPEAT,
    build_model,
    fine_tune_request,
    prepare_run,
    run_training,
)
from core.user_dirs import data_dir

TEACH_SEED = 2026_15
CORRECTIONS = 20
CANDIDATES = 48  # hands tried (50 drawings each), the worst read ones taught
MAX_DRAWINGS = 600  # drawn while looking for the corrections
# Fresh drawings of each digit to measure the hand on: 400 in all, so that one
# drawing is a quarter of a point (two sets of 100 of one taught hand read up to
# 4.5 points apart).
TEST_REPEATS = 40
# Pens people write with (the widest of the test material's make blobs of the
# smaller hands, which no teaching makes legible).
TEACH_PENS = (3, 5, 8, 12, 18)


@dataclass
class Taught:
    """One hand before and after its fine-tune."""

    hand: str
    corrections: int
    drawn: int
    before: float
    after: float
    not_sure_before: float
    not_sure_after: float
    mnist_before: float | None
    mnist_after: float | None
    seconds: float
    tune_seconds: float
    mistakes: str = ""  # the commonest after teaching, e.g. "9 as 0 x21"
    turn: float = 0.0  # degrees its model turns drawings back (core.hand_reading)
    width: float = 1.0  # how much wider its model reads drawings (likewise)


class _Sketcher:
    """Draws a hand's digits on the app's canvas and converts them as the app does."""

    def __init__(self) -> None:
        self.renderer = material.Renderer()

    def __call__(self, hand, digits, rng) -> Drawn:
        """Draw ``digits`` in ``hand``; converted as a model reading 1x wide reads."""
        canvases = [
            self.renderer(material.handwritten_digit(int(digit), hand, rng))
            for digit in digits
        ]
        return _converted(canvases, np.asarray(digits, np.intp), 1.0, 0.0)


class Drawn(NamedTuple):
    """Drawings: images (N, 28, 28) as converted, sizes (N,), labels (N,), canvases."""

    images: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray
    canvases: list[np.ndarray]


def _converted(
    canvases: list[np.ndarray], labels: np.ndarray, widen: float, turn: float
) -> Drawn:
    images, sizes = [], []
    for canvas in canvases:
        conversion = convert_drawing(canvas, "mnist", True, widen=widen, turn=turn)
        if conversion is None:
            images.append(np.zeros((28, 28), np.uint8))
            sizes.append(0.0)
        else:
            images.append(conversion.image)
            sizes.append(conversion.size)
    return Drawn(np.stack(images), np.array(sizes), labels, canvases)


def _unusual_hand(rng: np.random.Generator, name: str, pen: float):
    """A handwriting-like hand with its traits drawn wider than the test material's.

    Leaning either way, turned, narrow or wide, shaky: the hands a model is most
    likely to misread, and so the ones worth teaching.
    """
    hand = material.make_hand(rng, name, pen, False)
    hand.slant = float(rng.uniform(-0.5, 0.7))
    hand.rotation = float(rng.normal(0.0, 12.0))
    hand.aspect = float(rng.uniform(0.55, 1.6))
    hand.jitter = float(rng.uniform(0.01, 0.05))
    hand.wobble = float(rng.uniform(0.0, 0.03))
    return hand


def _read(model: SavedModel, drawn: Drawn) -> tuple[float, float, np.ndarray]:
    """Best-guess accuracy, "not sure" share, and which were wrong or not sure.

    The drawings are read as ``model`` reads drawings (its ``hand_width`` and
    ``hand_turn``).
    """
    if model.hand_width != 1.0 or model.hand_turn:
        drawn = _as_read(model, drawn)
    images, sizes, labels, _ = drawn
    judge, _ = model_judge(model)
    probabilities = model.predict_proba(images)
    guesses = probabilities[:, :10].argmax(axis=1)
    sure = judge.verdicts(probabilities, images, sizes, drawings=True) == "digit"
    right = guesses == labels
    return float(right.mean()), float((~sure).mean()), ~(right & sure)


def hand_names() -> list[str]:
    """Return the candidate hands' names, ``teach-00`` on."""
    return [f"teach-{h:02d}" for h in range(CANDIDATES)]


def check_hand(name: str | None) -> None:
    """Raise ValueError, saying which names there are, if no hand is ``name``."""
    names = hand_names()
    if name is not None and name not in names:
        raise ValueError(f"no hand {name!r}: the hands are {names[0]} to {names[-1]}")


def teach(
    model: SavedModel,
    hands: int = 3,
    mnist: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = TEACH_SEED,
    before: tuple[float, float] = (0.0, 1.0),
    only: str | None = None,
) -> list[Taught]:
    """Teach the ``hands`` worst read of `CANDIDATES` hands; see the module docstring.

    Parameters
    ----------
    model : SavedModel
        Trained on a dataset the app can load (its fine-tune mixes that in).
    hands : int
        How many hands to teach.
    mnist : tuple of np.ndarray, optional
        Official test images and labels, measured before and after.
    seed : int
        Makes the hands and their drawings.
    before : tuple of float
        Teach only hands the model reads within this range of accuracy before
        (on the 50 drawings each candidate is tried on): ``(0.66, 0.82)`` is the
        range of the hands the issue saw taught.
    only : str, optional
        Teach this hand alone (a name such as ``"teach-29"``), however it reads.

    Raises
    ------
    ValueError
        If ``only`` names no hand.
    """
    check_hand(only)
    rng = np.random.default_rng([seed, 3])
    sketch = _Sketcher()
    candidates = []
    for h, name in enumerate(hand_names()):
        hand = _unusual_hand(rng, name, TEACH_PENS[h % len(TEACH_PENS)])
        tried = sketch(hand, np.tile(np.arange(10), 5), rng)
        if only is not None and hand.name != only:
            continue
        accuracy, _, _ = _read(model, tried)
        if only is not None or before[0] <= accuracy <= before[1]:
            candidates.append((accuracy, h, hand))
    dataset = load_dataset(model.dataset_name, data_dir())
    results = []
    for _, h, hand in sorted(candidates, key=lambda c: (c[0], c[1]))[:hands]:
        # The hand's test drawings and corrections come from its own stream: the
        # same drawings whether it is taught alone or after others, by any model.
        rng = np.random.default_rng([seed, 4, h])
        started = time.perf_counter()
        test = sketch(hand, np.repeat(np.arange(10), TEST_REPEATS), rng)
        before, unsure_before, _ = _read(model, test)
        kept_images, kept_labels, kept_canvases, drawn = [], [], [], 0
        read_right = []
        while len(kept_labels) < CORRECTIONS and drawn < MAX_DRAWINGS:
            round_drawn = sketch(hand, np.arange(10), rng)
            drawn += 10
            _, _, missed = _read(model, round_drawn)
            for index in np.flatnonzero(missed)[: CORRECTIONS - len(kept_labels)]:
                kept_images.append(round_drawn.images[index])
                kept_labels.append(round_drawn.labels[index])
                kept_canvases.append(round_drawn.canvases[index])
            read_right += [
                (round_drawn.canvases[index], int(round_drawn.labels[index]))
                for index in np.flatnonzero(~missed)
            ]
        tuned, tune_seconds = model, 0.0  # nothing misread: nothing to teach
        if kept_labels:
            # As the Draw tab keeps corrections: each with the canvas it was drawn on.
            drawings = DrawnDataset(
                "personal-mnist",
                np.stack(kept_images),
                np.array(kept_labels, np.uint8),
                canvases=tuple(kept_canvases),
                read_right=tuple(read_right[-MAX_READ_RIGHT:]),
                misread_share=len(kept_labels) / (len(kept_labels) + len(read_right)),
            )
            tune_started = time.perf_counter()
            prepared = prepare_run(fine_tune_request(model, dataset, drawings))
            result = run_training(prepared)
            tuned = build_model(prepared, result.network, result)
            tune_seconds = time.perf_counter() - tune_started
        after, unsure_after, _ = _read(tuned, test)
        mistakes = _commonest_mistakes(tuned, test)
        mnist_before = mnist_after = None
        if mnist is not None:
            images, labels = mnist
            mnist_before = _accuracy(model, images, labels)
            mnist_after = _accuracy(tuned, images, labels)
        results.append(
            Taught(
                hand.name,
                len(kept_labels),
                drawn,
                before,
                after,
                unsure_before,
                unsure_after,
                mnist_before,
                mnist_after,
                time.perf_counter() - started,
                tune_seconds,
                mistakes,
                tuned.hand_turn,
                tuned.hand_width,
            )
        )
    return results


def _commonest_mistakes(model: SavedModel, drawn: Drawn, shown: int = 3) -> str:
    """Name the commonest wrong best guesses: what teaching left to do."""
    images, _, labels, _ = _as_read(model, drawn)
    guesses = model.predict_proba(images)[:, :10].argmax(axis=1)
    wrong = guesses != labels
    pairs, counts = np.unique(
        np.stack([labels[wrong], guesses[wrong]], axis=1), axis=0, return_counts=True
    )
    order = np.argsort(-counts, kind="stable")[:shown]
    return ", ".join(f"{pairs[i][0]} as {pairs[i][1]} x{counts[i]}" for i in order)


def _as_read(model: SavedModel, drawn: Drawn) -> Drawn:
    return _converted(drawn.canvases, drawn.labels, model.hand_width, model.hand_turn)


def _accuracy(model: SavedModel, images: np.ndarray, labels: np.ndarray) -> float:
    return float((model.predict_proba(images)[:, :10].argmax(axis=1) == labels).mean())


def report(results: list[Taught]) -> dict:
    """Print one line per hand and the mean; return the figures."""
    print(
        f"  teach it ({CORRECTIONS} corrections, then the app's fine-tune: "
        f"{FINE_TUNE_EPOCHS} epochs at {FINE_TUNE_LEARNING_RATE_FACTOR:g} "
        f"times the learning rate, unaugmented, on at most {FINE_TUNE_LIMIT:,} "
        f"training images and each drawing as {FINE_TUNE_REPEAT} variants of itself; "
        f"{TEST_REPEATS * 10} fresh drawings of each hand):"
    )
    for taught in results:
        reading = reading_phrase(taught.turn, taught.width)
        mnist = ""
        if taught.mnist_before is not None:
            change = 100 * (taught.mnist_after - taught.mnist_before)
            mnist = (
                f", MNIST test {100 * taught.mnist_before:.2f} -> "
                f"{100 * taught.mnist_after:.2f}% ({change:+.2f})"
            )
        print(
            f"    {taught.hand}: {100 * taught.before:.1f}% -> "
            f"{100 * taught.after:.1f}% read right (not sure "
            f"{100 * taught.not_sure_before:.0f}% -> "
            f"{100 * taught.not_sure_after:.0f}%), {taught.corrections} corrections "
            f"in {taught.drawn} drawings{mnist}, {taught.seconds:.0f} s "
            f"(fine-tune {taught.tune_seconds:.1f} s)"
            + (f", read {reading}" if reading else "")
            + (f"; still misread: {taught.mistakes}" if taught.mistakes else "")
        )
    figures = {
        "teach_before": float(np.mean([t.before for t in results])),
        "teach_after": float(np.mean([t.after for t in results])),
        "teach_worst_after": float(min(t.after for t in results)),
    }
    if results and results[0].mnist_before is not None:
        figures["teach_mnist_change"] = float(
            np.mean([t.mnist_after - t.mnist_before for t in results])
        )
    print(
        f"    mean: {100 * figures['teach_before']:.1f}% -> "
        f"{100 * figures['teach_after']:.1f}% (worst after "
        f"{100 * figures['teach_worst_after']:.0f}%)"
        + (
            f", MNIST test {100 * figures['teach_mnist_change']:+.2f} points"
            if "teach_mnist_change" in figures
            else ""
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    from bench.drawings import MNIST_TEST

    parser = argparse.ArgumentParser(
        prog="python -m bench.drawings_teach", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--mnist-folder", type=Path, help="official MNIST IDX files")
    parser.add_argument("--hands", type=int, default=3, help="hands to teach")
    parser.add_argument("--seed", type=int, default=TEACH_SEED)
    parser.add_argument(
        "--before",
        type=float,
        nargs=2,
        default=(0.0, 1.0),
        metavar=("LOW", "HIGH"),
        help="teach only hands read within this share before (e.g. 0.66 0.82)",
    )
    parser.add_argument(
        "--hand", help="teach this hand alone, however it reads (e.g. teach-29)"
    )
    args = parser.parse_args(argv)
    try:
        check_hand(args.hand)
    except ValueError as error:
        parser.error(str(error))
    test_set = None
    if args.mnist_folder is not None:
        test_set = (
            read_idx(args.mnist_folder / MNIST_TEST[0], ndim=3),
            read_idx(args.mnist_folder / MNIST_TEST[1], ndim=1).astype(np.intp),
        )
    low, high = args.before
    within = (
        f", read {100 * low:.0f}-{100 * high:.0f}% before"
        if (low, high) != (0.0, 1.0)
        else ""
    )
    if args.hand:
        within = f", {args.hand} alone"
    print(f"model {args.model}, hands of seed {args.seed}{within}")
    model = load_model(args.model)
    taught = teach(model, args.hands, test_set, args.seed, (low, high), args.hand)
    report(taught)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
