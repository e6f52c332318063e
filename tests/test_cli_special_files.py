"""The command line meets FIFOs, devices and links: one line, at once, no harm."""

import os
import re
import stat

import numpy as np
import pytest
from special_files import call_within, make_char_device, make_fifo
from test_cli import assert_one_line_error, run_cli

from core.idx import write_idx


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(folder))
    return folder


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("fifo", "it is a FIFO"),
        ("device", "it is a character device"),
        ("link", "it is a symbolic link to .*real.npz"),
    ],
)
def test_train_refuses_an_output_that_is_not_a_regular_file_before_training(
    tmp_path, data_dir, capsys, kind, message
):
    out = tmp_path / "m.npz"
    if kind == "fifo":
        make_fifo(out)
    elif kind == "device":
        out = make_char_device(out)
    else:
        (tmp_path / "real.npz").write_bytes(b"kept")
        out.symlink_to(tmp_path / "real.npz")
    mode = os.lstat(out).st_mode
    code, stdout, err = call_within(
        run_cli, capsys, "train", "--layers", "4", "--epochs", "1", "--subset", "200",
        "--out", out, seconds=30,
    )  # fmt: skip
    assert_one_line_error(code, err, str(out))
    assert re.search(message, err)
    assert "Training" not in stdout and "Saved" not in stdout
    assert os.lstat(out).st_mode == mode
    if kind == "link":
        assert (tmp_path / "real.npz").read_bytes() == b"kept"
    else:
        assert not stat.S_ISREG(mode)


def test_info_on_a_fifo_fails_at_once(tmp_path, capsys):
    fifo = make_fifo(tmp_path / "model.npz")
    code, _, err = call_within(run_cli, capsys, "info", "--model", fifo, fifo=fifo)
    assert_one_line_error(code, err, "it is a FIFO")


def test_import_idx_with_a_fifo_fails_at_once(tmp_path, data_dir, capsys):
    fifo = make_fifo(tmp_path / "train-images-idx3-ubyte")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    code, _, err = call_within(
        run_cli, capsys, "import-idx", "x", "--images", fifo,
        "--labels", tmp_path / "train-labels-idx1-ubyte", fifo=fifo,
    )  # fmt: skip
    assert_one_line_error(code, err, "it is a FIFO")
