"""What the command line prints: escaped names, strict JSON, short errors, and
divergence or NaN-computing models as errors rather than results."""

import json
import math

import numpy as np
from test_cli import _save_png, assert_one_line_error, run_cli

from cli import info
from cli.errors import describe_error
from cli.output import json_text, printable
from core.datasets import DatasetError, Normalization, load_bundled
from core.messages import MAX_MESSAGE_CHARS
from core.model_io import ModelMetadata, load_model, save_model
from core.network import MLP

HOSTILE_NAMES = (
    "zero\tforged\nline",
    "\x1b[31mred\x1b[0m",
    "two\r",
    "\u202eevil",
    *(str(k) for k in range(4, 10)),
)


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _model_file(tmp_path, class_names=HOSTILE_NAMES, epochs=1, sure_of=None):
    """A random model; with ``sure_of`` one that answers that class, and is sure."""
    network = MLP((784, 10), seed=0)
    if sure_of is not None:
        network.biases[-1][sure_of] = 50.0
    sample = load_bundled("mnist-sample")
    normalization = Normalization.fit("scale", sample.images[:100], 255)
    history = [
        {"epoch": epoch, "epochs": epochs, "train_loss": 0.5, "seconds": 1.0}
        for epoch in range(1, epochs + 1)
    ]
    path = tmp_path / "named.npz"
    save_model(
        path,
        network,
        ModelMetadata(
            normalization=normalization,
            image_shape=(28, 28),
            class_names=tuple(class_names),
            dataset_name="set\x1b]0;title\x07",
            config={"epochs": epochs, "seed": 0},
            history=history,
            metrics={"epochs_completed": epochs, "stopped": "completed"},
        ),
    )
    return path


# --- control characters --------------------------------------------------------


def test_printable_escapes_controls_and_direction_marks_only():
    assert printable("a\tb\nc\rd") == r"a\tb\nc\rd"
    assert printable("\x1b[2J\x7f\x9b") == r"\x1b[2J\x7f\x9b"
    assert printable("\u202eevil\u2066") == r"\u202eevil\u2066"
    assert printable(r"C:\digits\7.png") == r"C:\digits\7.png"
    assert printable("Zwölf ✓ 七") == "Zwölf ✓ 七"


def test_predict_tsv_has_one_line_per_image_whatever_the_class_names(tmp_path, capsys):
    # Sure of the class named with a tab and a newline: its name is printed.
    model_path = _model_file(tmp_path, sure_of=0)
    images = []
    for n in range(3):
        image = np.zeros((56, 56), np.uint8)
        image[10 + n : 40, 20:30] = 255
        images.append(tmp_path / f"tab\there{n}.png")
        _save_png(images[-1], image)
    code, out, err = run_cli(capsys, "predict", "--model", model_path, *images)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, images, strict=True):
        shown_path, digit, confidence = line.split("\t")
        assert shown_path == printable(path)
        assert digit in {printable(name) for name in HOSTILE_NAMES}
        assert digit == printable(HOSTILE_NAMES[0])
        float(confidence)
    assert "\x1b" not in out and "\r" not in out


def test_predict_json_keeps_the_names_and_escapes_them_safely(tmp_path, capsys):
    model_path = _model_file(tmp_path)
    image_path = tmp_path / "digit.png"
    image = np.zeros((56, 56), np.uint8)
    image[10:40, 20:30] = 255
    _save_png(image_path, image)
    code, out, _ = run_cli(
        capsys, "predict", "--model", model_path, image_path, "--json"
    )
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    (result,) = _strict_json(out)
    assert set(result["probabilities"]) == set(HOSTILE_NAMES)


def test_info_sends_no_escape_sequence_to_the_terminal(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "info", "--model", _model_file(tmp_path))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert r"\x1b[31mred\x1b[0m" in out
    assert r"zero\tforged\nline" in out
    model = load_model(_model_file(tmp_path))
    assert len(out.splitlines()) == 1 + len(info.text_lines(model))  # none forged


def test_evaluate_tables_escape_the_class_names(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "evaluate", "--model", _model_file(tmp_path), "--dataset",
        "mnist-sample", "--split", "train",
    )  # fmt: skip
    assert code == 0, err
    assert "\x1b" not in out and "\t" not in out
    assert r"zero\tforged\nline" in out


def test_error_messages_escape_what_they_quote(tmp_path, capsys):
    code, _, err = run_cli(capsys, "info", "--model", tmp_path / "no\x1b[2Jfile.npz")
    assert_one_line_error(code, err, "not found")
    assert "\x1b" not in err and r"\x1b[2J" in err


# --- JSON and message length -------------------------------------------------------


def test_info_json_is_strict_json_even_with_non_finite_values(
    tmp_path, capsys, monkeypatch
):
    model = load_model(_model_file(tmp_path))
    # A model made in memory (not read from a file) may hold NaN and infinities.
    model.metrics = {"train_loss": math.nan, "validation_loss": math.inf}
    model.history = [{"epoch": 1, "train_loss": np.float32("nan")}]
    monkeypatch.setattr(info, "load_model", lambda _path: model)
    code, out, _ = run_cli(capsys, "info", "--model", "in-memory.npz", "--json")
    assert code == 0
    described = _strict_json(out)
    assert described["metrics"] == {"train_loss": None, "validation_loss": None}
    assert described["history"] == [{"epoch": 1, "train_loss": None}]


def test_json_text_round_trips_escaped_text():
    value = {"name": "\x1b[31m\u202ered\t", "loss": float("nan"), "n": np.int64(3)}
    text = json_text(value)
    assert "\x1b" not in text and "\u202e" not in text
    assert _strict_json(text) == {"name": "\x1b[31m\u202ered\t", "loss": None, "n": 3}


def test_a_model_with_thousands_of_layers_gives_a_short_error(tmp_path, capsys):
    path = _model_file(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["layer_sizes"] = [784] + [1] * 40_000 + [10]
    arrays["metadata"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    code, _, err = run_cli(capsys, "info", "--model", path)
    assert_one_line_error(code, err, "layers, more than the 1,000")
    assert len(err) < 2 * MAX_MESSAGE_CHARS


def test_every_error_message_is_cut_short():
    message = describe_error(DatasetError("bad names: " + ", ".join(["x"] * 100_000)))
    assert len(message) < MAX_MESSAGE_CHARS + 50
    assert message.startswith("bad names: x, x")
    assert "more characters" in message
    internal = describe_error(ValueError("y" * 100_000))
    assert len(internal) < MAX_MESSAGE_CHARS + 50
    assert "DIGIT_STUDIO_DEBUG" in internal


# --- plurals ---------------------------------------------------------------------


def test_info_says_1_epoch(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "info", "--model", _model_file(tmp_path, epochs=1))
    assert code == 0
    assert "1 epochs" not in out
    assert "History         1 epoch;" in out
    assert "1 epoch (completed)" in out


# --- results that are not results ----------------------------------------------------


def test_finite_divergence_is_an_error_and_saves_nothing(tmp_path, capsys):
    out_path = tmp_path / "m.npz"
    code, _, err = run_cli(
        capsys, "train", "--dataset", "digits-8x8", "--layers", "16", "--lr", "100",
        "--optimizer", "adam", "--epochs", "3", "--out", out_path,
    )  # fmt: skip
    assert_one_line_error(code, err, "diverged")
    assert "more than 10 times its starting value" in err
    assert "Nothing was saved" in err
    assert not out_path.exists()


def test_predict_refuses_a_model_that_computes_nan(tmp_path, capsys):
    path = _model_file(tmp_path, class_names=[str(k) for k in range(10)])
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["W0"][:] = 3e38
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    image_path = tmp_path / "digit.png"
    image = np.zeros((56, 56), np.uint8)
    image[10:40, 20:30] = 255
    _save_png(image_path, image)
    code, out, err = run_cli(capsys, "predict", "--model", path, image_path)
    assert_one_line_error(code, err, "NaN or infinite outputs")
    assert out == ""


def test_a_network_too_large_for_a_model_file_is_refused_before_training(
    tmp_path, capsys
):
    out_path = tmp_path / "m.npz"
    code, out, err = run_cli(
        capsys, "train", "--dataset", "digits-8x8", "--layers", "20000,20000",
        "--epochs", "1", "--out", out_path,
    )  # fmt: skip
    assert_one_line_error(code, err, "cannot be saved: the network needs 401,520,010")
    assert "Training" not in out and not out_path.exists()
