"""`main.py import-idx` refuses labels, names and empty sets it cannot store."""

import numpy as np
import pytest
from test_cli import assert_one_line_error, run_cli

from core.idx import write_idx


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(folder))
    return folder


def _import(capsys, tmp_path, name, images, labels):
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l.gz", labels)
    return run_cli(
        capsys, "import-idx", name, "--images", tmp_path / "i.gz",
        "--labels", tmp_path / "l.gz",
    )  # fmt: skip


def _nothing_stored(capsys, data_dir):
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[:2]] == [
        "mnist-sample",
        "digits-8x8",
    ]
    assert "imported" not in out
    datasets = data_dir / "datasets"
    assert not datasets.exists() or list(datasets.iterdir()) == []


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            np.array([0, 1, 256, 3, 300], np.int16),
            "l.gz: labels range 0..300 but digit studio supports at most 256 "
            "classes (0..255); label 256 at index 2 is the first out of range "
            "(1 more after it)",
        ),
        (
            np.array([0, 1, 2, 20_000_000, 4], np.int32),
            "label 20000000 at index 3 is the first out of range",
        ),
    ],
)
def test_import_idx_names_the_first_label_uint8_cannot_hold(
    tmp_path, data_dir, capsys, labels, message
):
    images = np.zeros((len(labels), 4, 4), np.uint8)
    code, out, err = _import(capsys, tmp_path, "wide", images, labels)
    assert_one_line_error(code, err, message)
    assert out == "" and len(err) < 300
    _nothing_stored(capsys, data_dir)


@pytest.mark.parametrize(
    ("name", "shape", "message"),
    [
        ("fashion\n", (3, 4, 4), "invalid dataset name 'fashion\\n'"),
        ("empty", (0, 28, 28), "i.gz: the file holds no images"),
        ("flat", (3, 0, 0), "i.gz: the images are 0x0 pixels"),
    ],
)
def test_import_idx_refuses_a_name_with_a_newline_or_an_empty_set(
    tmp_path, data_dir, capsys, name, shape, message
):
    images = np.zeros(shape, np.uint8)
    code, _, err = _import(capsys, tmp_path, name, images, np.zeros(shape[0], np.uint8))
    assert_one_line_error(code, err, message)
    _nothing_stored(capsys, data_dir)
