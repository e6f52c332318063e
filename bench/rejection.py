"""Measure the Draw tab's honest answers: how often non-digits get "Not sure" and how
often real digits are wrongly rejected.

Trains a 784-256-10 network on 4,000 images of the bundled MNIST sample, fits the
`core.confidence` gate the way the Draw tab does, and judges:

* real digits: the 1,000 held-out sample images, as stored and after a round trip
  through a 280x280 canvas and `core.preprocess.canvas_to_image` (what drawing does);
* non-digits drawn with the app's own canvas (same pen, smoothing, anti-aliasing) and
  converted the same way: random-walk scribbles, zig-zags and hatching, geometric
  shapes (circles, squares, triangles, stars, crosses combined with lines) and letters
  A-Z / a-z rendered with QPainter in several fonts.

Run: .venv/bin/python bench/rejection.py [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QFont, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.confidence import ConfidenceGate  # noqa: E402
from core.datasets import load_bundled, stratified_split  # noqa: E402
from core.network import MLP  # noqa: E402
from core.preprocess import canvas_to_image  # noqa: E402
from core.training import TrainingConfig, train  # noqa: E402
from gui.drawing_canvas import CANVAS_SIZE, DrawingCanvas  # noqa: E402

FONTS = ["DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "URW Bookman"]


def trained_model(train_set, seed):
    config = TrainingConfig(hidden_sizes=(256,), epochs=8, seed=seed)
    network = MLP([784, 256, 10], seed=seed)
    result = train(network, train_set, None, config)
    return result.network, result.normalization


def densify(points, step=3.0):
    # A mouse reports a point every few pixels; sparse corner points would let the
    # canvas's quadratic smoothing round a triangle into a blob.
    points = np.asarray(points, dtype=np.float64)
    out = [points[0]]
    for start, end in zip(points[:-1], points[1:], strict=True):
        count = max(1, int(np.ceil(np.linalg.norm(end - start) / step)))
        for t in np.arange(1, count + 1) / count:
            out.append(start + (end - start) * t)
    return out


def canvas_image(strokes, width):
    canvas = DrawingCanvas()
    for stroke in strokes:
        canvas.add_stroke([tuple(p) for p in densify(stroke)], width=width)
    return canvas.to_array()


def random_walks(rng, count):
    out = []
    for _ in range(count):
        strokes = []
        for _ in range(int(rng.integers(1, 4))):
            position = rng.uniform(60, 220, 2)
            velocity = rng.normal(0, 8, 2)
            points = [position.copy()]
            for _ in range(int(rng.integers(15, 50))):
                velocity = 0.85 * velocity + rng.normal(0, 6, 2)
                position = np.clip(position + velocity, 20, 260)
                points.append(position.copy())
            strokes.append(points)
        out.append(canvas_image(strokes, rng.uniform(12, 26)))
    return out


def zigzags(rng, count):
    out = []
    for _ in range(count):
        teeth = int(rng.integers(3, 9))
        left, right = sorted(rng.uniform(30, 250, 2))
        top, bottom = sorted(rng.uniform(30, 250, 2))
        if right - left < 60:
            right = left + 60
        if bottom - top < 60:
            bottom = top + 60
        ys = np.linspace(top, bottom, teeth * 2)
        xs = np.where(np.arange(teeth * 2) % 2 == 0, left, right)
        strokes = [np.stack([xs, ys], axis=1)]
        if rng.random() < 0.5:
            strokes = [np.stack([ys, xs], axis=1)]
        out.append(canvas_image(strokes, rng.uniform(10, 24)))
    return out


def _circle(cx, cy, r, start=0.0, turns=1.0, n=40):
    angles = start + np.linspace(0, 2 * np.pi * turns, n)
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def shapes(rng, count):
    out = []
    kinds = [
        "circle+cross",
        "square",
        "triangle",
        "star",
        "grid",
        "circle+line",
        "spiral",
    ]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        cx, cy = rng.uniform(110, 170, 2)
        r = rng.uniform(50, 110)
        if kind == "circle+cross":
            strokes = [
                _circle(cx, cy, r),
                [(cx - r, cy), (cx + r, cy)],
                [(cx, cy - r), (cx, cy + r)],
            ]
        elif kind == "square":
            strokes = [
                [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
                + [(cx - r, cy - r)]
            ]
        elif kind == "triangle":
            strokes = [[(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx, cy - r)]]
        elif kind == "star":
            angles = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
            strokes = [np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)]
        elif kind == "grid":
            offsets = (-r / 3, r / 3)
            strokes = [[(cx + o, cy - r), (cx + o, cy + r)] for o in offsets] + [
                [(cx - r, cy + o), (cx + r, cy + o)] for o in offsets
            ]
        elif kind == "circle+line":
            angle = rng.uniform(0, np.pi)
            dx, dy = 1.4 * r * np.cos(angle), 1.4 * r * np.sin(angle)
            strokes = [
                _circle(cx, cy, r * 0.6),
                [(cx - dx, cy - dy), (cx + dx, cy + dy)],
            ]
        else:
            radii = np.linspace(5, r, 80)
            angles = np.linspace(0, 6 * np.pi, 80)
            strokes = [
                np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
            ]
        out.append((kind, canvas_image(strokes, rng.uniform(12, 24))))
    return out


def letters(rng):
    out = []
    for family in FONTS:
        for letter in string.ascii_uppercase + string.ascii_lowercase:
            image = QImage(CANVAS_SIZE, CANVAS_SIZE, QImage.Format.Format_Grayscale8)
            image.fill(0)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            font = QFont(family)
            font.setPixelSize(200)
            font.setWeight(QFont.Weight.Normal)
            painter.setFont(font)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(
                QRectF(0, 0, CANVAS_SIZE, CANVAS_SIZE),
                Qt.AlignmentFlag.AlignCenter,
                letter,
            )
            painter.end()
            bits = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
            array = bits.reshape(CANVAS_SIZE, image.bytesPerLine())[:, :CANVAS_SIZE]
            out.append((f"{letter} ({family})", array.copy()))
    return out


def upscale_to_canvas(images):
    # Each 28x28 pixel becomes a 10x10 block: a digit "drawn" on the 280x280 canvas.
    return [np.kron(image, np.ones((10, 10), np.uint8)) for image in images]


def thicker(images):
    # Grey dilation by a 2x2 square: every stroke about 1 pixel wider, like a
    # heavier pen (digits drawn with a mouse are usually bolder than MNIST's).
    out = images.copy()
    np.maximum(out[:, 1:, :], images[:, :-1, :], out=out[:, 1:, :])
    shifted = out.copy()
    np.maximum(out[:, :, 1:], shifted[:, :, :-1], out=out[:, :, 1:])
    return out


def judge(gate, network, normalization, images):
    images = np.stack(images)
    probabilities = network.predict_proba(normalization.apply(images))
    sure, novelty = gate.judge_batch(images, probabilities)
    low = probabilities.max(axis=1) < gate.min_confidence
    return sure, novelty > 1.0, low, probabilities


def converted(canvases):
    images = [canvas_to_image(c, "mnist", ink_is_bright=True) for c in canvases]
    return [i for i in images if i is not None]


def _median_ms(function, repeats=200):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=300, help="per synthetic kind")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    rng = np.random.default_rng(args.seed)

    sample = load_bundled("mnist-sample")
    train_set, held_out = stratified_split(sample, 0.2, seed=args.seed)
    start = time.perf_counter()
    network, normalization = trained_model(train_set, args.seed)
    train_seconds = time.perf_counter() - start
    held_probs = network.predict_proba(normalization.apply(held_out.images))
    accuracy = float((held_probs.argmax(1) == held_out.labels).mean())

    # Same reference as the Draw tab: 4,000 images of the bundled set the model
    # may have trained on (here: from the training part only).
    chosen = rng.choice(len(train_set), size=min(4000, len(train_set)), replace=False)
    start = time.perf_counter()
    gate = ConfidenceGate.fit(
        train_set.images[chosen],
        train_set.labels[chosen],
        255,
        predict_proba=lambda x: network.predict_proba(normalization.apply(x)),
    )
    fit_ms = 1000 * (time.perf_counter() - start)

    rows = []
    # Baseline: top probability alone, its threshold set (optimistically, on the
    # held-out digits themselves) to reject as many real digits as the gate does.
    gate_sure, _, _, _ = judge(gate, network, normalization, list(held_out.images))
    baseline_threshold = float(np.quantile(held_probs.max(1), 1 - gate_sure.mean()))

    def record(name, images, truth=None):
        sure, novel, low, probs = judge(gate, network, normalization, images)
        row = {
            "set": name,
            "n": len(images),
            "rejected": float(1 - sure.mean()),
            "by_novelty": float(novel.mean()),
            "by_low_confidence": float(low.mean()),
            "top_probability_only": float((probs.max(1) < baseline_threshold).mean()),
        }
        if truth is not None:
            correct = probs.argmax(1) == truth
            row["accuracy_all"] = float(correct.mean())
            row["accuracy_accepted"] = float(correct[sure].mean())
            row["accuracy_rejected"] = (
                float(correct[~sure].mean()) if (~sure).any() else None
            )
        rows.append(row)
        return sure

    record("real digits, held out (as stored)", list(held_out.images), held_out.labels)
    round_trip = converted(upscale_to_canvas(held_out.images))
    record("real digits, held out (via canvas)", round_trip, held_out.labels)
    bold = converted(upscale_to_canvas(thicker(held_out.images)))
    record("real digits, 1 px bolder (via canvas)", bold, held_out.labels)
    record("random-walk scribbles", converted(random_walks(rng, args.count)))
    record("zig-zags and hatching", converted(zigzags(rng, args.count)))
    drawn_shapes = shapes(rng, args.count)
    record("shapes (all)", converted([image for _, image in drawn_shapes]))
    for kind in sorted({kind for kind, _ in drawn_shapes}):
        record(
            f"  shape: {kind}",
            converted([image for k, image in drawn_shapes if k == kind]),
        )
    rendered = letters(rng)
    names = [name for name, _ in rendered]
    letter_images = converted([image for _, image in rendered])
    sure = record("letters A-Z a-z, 4 fonts", letter_images)
    accepted_letters = sorted({names[i].split(" ")[0] for i in np.flatnonzero(sure)})

    one = held_out.images[:1]
    probs = network.predict_proba(normalization.apply(one))
    judge_ms = _median_ms(lambda: gate.judge(one[0], probs[0]))
    canvas = upscale_to_canvas(one)[0]
    convert_ms = _median_ms(lambda: canvas_to_image(canvas, "mnist", True))
    infer_ms = _median_ms(lambda: network.predict_proba(normalization.apply(one)))
    gradient_ms = _median_ms(
        lambda: network.input_gradient(normalization.apply(one)[0], 3)
    )

    print(
        f"model: 784-256-10, 8 epochs on {len(train_set)} images, {train_seconds:.1f} s"
    )
    print(f"held-out accuracy: {100 * accuracy:.2f}% on {len(held_out)} images")
    print(
        f"gate: min_confidence {gate.min_confidence:.3f}, error limit "
        f"{gate.max_error:.2f} / relative {gate.max_relative_error:.4f} "
        f"({gate.components.shape[1]} components per class), "
        f"fit {fit_ms:.0f} ms"
    )
    print(
        f"per drawing (median of 200): conversion {convert_ms:.3f} ms, forward pass "
        f"{infer_ms:.3f} ms, judge {judge_ms:.3f} ms, why-gradient {gradient_ms:.3f} ms"
    )
    print(
        f"baseline: top probability alone below {baseline_threshold:.3f} (same "
        "false rejection of real digits)"
    )
    print(
        f"{'set':40} {'n':>5} {'rejected':>9} {'novelty':>8} {'low p':>7} "
        f"{'baseline':>9}"
    )
    for row in rows:
        print(
            f"{row['set']:40} {row['n']:>5} {100 * row['rejected']:>8.1f}% "
            f"{100 * row['by_novelty']:>7.1f}% {100 * row['by_low_confidence']:>6.1f}% "
            f"{100 * row['top_probability_only']:>8.1f}%"
        )
        if "accuracy_all" in row:
            rejected = row["accuracy_rejected"]
            print(
                f"{'':40} accuracy all {100 * row['accuracy_all']:.1f}%, accepted "
                f"{100 * row['accuracy_accepted']:.1f}%, rejected "
                f"{'-' if rejected is None else f'{100 * rejected:.1f}%'}"
            )
    print("letters answered without doubt:", " ".join(accepted_letters) or "none")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "accuracy": accuracy,
                    "min_confidence": gate.min_confidence,
                    "rows": rows,
                    "accepted_letters": accepted_letters,
                    "judge_ms": judge_ms,
                    "convert_ms": convert_ms,
                    "inference_ms": infer_ms,
                    "gradient_ms": gradient_ms,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
