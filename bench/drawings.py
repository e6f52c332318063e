"""How well a model reads what people draw, and how it turns away what is not a digit.

Run ``python -m bench.drawings --model M.npz [--model N.npz ...]
[--mnist-folder /path/to/mnist]``. Draws the test material of
`bench.drawings_material` (handwriting-like and print-like digits in many hands and
pen widths from 3 to 40 px; letters, scribbles, shapes, tiny marks, pieces and
overlaps of digits) with the app's own canvas on 280x280, converts every drawing as
the app does (`core.preprocess.convert_drawing`) and prints, for each model:

* digit accuracy (the best guess), handwriting-like and print-like, overall, per pen
  width and for the hands and styles that fare worst;
* the share of digits answered "not sure" and of non-digits turned away, by kind;
* with ``--mnist-folder``: accuracy and "not sure" share on the official MNIST test
  set (10,000 images, as stored);
* the same for digits and letters set in this machine's fonts (`bench.drawings_fonts`,
  test only; ``--no-fonts`` leaves them out);
* with ``--pendigits-folder``: digits 44 people wrote on a tablet, their pen paths
  drawn on the canvas (`bench.drawings_pen`): read right, "not sure"; per digit,
  pen width and writer for the 14 writers of ``.tes`` (those of ``.tra`` are the
  bundled ``pen-digits``, which `recommended` trains on);
* conversion plus prediction time per drawing;
* teach it (``--teach-hands``, `bench.drawings_teach`): 20 corrections of a hand the
  model misreads and the app's fine-tune, the hand and MNIST before and after.

The verdicts come from `core.judgement` when the model carries what it needs, else
from the Draw tab's gate of today (`core.confidence`, calibrated as the Draw tab
does). ``--keep-width`` converts without the stroke-width change (the conversion
before issue 14). Material is test material only (see `bench.drawings_material`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench import drawings_fonts, drawings_pen
from bench import drawings_material as material
from core import fast
from core.allocator import keep_small_arrays
from core.hand_reading import reading_phrase
from core.idx import read_idx
from core.model_io import SavedModel, load_model
from core.preprocess import convert_drawing

MNIST_TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# Issue 14: converting and reading one drawing stays under this.
BUDGET_MS = 2.0


def render_material(seed: int, hands: int, repeats: int, cache: Path | None = None):
    """Render every test drawing on the app's canvas: (drawings, uint8 canvases).

    Drawing them takes about a minute; with ``cache`` (a folder) the canvases are
    kept there, keyed by the settings and the material's source.
    """
    drawings = list(material.digit_drawings(seed, hands, repeats))
    drawings += list(material.non_digit_drawings(seed, max(hands // 2, 8)))
    path = None
    if cache is not None:
        source = (
            Path(material.__file__).read_bytes()
            + material.drawings_hershey.DATA.read_bytes()
        )
        key = hashlib.sha256(source + f"{seed}-{hands}-{repeats}".encode()).hexdigest()
        path = cache / f"drawings-{key[:16]}.npy"
        if path.exists():
            canvases = np.load(path, allow_pickle=False)
            if len(canvases) == len(drawings):
                return drawings, canvases
    renderer = material.Renderer()
    canvases = np.stack([renderer(drawing) for drawing in drawings])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, canvases)
    return drawings, canvases


def convert_all(canvases: np.ndarray, keep_width: bool):
    """Convert like the app: (images (N, 28, 28), sizes (N,), drawn mask (N,))."""
    images = np.zeros((len(canvases), 28, 28), np.uint8)
    sizes = np.zeros(len(canvases), np.float32)
    drawn = np.zeros(len(canvases), bool)
    for i, canvas in enumerate(canvases):
        conversion = convert_drawing(
            canvas, "mnist", ink_is_bright=True, normalize_stroke=not keep_width
        )
        if conversion is not None:
            images[i], sizes[i], drawn[i] = conversion.image, conversion.size, True
    return images, sizes, drawn


class TodayGate:
    """The Draw tab's "not sure" gate as of this round, calibrated the same way."""

    name = "Draw tab gate (core.confidence)"

    def __init__(self, model: SavedModel) -> None:
        from core.confidence import ConfidenceGate
        from core.datasets import load_bundled

        reference = load_bundled("mnist-sample")
        rng = np.random.default_rng(0)
        chosen = rng.choice(len(reference), size=4000, replace=False)
        gate = ConfidenceGate.fit(
            reference.images[chosen], reference.labels[chosen], reference.max_value
        )
        self.gate = gate.for_model(model.predict_proba, max_images=1000)

    def sure(self, images, probabilities, sizes, drawings=True) -> np.ndarray:
        """Bool (N,): True where the answer would be stated."""
        sure, _ = self.gate.judge_batch(images, probabilities[:, :10])
        return sure


class NewJudgement:
    """`core.judgement` as the app and the CLI use it (`core.calibration.model_judge`).

    With ``false_rejection`` the thresholds are set again at that share, on the
    moved copies of the digits the app would calibrate on
    (`core.run.calibration_copies` of `core.calibration.reference_digits`), for a
    look at other operating points; the novelty score stays as the app has it.
    """

    def __init__(self, model: SavedModel, false_rejection: float | None = None) -> None:
        from core.calibration import digit_subspaces, model_judge, reference_digits
        from core.judgement import Judge
        from core.run import calibration_copies

        judge, reason = model_judge(model)
        if judge is None:
            raise ValueError(reason)
        where = "stored in the model" if model.judgement else "set when loaded"
        if false_rejection is not None:
            subspaces = digit_subspaces("mnist")
            images = reference_digits(model, subspaces.calibration_images)
            copies = calibration_copies(images, subspaces.max_value)
            judge = Judge.for_model(model, copies, false_rejection, judge.novelty)
            where = (
                f"set for {100 * false_rejection:g}% of {len(copies)} moved copies of"
                f" {len(images)} held-out digits"
            )
        self.judge = judge
        novelty = " + digit-subspace novelty" if judge.novelty is not None else ""
        margins = f"{judge.min_margin:+.3f}, drawings {judge.margin_for(True):+.3f}"
        self.name = f"core.judgement (margin {margins}, {where}{novelty})"

    def sure(self, images, probabilities, sizes, drawings=True) -> np.ndarray:
        """Bool (N,): True where the verdict is "digit" (drawings unless told)."""
        verdicts = self.judge.verdicts(probabilities, images, sizes, drawings)
        return verdicts == "digit"


def make_judge(model: SavedModel, which: str, false_rejection: float | None = None):
    """The judgement to use: "new", "today" or "auto" (new when it can)."""
    if which in ("new", "auto"):
        try:
            return NewJudgement(model, false_rejection)
        except (ImportError, ValueError) as error:
            if which == "new":
                raise
            print(f"  (core.judgement unavailable: {error}; using today's gate)")
    return TodayGate(model)


def _pct(numerator, denominator) -> str:
    return f"{100.0 * numerator / max(denominator, 1):5.1f}%"


def _read(images, sizes, drawn, model, judge) -> tuple[np.ndarray, np.ndarray]:
    """Best digit and "sure" for every image (nothing drawn: digit 0, not sure)."""
    probabilities = np.zeros((len(images), len(model.class_names)), np.float32)
    probabilities[drawn] = model.predict_proba(images[drawn])
    sure = np.zeros(len(images), bool)
    sure[drawn] = judge.sure(images[drawn], probabilities[drawn], sizes[drawn])
    return probabilities[:, :10].argmax(axis=1), sure


def _print_mistakes(labels, guess, wrong) -> None:
    """Print the eight commonest (true -> read) pairs among the ``wrong`` images."""
    mistakes = defaultdict(int)
    for i in np.flatnonzero(wrong):
        mistakes[(labels[i], guess[i])] += 1
    top = sorted(mistakes.items(), key=lambda item: -item[1])[:8]
    print("  commonest mistakes: " + ", ".join(f"{t}->{p} x{c}" for (t, p), c in top))


def report_drawings(drawings, images, sizes, drawn, model, judge) -> dict:
    """Print the drawn-material tables for one model; return the headline figures."""
    guess, sure = _read(images, sizes, drawn, model, judge)
    kinds = np.array([d.kind for d in drawings])
    styles = np.array([d.style for d in drawings])
    labels = np.array([-1 if d.label is None else d.label for d in drawings])
    pens = np.array([d.pen for d in drawings])
    is_digit = kinds == "digit"
    correct = is_digit & drawn & (guess == labels)
    figures = {}
    print(f"  verdicts: {judge.name}")
    print(
        f"  {'digits':<24} {'n':>5} {'read right':>10} {'not sure':>9} "
        f"{'sure+wrong':>10}"
    )
    for style in ("handwriting", "print"):
        rows = is_digit & (styles == style)
        n = int(rows.sum())
        right = int(correct[rows].sum())
        unsure = int((rows & ~sure).sum())
        wrong_sure = int((rows & sure & ~correct).sum())
        figures[style] = right / max(n, 1)
        figures[f"{style}_not_sure"] = unsure / max(n, 1)
        print(
            f"  {style + '-like':<24} {n:>5} {_pct(right, n):>10} "
            f"{_pct(unsure, n):>9} {_pct(wrong_sure, n):>10}"
        )
    n = int(is_digit.sum())
    figures["digits"] = int(correct.sum()) / max(n, 1)
    figures["digits_not_sure"] = int((is_digit & ~sure).sum()) / max(n, 1)
    print(
        f"  {'all digits':<24} {n:>5} {_pct(correct.sum(), n):>10} "
        f"{_pct((is_digit & ~sure).sum(), n):>9} "
        f"{_pct((is_digit & sure & ~correct).sum(), n):>10}"
    )
    others = ~is_digit
    turned = others & ~sure
    figures["non_digits_turned_away"] = int(turned.sum()) / max(int(others.sum()), 1)
    print(f"  {'non-digits':<24} {'n':>5} {'turned away':>11}")
    for kind in ("letter", "scribble", "shape", "tiny", "piece", "overlap"):
        rows = kinds == kind
        print(
            f"  {kind:<24} {int(rows.sum()):>5} "
            f"{_pct(turned[rows].sum(), rows.sum()):>11}"
        )
    print(
        f"  {'all non-digits':<24} {int(others.sum()):>5} "
        f"{_pct(turned.sum(), others.sum()):>11}"
    )
    # What the outside material has: no pieces or overlaps of digits.
    named = np.isin(kinds, ("letter", "scribble", "shape", "tiny"))
    figures["issue_kinds_turned_away"] = int(turned[named].sum()) / max(
        int(named.sum()), 1
    )
    print(
        f"  {'letters+scribbles+shapes+tiny':<29} {int(named.sum())} "
        f"{_pct(turned[named].sum(), named.sum()):>11}"
    )
    print(
        f"  {'pen px':>6} {'hand acc':>9} {'print acc':>9} {'not sure':>9} "
        f"{'non-digits away':>15}"
    )
    per_pen = {}
    for pen in material.PEN_WIDTHS:
        near = np.isclose(pens, pen)
        hand_rows = is_digit & near & (styles == "handwriting")
        # Print pens are raised for the doubled-line fonts: bucket by the nearest.
        nearest = np.array(material.PEN_WIDTHS)[
            np.abs(pens[:, None] - np.array(material.PEN_WIDTHS)[None]).argmin(1)
        ]
        print_rows = is_digit & (nearest == pen) & (styles == "print")
        digit_rows = is_digit & (nearest == pen)
        other_rows = others & (nearest == pen)
        per_pen[pen] = {
            "handwriting": float(correct[hand_rows].mean())
            if hand_rows.any()
            else None,
            "print": float(correct[print_rows].mean()) if print_rows.any() else None,
            "not_sure": float((~sure[digit_rows]).mean()) if digit_rows.any() else None,
            "turned_away": float(turned[other_rows].mean())
            if other_rows.any()
            else None,
        }
        cells = [
            "      -" if v is None else f"{100 * v:7.1f}%"
            for v in per_pen[pen].values()
        ]
        print(f"  {pen:>6} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9} {cells[3]:>15}")
    figures["per_pen"] = per_pen
    hands = defaultdict(list)
    for i in np.flatnonzero(is_digit):
        hands[drawings[i].hand].append(bool(correct[i]))
    worst = sorted((np.mean(v), k) for k, v in hands.items())[:5]
    print(
        "  worst hands: " + ", ".join(f"{name} {100 * acc:.0f}%" for acc, name in worst)
    )
    styles_acc = defaultdict(list)
    for i in np.flatnonzero(is_digit & (styles == "handwriting")):
        styles_acc[drawings[i].name].append(bool(correct[i]))
    worst_styles = sorted((np.mean(v), k) for k, v in styles_acc.items())[:6]
    print(
        "  worst templates: "
        + ", ".join(f"{name} {100 * acc:.0f}%" for acc, name in worst_styles)
    )
    rare = [
        bool(correct[i])
        for i in np.flatnonzero(is_digit & (styles == "handwriting"))
        if tuple(drawings[i].name.split("-", 1))
        in {(str(d), n) for d, n in material.RARE_IN_MNIST}
    ]
    figures["rare_styles"] = float(np.mean(rare)) if rare else None
    if rare:
        print(f"  styles MNIST has few of (n={len(rare)}): {100 * np.mean(rare):.1f}%")
    _print_mistakes(labels, guess, is_digit & drawn & ~correct)
    accepted = defaultdict(int)
    for i in np.flatnonzero((kinds == "letter") & sure):
        accepted[drawings[i].name.split("-")[0]] += 1
    print(
        "  letters answered as digits: "
        + " ".join(
            f"{k}x{v}" for k, v in sorted(accepted.items(), key=lambda kv: -kv[1])
        )
    )
    return figures


def report_fonts(typed, images, sizes, drawn, model, judge) -> dict:
    """Print the font-rendered material's figures for one model; return them."""
    guess, sure = _read(images, sizes, drawn, model, judge)
    labels = np.array([-1 if t.label is None else t.label for t in typed])
    fonts = np.array([t.font for t in typed])
    is_digit = labels >= 0
    correct = is_digit & drawn & (guess == labels)
    n = int(is_digit.sum())
    figures = {
        "font_digits": int(correct.sum()) / max(n, 1),
        "font_digits_not_sure": int((is_digit & ~sure).sum()) / max(n, 1),
    }
    print(
        f"  {'set in ' + str(len(set(fonts))) + ' fonts':<24} {'n':>5} "
        f"{'read right':>10} {'not sure':>9} {'sure+wrong':>10}"
    )
    print(
        f"  {'digits':<24} {n:>5} {_pct(correct.sum(), n):>10} "
        f"{_pct((is_digit & ~sure).sum(), n):>9} "
        f"{_pct((is_digit & sure & ~correct).sum(), n):>10}"
    )
    digit_like = np.array([t.char in drawings_fonts.DIGIT_LIKE for t in typed])
    for name, rows in (
        ("letters unlike digits", ~is_digit & ~digit_like),
        ("digit-like letters", ~is_digit & digit_like),
    ):
        away = int((rows & ~sure).sum())
        figures[f"font_{name.replace(' ', '_').replace('-', '_')}_turned_away"] = (
            away / max(int(rows.sum()), 1)
        )
        print(
            f"  {name:<24} {int(rows.sum()):>5} {_pct(away, rows.sum()):>10}"
            " turned away"
        )
    per_font = {
        font: float(correct[is_digit & (fonts == font)].mean())
        for font in sorted(set(fonts[is_digit]))
    }
    worst = sorted((acc, font) for font, acc in per_font.items())[:5]
    print(
        "  worst fonts (digits read right): "
        + ", ".join(f"{Path(font).stem} {100 * acc:.0f}%" for acc, font in worst)
    )
    _print_mistakes(labels, guess, is_digit & drawn & ~correct)
    return figures


def report_pen(written, images, sizes, drawn, model, judge) -> dict:
    """Print the real handwriting's figures (`bench.drawings_pen`); return them."""
    guess, sure = _read(images, sizes, drawn, model, judge)
    labels = np.array([d.label for d in written])
    writers = np.array([d.hand for d in written])
    pens = np.array([d.pen for d in written])
    correct = drawn & (guess == labels)
    written_by = f"written by {len(set(writers))} people"
    print(
        f"  {written_by:<24} {'n':>5} {'read right':>10} {'not sure':>9} "
        f"{'sure+wrong':>10}"
    )
    figures = {}
    for part in ("tra", "tes", ""):
        rows = np.char.startswith(writers, part)
        people = len(set(writers[rows]))
        name = f"{people} writers (.{part})" if part else "all"
        n = int(rows.sum())
        print(
            f"  {name:<24} {n:>5} {_pct(correct[rows].sum(), n):>10} "
            f"{_pct((rows & ~sure).sum(), n):>9} "
            f"{_pct((rows & sure & ~correct).sum(), n):>10}"
        )
    # The writers of .tra are the bundled pen-digits (`recommended` trains on
    # them): the figures below are the 14 others'.
    unseen = np.char.startswith(writers, "tes")
    print("  (.tra: the bundled pen-digits; below, the .tes writers only)")
    figures["pen_digits"] = float(correct[unseen].mean())
    figures["pen_digits_not_sure"] = float((~sure[unseen]).mean())
    labels, writers, pens = labels[unseen], writers[unseen], pens[unseen]
    guess, correct, drawn = guess[unseen], correct[unseen], drawn[unseen]
    per_digit = {d: float(correct[labels == d].mean()) for d in range(10)}
    per_pen = {int(p): float(correct[pens == p].mean()) for p in drawings_pen.PENS}
    figures["pen_per_digit"], figures["pen_per_pen"] = per_digit, per_pen
    print(
        "  per digit: " + ", ".join(f"{d} {100 * a:.1f}%" for d, a in per_digit.items())
    )
    print(
        "  per pen px: " + ", ".join(f"{p} {100 * a:.1f}%" for p, a in per_pen.items())
    )
    per_writer = sorted(
        (float(correct[writers == w].mean()), w) for w in sorted(set(writers))
    )
    under = sum(accuracy < 0.96 for accuracy, _ in per_writer)
    figures["pen_writers_under_96"] = under
    print(
        f"  writers read under 96%: {under} of {len(per_writer)}; worst: "
        + ", ".join(f"{w} {100 * a:.0f}%" for a, w in per_writer[:5])
    )
    _print_mistakes(labels, guess, drawn & ~correct)
    return figures


def report_mnist(folder: Path, model: SavedModel, judge) -> dict:
    """Accuracy and "not sure" share on the official MNIST test set.

    Each image is read as `predict` reads an image file: converted as a drawing
    (`convert_drawing`), which keeps an image at the dataset's size as it is.
    """
    images = read_idx(folder / MNIST_TEST[0], ndim=3)
    labels = read_idx(folder / MNIST_TEST[1], ndim=1).astype(np.intp)
    read = np.zeros_like(images)
    sizes = np.zeros(len(images), np.float32)
    drawings = np.zeros(len(images), bool)
    for index, image in enumerate(images):
        conversion = convert_drawing(
            image, "mnist", widen=model.hand_width, turn=model.hand_turn
        )
        if conversion is not None:
            read[index], sizes[index] = conversion.image, conversion.size
            drawings[index] = conversion.drawing
    changed = np.mean(np.abs(read.astype(np.int16) - images).mean(axis=(1, 2)) >= 0.5)
    probabilities = model.predict_proba(read)
    correct = probabilities[:, :10].argmax(axis=1) == labels
    sure = judge.sure(read, probabilities, sizes, drawings)
    print(
        f"  official MNIST test set ({len(images)}), read as `predict` reads files: "
        f"accuracy {100 * correct.mean():.2f}%, not sure {100 * (~sure).mean():.2f}% "
        f"(accuracy of the sure ones {100 * correct[sure].mean():.2f}%; "
        f"{100 * changed:.1f}% of the images changed by the conversion)"
    )
    return {
        "mnist_accuracy": float(correct.mean()),
        "mnist_not_sure": float((~sure).mean()),
    }


def time_one_drawing(drawings, canvases, model, keep_width: bool, rounds=3) -> dict:
    """Conversion + prediction of every drawing, ``rounds`` times over (ms).

    Wall-clock time is what a person waits; the thread's CPU time is the work
    itself, which a busy machine leaves alone (it only makes the thread wait for
    a core). The rounds go over all drawings in turn: the worst single run is often
    the machine's doing (another drawing each round), while each drawing's fastest
    run is its own cost. Each drawing is converted as ``model`` reads drawings
    (turned back and widened for a hand's own model: `SavedModel.hand_turn`,
    `SavedModel.hand_width`).
    """
    wall = np.zeros((rounds, len(canvases)))
    cpu = np.zeros((rounds, len(canvases)))
    for r in range(rounds):
        for i, canvas in enumerate(canvases):
            start, start_cpu = time.perf_counter(), time.thread_time()
            conversion = convert_drawing(
                canvas,
                "mnist",
                True,
                not keep_width,
                widen=model.hand_width,
                turn=model.hand_turn,
            )
            if conversion is not None:
                model.predict_proba(conversion.image)
            cpu[r, i] = time.thread_time() - start_cpu
            wall[r, i] = time.perf_counter() - start
    wall, cpu = 1000.0 * wall, 1000.0 * cpu
    own = wall.min(axis=0)
    slowest = drawings[int(own.argmax())]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    reading = reading_phrase(model.hand_turn, model.hand_width)
    print(
        "  conversion + prediction per drawing"
        + (f", read {reading}" if reading else "")
        + f" ({len(canvases)} drawings, {rounds} "
        f"rounds; load average {load:.1f} on {os.cpu_count()} cores): median "
        f"{np.median(wall):.2f} ms, 90% {np.percentile(wall, 90):.2f} ms, worst "
        f"{wall.max():.2f} ms (CPU time {cpu.max():.2f} ms); each drawing's fastest "
        f"run: 99% {np.percentile(own, 99):.2f} ms, worst {own.max():.2f} ms (a "
        f"{slowest.kind} drawn with a {slowest.pen:g} px pen), over {BUDGET_MS:g} ms: "
        f"{np.count_nonzero(own > BUDGET_MS)} of them"
    )
    return {
        "ms_median": float(np.median(wall)),
        "ms_p90": float(np.percentile(wall, 90)),
        "ms_worst": float(wall.max()),
        "cpu_ms_median": float(np.median(cpu)),
        "cpu_ms_worst": float(cpu.max()),
        "ms_fastest_p99": float(np.percentile(own, 99)),
        "ms_fastest_worst": float(own.max()),
        "over_budget": int(np.count_nonzero(own > BUDGET_MS)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drawings", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", action="append", required=True, type=Path)
    parser.add_argument("--mnist-folder", type=Path, help="official MNIST IDX files")
    parser.add_argument(
        "--pendigits-folder",
        type=Path,
        help="UCI's pen digits: " + ", ".join(drawings_pen.FILES) + " (uncompressed)",
    )
    parser.add_argument("--seed", type=int, default=material.DEFAULT_SEED)
    parser.add_argument("--hands", type=int, default=48, help="handwriting hands")
    parser.add_argument("--repeats", type=int, default=3, help="drawings per digit")
    parser.add_argument("--keep-width", action="store_true")
    parser.add_argument(
        "--no-fonts",
        action="store_true",
        help="leave out the digits and letters set in this machine's fonts",
    )
    parser.add_argument("--judge", choices=("auto", "new", "today"), default="auto")
    parser.add_argument(
        "--false-rejection",
        type=float,
        help="set core.judgement's thresholds again for this share of held-out "
        "digits turned away (default: the model's own thresholds)",
    )
    parser.add_argument(
        "--teach-hands",
        type=int,
        default=3,
        help="hands to teach with 20 corrections and a fine-tune (0: none)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--cache",
        default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "digit-studio-bench"),
        help="folder for the rendered canvases ('' for none)",
    )
    args = parser.parse_args(argv)
    # The compiled kernels and the allocator's thresholds, as the app and the
    # CLI set them at their start (the conversion never loads the kernels itself).
    fast.warm_up()
    keep_small_arrays()
    print(f"engine: {fast.status()}")
    started = time.perf_counter()
    cache = Path(args.cache) if args.cache else None  # Path("") would be "."
    drawings, canvases = render_material(args.seed, args.hands, args.repeats, cache)
    images, sizes, drawn = convert_all(canvases, args.keep_width)
    digits = sum(d.kind == "digit" for d in drawings)
    print(
        f"{digits} drawn digits and {len(drawings) - digits} non-digits "
        f"(seed {args.seed}), rendered and converted in "
        f"{time.perf_counter() - started:.1f} s; stroke width "
        f"{'as drawn' if args.keep_width else 'brought to MNIST'}"
    )
    typed, font_images = [], None
    if not args.no_fonts:
        started = time.perf_counter()
        typed, font_canvases = drawings_fonts.render_fonts(args.seed)
        font_images = convert_all(font_canvases, args.keep_width)
        print(
            f"{len(typed)} digits and letters set in "
            f"{len({t.font for t in typed})} fonts of this machine, rendered and "
            f"converted in {time.perf_counter() - started:.1f} s"
        )
    written, pen_images = [], None
    if args.pendigits_folder is not None:
        started = time.perf_counter()
        written, pen_canvases = drawings_pen.render_pendigits(
            drawings_pen.read_pendigits(args.pendigits_folder)
        )
        pen_images = convert_all(pen_canvases, args.keep_width)
        print(
            f"{len(written)} digits written by {len({d.hand for d in written})} "
            f"people (UCI pen digits), drawn and converted in "
            f"{time.perf_counter() - started:.1f} s"
        )
    mnist = args.mnist_folder
    if mnist is not None and not all((mnist / name).exists() for name in MNIST_TEST):
        print(f"no MNIST test set in {mnist} (need {', '.join(MNIST_TEST)})")
        mnist = None
    results = {}
    for path in args.model:
        model = load_model(path)
        print(f"\nmodel {path} ({'-'.join(map(str, model.network.layer_sizes))})")
        judge = make_judge(model, args.judge, args.false_rejection)
        figures = report_drawings(drawings, images, sizes, drawn, model, judge)
        if typed:
            figures.update(report_fonts(typed, *font_images, model, judge))
        if written:
            figures.update(report_pen(written, *pen_images, model, judge))
        if mnist is not None:
            figures.update(report_mnist(mnist, model, judge))
        figures.update(time_one_drawing(drawings, canvases, model, args.keep_width))
        if args.teach_hands > 0:
            from bench import drawings_teach

            test_set = None
            if mnist is not None:
                test_set = (
                    read_idx(mnist / MNIST_TEST[0], ndim=3),
                    read_idx(mnist / MNIST_TEST[1], ndim=1).astype(np.intp),
                )
            taught = drawings_teach.teach(model, args.teach_hands, test_set)
            figures.update(drawings_teach.report(taught))
        results[str(path)] = figures
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
