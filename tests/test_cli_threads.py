"""The --threads flag of `train` and `evaluate`: parsed, passed on, shown."""

import io
import sys

import pytest

import main
from cli import train as cli_train
from core import blas_threads


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _run(capsys, *argv):
    code = main.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("threads", [1, 2])
def test_train_epoch_lines_show_the_fixed_count(tmp_path, data_dir, capsys, threads):
    code, out, err = _run(
        capsys,
        "train", "--dataset", "digits-8x8", "--layers", "16", "--epochs", "2",
        "--threads", threads, "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    word = "thread" if threads == 1 else "threads"
    assert len(lines) == 2
    assert all(line.endswith(f"s  {threads} {word}") for line in lines)


def test_train_progress_bar_shows_the_choice(tmp_path, data_dir, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr("cli.progress.REDRAW_SECONDS", 0.0)
    code = main.main(
        ["train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "2",
         "--threads", "1", "--out", str(tmp_path / "m.npz")]
    )  # fmt: skip
    assert code == 0
    assert "ETA" in terminal.getvalue() and "loss" in terminal.getvalue()
    bars = [part for part in terminal.getvalue().split("\r") if "ETA" in part]
    # Within 80 columns, the count included.
    assert bars and all(bar.rstrip().endswith("  1 thr") for bar in bars)
    assert max(len(bar.rstrip()) for bar in bars) < 80


def test_train_auto_is_the_default(tmp_path, data_dir, capsys, monkeypatch):
    settings = []
    original = cli_train.run_training

    def spy(*args, **kwargs):
        settings.append(kwargs.get("threads"))
        return original(*args, **kwargs)

    monkeypatch.setattr(cli_train, "run_training", spy)
    code, _, err = _run(
        capsys,
        "train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "1",
        "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert code == 0, err
    assert settings == ["auto"]


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_bad_thread_counts_are_usage_errors(capsys, command, value):
    with pytest.raises(SystemExit) as exit_info:
        main.main([command, "--model", "m.npz", "--threads", value])
    assert exit_info.value.code == 2
    assert "threads must be 'auto' or a whole number" in capsys.readouterr().err


def test_evaluate_runs_with_the_given_count(tmp_path, data_dir, capsys, monkeypatch):
    model = tmp_path / "m.npz"
    code, _, err = _run(
        capsys,
        "train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "1",
        "--threads", "1", "--out", model,
    )  # fmt: skip
    assert code == 0, err
    seen = []
    original = blas_threads.BlasPool.apply

    def spy(pool, threads):
        seen.append(threads)
        return original(pool, threads)

    monkeypatch.setattr(blas_threads.BlasPool, "apply", spy)
    size = blas_threads.POOL.size
    code, out, err = _run(capsys, "evaluate", "--model", model, "--threads", size)
    assert code == 0, err
    assert "Accuracy" in out
    assert seen and set(seen) == {size}
