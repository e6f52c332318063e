"""The command line: subcommands run in-process through main(argv), one real process."""

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.run
import main
from core import download
from core.dataset_store import load_dataset
from core.datasets import Normalization, load_bundled
from core.idx import write_idx
from core.judgement import Judge
from core.model_io import ModelMetadata, load_model, save_model
from core.negatives_store import NegativesStore
from core.network import MLP
from core.presets import PRESETS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("DIGIT_STUDIO_DATA_DIR", str(folder))
    monkeypatch.delenv("DIGIT_STUDIO_MNIST_MIRROR", raising=False)
    return folder


def run_cli(capsys, *argv):
    code = main.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, pattern=""):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("digit-studio: error: ")
    assert "Traceback" not in err
    assert pattern.lower() in lines[0].lower()


@pytest.fixture(scope="module")
def sample_model(tmp_path_factory):
    """A small trained-looking model on the bundled sample (weights fitted quickly)."""
    sample = load_bundled("mnist-sample")
    normalization = Normalization.fit("scale", sample.images, 255)
    network = MLP((784, 10), activation="relu", seed=0)
    # Nearest class mean as a linear layer: -|x - c|^2 / 2 = x.c - |c|^2 / 2 + const.
    # Instant, and well above chance, so predictions in the tests mean something.
    inputs = normalization.apply(sample.images[:2000])
    labels = sample.labels[:2000]
    centroids = np.stack([inputs[labels == k].mean(axis=0) for k in range(10)])
    network.weights[0][...] = centroids.T
    network.biases[0][...] = -0.5 * (centroids**2).sum(axis=1)
    path = tmp_path_factory.mktemp("model") / "linear.npz"
    save_model(
        path,
        network,
        ModelMetadata(
            normalization=normalization,
            image_shape=(28, 28),
            class_names=sample.class_names,
            dataset_name="mnist-sample",
            config={"validation_fraction": 0.1, "seed": 0},
            history=[{"epoch": 1, "epochs": 1, "validation_accuracy": 0.8}],
            metrics={"validation_accuracy": 0.8},
        ),
    )
    return path


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in (
        "train", "evaluate", "predict", "info", "download", "import-idx", "datasets",
    ):  # fmt: skip
        assert name in out


@pytest.mark.parametrize(
    "command",
    ["train", "evaluate", "predict", "info", "download", "import-idx", "datasets"],
)
def test_every_subcommand_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main.main([command, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_unknown_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main.main(["train", "--no-such-flag"])
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_train_preset_one_epoch_writes_a_complete_model(tmp_path, data_dir, capsys):
    out_path = tmp_path / "m.npz"
    code, out, err = run_cli(
        capsys,
        "train", "--preset", "recommended", "--epochs", "1", "--subset", "600",
        "--out", out_path,
    )  # fmt: skip
    assert code == 0, err
    assert "epoch 1/1" in out
    assert f"Saved {out_path}" in out
    model = load_model(out_path)
    assert model.dataset_name == "mnist-sample"
    assert model.config["epochs"] == 1
    expected = PRESETS["recommended"].config.hidden_sizes
    assert model.config["hidden_sizes"] == list(expected)
    assert len(model.history) == 1
    assert 0.0 <= model.metrics["validation_accuracy"] <= 1.0
    assert model.metrics["subset"] == 600
    # The preset's pen digits, as many per digit as the subset has.
    assert model.config["pen_digits"] is True
    assert "with 899 digits people wrote" in out
    code, out, _ = run_cli(capsys, "info", "--model", out_path)
    assert code == 0
    assert "deskewed, 1,440 made-up non-digits, with the pen digits, seed 0" in out


def test_flags_override_the_preset(tmp_path, data_dir, capsys):
    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys,
        "train", "--preset", "textbook-quadratic", "--layers", "12", "--epochs", "2",
        "--batch", "32", "--activation", "tanh", "--subset", "300",
        "--augment-shift", "1", "--optimizer", "momentum", "--nesterov",
        "--momentum", "0.8", "--schedule", "step", "--step-epochs", "1",
        "--cost", "softmax_cross_entropy", "--learning-rate", "0.05",
        "--pen-digits", "--out", out_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    model = load_model(out_path)
    assert model.config["pen_digits"] is True
    assert model.network.layer_sizes == (784, 12, 10)
    assert model.network.activation == "tanh"
    assert model.network.output == "softmax_cross_entropy"
    assert model.config["learning_rate"] == 0.05
    assert model.config["optimizer"] == "momentum"
    assert model.config["nesterov"] is True
    assert model.config["momentum"] == 0.8
    assert model.config["schedule"] == "step"
    assert model.history[1]["learning_rate"] < model.history[0]["learning_rate"]
    assert model.config["batch_size"] == 32
    assert model.config["init"] == "normal"
    assert model.config["augment"]["shift"] == 1.0
    assert len(model.history) == 2


def test_train_loads_the_kernels_before_the_dataset(
    tmp_path, data_dir, capsys, monkeypatch
):
    # Loading them runs numba's compiler, whose pages they then give back: a big
    # dataset already loaded would peak with both (bench.big_dataset).
    import cli.data
    import core.fast

    calls = []
    for module, name in ((core.fast, "warm_up"), (cli.data, "load")):
        original = getattr(module, name)

        def record(*args, name=name, original=original):
            calls.append(name)
            return original(*args)

        monkeypatch.setattr(module, name, record)
    argv = ("train", "--layers", "8", "--epochs", "1", "--subset", "100")
    code, _, err = run_cli(capsys, *argv, "--out", tmp_path / "m.npz")
    assert code == 0, err
    assert calls[:2] == ["warm_up", "load"]


def test_train_keeps_its_made_up_non_digits_for_the_next_run(
    tmp_path, data_dir, capsys, monkeypatch
):
    monkeypatch.setenv("DIGIT_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    argv = ("train", "--layers", "8", "--epochs", "1", "--subset", "300")
    argv += ("--negatives", "20", "--quiet", "--out", tmp_path / "m.npz")
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    (kept,) = (tmp_path / "cache").iterdir()
    assert kept.name.startswith("made-negatives-") and kept.stat().st_size % 784 == 0
    # The next run takes them: it does not say it makes them, as the first did.
    argv = [a for a in argv if a != "--quiet"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert "made-up non-digits..." not in out
    monkeypatch.setenv("DIGIT_STUDIO_CACHE_DIR", str(tmp_path / "other"))
    monkeypatch.setattr(core.run, "_NEGATIVES", NegativesStore())
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert out.splitlines()[0].startswith("Making ")
    assert out.splitlines()[0].endswith(" made-up non-digits...")


def test_training_actually_learns(tmp_path, data_dir, capsys):
    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys,
        "train", "--layers", "32", "--epochs", "4", "--subset", "1000",
        "--out", out_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    history = load_model(out_path).history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["validation_accuracy"] > 0.7


def test_plain_output_has_one_line_per_epoch(tmp_path, data_dir, capsys):
    code, out, _ = run_cli(
        capsys,
        "train", "--dataset", "digits-8x8", "--layers", "16", "--epochs", "3",
        "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert code == 0
    assert "\r" not in out
    assert [
        line.split()[1] for line in out.splitlines() if line.startswith("epoch")
    ] == [
        "1/3",
        "2/3",
        "3/3",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "-1"], "learning"),
        (["--dropout", "1.5"], "dropout"),
        (["--dataset", "no-such-set"], "no-such-set"),
        (["--augment-rotation", "500"], "rotation"),
        (["--validation", "1.0"], "validation"),
    ],
)
def test_bad_training_settings_give_one_line(tmp_path, data_dir, capsys, argv, message):
    code, _, err = run_cli(capsys, "train", *argv, "--out", tmp_path / "m.npz")
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "m.npz").exists()


def test_divergence_is_one_line_and_saves_nothing(tmp_path, data_dir, capsys):
    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys, "train", "--dataset", "digits-8x8", "--layers", "8", "--lr", "1e30",
        "--optimizer", "sgd", "--epochs", "3", "--out", out_path,
    )  # fmt: skip
    assert_one_line_error(code, err, "diverged")
    assert "learning rate" in err
    assert not out_path.exists()


def test_bad_layers_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main.main(["train", "--layers", "256,abc"])
    assert info.value.code == 2


def test_info_describes_the_model(sample_model, capsys):
    code, out, _ = run_cli(capsys, "info", "--model", sample_model)
    assert code == 0
    assert "784-10" in out
    assert "7,850" in out
    assert "mnist-sample" in out
    assert "validation accuracy 80.00%" in out


def test_info_json(sample_model, capsys):
    code, out, _ = run_cli(capsys, "info", "--model", sample_model, "--json")
    assert code == 0
    described = json.loads(out)
    assert described["layer_sizes"] == [784, 10]
    assert described["parameter_count"] == 7850
    assert described["judgement"] is None


def test_info_says_when_the_model_is_not_sure(sample_model, tmp_path, capsys):
    model = load_model(sample_model)
    judge = Judge(10, None, 0.6, drawing_margin=0.7, drawing_false_rejection=0.03)
    judged = tmp_path / "judged.npz"
    metadata = dataclasses.replace(model.metadata, judgement=judge.to_dict())
    save_model(judged, model.network, metadata)
    _, out, _ = run_cli(capsys, "info", "--model", sample_model)
    assert "Not sure" not in out
    _, out, _ = run_cli(capsys, "info", "--model", judged)
    assert f"Not sure        {judge.summary()}" in out
    _, out, _ = run_cli(capsys, "info", "--model", judged, "--json")
    assert json.loads(out)["judgement"] == judge.to_dict()


def test_info_says_how_a_hands_model_reads(sample_model, tmp_path, capsys):
    model = load_model(sample_model)
    said = {
        (0.0, 1.0): None,
        (0.0, 1.5): "read 1.5x wider",
        (0.0, 0.6): "read 0.6x as wide",
        (-30.0, 0.6): "read turned back 30°, 0.6x as wide",
    }
    for (turn, width), words in said.items():
        path = tmp_path / f"hand-{turn}-{width}.npz"
        meta = dataclasses.replace(model.metadata, hand_width=width, hand_turn=turn)
        save_model(path, model.network, meta)
        _, out, _ = run_cli(capsys, "info", "--model", path)
        assert ("Drawings" in out) == (words is not None)
        assert words is None or words in out
        _, out, _ = run_cli(capsys, "info", "--model", path, "--json")
        assert json.loads(out)["hand_width"] == width
        assert json.loads(out)["hand_turn"] == turn


def test_evaluate_uses_the_sample_test_part_by_default(sample_model, data_dir, capsys):
    code, out, err = run_cli(capsys, "evaluate", "--model", sample_model)
    assert code == 0, err
    assert "mnist-sample, test split: 1,000 images" in out
    test_accuracy = float(out.split("Accuracy")[1].split("%")[0])
    assert test_accuracy > 70.0
    code, out, err = run_cli(
        capsys, "evaluate", "--model", sample_model, "--split", "held-out"
    )
    assert code == 0, err
    assert "held-out 10% of the training images: 500 images" in out
    accuracy = float(out.split("Accuracy")[1].split("%")[0])
    assert accuracy > 70.0
    assert "Confusion matrix" in out
    assert "precision" in out and "recall" in out


def test_evaluate_on_idx_files_matches_direct_computation(
    sample_model, tmp_path, capsys
):
    sample = load_bundled("mnist-sample")
    images, labels = sample.images[4000:4300], sample.labels[4000:4300]
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    code, out, _ = run_cli(
        capsys,
        "evaluate", "--model", sample_model, "--json",
        "--images", tmp_path / "t10k-images-idx3-ubyte.gz",
        "--labels", tmp_path / "t10k-labels-idx1-ubyte.gz",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    expected = load_model(sample_model).predict_proba(images).argmax(axis=1)
    assert result["images"] == 300
    assert result["accuracy"] == pytest.approx(np.mean(expected == labels))
    assert np.trace(np.array(result["confusion"])) == np.sum(expected == labels)


def test_evaluate_rejects_images_of_another_size(sample_model, tmp_path, capsys):
    write_idx(tmp_path / "i.gz", np.zeros((5, 8, 8), np.uint8))
    write_idx(tmp_path / "l.gz", np.zeros(5, np.uint8))
    code, _, err = run_cli(
        capsys, "evaluate", "--model", sample_model,
        "--images", tmp_path / "i.gz", "--labels", tmp_path / "l.gz",
    )  # fmt: skip
    assert_one_line_error(code, err, "28x28")


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), (b"garbage", "not a Digit Studio model")],
)
def test_bad_model_file_gives_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "m.npz"
    if content is not None:
        path.write_bytes(content)
    for command in (["info"], ["evaluate"], ["predict", tmp_path / "x.png"]):
        code, out, err = run_cli(capsys, *command, "--model", path)
        assert_one_line_error(code, err, message)
        assert out == ""


def _save_png(path, array):
    from PySide6.QtGui import QImage

    height, width = array.shape
    data = np.ascontiguousarray(array, dtype=np.uint8)
    image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8)
    assert image.copy().save(str(path))


def _canvas(digit_image, size, bright_ink):
    """A sample digit drawn big on a larger canvas, in either polarity."""
    scale = size // 40
    big = np.kron(digit_image, np.ones((scale, scale), np.uint8))
    canvas = np.zeros((size, size), np.uint8)
    top = (size - big.shape[0]) // 3
    canvas[top : top + big.shape[0], top : top + big.shape[1]] = big
    return canvas if bright_ink else 255 - canvas


def test_predict_prints_path_digit_confidence(sample_model, tmp_path, capsys):
    sample = load_bundled("mnist-sample")
    model = load_model(sample_model)
    probabilities = model.predict_proba(sample.images[:200])
    right = probabilities.argmax(axis=1) == sample.labels[:200]
    chosen = np.flatnonzero(right & (probabilities.max(axis=1) > 0.99))
    paths = []
    for n, index in enumerate(chosen[:4]):
        path = tmp_path / f"digit{n}.png"
        _save_png(path, _canvas(sample.images[index], 280, bright_ink=n % 2 == 0))
        paths.append((path, sample.labels[index]))
    blank = tmp_path / "blank.png"
    _save_png(blank, np.full((100, 100), 255, np.uint8))
    code, out, err = run_cli(
        capsys, "predict", "--model", sample_model, *[p for p, _ in paths], blank
    )
    assert code == 0, err
    lines = out.strip().split("\n")
    assert len(lines) == 5
    for line, (path, label) in zip(lines, paths, strict=False):
        shown_path, digit, confidence = line.split("\t")
        assert shown_path == str(path)
        assert digit == str(label)
        assert 0.0 < float(confidence) <= 1.0
    assert lines[-1] == f"{blank}\tnone"


def test_predict_json_has_all_probabilities(sample_model, tmp_path, capsys):
    sample = load_bundled("mnist-sample")
    path = tmp_path / "d.png"
    _save_png(path, _canvas(sample.images[0], 200, bright_ink=False))
    blank = tmp_path / "blank.png"
    _save_png(blank, np.full((30, 30), 250, np.uint8))
    code, out, _ = run_cli(
        capsys,
        "predict",
        "--model",
        sample_model,
        "--json",
        "--ink",
        "dark",
        path,
        blank,
    )
    assert code == 0
    first, second = json.loads(out)
    assert first["path"] == str(path)
    assert sorted(first["probabilities"]) == [str(d) for d in range(10)]
    assert first["digit"] == max(first["probabilities"], key=first["probabilities"].get)
    assert first["confidence"] == first["probabilities"][first["digit"]]
    assert second["digit"] is None and second["probabilities"] is None


def test_predict_missing_or_broken_image_gives_one_line(sample_model, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "predict", "--model", sample_model, tmp_path / "none.png"
    )
    assert_one_line_error(code, err, "not found")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run_cli(
        capsys, "predict", "--model", sample_model, tmp_path / "bad.png"
    )
    assert_one_line_error(code, err, "bad.png")


def test_predict_hundreds_of_images_in_one_call(sample_model, tmp_path, capsys):
    sample = load_bundled("mnist-sample")
    paths = []
    for i in range(200):
        path = tmp_path / f"{i}.png"
        _save_png(path, sample.images[i])
        paths.append(path)
    code, out, _ = run_cli(capsys, "predict", "--model", sample_model, *paths)
    assert code == 0
    assert len(out.strip().split("\n")) == 200


def _fake_mnist(folder):
    rng = np.random.default_rng(0)
    arrays = (
        rng.integers(0, 256, (120, 28, 28), dtype=np.uint8),
        np.arange(120, dtype=np.uint8) % 10,
        rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        np.arange(30, dtype=np.uint8) % 10,
    )
    checksums = {}
    for name, array in zip(download.MNIST_FILES, arrays, strict=True):
        write_idx(folder / name, array)
        checksums[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    return checksums


def test_download_mnist_from_a_mirror_then_use_it(
    tmp_path, data_dir, capsys, monkeypatch
):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(download, "MNIST_MD5", _fake_mnist(mirror))
    monkeypatch.setattr(
        download,
        "MNIST_SIZES",
        {n: (mirror / n).stat().st_size for n in download.MNIST_FILES},
    )
    monkeypatch.setenv("DIGIT_STUDIO_MNIST_MIRROR", mirror.as_uri())
    code, out, err = run_cli(capsys, "download", "mnist")
    assert code == 0, err
    assert "MNIST is ready: 120 training and 30 test images" in out
    assert "train-images-idx3-ubyte.gz" in out
    assert len(load_dataset("mnist", data_dir, split="test")) == 30
    model_path = tmp_path / "mnist.npz"
    code, _, err = run_cli(
        capsys, "train", "--dataset", "mnist", "--layers", "8", "--epochs", "1",
        "--out", model_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert load_model(model_path).metrics["training_images"] == 108
    code, out, err = run_cli(capsys, "evaluate", "--model", model_path)
    assert code == 0, err
    assert "mnist, test split: 30 images" in out


def test_download_failure_is_one_line(tmp_path, data_dir, capsys):
    missing = (tmp_path / "empty-mirror").as_uri()
    code, _, err = run_cli(capsys, "download", "mnist", "--mirror", missing)
    assert_one_line_error(code, err, "could not download")


def test_import_idx_folder_then_train_on_it(tmp_path, data_dir, capsys):
    source = tmp_path / "fashion"
    source.mkdir()
    rng = np.random.default_rng(1)
    write_idx(
        source / "train-images-idx3-ubyte.gz",
        rng.integers(0, 256, (60, 6, 6), np.uint8),
    )
    write_idx(source / "train-labels-idx1-ubyte.gz", np.arange(60, dtype=np.uint8) % 3)
    code, out, err = run_cli(
        capsys, "import-idx", "tiny", "--folder", source, "--class-names", "a,b,c"
    )
    assert code == 0, err
    assert "Imported 'tiny': 60 training images of 6x6, classes a, b, c" in out
    code, _, err = run_cli(
        capsys, "train", "--dataset", "tiny", "--layers", "4", "--epochs", "1",
        "--out", tmp_path / "t.npz", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    model = load_model(tmp_path / "t.npz")
    assert model.class_names == ("a", "b", "c")
    assert model.network.layer_sizes == (36, 4, 3)


def test_datasets_lists_then_removes_an_imported_set(tmp_path, data_dir, capsys):
    write_idx(tmp_path / "i.gz", np.zeros((12, 6, 6), np.uint8))
    write_idx(tmp_path / "l.gz", np.arange(12, dtype=np.uint8) % 3)
    code, _, err = run_cli(
        capsys, "import-idx", "tiny", "--images", tmp_path / "i.gz",
        "--labels", tmp_path / "l.gz",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, "datasets")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["mnist-sample", "bundled"]
    assert any(line.split()[:3] == ["tiny", "imported", "12"] for line in lines)
    assert "6x6, 10 classes" in out and "mnist: not downloaded" in out
    code, out, err = run_cli(capsys, "datasets", "--remove", "tiny")
    assert code == 0, err
    assert "Removed 'tiny'" in out
    _, out, _ = run_cli(capsys, "datasets")
    assert "tiny" not in out
    code, _, err = run_cli(capsys, "datasets", "--remove", "tiny")
    assert_one_line_error(code, err, "no stored dataset named 'tiny'")
    code, _, err = run_cli(capsys, "datasets", "--remove", "mnist-sample")
    assert_one_line_error(code, err, "cannot be deleted")


def test_import_idx_bad_files_give_one_line(tmp_path, data_dir, capsys):
    (tmp_path / "i.gz").write_bytes(b"\x00\x00\x08\x01garbage")
    write_idx(tmp_path / "l.gz", np.zeros(3, np.uint8))
    code, _, err = run_cli(
        capsys, "import-idx", "bad", "--images", tmp_path / "i.gz",
        "--labels", tmp_path / "l.gz",
    )  # fmt: skip
    assert code == 1
    assert len(err.strip().splitlines()) == 1


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    from cli import info

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "run", interrupted)
    code, _, err = run_cli(capsys, "info", "--model", "m.npz")
    assert code == 130
    assert err.strip() == "Cancelled."


def test_full_disk_is_one_line(sample_model, tmp_path, capsys, monkeypatch):
    from cli import info

    def full(args):
        raise OSError(28, "No space left on device", str(tmp_path / "m.npz"))

    monkeypatch.setattr(info, "run", full)
    code, _, err = run_cli(capsys, "info", "--model", sample_model)
    assert_one_line_error(code, err, "disk is full")


def test_real_process_train_then_info(tmp_path):
    env = dict(os.environ, DIGIT_STUDIO_DATA_DIR=str(tmp_path / "data"))
    out_path = tmp_path / "m.npz"
    train = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train", "--dataset", "digits-8x8",
         "--layers", "8", "--epochs", "2", "--out", str(out_path)],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert "epoch 2/2" in train.stdout
    failing = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", "--model", "missing.npz"],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert failing.returncode == 1
    assert failing.stderr.strip().splitlines() == [
        "digit-studio: error: Model file not found: missing.npz"
    ]


def test_no_subcommand_starts_the_gui(capsys, monkeypatch):
    import types

    calls = []
    fake = types.ModuleType("gui.app")
    fake.run_app = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "gui.app", fake)
    code, _, _ = run_cli(capsys)
    assert code == 0
    assert calls == [["digit-studio"]]
    code, _, _ = run_cli(capsys, "saved.npz")
    assert code == 0
    assert calls[-1] == ["digit-studio", "saved.npz"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_progress_bar_with_eta(tmp_path, data_dir, capsys, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr("cli.progress.REDRAW_SECONDS", 0.0)
    code = main.main(
        ["train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "3",
         "--batch", "64", "--out", str(tmp_path / "m.npz")]
    )  # fmt: skip
    assert code == 0
    text = terminal.getvalue()
    assert "\r[" in text and "ETA" in text
    assert "epoch 3/3" in text
    assert text.endswith("\n")


@pytest.mark.parametrize("ink", [0, 255])
def test_transparent_background_keeps_the_strokes(tmp_path, ink):
    from PySide6.QtGui import QColor, QImage

    from cli.images import read_grey

    image = QImage(40, 30, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    for y in range(5, 25):
        for x in range(18, 22):
            image.setPixelColor(x, y, QColor(ink, ink, ink, 255))
    path = tmp_path / "stroke.png"
    assert image.save(str(path))
    grey = read_grey(path)
    assert grey.shape == (30, 40)
    assert (grey[5:25, 18:22] == ink).all()
    assert grey[0, 0] == 255 - ink


def test_evaluate_recomputes_exactly_the_held_out_part(tmp_path, data_dir, capsys):
    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys, "train", "--layers", "16", "--epochs", "2", "--subset", "700",
        "--validation", "0.2", "--seed", "5", "--out", out_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "evaluate", "--model", out_path, "--json", "--split", "held-out"
    )
    assert code == 0, err
    result = json.loads(out)
    metrics = load_model(out_path).metrics
    assert result["images"] == metrics["validation_images"] == 140
    assert result["accuracy"] == pytest.approx(metrics["validation_accuracy"])
    assert result["loss"] == pytest.approx(metrics["validation_loss"], rel=1e-5)


def test_no_screen_gives_one_line_instead_of_a_qt_abort(capsys, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    code, out, err = run_cli(capsys)
    assert_one_line_error(code, err, "the desktop app needs a screen")
    assert "DISPLAY" in err and "offscreen" in err and out == ""
    code, _, err = run_cli(capsys, "model.npz")
    assert_one_line_error(code, err, "needs a screen")


def _fine_tuned_file(tmp_path, capsys):
    """Train with the CLI, then fine-tune the file's model on a few drawings."""
    from core.run import build_model, fine_tune_request, prepare_run, run_training

    path = tmp_path / "tuned.npz"
    code, _, err = run_cli(
        capsys, "train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "4",
        "--lr", "0.01", "--subset", "900", "--out", path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    base = load_model(path)
    digits = load_bundled("digits-8x8")
    prepared = prepare_run(fine_tune_request(base, digits, digits.subset(np.arange(6))))
    result = run_training(prepared)
    tuned = build_model(prepared, result.network, result)
    save_model(path, tuned.network, tuned.metadata)
    return path, base


def test_train_writes_the_one_metrics_schema(tmp_path, data_dir, capsys):
    from core.model_io import METRICS

    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys, "train", "--dataset", "digits-8x8", "--layers", "8", "--epochs", "2",
        "--out", out_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    model = load_model(out_path)
    assert list(model.metrics) == list(METRICS)
    assert model.metrics["epochs_completed"] == 2
    assert model.metrics["personal_images"] == 0
    assert model.metrics["subset"] is None
    assert model.phases[0]["kind"] == "train"
    assert [row["phase"] for row in model.history] == [0, 0]


def test_info_shows_the_phases_of_a_fine_tuned_model(tmp_path, data_dir, capsys):
    path, _ = _fine_tuned_file(tmp_path, capsys)
    code, out, err = run_cli(capsys, "info", "--model", path)
    assert code == 0, err
    assert "Training        adam lr 0.01, constant schedule, batch 128, 4 epochs" in out
    phases = [line for line in out.splitlines() if " 1. train on " in line]
    assert phases and phases[0].startswith("Phases          1. train on digits-8x8")
    from core.run import FINE_TUNE_EPOCHS

    assert (
        f"2. fine-tune on digits-8x8, adam lr 0.0005, {FINE_TUNE_EPOCHS} epochs "
        "(completed)"
    ) in out
    assert "6 personal drawings" in out
    assert f"{4 + FINE_TUNE_EPOCHS} epochs in 2 phases" in out
    assert "(with 6 personal drawings)" in out and "subset of 900" in out
    code, out, _ = run_cli(capsys, "info", "--model", path, "--json")
    described = json.loads(out)
    assert [phase["kind"] for phase in described["phases"]] == ["train", "fine_tune"]
    assert described["config"]["epochs"] == 4


def test_evaluate_recomputes_the_held_out_part_of_a_fine_tuned_model(
    tmp_path, data_dir, capsys
):
    path, base = _fine_tuned_file(tmp_path, capsys)
    code, out, err = run_cli(capsys, "evaluate", "--model", path, "--json")
    assert code == 0, err
    result = json.loads(out)
    tuned = load_model(path)
    assert result["images"] == tuned.metrics["validation_images"] == 90
    assert result["images"] == base.metrics["validation_images"]
    assert result["loss"] == pytest.approx(tuned.metrics["validation_loss"], rel=1e-5)


def test_info_names_a_continued_phase_and_the_settings_changed(capsys):
    path = ROOT / "tests" / "data" / "model_v3.npz"
    code, out, err = run_cli(capsys, "info", "--model", path)
    assert code == 0, err
    assert (
        "1. train on format-v3-fixture, momentum lr 0.5, 2 epochs (completed), "
        "validation accuracy 100.00%; lr 0.2, momentum 0.5 from epoch 0.6"
    ) in out
    assert "2. continued on format-v3-fixture, sgd lr 0.1, 2 epochs" in out


def test_info_and_evaluate_read_a_version_1_file(capsys):
    path = ROOT / "tests" / "data" / "model_v1.npz"
    code, out, err = run_cli(capsys, "info", "--model", path)
    assert code == 0, err
    assert "(model format 1)" in out and "validation accuracy 75.00%" in out


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"seed": -1}},
        {"history": [{"epoch": 1, "train_loss": [1.0]}]},
        {"metrics": {"validation_accuracy": "high"}},
    ],
)
def test_model_with_wrongly_typed_metadata_is_one_line(
    sample_model, tmp_path, capsys, change
):
    with np.load(sample_model, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["metadata"][()]))
    meta.update(change)
    arrays["metadata"] = np.array(json.dumps(meta))
    path = tmp_path / "typed.npz"
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    for command in (["info"], ["evaluate"]):
        code, out, err = run_cli(capsys, *command, "--model", path)
        assert_one_line_error(code, err, "not a valid Digit Studio model")
        assert "internal error" not in err and out == ""


def test_only_the_download_loads_the_network_code():
    # urllib and ssl hold 3-4 MiB: a 700,000-image `train` peaks that much lower.
    code = "import sys, cli.commands; print('ssl' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.strip() == "False", done.stderr
