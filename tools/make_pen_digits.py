"""Build resources/pen-digits from UCI's pen digits (run once; the output is committed).

    python tools/make_pen_digits.py DIR

DIR holds ``pendigits-orig.tra``, uncompressed, from
https://archive.ics.uci.edu/dataset/81 (E. Alpaydin and F. Alimoglu, "Pen-Based
Recognition of Handwritten Digits", 1998; CC BY 4.0): 7,494 digits that 30 people
wrote on a tablet, as the paths of their pen. Each is drawn with the app's own canvas
at a random height, place and pen, as `bench.drawings_pen` draws them, and converted
as the Draw tab converts a drawing; the 28x28 images and labels are written as IDX
files. The set's other file, ``.tes`` (14 other writers), stays out: it is the bench's
test of real handwriting. See docs/data.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.drawings import convert_all  # noqa: E402
from bench.drawings_pen import read_pendigits, render_pendigits  # noqa: E402
from core.datasets import TRAIN_IMAGES, TRAIN_LABELS  # noqa: E402
from core.idx import write_idx  # noqa: E402

TRAINING_FILE = "pendigits-orig.tra"
SEED = 2026_22  # not the bench's: the same writers drawn anew would be no test
OUT = ROOT / "resources" / "pen-digits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help=f"the folder of {TRAINING_FILE}")
    args = parser.parse_args()
    digits = read_pendigits(args.folder, (TRAINING_FILE,))
    _, canvases = render_pendigits(digits, SEED)
    images, _, drawn = convert_all(canvases, keep_width=False)
    if not drawn.all():
        raise SystemExit(f"{np.count_nonzero(~drawn)} digits converted to nothing")
    labels = np.array([digit.label for digit in digits], np.uint8)
    # Shuffled (seeded) so that a few hundred of them already hold every digit
    # and writer, as the MNIST sample's files do.
    order = np.random.default_rng(0).permutation(len(labels))
    OUT.mkdir(parents=True, exist_ok=True)
    write_idx(OUT / TRAIN_IMAGES, images[order], compresslevel=9)
    write_idx(OUT / TRAIN_LABELS, labels[order], compresslevel=9)
    writers = len({digit.writer for digit in digits})
    print(f"wrote {len(labels)} digits of {writers} writers to {OUT}")


if __name__ == "__main__":
    main()
