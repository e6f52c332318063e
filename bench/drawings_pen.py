"""Real handwriting for `bench.drawings`: pen paths people wrote, drawn on the canvas.

UCI's "Pen-Based Recognition of Handwritten Digits" (E. Alpaydin and F. Alimoglu,
Bogazici University, 1998; CC BY 4.0) keeps 10,992 digits that 44 people wrote on a
tablet as the paths of their pen: 7,494 by 30 writers in ``pendigits-orig.tra``,
3,498 by 14 others in ``pendigits-orig.tes``. None of it is MNIST's. Each digit is
drawn with the app's own canvas at a random height (90 to 230 px of the 280 px
canvas), place and pen width (3 to 25 px), and read as the Draw tab reads it.

``python -m bench.drawings --model M.npz --pendigits-folder DIR``, DIR holding the
two files from https://archive.ics.uci.edu/dataset/81 (the zip's ``.Z`` files
uncompressed: ``gzip -dk pendigits-orig.tra.Z pendigits-orig.tes.Z``). The digits
of ``.tra``, drawn anew, are the bundled ``pen-digits`` (`tools/make_pen_digits.py`)
that `recommended` trains on; those of ``.tes`` are test material only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import drawings_material as material

FILES = ("pendigits-orig.tra", "pendigits-orig.tes")
SEED = 2026_21
PENS = (3, 5, 8, 12, 18, 25)
_HEIGHTS = (90.0, 230.0)  # pixels on the canvas
_MARGIN = 20.0  # pixels kept clear at the canvas's edges, besides the pen's width
_MAX_BYTES = 16 * 2**20  # each file is about 3 MiB


@dataclass(frozen=True)
class PenDigit:
    """One written digit: its label, its writer and its pen's path."""

    label: int
    writer: str  # "tra-7", "tes-3": the file and its own writer number
    strokes: tuple[np.ndarray, ...]  # (n, 2) tablet points (x, y), y up


def read_pendigits(folder: Path, files: tuple[str, ...] = FILES) -> list[PenDigit]:
    """Read the files' digits (UNIPEN text: ``.SEGMENT``, ``.PEN_DOWN``...).

    Raises
    ------
    ValueError
        If a file is missing, too big or not in the set's format.
    """
    digits = []
    for name in files:
        path = Path(folder) / name
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"{path}: not the UCI pen digits file (see --help)")
        digits += _parse(path.read_text("latin-1"), name.rsplit(".", 1)[1])
    if not digits:
        raise ValueError(f"{folder}: no digits in {', '.join(files)}")
    return digits


def _parse(text: str, part: str) -> list[PenDigit]:
    digits: list[PenDigit] = []
    label, writer, strokes, stroke = None, "", [], None

    def finish() -> None:
        kept = tuple(np.asarray(s, np.float64) for s in strokes if s)
        if label is not None and kept:
            digits.append(PenDigit(label, writer, kept))

    for number, line in enumerate(text.splitlines(), 1):
        try:
            if line.startswith(".SEGMENT"):
                finish()
                label, strokes, stroke = int(line.split('"')[1]), [], None
            elif line.startswith(".COMMENT"):
                writer = f"{part}-{line.split()[2]}"
            elif line.startswith(".PEN_DOWN"):
                stroke = []
                strokes.append(stroke)
            elif line.startswith(".PEN_UP"):
                stroke = None
            elif stroke is not None and line.strip():
                x, y = line.split()
                stroke.append((float(x), float(y)))
        except (ValueError, IndexError) as error:
            raise ValueError(f"line {number} of the .{part} file: {line!r}") from error
    finish()
    return digits


def render_pendigits(
    digits: list[PenDigit], seed: int = SEED
) -> tuple[list[material.Drawing], np.ndarray]:
    """Draw every digit on the app's canvas: (drawings, uint8 canvases (N, 280, 280)).

    A digit keeps its shape; its height, place and pen are drawn at random, the
    pens in turn (`PENS`), so each width draws about a sixth of every writer's digits.
    """
    rng = np.random.default_rng(seed)
    renderer = material.Renderer()
    drawings, canvases = [], []
    for index, digit in enumerate(digits):
        pen = float(PENS[index % len(PENS)])
        points = np.concatenate(digit.strokes)
        low, high = points.min(axis=0), points.max(axis=0)
        size = np.maximum(high - low, 1.0)
        room = material.CANVAS - 2 * (_MARGIN + pen)
        scale = min(rng.uniform(*_HEIGHTS) / size[1], room / size[0], room / size[1])
        width, height = size * scale
        left = _MARGIN + pen + rng.uniform(0, max(room - width, 0.0))
        top = _MARGIN + pen + rng.uniform(0, max(room - height, 0.0))
        strokes = [
            np.column_stack(
                [left + (s[:, 0] - low[0]) * scale, top + (high[1] - s[:, 1]) * scale]
            )
            for s in digit.strokes
        ]
        drawing = material.Drawing(
            strokes, pen, "digit", "handwriting", digit.label, digit.writer, "pen"
        )
        drawings.append(drawing)
        canvases.append(renderer(drawing))
    return drawings, np.stack(canvases)
